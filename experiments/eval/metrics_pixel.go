package eval

import (
	"math"
)

// Pixel-level metrics of anomaly maps against ground-truth anomaly masks
// (synthetic data has them; MURA does not). Only pixels inside the loss
// mask exist for these metrics: padding and background are neither normal
// nor anomalous. A truth or mask value ≥ 0.5 counts as set, so masks that
// went through interpolation still read as binary.

// PixelROCAUC is the ROC-AUC of anomaly-map values as a classifier of
// pixels (truth ≥ 0.5: anomalous) over all pixels inside the loss masks of
// all images, ties counted one half. masks may be nil (every pixel counts).
// It ranks every pixel exactly; a PixelStream does the same for maps that
// do not fit in memory.
func PixelROCAUC(maps, truth, masks [][]float32) (float64, error) {
	if err := checkPixels(maps, truth, masks, 0, 0); err != nil {
		return 0, err
	}
	s := NewPixelStream(0, 0, nil, "") // ROC-AUC needs no geometry
	defer s.Close()
	for i, m := range maps {
		if err := s.Add(m, truth[i], maskOf(masks, i)); err != nil {
			return 0, err
		}
	}
	r, err := s.Compute(1)
	return r.ROCAUC, err
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
	if err := checkLimit(fprLimit); err != nil {
		return 0, err
	}
	if w <= 0 || h <= 0 {
		return 0, invalidf("AUPRO image size %d×%d: width and height must be positive", w, h)
	}
	if err := checkPixels(maps, truth, masks, w, h); err != nil {
		return 0, err
	}
	s := NewPixelStream(w, h, label, "")
	defer s.Close()
	for i, m := range maps {
		if err := s.Add(m, truth[i], maskOf(masks, i)); err != nil {
			return 0, err
		}
	}
	r, err := s.Compute(fprLimit)
	return r.AUPRO, err
}

// Labeler labels the 8-connected regions of truth ∧ mask (values ≥ 0.5) of
// a w×h image: 0 outside any region, 1..n inside. The caller supplies it
// (preprocess.LabelRegions, with OpenCV) so this package stays pure Go.
type Labeler func(truth, mask []float32, w, h int) (labels []int32, n int, err error)

func checkLimit(fprLimit float64) error {
	if !(fprLimit > 0 && fprLimit <= 1) {
		return invalidf("AUPRO FPR limit %v: must be in (0, 1]", fprLimit)
	}
	return nil
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
