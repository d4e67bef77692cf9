package preprocess

import (
	"image"
	"math/rand"
	"sort"
	"testing"

	"gocv.io/x/gocv"
)

// TestShrink4MatchesOpenCV: the fused 4× shrink of localBackground gives
// OpenCV's INTER_AREA resizes of s·wt, wt and prior bit for bit, for
// widths that are and are not multiples of a SIMD register, with negative
// values and zeros among them.
func TestShrink4MatchesOpenCV(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sz := range [][2]int{{128, 128}, {97, 75}, {13, 7}, {1, 3}, {33, 128}} {
		lw, lh := sz[0], sz[1]
		checkShrink(t, rng, 4*lw, 4*lh, lw, lh, func(s, wt, prior, ln, lwt, lp []float32) {
			shrink4(s, wt, prior, 4*lw, lw, lh, ln, lwt, lp)
		})
	}
}

// TestShrinkAreaMatchesOpenCV: shrinkArea gives OpenCV's INTER_AREA
// resizes of s·wt, wt and prior bit for bit for non-integer factors (the
// sizes a carrier crop leaves), and for integer ones, which it hands to
// OpenCV.
func TestShrinkAreaMatchesOpenCV(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, sz := range [][4]int{{470, 389, 128, 106}, {512, 389, 128, 97}, {389, 512, 97, 128}, {300, 200, 128, 85}, {129, 130, 128, 129}, {387, 300, 128, 99}, {384, 256, 128, 85}, {256, 256, 128, 128}, {384, 384, 128, 128}} {
		w, h, lw, lh := sz[0], sz[1], sz[2], sz[3]
		checkShrink(t, rng, w, h, lw, lh, func(s, wt, prior, ln, lwt, lp []float32) {
			shrinkArea(s, wt, prior, w, h, lw, lh, ln, lwt, lp)
		})
	}
}

// checkShrink compares shrink's three outputs on random w×h images (grey
// levels, 0/1 weights, a prior with negative values) with OpenCV's
// INTER_AREA resizes to lw×lh.
func checkShrink(t *testing.T, rng *rand.Rand, w, h, lw, lh int, shrink func(s, wt, prior, ln, lwt, lp []float32)) {
	t.Helper()
	s, wt, prior, sw := make([]float32, w*h), make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
	for i := range s {
		s[i] = float32(rng.Float64() * 255)
		wt[i] = float32(rng.Intn(2))
		prior[i] = float32(rng.NormFloat64() * 100)
		sw[i] = s[i] * wt[i]
	}
	want := [][]float32{resizeF(sw, w, h, lw, lh), resizeF(wt, w, h, lw, lh), resizeF(prior, w, h, lw, lh)}
	got := [][]float32{make([]float32, lw*lh), make([]float32, lw*lh), make([]float32, lw*lh)}
	shrink(s, wt, prior, got[0], got[1], got[2])
	for k, name := range []string{"s·wt", "wt", "prior"} {
		for i := range want[k] {
			if got[k][i] != want[k][i] {
				t.Fatalf("%d×%d → %d×%d, %s: pixel %d is %v, OpenCV %v", w, h, lw, lh, name, i, got[k][i], want[k][i])
			}
		}
	}
}

// TestTwoChannelBlurMatchesOneChannel: localBackground blurs samples and
// weights as the two channels of one image because OpenCV's Gaussian
// blur gives each channel the bits it gives that channel alone; this
// checks that at the sizes and σ of the masks (the rounds' and the broad
// surface's) and at odd sizes.
func TestTwoChannelBlurMatchesOneChannel(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, sz := range [][2]int{{128, 106}, {97, 128}, {128, 128}, {13, 7}} {
		for _, sigma := range []float64{1, 5.3, 6.4, 31.8, 38.4} {
			w, h := sz[0], sz[1]
			a, b := make([]float32, w*h), make([]float32, w*h)
			two := make([]float32, 2*w*h)
			for i := range a {
				a[i], b[i] = float32(rng.Float64()*255), float32(rng.Intn(2))
				two[2*i], two[2*i+1] = a[i], b[i]
			}
			wa, wb := blurF(a, w, h, sigma), blurF(b, w, h, sigma)
			out := make([]float32, 2*w*h)
			m, r := floatViewC(two, w, h, 2), floatViewC(out, w, h, 2)
			gocv.GaussianBlur(m, &r, image.Pt(0, 0), sigma, sigma, gocv.BorderReplicate)
			m.Close()
			r.Close()
			for i := range wa {
				if out[2*i] != wa[i] || out[2*i+1] != wb[i] {
					t.Fatalf("%d×%d, σ %v: pixel %d is (%v, %v) blurred together, (%v, %v) alone", w, h, sigma, i, out[2*i], out[2*i+1], wa[i], wb[i])
				}
			}
		}
	}
}

// quantile is the element of rank int(q·n) of the sorted values, with
// ties, sorted and reversed inputs, and one or two elements among them.
func TestQuantileMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.Intn(200)
		v := make([]float64, n)
		for i := range v {
			switch trial % 3 {
			case 0:
				v[i] = rng.NormFloat64()
			case 1:
				v[i] = float64(rng.Intn(5)) // many ties
			default:
				v[i] = float64(n - i) // reversed
			}
		}
		sorted := append([]float64(nil), v...)
		sort.Float64s(sorted)
		for _, q := range []float64{0, 0.3, 0.4, 0.5, 0.99, 1} {
			want := sorted[min(n-1, int(q*float64(n)))]
			if got := quantile(append([]float64(nil), v...), q); got != want {
				t.Fatalf("trial %d (n %d): quantile %v is %v, sorted gives %v", trial, n, q, got, want)
			}
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}
