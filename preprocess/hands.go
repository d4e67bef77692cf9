package preprocess

import (
	"image"
	"math"

	"gocv.io/x/gocv"
)

// Hand-localisation settings.
const (
	handMargin      = 0.03 // box margin, share of the crop's longer side
	splitMaxOverlap = 0.30 // two components overlapping more in x are not side by side
	splitValley     = 0.15 // projection valley ≤ this share of the lower peak: two hands
	splitMinMass    = 0.20 // each side of a valley split holds ≥ this share of the mask
)

// locateHands finds one or two hands in a crop from its foreground mask.
// Two components side by side (or one above the other, for hands lying
// sideways) are two hands; one component whose column (or row) projection
// has a deep valley near its middle is two touching hands. It returns the
// boxes left to right or top to bottom, with a margin and not crossing the
// split line; no boxes when the mask is empty.
func locateHands(fg gocv.Mat, comps []handComp) []image.Rectangle {
	w, h := fg.Cols(), fg.Rows()
	if len(comps) == 0 {
		return nil
	}
	full := image.Rect(0, 0, w, h)
	// splitAt cuts along x (axis 0) or y (axis 1) at s.
	splitAt := func(axis, s int, a, b image.Rectangle) []image.Rectangle {
		ca, cb := full, full
		if axis == 0 {
			ca.Max.X, cb.Min.X = s, s
		} else {
			ca.Max.Y, cb.Min.Y = s, s
		}
		return []image.Rectangle{pad(a, w, h, ca), pad(b, w, h, cb)}
	}
	if len(comps) == 2 {
		for axis := 0; axis < 2; axis++ {
			a, b := comps[0].Box, comps[1].Box
			if lo(b, axis) < lo(a, axis) {
				a, b = b, a
			}
			overlap := min(hi(a, axis), hi(b, axis)) - max(lo(a, axis), lo(b, axis))
			if float64(overlap) < splitMaxOverlap*float64(min(span(a, axis), span(b, axis))) {
				s := argminRange(profile(fg, axis), min(hi(a, axis), lo(b, axis)), max(hi(a, axis), lo(b, axis)))
				return splitAt(axis, s, a, b)
			}
		}
	}
	b := comps[0].Box
	for axis := 0; axis < 2; axis++ {
		if s, ok := valleySplit(profile(fg, axis), lo(b, axis), hi(b, axis)); ok {
			a, c := b, b
			if axis == 0 {
				a.Max.X, c.Min.X = s, s
			} else {
				a.Max.Y, c.Min.Y = s, s
			}
			return splitAt(axis, s, a, c)
		}
	}
	return []image.Rectangle{pad(b, w, h, full)}
}

func lo(r image.Rectangle, axis int) int {
	if axis == 0 {
		return r.Min.X
	}
	return r.Min.Y
}

func hi(r image.Rectangle, axis int) int {
	if axis == 0 {
		return r.Max.X
	}
	return r.Max.Y
}

func span(r image.Rectangle, axis int) int { return hi(r, axis) - lo(r, axis) }

// pad grows a box by the hand margin and clips it to clip.
func pad(b image.Rectangle, w, h int, clip image.Rectangle) image.Rectangle {
	m := int(handMargin*float64(max(w, h)) + 0.5)
	return image.Rect(b.Min.X-m, b.Min.Y-m, b.Max.X+m, b.Max.Y+m).Intersect(clip)
}

// profile counts foreground pixels per column (axis 0) or row (axis 1).
func profile(fg gocv.Mat, axis int) []float64 {
	w, h := fg.Cols(), fg.Rows()
	n := w
	if axis == 1 {
		n = h
	}
	prof := make([]float64, n)
	px, err := fg.DataPtrUint8()
	if err != nil {
		return prof
	}
	for i, v := range px {
		if v != 0 {
			if axis == 0 {
				prof[i%w]++
			} else {
				prof[i/w]++
			}
		}
	}
	return prof
}

// argminRange returns the column of least foreground in [lo, hi] (lo when
// the range is empty).
func argminRange(prof []float64, lo, hi int) int {
	best := lo
	for x := lo; x <= hi && x < len(prof); x++ {
		if prof[x] < prof[best] {
			best = x
		}
	}
	return best
}

// valleySplit looks for a deep minimum of the smoothed column profile in
// the middle half of [x0, x1) with enough mask on both sides.
func valleySplit(prof []float64, x0, x1 int) (int, bool) {
	n := x1 - x0
	if n < 8 {
		return 0, false
	}
	r := max(1, n/40)
	sm := make([]float64, n)
	total := 0.0
	for i := 0; i < n; i++ {
		s, c := 0.0, 0
		for j := max(0, i-r); j <= min(n-1, i+r); j++ {
			s += prof[x0+j]
			c++
		}
		sm[i] = s / float64(c)
		total += prof[x0+i]
	}
	if total == 0 {
		return 0, false
	}
	v := n / 4
	for i := n / 4; i < 3*n/4; i++ {
		if sm[i] < sm[v] {
			v = i
		}
	}
	peakL, peakR, massL := 0.0, 0.0, 0.0
	for i := 0; i < n; i++ {
		if i < v {
			peakL = math.Max(peakL, sm[i])
			massL += prof[x0+i]
		} else {
			peakR = math.Max(peakR, sm[i])
		}
	}
	if sm[v] > splitValley*math.Min(peakL, peakR) || massL < splitMinMass*total || total-massL < splitMinMass*total {
		return 0, false
	}
	return x0 + v, true
}
