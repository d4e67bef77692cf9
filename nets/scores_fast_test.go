package nets

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// directSmooth is GaussianSmooth as first written, one reflectIndex per tap:
// the reference the table-driven smoother must match bit for bit.
func directSmooth(dst, src []float32, h, w int, sigma float64) {
	k := gaussianKernel(sigma)
	r := len(k) / 2
	tmp := make([]float64, h*w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float64
			for j, kv := range k {
				s += kv * float64(src[y*w+reflectIndex(x+j-r, w)])
			}
			tmp[y*w+x] = s
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float64
			for j, kv := range k {
				s += kv * tmp[reflectIndex(y+j-r, h)*w+x]
			}
			dst[y*w+x] = float32(s)
		}
	}
}

func TestGaussianSmoothMatchesDirectLoops(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	// square, non-square, narrower than the kernel, one pixel
	for _, c := range []struct {
		h, w  int
		sigma float64
	}{{64, 64, 1}, {37, 20, 2.5}, {5, 3, 3}, {1, 1, 1}, {128, 96, HeatmapSigma(128)}} {
		src := make([]float32, c.h*c.w)
		for i := range src {
			src[i] = float32(r.Float64())
		}
		want, got := make([]float32, len(src)), make([]float32, len(src))
		directSmooth(want, src, c.h, c.w, c.sigma)
		sm := newSmoother(c.h, c.w, c.sigma)
		for round := 0; round < 2; round++ { // the scratch is reused
			sm.smooth(got, src)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%d σ=%v round %d: pixel %d = %v, direct loops %v", c.h, c.w, c.sigma, round, i, got[i], want[i])
				}
			}
		}
	}
}

func TestSelectLargest(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for trial := 0; trial < 300; trial++ {
		n := 2 + r.Intn(200)
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.Intn(1 + n/3)) // many ties
		}
		k := 1 + r.Intn(n-1)
		ref := append([]float64(nil), v...)
		sort.Sort(sort.Reverse(sort.Float64Slice(ref)))
		selectLargest(v, k)
		top := append([]float64(nil), v[:k]...)
		sort.Sort(sort.Reverse(sort.Float64Slice(top)))
		for i := range top {
			if top[i] != ref[i] {
				t.Fatalf("n=%d k=%d: selected %v, want the largest %v", n, k, top, ref[:k])
			}
		}
	}
}

// TopKScores must give TopKMean's values called in turn, bit for bit: k
// below, at and above n, shares, ties, and the NaN path.
func TestTopKScoresMatchesTopKMean(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	topKs := []TopK{
		{Counts: []int{200, 5}, Fracs: []float64{0.01, 0.5}},
		{Counts: []int{100000, 3}, Fracs: []float64{1}},
		{Counts: []int{3, 100000}},
		{Counts: []int{0}, Fracs: []float64{0.9, 0.1}},
	}
	for trial := 0; trial < 200; trial++ {
		n := r.Intn(400)
		v := make([]float64, n)
		for i := range v {
			v[i] = r.Float64() * r.Float64()
			if r.Intn(5) == 0 {
				v[i] = float64(r.Intn(3))
			}
		}
		if trial%20 == 0 && n > 0 {
			v[r.Intn(n)] = math.NaN()
		}
		tk := topKs[trial%len(topKs)]
		names := ExpandScores([]string{"e_topk"}, tk.Counts, tk.Fracs...)
		got := map[string][]float64{}
		for _, nm := range names {
			got[nm] = make([]float64, 1)
		}
		TopKScores(got, "e", 0, append([]float64(nil), v...), tk)
		w := append([]float64(nil), v...)
		j := 0
		for _, k := range tk.Counts {
			want := TopKMean(w, k)
			if g := got[names[j]][0]; math.Float64bits(g) != math.Float64bits(want) {
				t.Fatalf("trial %d n=%d %s = %v, TopKMean %v", trial, n, names[j], g, want)
			}
			j++
		}
		for _, f := range tk.Fracs {
			want := TopKMean(w, FracCount(f, len(w)))
			if g := got[names[j]][0]; math.Float64bits(g) != math.Float64bits(want) {
				t.Fatalf("trial %d n=%d %s = %v, TopKMean %v", trial, n, names[j], g, want)
			}
			j++
		}
	}
}

// Scoring a batch over several goroutines gives the serial loop's values
// and reports the first image with an empty mask.
func TestErrorScoresSplitOverImages(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	n, s := 7, 16
	b := &Batch{N: n, H: s, W: s, Images: make([]float32, n*s*s), Masks: make([]float32, n*s*s)}
	recon := make([]float64, n*s*s)
	for i := range b.Images {
		b.Images[i] = float32(r.Float64())
		recon[i] = r.Float64()
		if r.Intn(3) > 0 {
			b.Masks[i] = 1
		}
	}
	tk := TopK{Counts: []int{10}, Fracs: []float64{0.05}}
	var got Scored
	if err := ReconstructionScores(b, recon, "mse", tk, &got); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var under []float64
		var sum, msum float64
		se := make([]float32, s*s)
		for p := 0; p < s*s; p++ {
			m := float64(b.Masks[i*s*s+p])
			d := m * (float64(b.Images[i*s*s+p]) - recon[i*s*s+p])
			se[p] = float32(d * d)
			sum += d * d
			msum += m
			if m != 0 {
				under = append(under, d*d)
			}
		}
		if g, w := got.Scores["mse"][i], sum/msum; g != w {
			t.Fatalf("image %d mse %v, want %v", i, g, w)
		}
		if g, w := got.Scores["mse_top10"][i], TopKMean(under, 10); g != w {
			t.Fatalf("image %d mse_top10 %v, want %v", i, g, w)
		}
		want := make([]float32, s*s)
		directSmooth(want, se, s, s, HeatmapSigma(s))
		for p := range want {
			if got.Maps[i*s*s+p] != want[p] {
				t.Fatalf("image %d map pixel %d %v, want %v", i, p, got.Maps[i*s*s+p], want[p])
			}
		}
	}
	clear(b.Mask(5))
	clear(b.Mask(2))
	err := ReconstructionScores(b, recon, "mse", tk, &Scored{})
	if err == nil || err.Error() != "image 2 of the batch has an empty mask" {
		t.Fatalf("error %v, want image 2's empty mask", err)
	}
}
