package plots

import (
	"math"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestScoreHistogramErrors(t *testing.T) {
	tests := []struct {
		name             string
		normal, abnormal []float64
		opt              HistOptions
		want             string
	}{
		{"both empty", nil, nil, HistOptions{}, `plots: invalid input: no scores: normal and abnormal are both empty`},
		{"NaN", []float64{1, 2}, []float64{3, math.NaN()}, HistOptions{}, `plots: invalid input: abnormal[1] is NaN`},
		{"Inf", []float64{math.Inf(-1)}, []float64{3}, HistOptions{}, `plots: invalid input: normal[0] is -Inf`},
		{"bins", []float64{1}, []float64{2}, HistOptions{Bins: -3}, `plots: invalid input: Bins = -3 must be ≥ 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScoreHistogram("t", "score", tc.normal, tc.abnormal, tc.opt)
			wantErr(t, err, tc.want)
		})
	}
}

func TestHistBins(t *testing.T) {
	// Both groups share edges over the joint range [0, 2]; the maximum
	// falls in the last bin.
	nb, ab := histBins([]float64{0, 0.5, 1.9}, []float64{1, 1.5, 2, 2}, HistOptions{Bins: 4})
	wantEdges := [][2]float64{{0, 0.5}, {0.5, 1}, {1, 1.5}, {1.5, 2}}
	wantN := []float64{1, 1, 0, 1}
	wantA := []float64{0, 0, 1, 3}
	for i := range wantEdges {
		for _, g := range []struct {
			name string
			got  float64
			want float64
			min  float64
			max  float64
		}{{"normal", nb[i].Weight, wantN[i], nb[i].Min, nb[i].Max}, {"abnormal", ab[i].Weight, wantA[i], ab[i].Min, ab[i].Max}} {
			if g.min != wantEdges[i][0] || g.max != wantEdges[i][1] {
				t.Errorf("%s bin %d: [%v, %v], want %v", g.name, i, g.min, g.max, wantEdges[i])
			}
			if g.got != g.want {
				t.Errorf("%s bin %d: count %v, want %v", g.name, i, g.got, g.want)
			}
		}
	}
	// Density: each group integrates to 1.
	nb, ab = histBins([]float64{0, 0.5, 1.9}, []float64{1, 1.5, 2, 2}, HistOptions{Bins: 4, Density: true})
	for _, bins := range [][]float64{{nb[0].Weight, nb[1].Weight, nb[2].Weight, nb[3].Weight}, {ab[0].Weight, ab[1].Weight, ab[2].Weight, ab[3].Weight}} {
		area := 0.0
		for _, w := range bins {
			area += w * 0.5
		}
		if math.Abs(area-1) > 1e-12 {
			t.Errorf("density area %v, want 1", area)
		}
	}
	// Constant scores get one bar of the default 30 around the value.
	nb, _ = histBins([]float64{3, 3}, nil, HistOptions{})
	if len(nb) != 30 || nb[0].Min != 2.5 || nb[29].Max != 3.5 {
		t.Errorf("constant scores: %d bins over [%v, %v], want 30 over [2.5, 3.5]", len(nb), nb[0].Min, nb[len(nb)-1].Max)
	}
	total := 0.0
	for _, b := range nb {
		total += b.Weight
	}
	if total != 2 {
		t.Errorf("constant scores: %v counted, want 2", total)
	}
}

func TestScoreHistogramPixels(t *testing.T) {
	const w, h = 4 * vg.Inch, 3 * vg.Inch
	// Bin 0 holds normals only, bin 9 abnormals only, bin 4 both.
	normal := []float64{0, 0, 0, 0, 0.45, 0.45, 0.45, 0.45}
	abnormal := []float64{1, 1, 1, 1, 0.45, 0.45, 0.45, 0.45}
	p, err := ScoreHistogram("", "score", normal, abnormal, HistOptions{Bins: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(p, w, h, "png")
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	px := dataToPixel(p, w, h)
	const a = float64(0x73) / 255
	// The fills are translucent: alone each shows its colour over white;
	// overlapping, the abnormal fill lies over the normal one.
	both := func() [3]float64 {
		n, ab := palette[0], palette[1]
		var c [3]float64
		for i, v := range [][2]uint8{{n.R, ab.R}, {n.G, ab.G}, {n.B, ab.B}} {
			under := float64(v[0])*a + 255*(1-a)
			c[i] = float64(v[1])*a + under*(1-a)
		}
		return c
	}()
	tests := []struct {
		name string
		x, y float64
		want [3]float64
	}{
		{"normal only", 0.05, 1.5, rgbOf(over(palette[0], a))},
		{"abnormal only", 0.95, 1.5, rgbOf(over(palette[1], a))},
		{"overlap", 0.45, 1.5, both},
	}
	for _, tc := range tests {
		q := px(tc.x, tc.y)
		r, g, bb := rgb(img.At(q.X, q.Y))
		if math.Abs(float64(r)-tc.want[0]) > 6 || math.Abs(float64(g)-tc.want[1]) > 6 || math.Abs(float64(bb)-tc.want[2]) > 6 {
			t.Errorf("%s at (%v, %v): pixel (%d,%d,%d), want ≈ %.0f", tc.name, tc.x, tc.y, r, g, bb, tc.want)
		}
	}
	checkGolden(t, "histogram.png", b, 0.03)

	svg, err := Render(p, w, h, "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, svg)
	for _, want := range []string{"normal (n=8)", "abnormal (n=8)", "images", "score"} {
		if !hasText(ts, want) {
			t.Errorf("SVG lacks text %q", want)
		}
	}
}

func rgbOf(c interface{ RGBA() (r, g, b, a uint32) }) [3]float64 {
	r, g, b, _ := c.RGBA()
	return [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
}
