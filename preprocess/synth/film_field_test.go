package synth

import (
	"math"
	"math/rand"
	"testing"
)

// Exposure fields as the real films show them (docs/preprocessing.md,
// "Exposure fields"): each runs in from one image edge, covering that
// whole edge, never the opposite one, and its boundary is no steeper than
// the steepest background slope measured on the real radiographs (6.1
// grey levels per 1% of the longer side).
func TestFilmExposureFieldsRunInFromAnEdge(t *testing.T) {
	const w, h = 200, 256
	fields := 0
	for seed := int64(1); seed <= 400; seed++ {
		f := newFilmLook(rand.New(rand.NewSource(seed)), w, h, h)
		e := f.exp
		if e.Amp == 0 {
			continue
		}
		fields++
		// The level along each edge: its minimum and maximum.
		edge := func(k int) (lo, hi float64) {
			lo, hi = math.Inf(1), math.Inf(-1)
			n := h
			if k >= 2 {
				n = w
			}
			for t := 0; t < n; t++ {
				var px, py float64
				switch k {
				case 0:
					px, py = 0.5, float64(t)+0.5
				case 1:
					px, py = w-0.5, float64(t)+0.5
				case 2:
					px, py = float64(t)+0.5, 0.5
				default:
					px, py = float64(t)+0.5, h-0.5
				}
				v := e.at(px, py) / e.Amp
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			return lo, hi
		}
		opposite := [4]int{1, 0, 3, 2}
		from := -1
		for k := 0; k < 4; k++ {
			if lo, _ := edge(k); lo >= 0.75 {
				from = k
			}
		}
		if from < 0 {
			t.Errorf("seed %d: field %+v covers no image edge", seed, e)
			continue
		}
		if _, hi := edge(opposite[from]); hi > 0.25 {
			t.Errorf("seed %d: field %+v from edge %d reaches %.2f of its step on the opposite edge", seed, e, from, hi)
		}
		steep := 0.0
		for y := 0; y < h-1; y++ {
			for x := 0; x < w-1; x++ {
				c := e.at(float64(x)+0.5, float64(y)+0.5)
				gx := e.at(float64(x)+1.5, float64(y)+0.5) - c
				gy := e.at(float64(x)+0.5, float64(y)+1.5) - c
				steep = math.Max(steep, math.Hypot(gx, gy))
			}
		}
		if per := steep * 0.01 * h; per > 6.1 {
			t.Errorf("seed %d: field %+v rises %.1f grey levels per 1%% of the image; the real films at most 6.1", seed, e, per)
		}
	}
	// About a quarter of the films have one.
	if fields < 70 || fields > 130 {
		t.Errorf("%d of 400 films have an exposure field; want about 100", fields)
	}
}
