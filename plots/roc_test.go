package plots

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

func TestROCErrors(t *testing.T) {
	ok := func() Curve {
		return Curve{Label: "mse", FPR: []float64{0, 0.5, 1}, TPR: []float64{0, 0.7, 1}, AUC: 0.6}
	}
	with := func(f func(*Curve)) []Curve { c := ok(); f(&c); return []Curve{ok(), c} }
	tests := []struct {
		name   string
		curves []Curve
		want   string
	}{
		{"none", nil, `plots: invalid input: no ROC curves`},
		{"no label", with(func(c *Curve) { c.Label = "" }), `plots: invalid input: curve 1: Label is empty`},
		{"lengths", with(func(c *Curve) { c.TPR = c.TPR[:2] }), `plots: invalid input: curve 1 ("mse"): FPR has 3 points but TPR has 2`},
		{"empty", with(func(c *Curve) { c.FPR, c.TPR = nil, nil }), `plots: invalid input: curve 1 ("mse"): needs at least 2 points, has 0`},
		{"one point", with(func(c *Curve) { c.FPR, c.TPR = []float64{0}, []float64{0} }), `plots: invalid input: curve 1 ("mse"): needs at least 2 points, has 1`},
		{"NaN", with(func(c *Curve) { c.TPR[1] = math.NaN() }), `plots: invalid input: curve 1 ("mse"): TPR[1] = NaN is outside [0, 1]`},
		{"above 1", with(func(c *Curve) { c.FPR[2] = 1.5 }), `plots: invalid input: curve 1 ("mse"): FPR[2] = 1.5 is outside [0, 1]`},
		{"decreasing", with(func(c *Curve) { c.FPR[1] = 0; c.FPR[0] = 0.2 }), `plots: invalid input: curve 1 ("mse"): FPR decreases at point 1 (0 after 0.2)`},
		{"AUC NaN", with(func(c *Curve) { c.AUC = math.NaN() }), `plots: invalid input: curve 1 ("mse"): AUC = NaN is outside [0, 1]`},
		{"AUC above 1", with(func(c *Curve) { c.AUC = 1.2 }), `plots: invalid input: curve 1 ("mse"): AUC = 1.2 is outside [0, 1]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ROC("t", tc.curves)
			if p != nil {
				t.Error("got a plot with an error")
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	p, err := ROC("", sampleCurves(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		w, h   vg.Length
		format string
		want   string
	}{
		{"pdf", vg.Inch, vg.Inch, "pdf", `plots: invalid input: format "pdf" is not supported (want png or svg)`},
		{"upper case", vg.Inch, vg.Inch, "PNG", `plots: invalid input: format "PNG" is not supported (want png or svg)`},
		{"zero width", 0, vg.Inch, "png", `plots: invalid input: size 0×72: width and height must be > 0`},
		{"negative height", vg.Inch, -1, "svg", `plots: invalid input: size 72×-1: width and height must be > 0`},
		{"NaN width", vg.Length(math.NaN()), vg.Inch, "svg", `plots: invalid input: size NaN×72: width and height must be > 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Render(p, tc.w, tc.h, tc.format)
			if b != nil {
				t.Error("got bytes with an error")
			}
			wantErr(t, err, tc.want)
		})
	}
	_, err = Render(nil, vg.Inch, vg.Inch, "png")
	wantErr(t, err, "plots: invalid input: plot is nil")
	_, err = RenderColumn(nil, vg.Inch, vg.Inch, "png")
	wantErr(t, err, "plots: invalid input: no plots to render")
	_, err = RenderColumn([]*plot.Plot{p, nil}, vg.Inch, vg.Inch, "png")
	wantErr(t, err, "plots: invalid input: plot 1 is nil")
}

func TestROCLegendLabel(t *testing.T) {
	c := Curve{Label: "mse", AUC: 0.5714}
	if got := c.legendLabel(); got != "mse (AUC 0.571)" {
		t.Errorf("legend label %q, want %q", got, "mse (AUC 0.571)")
	}
}

// rocFixture has a curve far above the diagonal (so the diagonal's pixels
// are its own) and one crossing it only at the ends.
func rocFixture() []Curve {
	return []Curve{
		{Label: "mse", FPR: []float64{0, 0.05, 0.3, 1}, TPR: []float64{0, 0.6, 0.9, 1}, AUC: 0.5714},
		{Label: "disc. (D)", FPR: []float64{0, 0.6, 1}, TPR: []float64{0, 0.15, 1}, AUC: 0.3},
	}
}

func TestROCPixels(t *testing.T) {
	const side = 3 * vg.Inch
	p, err := ROC("ROC", rocFixture())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, side, side, "png")
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	if want := int(math.Ceil(float64(side) * DPI / 72)); img.Bounds().Dx() != want || img.Bounds().Dy() != want {
		t.Fatalf("size %v, want %d×%d", img.Bounds().Size(), want, want)
	}
	px := dataToPixel(p, side, side)

	// The diagonal is dashed: along it, samples alternate between the
	// chance colour and the background.
	dash, gap := 0, 0
	for i := 0; i <= 200; i++ {
		v := 0.1 + 0.8*float64(i)/200
		c := img.At(px(v, v).X, px(v, v).Y)
		r, g, bb := rgb(c)
		switch {
		case r >= 0x70 && r <= 0xA8 && abs(r-g) < 10 && abs(r-bb) < 10:
			dash++
		case r > 0xD0 && g > 0xD0 && bb > 0xD0:
			gap++
		}
	}
	if dash < 60 || gap < 30 {
		t.Errorf("diagonal: %d dash and %d gap samples of 201, want a dashed grey line (≥60 and ≥30)", dash, gap)
	}

	// Each curve is drawn in its palette colour: midpoints of segments.
	for i, pt := range [][2]float64{{0.175, 0.75}, {0.15, 0.0375}} {
		q := px(pt[0], pt[1])
		if c := img.At(q.X, q.Y); !near(c, palette[i], 40) {
			t.Errorf("curve %d at %v: pixel %v, want near %v", i, pt, c, palette[i])
		}
	}
	// Axes run 0..1 whatever the data: the corners of the unit square map
	// inside the image.
	if lo, hi := px(0, 0), px(1, 1); !(lo.X > 0 && lo.Y < img.Bounds().Dy() && hi.X < img.Bounds().Dx() && hi.Y > 0) {
		t.Errorf("unit square maps to %v–%v, outside the image", lo, hi)
	}
	checkGolden(t, "roc.png", b, 0.03)
}

func TestROCSVG(t *testing.T) {
	p, err := ROC("ROC of run 7", rocFixture())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, 4*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, b)
	for _, want := range []string{"ROC of run 7", "mse (AUC 0.571)", "disc. (D) (AUC 0.300)", "False positive rate", "True positive rate", "0.0", "1.0"} {
		if !hasText(ts, want) {
			t.Errorf("SVG lacks text %q", want)
		}
	}
}

func TestSVGFontFallbacks(t *testing.T) {
	p, err := ROC("ROC", rocFixture())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, 3*vg.Inch, 3*vg.Inch, "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, b)
	for _, x := range ts {
		if !strings.Contains(x.style, "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;") {
			t.Fatalf("text %q has style %q, want the Liberation Sans fallbacks", x.text, x.style)
		}
	}
	tb, err := RenderTable(paperTable(), "svg")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range svgTexts(t, tb) {
		if !strings.Contains(x.style, "font-family:'Liberation Serif','Times New Roman',Times,serif;") {
			t.Fatalf("table text %q has style %q, want the Liberation Serif fallbacks", x.text, x.style)
		}
	}
}
