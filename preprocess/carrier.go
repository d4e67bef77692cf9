package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// Plausibility limits for a carrier (the paper: the Otsu/contour approach
// "works as long as the majority of the image carrier is within the image",
// and fails for heavily tilted ones).
const (
	carrierMinShare   = 0.25 // carrier rectangle ≥ this share of the image
	carrierMaxShare   = 0.97 // above it the carrier is the whole image: nothing to crop
	carrierMinRect    = 0.90 // contour area / rotated-rectangle area
	carrierMaxTilt    = 30.0 // degrees
	carrierMinInside  = 0.90 // share of the rectangle inside the image
	carrierInsetShare = 0.01 // inset from the carrier edge, share of its shorter side
)

// carrierFit is a carrier candidate: corners TL, TR, BR, BL in image
// coordinates, or the reason there is no plausible one.
type carrierFit struct {
	Corners [4][2]float64
	Tilt    float64 // degrees of the top edge from horizontal
	OK      bool
	Reason  string
}

// findCarrier looks for the X-ray carrier: Otsu binarisation (and a second
// Otsu split of the dark class, for carriers that are grey on a black
// surround), external contours with holes filled, the largest contour's
// minimum-area rotated rectangle, then plausibility checks. The largest
// plausible candidate wins; without one the reason of the best rejected
// candidate is returned.
func findCarrier(grey gocv.Mat) carrierFit {
	w, h := grey.Cols(), grey.Rows()
	blur := gocv.NewMat()
	defer blur.Close()
	gocv.GaussianBlur(grey, &blur, image.Pt(5, 5), 0, 0, gocv.BorderReplicate)

	bin := gocv.NewMat()
	defer bin.Close()
	t := gocv.Threshold(blur, &bin, 0, 255, gocv.ThresholdBinary|gocv.ThresholdOtsu)
	thresholds := []float32{t}
	if dark := otsuBelow(blur, t); dark > 0 {
		thresholds = append(thresholds, dark)
	}
	best := carrierFit{Reason: "no carrier: no contour"}
	bestArea := -1.0
	for _, th := range thresholds {
		gocv.Threshold(blur, &bin, th, 255, gocv.ThresholdBinary)
		fit, area := carrierFromBinary(bin, w, h)
		switch {
		case fit.OK && (!best.OK || area > bestArea):
			best, bestArea = fit, area
		case !fit.OK && !best.OK && area > bestArea:
			best, bestArea = fit, area
		}
	}
	return best
}

// otsuBelow returns Otsu's threshold over the pixels darker than t (0 when
// there are too few of them to matter).
func otsuBelow(blur gocv.Mat, t float32) float32 {
	px, err := blur.DataPtrUint8()
	if err != nil {
		return 0
	}
	var hist [256]float64
	n := 0.0
	for _, v := range px {
		if float32(v) <= t {
			hist[v]++
			n++
		}
	}
	if n < 0.02*float64(len(px)) {
		return 0
	}
	return float32(otsuHist(hist[:int(t)+1]))
}

// otsuHist is Otsu's between-class-variance maximiser over a histogram;
// pixels > the returned level are the upper class.
func otsuHist(hist []float64) int {
	var total, sum float64
	for i, c := range hist {
		total += c
		sum += float64(i) * c
	}
	var wB, sumB, bestVar float64
	best := 0
	for i, c := range hist {
		wB += c
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(i) * c
		mB, mF := sumB/wB, (sum-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > bestVar {
			bestVar, best = v, i
		}
	}
	return best
}

// carrierFromBinary fits the carrier to the largest external contour of a
// binary image. area is the candidate's rectangle area (for ranking).
func carrierFromBinary(bin gocv.Mat, w, h int) (carrierFit, float64) {
	contours := gocv.FindContours(bin, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer contours.Close()
	bestI, bestA := -1, 0.0
	for i := 0; i < contours.Size(); i++ {
		if a := gocv.ContourArea(contours.At(i)); a > bestA {
			bestI, bestA = i, a
		}
	}
	if bestI < 0 {
		return carrierFit{Reason: "no carrier: no contour"}, 0
	}
	rr := gocv.MinAreaRect(contours.At(bestI))
	pts := gocv.NewMat()
	defer pts.Close()
	gocv.BoxPoints(rr, &pts)
	var corners [4][2]float64
	for i := 0; i < 4; i++ {
		corners[i] = [2]float64{float64(pts.GetFloatAt(i, 0)), float64(pts.GetFloatAt(i, 1))}
	}
	corners, tilt := orderCorners(corners)
	rectArea := polyArea(corners[:])
	imgArea := float64(w * h)
	fit := carrierFit{Corners: corners, Tilt: tilt}
	share := rectArea / imgArea
	inside := 0.0
	if rectArea > 0 {
		inside = polyArea(clipPoly(corners[:], float64(w), float64(h))) / rectArea
	}
	switch {
	case share < carrierMinShare:
		fit.Reason = fmt.Sprintf("no carrier: largest candidate covers only %.0f%% of the image", 100*share)
	case bestA/rectArea < carrierMinRect:
		fit.Reason = fmt.Sprintf("no carrier: largest candidate is not rectangular (fills %.0f%% of its rectangle)", 100*bestA/rectArea)
	case inside < carrierMinInside:
		fit.Reason = fmt.Sprintf("no carrier: candidate lies %.0f%% outside the image", 100*(1-inside))
	case math.Abs(tilt) > carrierMaxTilt:
		fit.Reason = fmt.Sprintf("no carrier: candidate too tilted (%.0f°)", tilt)
	case share > carrierMaxShare:
		fit.Reason = "no carrier: the image is the carrier"
	default:
		fit.OK = true
	}
	return fit, rectArea
}

// orderCorners puts the rectangle's corners in the order TL, TR, BR, BL as
// seen upright: angular order around the centre, starting at the edge whose
// midpoint is highest. It returns the top edge's tilt in degrees.
func orderCorners(c [4][2]float64) ([4][2]float64, float64) {
	cx := (c[0][0] + c[1][0] + c[2][0] + c[3][0]) / 4
	cy := (c[0][1] + c[1][1] + c[2][1] + c[3][1]) / 4
	s := c[:]
	sort.Slice(s, func(i, j int) bool {
		return math.Atan2(s[i][1]-cy, s[i][0]-cx) < math.Atan2(s[j][1]-cy, s[j][0]-cx)
	})
	top := 0
	for i := 1; i < 4; i++ {
		if s[i][1]+s[(i+1)%4][1] < s[top][1]+s[(top+1)%4][1] {
			top = i
		}
	}
	var o [4][2]float64
	for i := 0; i < 4; i++ {
		o[i] = s[(top+i)%4]
	}
	tilt := math.Atan2(o[1][1]-o[0][1], o[1][0]-o[0][0]) * 180 / math.Pi
	return o, tilt
}

// polyArea is the shoelace area of a polygon.
func polyArea(p [][2]float64) float64 {
	a := 0.0
	for i := range p {
		j := (i + 1) % len(p)
		a += p[i][0]*p[j][1] - p[j][0]*p[i][1]
	}
	return math.Abs(a) / 2
}

// clipPoly clips a convex polygon to [0,w]×[0,h] (Sutherland–Hodgman).
func clipPoly(p [][2]float64, w, h float64) [][2]float64 {
	edges := []struct {
		in  func(q [2]float64) bool
		cut func(a, b [2]float64) [2]float64
	}{
		{func(q [2]float64) bool { return q[0] >= 0 }, func(a, b [2]float64) [2]float64 { return lerpAt(a, b, 0, 0) }},
		{func(q [2]float64) bool { return q[0] <= w }, func(a, b [2]float64) [2]float64 { return lerpAt(a, b, 0, w) }},
		{func(q [2]float64) bool { return q[1] >= 0 }, func(a, b [2]float64) [2]float64 { return lerpAt(a, b, 1, 0) }},
		{func(q [2]float64) bool { return q[1] <= h }, func(a, b [2]float64) [2]float64 { return lerpAt(a, b, 1, h) }},
	}
	out := p
	for _, e := range edges {
		in := out
		out = nil
		for i := range in {
			a, b := in[i], in[(i+1)%len(in)]
			switch {
			case e.in(a) && e.in(b):
				out = append(out, b)
			case e.in(a):
				out = append(out, e.cut(a, b))
			case e.in(b):
				out = append(out, e.cut(a, b), b)
			}
		}
		if len(out) == 0 {
			return nil
		}
	}
	return out
}

// lerpAt is the point of segment a–b whose coordinate axis equals v.
func lerpAt(a, b [2]float64, axis int, v float64) [2]float64 {
	t := (v - a[axis]) / (b[axis] - a[axis])
	return [2]float64{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
}

// warpCarrier warps the carrier to an upright grey image, inset from its
// edges, and returns it with the source→crop homography.
func warpCarrier(src gocv.Mat, c [4][2]float64) (gocv.Mat, [9]float64) {
	side := func(a, b [2]float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }
	w := (side(c[0], c[1]) + side(c[3], c[2])) / 2
	h := (side(c[0], c[3]) + side(c[1], c[2])) / 2
	in := carrierInsetShare*math.Min(w, h) + 2
	ow, oh := int(math.Round(w-2*in)), int(math.Round(h-2*in))
	var m [9]float64
	{
		src4 := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{
			{X: float32(c[0][0]), Y: float32(c[0][1])}, {X: float32(c[1][0]), Y: float32(c[1][1])},
			{X: float32(c[2][0]), Y: float32(c[2][1])}, {X: float32(c[3][0]), Y: float32(c[3][1])}})
		defer src4.Close()
		x0, y0, x1, y1 := float32(-in), float32(-in), float32(w-in), float32(h-in)
		dst4 := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		defer dst4.Close()
		pm := gocv.GetPerspectiveTransform2f(src4, dst4)
		for i := 0; i < 9; i++ {
			m[i] = pm.GetDoubleAt(i/3, i%3)
		}
		pm.Close()
	}
	return warpHomography(src, m, ow, oh, false), m
}

// warpHomography applies a 3×3 homography into a w×h image (0 outside).
func warpHomography(src gocv.Mat, m [9]float64, w, h int, isMask bool) gocv.Mat {
	pm := gocv.NewMatWithSize(3, 3, gocv.MatTypeCV64F)
	defer pm.Close()
	for i := 0; i < 9; i++ {
		pm.SetDoubleAt(i/3, i%3, m[i])
	}
	interp := gocv.InterpolationLinear
	if isMask {
		interp = gocv.InterpolationNearestNeighbor
	}
	dst := gocv.NewMat()
	gocv.WarpPerspectiveWithParams(src, &dst, pm, image.Pt(w, h), interp, gocv.BorderConstant, color.RGBA{})
	return dst
}

// mul3 multiplies 3×3 row-major matrices: a·b.
func mul3(a, b [9]float64) [9]float64 {
	var c [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[3*i+j] += a[3*i+k] * b[3*k+j]
			}
		}
	}
	return c
}

// translate3 is the homography of a shift by (dx, dy).
func translate3(dx, dy float64) [9]float64 { return [9]float64{1, 0, dx, 0, 1, dy, 0, 0, 1} }
