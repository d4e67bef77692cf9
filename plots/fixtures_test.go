package plots

import (
	"flag"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// -samples=DIR writes one example of every figure to DIR (the README's
// docs/plots/ come from `go test ./plots/ -run TestSamples -samples=../docs/plots`).
var samplesDir = flag.String("samples", "", "write example figures to this directory")

// scores draws n normal and n abnormal scores whose separation sets the AUC.
func scores(rng *rand.Rand, n int, shift float64) (normal, abnormal []float64) {
	for i := 0; i < n; i++ {
		normal = append(normal, rng.NormFloat64())
		abnormal = append(abnormal, rng.NormFloat64()+shift)
	}
	return normal, abnormal
}

// rocOf is a plain reference ROC (no tie grouping needed: scores are
// continuous) and its trapezoidal AUC, enough to make realistic curves.
func rocOf(normal, abnormal []float64) (fpr, tpr []float64, auc float64) {
	type pt struct {
		s   float64
		pos bool
	}
	var ps []pt
	for _, s := range normal {
		ps = append(ps, pt{s, false})
	}
	for _, s := range abnormal {
		ps = append(ps, pt{s, true})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].s > ps[j].s })
	fp, tp := 0.0, 0.0
	fpr, tpr = []float64{0}, []float64{0}
	for _, p := range ps {
		if p.pos {
			tp++
		} else {
			fp++
		}
		fpr = append(fpr, fp/float64(len(normal)))
		tpr = append(tpr, tp/float64(len(abnormal)))
	}
	for i := 1; i < len(fpr); i++ {
		auc += (fpr[i] - fpr[i-1]) * (tpr[i] + tpr[i-1]) / 2
	}
	return fpr, tpr, auc
}

func sampleCurves(seed int64) []Curve {
	rng := rand.New(rand.NewSource(seed))
	var cs []Curve
	for _, c := range []struct {
		label string
		shift float64
	}{{"mse", 0.25}, {"mse (top-200)", 0.9}, {"disc. (D)", -0.3}} {
		n, a := scores(rng, 200, c.shift)
		f, t, auc := rocOf(n, a)
		cs = append(cs, Curve{Label: c.label, FPR: f, TPR: t, AUC: auc})
	}
	return cs
}

// handImage is a small synthetic "X-ray": dark background, a brighter
// elliptic palm with a radial texture, a bright round anomaly of radius ar
// at (ax, ay) unless ar is 0.
// It returns the image, a loss mask (the palm), the true anomaly mask and an
// anomaly map peaked at the anomaly with weak noise over the palm.
func handImage(w, h, ax, ay, ar int, seed int64) (img, mask, truth, amap []float32) {
	rng := rand.New(rand.NewSource(seed))
	n := w * h
	img, mask, truth, amap = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	cx, cy := float64(w)/2, float64(h)/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			dx, dy := (float64(x)-cx)/(0.32*float64(w)), (float64(y)-cy)/(0.42*float64(h))
			r := dx*dx + dy*dy
			if r <= 1 {
				mask[i] = 1
				img[i] = float32(0.45 + 0.25*math.Cos(6*math.Atan2(dy, dx))*(1-r) + 0.05*rng.Float64())
				amap[i] = float32(0.02 * rng.Float64())
			}
			if ar == 0 {
				continue // a normal hand: no anomaly, no peak in the map
			}
			ex, ey := float64(x-ax), float64(y-ay)
			d2 := ex*ex + ey*ey
			if d2 <= float64(ar*ar) {
				truth[i] = 1
				img[i] = 0.95
			}
			amap[i] += float32(0.3 * math.Exp(-d2/(4.5*float64(ar*ar))))
		}
	}
	return img, mask, truth, amap
}

func writeSample(t *testing.T, name string, data []byte) {
	t.Helper()
	if *samplesDir == "" {
		return
	}
	if err := os.MkdirAll(*samplesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*samplesDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
