package eval

import (
	"fmt"
	"math"
)

// Pixel-level metrics of anomaly maps against ground-truth anomaly masks
// (synthetic data has them; MURA does not). Only pixels inside the loss
// mask exist for these metrics: padding and background are neither normal
// nor anomalous. A truth or mask value ≥ 0.5 counts as set, so masks that
// went through interpolation still read as binary.

// MaxPixels is the most in-mask pixels PixelROCAUC and AUPRO rank exactly
// (100 images of 256×256 fit). Above it they rank a deterministic
// pseudo-random subsample of about MaxPixels pixels (a hash of image and
// pixel index decides; see sampler: anomalous pixels are kept whole unless
// they alone exceed half of it), bounding memory at about 8 bytes per
// ranked pixel for PixelROCAUC and 16 for AUPRO.
const MaxPixels = 1 << 23

// PixelROCAUC is the ROC-AUC of anomaly-map values as a classifier of
// pixels (truth ≥ 0.5: anomalous) over all pixels inside the loss masks of
// all images, ties counted one half. masks may be nil (every pixel counts).
func PixelROCAUC(maps, truth, masks [][]float32) (float64, error) {
	return pixelROCAUC(maps, truth, masks, MaxPixels)
}

func pixelROCAUC(maps, truth, masks [][]float32, limit int) (float64, error) {
	if err := checkPixels(maps, truth, masks, 0, 0); err != nil {
		return 0, err
	}
	keep, err := newSampler(maps, truth, masks, limit)
	if err != nil {
		return 0, err
	}
	var nPos, nNeg int
	for i, m := range maps {
		for j := range m {
			if keep.ok(i, j) {
				if truth[i][j] >= 0.5 {
					nPos++
				} else {
					nNeg++
				}
			}
		}
	}
	if nPos == 0 || nNeg == 0 {
		return 0, invalidf("pixel ROC-AUC needs both classes inside the loss masks; got %d normal and %d anomalous pixels", nNeg, nPos)
	}
	pos := make([]uint32, 0, nPos)
	neg := make([]uint32, 0, nNeg)
	for i, m := range maps {
		for j, v := range m {
			if keep.ok(i, j) {
				if truth[i][j] >= 0.5 {
					pos = append(pos, floatKey(v))
				} else {
					neg = append(neg, floatKey(v))
				}
			}
		}
	}
	buf := make([]uint32, max(nPos, nNeg))
	radixSort(pos, buf, 0)
	radixSort(neg, buf, 0)
	// Mann-Whitney: for each distinct value, its positives beat every
	// smaller negative and tie (one half) with equal ones. Twice the area
	// is an exact integer (≤ 2·nPos·nNeg < 2^63 for any feasible input).
	var twice, below int64
	j := 0
	for i := 0; i < len(pos); {
		v := pos[i]
		k := i
		for k < len(pos) && pos[k] == v {
			k++
		}
		for j < len(neg) && neg[j] < v {
			j++
			below++
		}
		eq := int64(0)
		for l := j; l < len(neg) && neg[l] == v; l++ {
			eq++
		}
		twice += int64(k-i) * (2*below + eq)
		i = k
	}
	return float64(twice) / (2 * float64(nPos) * float64(nNeg)), nil
}

// AUPRO is the area under the per-region-overlap curve up to a false
// positive rate of fprLimit (0.3 in MVTec AD), divided by fprLimit, as in
// MVTec AD's reference evaluation (pro_curve_util.compute_pro and
// generic_util.trapezoid). Regions are the 8-connected components of each
// image's truth ∧ loss mask; at every threshold the PRO is the mean over
// all regions of the fraction of the region at or above it, the FPR the
// fraction of normal in-mask pixels at or above it. The curve runs from
// (0,0) to (1,1) and is interpolated linearly at fprLimit. Every map must
// be w×h, row-major; masks may be nil (every pixel counts); label finds
// each image's regions.
func AUPRO(maps, truth, masks [][]float32, w, h int, fprLimit float64, label Labeler) (float64, error) {
	return aupro(maps, truth, masks, w, h, fprLimit, label, MaxPixels)
}

// Labeler labels the 8-connected regions of truth ∧ mask (values ≥ 0.5) of
// a w×h image: 0 outside any region, 1..n inside. The caller supplies it
// (preprocess.LabelRegions, with OpenCV) so this package stays pure Go.
type Labeler func(truth, mask []float32, w, h int) (labels []int32, n int, err error)

func aupro(maps, truth, masks [][]float32, w, h int, fprLimit float64, label Labeler, limit int) (float64, error) {
	if !(fprLimit > 0 && fprLimit <= 1) {
		return 0, invalidf("AUPRO FPR limit %v: must be in (0, 1]", fprLimit)
	}
	if w <= 0 || h <= 0 {
		return 0, invalidf("AUPRO image size %d×%d: width and height must be positive", w, h)
	}
	if err := checkPixels(maps, truth, masks, w, h); err != nil {
		return 0, err
	}
	keep, err := newSampler(maps, truth, masks, limit)
	if err != nil {
		return 0, err
	}
	// Label each image's regions; global region r+1 has size[r] kept pixels.
	labels := make([][]int32, len(maps))
	var size []int
	for i := range maps {
		lab, n, err := label(truth[i], maskOf(masks, i), w, h)
		if err != nil {
			return 0, fmt.Errorf("image %d: %w", i, err)
		}
		base := int32(len(size))
		size = append(size, make([]int, n)...)
		for j, l := range lab {
			if l > 0 {
				lab[j] = base + l
				if keep.ok(i, j) {
					size[lab[j]-1]++
				}
			}
		}
		labels[i] = lab
	}
	var normal, kept, nRegions int
	for i, m := range maps {
		for j := range m {
			if keep.ok(i, j) {
				kept++
				if labels[i][j] == 0 {
					normal++
				}
			}
		}
	}
	for _, s := range size {
		if s > 0 {
			nRegions++
		}
	}
	if nRegions == 0 || normal == 0 {
		return 0, invalidf("AUPRO needs both classes inside the loss masks; got %d normal and %d anomalous pixels", normal, kept-normal)
	}
	// Key in the high 32 bits (ascending map value), region id (0 =
	// normal) in the low ones; walking from the end visits thresholds from
	// the highest down.
	px := make([]uint64, 0, kept)
	for i, m := range maps {
		for j, v := range m {
			if keep.ok(i, j) {
				px = append(px, uint64(floatKey(v))<<32|uint64(uint32(labels[i][j])))
			}
		}
	}
	radixSort(px, make([]uint64, len(px)), 32)
	weight := make([]float64, len(size)+1) // PRO gained per pixel of a region
	for r, s := range size {
		if s > 0 {
			weight[r+1] = 1 / float64(s)
		}
	}
	var area, fpr, pro, fpCount, proSum float64
	for k := len(px) - 1; k >= 0; {
		key := px[k] >> 32
		for ; k >= 0 && px[k]>>32 == key; k-- {
			if r := uint32(px[k]); r == 0 {
				fpCount++
			} else {
				proSum += weight[r]
			}
		}
		f := math.Min(fpCount/float64(normal), 1)
		p := math.Min(proSum/float64(nRegions), 1)
		if f > fprLimit {
			return (area + interpolated(fpr, pro, f, p, fprLimit)) / fprLimit, nil
		}
		area += 0.5 * (pro + p) * (f - fpr)
		fpr, pro = f, p
	}
	// The curve ends at (1, 1).
	if fprLimit > fpr {
		area += interpolated(fpr, pro, 1, 1, fprLimit)
	}
	return area / fprLimit, nil
}

// interpolated is the trapezoid from (x0,y0) to x on the segment to (x1,y1).
func interpolated(x0, y0, x1, y1, x float64) float64 {
	y := y0 + (y1-y0)*(x-x0)/(x1-x0)
	return 0.5 * (y + y0) * (x - x0)
}

// checkPixels validates the shapes and values of maps, truth and masks;
// w, h > 0 also requires every map to have w·h pixels.
func checkPixels(maps, truth, masks [][]float32, w, h int) error {
	if len(maps) == 0 {
		return invalidf("pixel metrics need at least one anomaly map")
	}
	if len(truth) != len(maps) {
		return invalidf("%d anomaly maps but %d truth masks", len(maps), len(truth))
	}
	if masks != nil && len(masks) != len(maps) {
		return invalidf("%d anomaly maps but %d loss masks", len(maps), len(masks))
	}
	for i, m := range maps {
		if w > 0 && len(m) != w*h {
			return invalidf("anomaly map %d has %d pixels; want %d×%d = %d", i, len(m), w, h, w*h)
		}
		if len(truth[i]) != len(m) {
			return invalidf("anomaly map %d has %d pixels but its truth mask %d", i, len(m), len(truth[i]))
		}
		if masks != nil && len(masks[i]) != len(m) {
			return invalidf("anomaly map %d has %d pixels but its loss mask %d", i, len(m), len(masks[i]))
		}
		for j, v := range m {
			if v != v {
				if w > 0 {
					return invalidf("anomaly map %d is NaN at pixel %d (x=%d, y=%d)", i, j, j%w, j/w)
				}
				return invalidf("anomaly map %d is NaN at pixel %d", i, j)
			}
		}
	}
	return nil
}

func maskOf(masks [][]float32, i int) []float32 {
	if masks == nil {
		return nil
	}
	return masks[i]
}

// sampler decides which pixels are ranked: every in-mask pixel, or above
// the limit a fixed pseudo-random subset. Classes are thinned separately:
// the smaller class (usually the anomalous pixels) is kept whole when it
// fits in half the budget, so small regions keep every pixel and only the
// abundant normal pixels, which merely estimate a rate, are thinned.
type sampler struct {
	masks, truth [][]float32
	all          [2]bool   // keep every pixel of class (normal, anomalous)
	thresh       [2]uint64 // otherwise keep when hash < thresh
}

func newSampler(maps, truth, masks [][]float32, limit int) (sampler, error) {
	s := sampler{masks: masks, truth: truth, all: [2]bool{true, true}}
	var n [2]int
	for i, m := range maps {
		for j := range m {
			if masks == nil || masks[i][j] >= 0.5 {
				n[class(truth[i][j])]++
			}
		}
	}
	if n[0]+n[1] == 0 {
		return s, invalidf("no pixel lies inside the loss masks")
	}
	if n[0]+n[1] <= limit {
		return s, nil
	}
	small := 0
	if n[1] < n[0] {
		small = 1
	}
	budget := [2]int{limit / 2, limit - limit/2}
	if n[small] <= limit/2 {
		budget[small], budget[1-small] = n[small], limit-n[small]
	}
	for c := range n {
		if n[c] > budget[c] {
			s.all[c] = false
			s.thresh[c] = uint64(float64(budget[c]) / float64(n[c]) * (1 << 63) * 2)
		}
	}
	return s, nil
}

func class(truth float32) int {
	if truth >= 0.5 {
		return 1
	}
	return 0
}

func (s sampler) ok(i, j int) bool {
	if s.masks != nil && s.masks[i][j] < 0.5 {
		return false
	}
	c := class(s.truth[i][j])
	return s.all[c] || splitmix64(uint64(i)<<32|uint64(j)) < s.thresh[c]
}

// splitmix64 is a fixed, well-mixed hash (Steele et al.'s SplitMix64 finaliser).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// floatKey maps a float32 to a uint32 with the same order (−0 = +0).
func floatKey(v float32) uint32 {
	if v == 0 {
		v = 0
	}
	b := math.Float32bits(v)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

// radixSort sorts a in place by the 32 bits starting at bit shift (LSD,
// four stable passes of 8 bits, so the result ends in a) using buf
// (len(buf) ≥ len(a)) as scratch: O(n), several times faster than a
// comparison sort on the millions of pixels of a test set.
func radixSort[T uint32 | uint64](a, buf []T, shift uint) {
	buf = buf[:len(a)]
	var count [256]int
	for pass := uint(0); pass < 4; pass++ {
		sh := shift + 8*pass
		clear(count[:])
		for _, v := range a {
			count[(v>>sh)&255]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, v := range a {
			d := (v >> sh) & 255
			buf[count[d]] = v
			count[d]++
		}
		a, buf = buf, a
	}
}
