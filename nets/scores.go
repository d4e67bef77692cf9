package nets

import (
	"fmt"
	"math"
	"sort"
	"strconv"
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
	k := gaussianKernel(sigma)
	r := len(k) / 2
	tmp := make([]float64, h*w)
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var s float64
			for j, kv := range k {
				s += kv * float64(row[reflectIndex(x+j-r, w)])
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
func ReconstructionScores(b *Batch, recon []float64, family string, topK TopK, out *Scored) error {
	return ErrorScores(b, recon, family, topK, func(d float64) float64 { return d * d }, true, out)
}

// ErrorScores is ReconstructionScores for any per-pixel error e = f(m⊙(x−x̂))
// (the VAE's L1 uses |·|); withMap also sets out.Maps to the smoothed e.
func ErrorScores(b *Batch, recon []float64, family string, topK TopK, f func(float64) float64, withMap bool, out *Scored) error {
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
	se := make([]float32, px)
	under := make([]float64, 0, px)
	sigma := HeatmapSigma(b.H)
	for i := 0; i < b.N; i++ {
		img, mask := b.Image(i), b.Mask(i)
		rec := recon[i*px : (i+1)*px]
		under = under[:0]
		var sum, msum float64
		for p := range img {
			e := f(float64(mask[p]) * (float64(img[p]) - rec[p]))
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
			GaussianSmooth(out.Maps[i*px:(i+1)*px], se, b.H, b.W, sigma)
		}
	}
	return nil
}

// TopKScores sets image i's top-k scores of a family from the errors
// under its mask (reordering them).
func TopKScores(scores map[string][]float64, family string, i int, under []float64, topK TopK) {
	for _, k := range topK.Counts {
		scores[TopKName(family, k)][i] = TopKMean(under, k)
	}
	for _, f := range topK.Fracs {
		scores[TopKFracName(family, f)][i] = TopKMean(under, FracCount(f, len(under)))
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
