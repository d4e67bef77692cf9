package nets

import (
	"math"
	"strings"
	"testing"
)

func TestHeatmapSigma(t *testing.T) {
	for _, c := range []struct {
		size int
		want float64
	}{{512, 5}, {1024, 10}, {256, 2.5}, {64, 1}, {32, 1}} {
		if got := HeatmapSigma(c.size); got != c.want {
			t.Errorf("size %d: sigma %g, want %g", c.size, got, c.want)
		}
	}
}

func TestGaussianSmoothImpulse(t *testing.T) {
	const n, sigma = 41, 2.0
	src := make([]float32, n*n)
	src[20*n+20] = 1
	dst := make([]float32, n*n)
	GaussianSmooth(dst, src, n, n, sigma)
	// truncated at 4σ = 8 px, normalised per axis
	var z float64
	for i := -8; i <= 8; i++ {
		z += math.Exp(-float64(i*i) / (2 * sigma * sigma))
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dy, dx := y-20, x-20
			want := 0.0
			if abs(dx) <= 8 && abs(dy) <= 8 {
				want = math.Exp(-float64(dx*dx+dy*dy)/(2*sigma*sigma)) / (z * z)
			}
			if math.Abs(float64(dst[y*n+x])-want) > 1e-7 {
				t.Fatalf("(%d,%d): %g, want %g", y, x, dst[y*n+x], want)
			}
		}
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// Reflecting borders keep a constant image constant and keep the mass of
// an impulse in the corner.
func TestGaussianSmoothBorders(t *testing.T) {
	const h, w = 7, 9
	flat := make([]float32, h*w)
	for i := range flat {
		flat[i] = 0.5
	}
	out := make([]float32, h*w)
	GaussianSmooth(out, flat, h, w, 3)
	for i, v := range out {
		if math.Abs(float64(v)-0.5) > 1e-6 {
			t.Fatalf("constant image: pixel %d became %g", i, v)
		}
	}
	corner := make([]float32, h*w)
	corner[0] = 1
	GaussianSmooth(out, corner, h, w, 1.5)
	var s float64
	for _, v := range out {
		s += float64(v)
	}
	if math.Abs(s-1) > 1e-6 {
		t.Fatalf("corner impulse mass %g, want 1", s)
	}
	if !(out[0] > out[1] && out[1] > out[2]) {
		t.Fatalf("corner impulse does not decay from the corner: %v", out[:3])
	}
}

func TestReflectIndex(t *testing.T) {
	// d c b a | a b c d | d c b a for n = 4
	want := map[int]int{-4: 3, -3: 2, -2: 1, -1: 0, 0: 0, 3: 3, 4: 3, 5: 2, 7: 0, 8: 0}
	for i, w := range want {
		if got := reflectIndex(i, 4); got != w {
			t.Errorf("reflectIndex(%d, 4) = %d, want %d", i, got, w)
		}
	}
}

func TestScoreSpread(t *testing.T) {
	s := ScoreSpread(map[string][]float64{
		"flat":  {0.5, 0.5, 0.5},
		"tiny":  {0.6064261, 0.6064260, 0.6064261},
		"wide":  {1, 2, 3, 4},
		"nan":   {math.NaN(), 1, 1},
		"empty": nil,
	})
	w := s["wide"]
	if w.N != 4 || w.Min != 1 || w.Max != 4 || w.Mean != 2.5 || w.Distinct != 4 || math.Abs(w.Std-math.Sqrt(5.0/3)) > 1e-15 {
		t.Fatalf("wide spread %+v", w)
	}
	if s["nan"].NaN != 1 || s["nan"].Distinct != 1 {
		t.Fatalf("nan spread %+v", s["nan"])
	}
	for _, c := range []struct {
		name string
		tol  float64
		want bool
	}{{"flat", 0, true}, {"tiny", 1e-6, true}, {"tiny", 1e-8, false}, {"wide", 0.5, false}, {"nan", 0, true}, {"empty", 0, true}} {
		if got := s[c.name].Constant(c.tol); got != c.want {
			t.Fatalf("%s Constant(%g) = %v, want %v (%+v)", c.name, c.tol, got, c.want, s[c.name])
		}
	}
	got := CollapsedScores(map[string][]float64{"a": {1, 1}, "b": {1, 2}, "c": {3}}, 1e-9)
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("collapsed %v, want [a c]", got)
	}
}

func TestTopKMean(t *testing.T) {
	cases := []struct {
		v    []float64
		k    int
		want float64
	}{
		{[]float64{1, 5, 3, 4}, 2, 4.5},
		{[]float64{1, 5, 3, 4}, 10, 3.25},
		{[]float64{2, 2, 2}, 1, 2},
		{nil, 3, 0},
	}
	for _, c := range cases {
		if got := TopKMean(append([]float64(nil), c.v...), c.k); got != c.want {
			t.Errorf("TopKMean(%v, %d) = %v, want %v", c.v, c.k, got, c.want)
		}
	}
	if got := strings.Join(ExpandScores([]string{"mse", "mse_topk", "d"}, []int{10, 200}), ","); got != "mse,mse_top10,mse_top200,d" {
		t.Errorf("ExpandScores = %s", got)
	}
}

// A top-k share takes k = ⌈f·n⌉ of an image's n masked pixels: the same
// share of a small and a large mask, where a pixel count is not.
func TestTopKFracScores(t *testing.T) {
	for _, c := range []struct {
		f    float64
		n, k int
	}{{0.01, 300, 3}, {0.01, 301, 4}, {0.5, 3, 2}, {1, 7, 7}, {0.001, 10, 1}, {0.1, 30, 3}} {
		if got := FracCount(c.f, c.n); got != c.k {
			t.Errorf("FracCount(%g, %d) = %d, want %d", c.f, c.n, got, c.k)
		}
	}
	// One 4×4 image, 10 masked pixels with errors 1..10 (the image is the
	// error's square root, the reconstruction 0), the rest unmasked and
	// large so a share that counted them would show.
	b := &Batch{N: 1, H: 4, W: 4, Images: make([]float32, 16), Masks: make([]float32, 16)}
	for p := range b.Images {
		if p < 10 {
			b.Images[p], b.Masks[p] = float32(math.Sqrt(float64(p+1))), 1
		} else {
			b.Images[p] = 100
		}
	}
	out := &Scored{}
	tk := TopK{Counts: []int{2}, Fracs: []float64{0.25, 0.05}}
	if err := ReconstructionScores(b, make([]float64, 16), "mse", tk, out); err != nil {
		t.Fatal(err)
	}
	// by hand: k = ⌈2.5⌉ = 3 → (10+9+8)/3 = 9; k = ⌈0.5⌉ = 1 → 10; top 2 → 9.5
	want := map[string]float64{"mse": 5.5, "mse_top2": 9.5, "mse_topk_frac_0.25": 9, "mse_topk_frac_0.05": 10}
	if len(out.Scores) != len(want) {
		t.Fatalf("scores %v, want the names of %v", out.Scores, want)
	}
	for n, w := range want {
		if got := out.Scores[n][0]; math.Abs(got-w) > 1e-5 {
			t.Errorf("%s = %v, want %v", n, got, w)
		}
	}
	if got := strings.Join(ExpandScores([]string{"mse", "mse_topk", "d"}, []int{200}, 0.01, 0.5), ","); got != "mse,mse_top200,mse_topk_frac_0.01,mse_topk_frac_0.5,d" {
		t.Errorf("ExpandScores = %s", got)
	}
	for _, c := range []struct {
		fs   []float64
		want string
	}{
		{[]float64{0}, "cae: top-k share 0 must be in (0, 1]"},
		{[]float64{1.5}, "cae: top-k share 1.5 must be in (0, 1]"},
		{[]float64{math.NaN()}, "cae: top-k share NaN must be in (0, 1]"},
		{[]float64{0.1, 0.1}, "cae: top-k share 0.1 is listed twice"},
	} {
		if err := CheckTopKFrac("cae", c.fs); err == nil || err.Error() != c.want {
			t.Errorf("CheckTopKFrac(%v) = %v, want %q", c.fs, err, c.want)
		}
	}
}
