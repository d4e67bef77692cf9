package plots

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func TestLinesErrors(t *testing.T) {
	good := Series{Label: "loss", X: []float64{0, 1}, Y: []float64{2, 1}}
	tests := []struct {
		name   string
		series []Series
		opt    LinesOptions
		want   string
	}{
		{"none", nil, LinesOptions{}, `plots: invalid input: no series`},
		{"lengths", []Series{good, {Label: "d", X: []float64{0, 1, 2}, Y: []float64{1, 2}}}, LinesOptions{},
			`plots: invalid input: series 1 ("d"): X has 3 points but Y has 2`},
		{"empty", []Series{{Label: "d"}}, LinesOptions{}, `plots: invalid input: series 0 ("d"): no points`},
		{"NaN loss", []Series{{Label: "g", X: []float64{0, 1}, Y: []float64{1, math.NaN()}}}, LinesOptions{},
			`plots: invalid input: series 0 ("g"): Y[1] is NaN`},
		{"Inf step", []Series{{Label: "g", X: []float64{math.Inf(1)}, Y: []float64{1}}}, LinesOptions{},
			`plots: invalid input: series 0 ("g"): X[0] is +Inf`},
		{"log of zero", []Series{good, {Label: "d", X: []float64{0}, Y: []float64{0}}}, LinesOptions{LogY: true},
			`plots: invalid input: series 1 ("d"): Y[0] = 0 cannot be drawn on a log scale (must be > 0)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lines("t", "step", "loss", tc.series, tc.opt)
			wantErr(t, err, tc.want)
		})
	}
	_, err := Training("t", "step", []Series{good}, []Series{{Label: "auc"}}, 4*vg.Inch, 3*vg.Inch, "png")
	wantErr(t, err, `plots: invalid input: series 0 ("auc"): no points (validation panel)`)
}

func TestLinesPixels(t *testing.T) {
	const w, h = 4 * vg.Inch, 3 * vg.Inch
	p, err := Lines("", "step", "loss", []Series{
		{Label: "flat", X: []float64{0, 100}, Y: []float64{0.5, 0.5}},
		{Label: "falling", X: []float64{0, 100}, Y: []float64{1, 0}},
	}, LinesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, w, h, "png")
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	px := dataToPixel(p, w, h)
	for i, pt := range [][2]float64{{25, 0.5}, {25, 0.75}} {
		q := px(pt[0], pt[1])
		if c := img.At(q.X, q.Y); !near(c, palette[i], 40) {
			t.Errorf("series %d at %v: pixel %v, want near %v", i, pt, c, palette[i])
		}
	}
	checkGolden(t, "lines.png", b, 0.03)
}

// The legend goes to the first corner (top right, bottom right, …) that
// hides the fewest line segments.
func TestLegendCorner(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	rising, falling := make([]float64, len(x)), make([]float64, len(x))
	for i, v := range x {
		rising[i], falling[i] = v, 10-v
	}
	tests := []struct {
		name string
		y    []float64
		want corner
	}{
		{"falling loss keeps top right", falling, topRight},
		{"rising AUC moves to bottom right", rising, bottomRight},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Lines("", "epoch", "AUC", []Series{{Label: "a fairly long legend label", X: x, Y: tc.y}}, LinesOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := vgimg.NewWith(vgimg.UseWH(4*vg.Inch, 3*vg.Inch), vgimg.UseDPI(DPI))
			dc := p.DataCanvas(draw.New(c))
			leg := newLegend()
			leg.Add("a fairly long legend label")
			lp := legendPanel{Legend: leg, corners: []corner{topRight, bottomRight, topLeft, bottomLeft}, data: []xy{{x, tc.y}}}
			if got := lp.corners[lp.choose(dc, p)]; got != tc.want {
				t.Errorf("legend corner %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSegmentHits(t *testing.T) {
	r := vgRect(0, 0, 10, 10)
	tests := []struct {
		a, b [2]float64
		want bool
	}{
		{[2]float64{-5, 5}, [2]float64{15, 5}, true},    // crosses, both ends outside
		{[2]float64{2, 2}, [2]float64{3, 3}, true},      // inside
		{[2]float64{-5, -5}, [2]float64{-1, 20}, false}, // passes left of it
		{[2]float64{-5, 12}, [2]float64{12, 30}, false}, // above
		{[2]float64{5, 5}, [2]float64{5, 5}, true},      // a point inside
		{[2]float64{11, 11}, [2]float64{11, 11}, false}, // a point outside
	}
	for _, tc := range tests {
		a, b := vgPt(tc.a), vgPt(tc.b)
		if got := segmentHits(a, b, r); got != tc.want {
			t.Errorf("segment %v–%v: %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func vgPt(p [2]float64) vg.Point { return vg.Point{X: vg.Length(p[0]), Y: vg.Length(p[1])} }
func vgRect(x0, y0, x1, y1 float64) vg.Rectangle {
	return vg.Rectangle{Min: vgPt([2]float64{x0, y0}), Max: vgPt([2]float64{x1, y1})}
}

func TestLinesLogY(t *testing.T) {
	p, err := Lines("", "step", "loss", []Series{{Label: "kld", X: []float64{1, 2, 3}, Y: []float64{100, 1, 0.01}}}, LinesOptions{LogY: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, 4*vg.Inch, 3*vg.Inch, "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, b)
	// Log ticks label the decades.
	for _, want := range []string{"0.01", "1", "100"} {
		if !hasText(ts, want) {
			t.Errorf("log axis lacks tick %q", want)
		}
	}
}

func TestTrainingPanels(t *testing.T) {
	losses := []Series{{Label: "reconstruction", X: []float64{0, 1, 2, 3}, Y: []float64{0.9, 0.5, 0.4, 0.35}}}
	val := []Series{{Label: "mse", X: []float64{1, 2}, Y: []float64{0.52, 0.55}}}
	b, err := Training("run 3", "step", losses, val, 5*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, b)
	for _, want := range []string{"run 3", "loss", "step", "validation ROC-AUC", "epoch", "reconstruction", "mse"} {
		if !hasText(ts, want) {
			t.Errorf("training figure lacks text %q", want)
		}
	}
	// Without validation series the losses are drawn alone.
	b, err = Training("run 3", "step", losses, nil, 5*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		t.Fatal(err)
	}
	if hasText(svgTexts(t, b), "epoch") {
		t.Error("a validation panel was drawn without validation series")
	}
	png, err := Training("run 3", "step", losses, val, 5*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, png)
	if img.Bounds().Dx() != 5*DPI || img.Bounds().Dy() != 4*DPI {
		t.Errorf("size %v, want %d×%d", img.Bounds().Size(), 5*DPI, 4*DPI)
	}
	nonBlank(t, img, 2000)
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string // major labels
	}{
		{0, 55, "0 10 20 30 40 50"},
		{-2.7, 3.2, "-2 -1 0 1 2 3"},
		{0.52, 0.565, "0.52 0.53 0.54 0.55 0.56"},
		{0, 400, "0 100 200 300 400"},
		{-1, 1, "-1.0 -0.5 0.0 0.5 1.0"},
	}
	for _, tc := range tests {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Value < tc.lo-1e-12 || tk.Value > tc.hi+1e-12 {
				t.Errorf("[%v, %v]: tick %v outside the range", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("[%v, %v]: labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}
