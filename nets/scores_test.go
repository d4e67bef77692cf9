package nets

import (
	"math"
	"testing"
)

func TestHeatmapSigma(t *testing.T) {
	for _, c := range []struct {
		size int
		want float64
	}{{512, 5}, {1024, 10}, {256, 2.5}, {64, 1}, {32, 1}} {
		if got := heatmapSigma(c.size); got != c.want {
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
