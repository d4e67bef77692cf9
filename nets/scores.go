package nets

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// HeatmapSigma is the heatmap smoothing of the authors' code (σ = 5 px at
// 512 px; the paper gives no σ), scaled to the image size and never below
// one pixel (README "Models as coded", row "heatmap smoothing").
func HeatmapSigma(size int) float64 {
	return math.Max(1, 5*float64(size)/512)
}

// gaussianKernel is a normalised 1-D Gaussian truncated at 4σ (SciPy's
// gaussian_filter default).
func gaussianKernel(sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	k := make([]float64, 2*r+1)
	var s float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	return k
}

// reflectIndex maps i into [0,n) by half-sample symmetric reflection
// (d c b a | a b c d | d c b a), SciPy's "reflect" mode.
func reflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * n
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - 1 - i
	}
	return i
}

// GaussianSmooth blurs an h×w image with a separable Gaussian of the given
// σ (reflecting borders), writing into dst (which may not alias src).
func GaussianSmooth(dst, src []float32, h, w int, sigma float64) {
	newSmoother(h, w, sigma).smooth(dst, src)
}

// smoother is GaussianSmooth's kernel, reflection tables and scratch, made
// once per image size and reused across a batch's images and maps. Every
// output pixel sums k[j]·v over the same taps in the same order as the
// direct loops would, so the result is bit for bit the same; the tables
// only take the reflection (a modulo per tap) out of the inner loops.
type smoother struct {
	k    []float64
	h, w int
	// colIdx[x*len(k)+j] is the source column of tap j for the r border
	// columns on either side (x < r or x ≥ w−r); interior ones read
	// x+j−r directly.
	colIdx []int
	rowOff []int // rowOff[y*len(k)+j]: offset of the source row of tap j
	tmp    []float64
	acc    []float64
}

func newSmoother(h, w int, sigma float64) *smoother {
	k := gaussianKernel(sigma)
	nk, r := len(k), len(k)/2
	s := &smoother{k: k, h: h, w: w, colIdx: make([]int, w*nk), rowOff: make([]int, h*nk),
		tmp: make([]float64, h*w), acc: make([]float64, w)}
	for x := 0; x < w; x++ {
		for j := range k {
			s.colIdx[x*nk+j] = reflectIndex(x+j-r, w)
		}
	}
	for y := 0; y < h; y++ {
		for j := range k {
			s.rowOff[y*nk+j] = reflectIndex(y+j-r, h) * w
		}
	}
	return s
}

func (s *smoother) smooth(dst, src []float32) {
	k, h, w := s.k, s.h, s.w
	nk, r := len(k), len(k)/2
	tmp := s.tmp
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		out := tmp[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var v float64
			if x >= r && x+r < w {
				win := row[x-r : x-r+nk]
				for j, kv := range k {
					v += kv * float64(win[j])
				}
			} else {
				idx := s.colIdx[x*nk : (x+1)*nk]
				for j, kv := range k {
					v += kv * float64(row[idx[j]])
				}
			}
			out[x] = v
		}
	}
	// vertical pass a row at a time: acc[x] takes the taps j = 0, 1, … in
	// turn, the order of the per-pixel sum
	acc := s.acc
	for y := 0; y < h; y++ {
		clear(acc)
		for j, kv := range k {
			line := tmp[s.rowOff[y*nk+j]:][:w]
			for x, t := range line {
				acc[x] += kv * t
			}
		}
		d := dst[y*w : (y+1)*w]
		for x, v := range acc {
			d[x] = float32(v)
		}
	}
}

// TopK are the top-k variants of every score family: Counts are pixel
// counts k ("<family>_top<k>", the paper's k = 200), Fracs are shares of
// the image's masked pixels ("<family>_topk_frac_<f>": k = ⌈f·n⌉ of its n
// masked pixels, at least 1), which mean the same at every image size.
type TopK struct {
	Counts []int
	Fracs  []float64
}

// ReconstructionScores scores a batch from its reconstruction: per image the
// masked squared error e = m⊙(x−x̂)², "<family>" = Σe/Σm and the top-k
// scores (TopK) = the mean of the k largest e under the mask; the map is
// e smoothed with the heatmap Gaussian. recon holds N×H×W values.
func ReconstructionScores[R float32 | float64](b *Batch, recon []R, family string, topK TopK, out *Scored) error {
	return ErrorScores(b, recon, family, topK, func(d float64) float64 { return d * d }, true, out)
}

// ErrorScores is ReconstructionScores for any per-pixel error e = f(m⊙(x−x̂))
// (the VAE's L1 uses |·|); withMap also sets out.Maps to the smoothed e.
// recon may be the graph's float32 output itself (no float64 copy: each
// value is widened exactly where it is used).
func ErrorScores[R float32 | float64](b *Batch, recon []R, family string, topK TopK, f func(float64) float64, withMap bool, out *Scored) error {
	if len(recon) != len(b.Images) {
		return fmt.Errorf("%d reconstructed values for %d pixels", len(recon), len(b.Images))
	}
	if out.Scores == nil {
		out.Scores = map[string][]float64{}
	}
	names := ExpandScores([]string{family, family + "_topk"}, topK.Counts, topK.Fracs...)
	for _, n := range names {
		out.Scores[n] = make([]float64, b.N)
	}
	if withMap {
		out.Maps = make([]float32, len(b.Images))
	}
	px := b.Pixels()
	sigma := HeatmapSigma(b.H)
	return eachImage(b.N, func() func(i int) error {
		// per worker: its own scratch and smoother
		se := make([]float32, px)
		under := make([]float64, 0, px)
		var sm *smoother
		if withMap {
			sm = newSmoother(b.H, b.W, sigma)
		}
		return func(i int) error {
			img, mask := b.Image(i), b.Mask(i)
			rec := recon[i*px : (i+1)*px]
			under = under[:0]
			var sum, msum float64
			for p := range img {
				e := f(float64(mask[p]) * (float64(img[p]) - float64(rec[p])))
				se[p] = float32(e)
				sum += e
				msum += float64(mask[p])
				if mask[p] != 0 {
					under = append(under, e)
				}
			}
			if msum == 0 {
				return fmt.Errorf("image %d of the batch has an empty mask", i)
			}
			out.Scores[family][i] = sum / msum
			TopKScores(out.Scores, family, i, under, topK)
			if withMap {
				sm.smooth(out.Maps[i*px:(i+1)*px], se)
			}
			return nil
		}
	})
}

// eachImage runs the function that start makes for every image index in
// [0, n), over up to GOMAXPROCS goroutines (each calls start once, for its
// own scratch) taking contiguous ranges of images. Images are scored
// independently, so the split changes no value; the error is that of the
// lowest-numbered image that failed, as a serial loop would report it.
func eachImage(n int, start func() func(i int) error) error {
	w := min(runtime.GOMAXPROCS(0), n)
	if w < 2 {
		do := start()
		for i := 0; i < n; i++ {
			if err := do(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, w)
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		lo, hi := n*g/w, n*(g+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := start()
			for i := lo; i < hi; i++ {
				if err := do(i); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TopKScores sets image i's top-k scores of a family from the errors
// under its mask (reordering them).
//
// Each score is TopKMean's value: the mean of the k largest values in
// descending order, or of all of them in their current order when k ≥ n.
// Rather than sorting all n values for every k, the largest kmax (the
// largest k < n asked for) are selected once and only they are sorted, so
// v[:k] holds the same values in the same order as after a full sort and
// every mean is bit for bit the same. Values with a NaN take the plain
// path (sort's NaN order).
func TopKScores(scores map[string][]float64, family string, i int, under []float64, topK TopK) {
	n := len(under)
	ks := make([]int, 0, len(topK.Counts)+len(topK.Fracs))
	ks = append(ks, topK.Counts...)
	for _, f := range topK.Fracs {
		ks = append(ks, FracCount(f, n))
	}
	names := make([]string, 0, len(ks))
	for _, k := range topK.Counts {
		names = append(names, TopKName(family, k))
	}
	for _, f := range topK.Fracs {
		names = append(names, TopKFracName(family, f))
	}
	kmax := 0
	for _, k := range ks {
		if k > 0 && k < n {
			kmax = max(kmax, k)
		}
	}
	hasNaN := false
	for _, v := range under {
		if v != v {
			hasNaN = true
			break
		}
	}
	sorted := 0 // how many leading values are the largest, in descending order
	for j, k := range ks {
		var m float64
		switch {
		case n == 0 || k <= 0:
		case hasNaN:
			m = TopKMean(under, k)
		case k >= n:
			if sorted > 0 && sorted < n {
				// TopKMean would have sorted all of them by now
				sort.Sort(sort.Reverse(sort.Float64Slice(under)))
				sorted = n
			}
			m = Mean(under)
		default:
			if sorted < k {
				selectLargest(under, kmax)
				sort.Sort(sort.Reverse(sort.Float64Slice(under[:kmax])))
				sorted = kmax
			}
			m = Mean(under[:k])
		}
		scores[names[j]][i] = m
	}
}

// selectLargest reorders v (no NaNs) so that its k largest values come
// first, in no particular order (0 < k < len(v)): Hoare's quickselect with
// a median-of-three pivot. The standard library has no partial selection;
// gonum's floats has none either.
func selectLargest(v []float64, k int) {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// median of three, as the pivot
		a, b, c := v[lo], v[mid], v[hi]
		p := b
		if (a >= b) != (a >= c) {
			p = a
		} else if (c >= a) != (c >= b) {
			p = c
		}
		// partition descending: [lo, i) ≥ p, (j, hi] ≤ p
		i, j := lo, hi
		for i <= j {
			for v[i] > p {
				i++
			}
			for v[j] < p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		// now [lo, j] ≥ p ≥ [i, hi], and j < i
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// FracCount is the k of a top-k share f of n pixels: ⌈f·n⌉, at least 1.
// (The product is rounded to 1e-9 first, so 0.01·300 is 3, not 4.)
func FracCount(f float64, n int) int {
	k := int(math.Ceil(math.Round(f*float64(n)*1e9) / 1e9))
	return max(k, 1)
}

// Mean is the arithmetic mean, 0 for no values.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TopKMean is the mean of the k largest values (all of them when fewer).
// It sorts v in place.
func TopKMean(v []float64, k int) float64 {
	if len(v) == 0 || k <= 0 {
		return 0
	}
	if k >= len(v) {
		return Mean(v)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(v)))
	return Mean(v[:k])
}

// TopKName is the name of the top-k variant of a score family.
func TopKName(family string, k int) string { return fmt.Sprintf("%s_top%d", family, k) }

// TopKFracName is the name of the top-share variant of a score family:
// "mse_topk_frac_0.01" (the share in Go's shortest form).
func TopKFracName(family string, f float64) string {
	return family + "_topk_frac_" + strconv.FormatFloat(f, 'g', -1, 64)
}

// ExpandScores turns score families into concrete score names: a family
// "x_topk" becomes "x_top<k>" for every k, then "x_topk_frac_<f>" for
// every share f.
func ExpandScores(families []string, topK []int, fracs ...float64) []string {
	var out []string
	for _, f := range families {
		if base, ok := cutSuffix(f, "_topk"); ok {
			for _, k := range topK {
				out = append(out, TopKName(base, k))
			}
			for _, fr := range fracs {
				out = append(out, TopKFracName(base, fr))
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}
