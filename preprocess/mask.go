package preprocess

import (
	"image"
	"image/color"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// Foreground-mask settings. Shares are of the working image's area or
// shorter side.
const (
	maskWorkSide   = 512   // masks are computed with the longer side at most this
	maskMinShare   = 0.02  // smaller components are markers, letters, dust
	maskMaxRect    = 0.88  // more rectangular components are labels and carrier edges
	maskMinThin    = 0.04  // a component's rotated-rectangle short side must reach this share
	maskSecondHand = 0.45  // a second component is a hand when ≥ this share of the first (labels are smaller)
	maskMaxShare   = 0.90  // a "hand" covering more than this is the carrier itself
	maskGrow       = 0.008 // final dilation: the thresholds stop short of the faint soft-tissue outline
)

// colorWhite fills mask regions.
var colorWhite = color.RGBA{R: 255, G: 255, B: 255, A: 255}

// handComp is one kept foreground component in working coordinates.
type handComp struct {
	Box  image.Rectangle
	Area float64
	cnt  []image.Point
}

// foregroundMask returns a binary (0/255) mask of the hands in grey, the
// same size as grey: Otsu thresholds, morphological opening and closing,
// the largest non-rectangular components (one, or two when the second is
// hand-sized), holes filled; optionally refined with GrabCut. Bright markers
// and labels are small or rectangular separate components and fall outside;
// anything enclosed by the hand outline (bones, metal) falls inside. The
// components come back in grey's coordinates, largest first.
func foregroundMask(grey gocv.Mat, grabCut bool) (gocv.Mat, []handComp) {
	w, h := grey.Cols(), grey.Rows()
	scale := math.Min(1, float64(maskWorkSide)/float64(max(w, h)))
	work := grey.Clone()
	defer func() { work.Close() }()
	if scale < 1 {
		r := gocv.NewMat()
		gocv.Resize(grey, &r, image.Pt(max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))), 0, 0, gocv.InterpolationArea)
		work.Close()
		work = r
	}
	blur := gocv.NewMat()
	defer blur.Close()
	gocv.GaussianBlur(work, &blur, image.Pt(5, 5), 0, 0, gocv.BorderReplicate)

	// Two candidate levels: Otsu over the image, and Otsu over the pixels
	// above it (when the first level only separates a black surround from
	// the carrier). The level whose components look most like hands wins.
	bin := gocv.NewMat()
	defer bin.Close()
	t := gocv.Threshold(blur, &bin, 0, 255, gocv.ThresholdBinary|gocv.ThresholdOtsu)
	levels := []float32{t}
	if up := otsuAbove(blur, t); up > t {
		levels = append(levels, up)
	}
	// Soft tissue thins out towards the outline: Otsu levels cut it short.
	// A level just above the background's noise (its histogram mode plus
	// three robust standard deviations) keeps the whole hand; the mode is
	// taken over all pixels and over the brighter Otsu class, in case a dark
	// surround outside the carrier dominates.
	for _, from := range []float32{-1, t} {
		if lv, ok := backgroundLevel(blur, from); ok {
			levels = append(levels, lv)
		}
	}
	var best []handComp
	bestArea := 0.0
	for _, lv := range levels {
		gocv.Threshold(blur, &bin, lv, 255, gocv.ThresholdBinary)
		comps := handComponents(bin)
		if a := compsArea(comps); a > bestArea {
			best, bestArea = comps, a
		}
	}
	fg := gocv.Zeros(work.Rows(), work.Cols(), gocv.MatTypeCV8U)
	fillComps(&fg, best)
	if grabCut && len(best) > 0 {
		refined := grabCutRefine(work, fg)
		if comps := handComponents(refined); len(comps) > 0 {
			fg.SetTo(gocv.NewScalar(0, 0, 0, 0))
			fillComps(&fg, comps)
			best = comps
		}
		refined.Close()
	}
	if grow := maskGrow * float64(min(work.Cols(), work.Rows())); grow >= 1 {
		k := 2*int(grow+0.5) + 1
		ker := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(k, k))
		gocv.Dilate(fg, &fg, ker)
		ker.Close()
	}
	if scale == 1 {
		return fg, best
	}
	up := gocv.NewMat()
	gocv.Resize(fg, &up, image.Pt(w, h), 0, 0, gocv.InterpolationLinear)
	gocv.Threshold(up, &up, 127, 255, gocv.ThresholdBinary)
	fg.Close()
	inv := 1 / scale
	for i := range best {
		b := best[i].Box
		best[i].Box = image.Rect(int(float64(b.Min.X)*inv), int(float64(b.Min.Y)*inv),
			min(w, int(math.Ceil(float64(b.Max.X)*inv))), min(h, int(math.Ceil(float64(b.Max.Y)*inv))))
		best[i].Area *= inv * inv
		best[i].cnt = nil
	}
	return up, best
}

// otsuAbove is Otsu's level over the pixels brighter than t (0 when too few).
func otsuAbove(blur gocv.Mat, t float32) float32 {
	px, err := blur.DataPtrUint8()
	if err != nil {
		return 0
	}
	var hist [256]float64
	n := 0.0
	for _, v := range px {
		if float32(v) > t {
			hist[v]++
			n++
		}
	}
	if n < maskMinShare*float64(len(px)) {
		return 0
	}
	return float32(otsuHist(hist[:]))
}

// backgroundLevel returns mode + 3σ of the pixels brighter than from, σ
// measured on the mode's darker side (which soft tissue does not reach).
func backgroundLevel(blur gocv.Mat, from float32) (float32, bool) {
	px, err := blur.DataPtrUint8()
	if err != nil {
		return 0, false
	}
	var hist [256]float64
	for _, v := range px {
		if float32(v) > from {
			hist[v]++
		}
	}
	mode := 0
	for v := range hist {
		if hist[v] > hist[mode] {
			mode = v
		}
	}
	var ss, n float64
	for v := 0; v <= mode; v++ {
		d := float64(mode - v)
		ss += hist[v] * d * d
		n += hist[v]
	}
	if n == 0 || hist[mode] == 0 {
		return 0, false
	}
	sigma := math.Max(1, math.Sqrt(ss/n))
	lv := float64(mode) + 3*sigma
	if lv >= 250 {
		return 0, false
	}
	return float32(lv), true
}

func compsArea(c []handComp) float64 {
	a := 0.0
	for _, x := range c {
		a += x.Area
	}
	return a
}

// handComponents cleans a binary image (opening, closing) and returns the
// hand-like external contours: big enough, not rectangular, not thin, not
// the whole carrier; the largest, plus the second when it is hand-sized.
func handComponents(bin gocv.Mat) []handComp {
	w, h := bin.Cols(), bin.Rows()
	k := max(3, int(0.015*float64(min(w, h))+0.5)|1)
	ker := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(k, k))
	defer ker.Close()
	clean := gocv.NewMat()
	defer clean.Close()
	gocv.MorphologyEx(bin, &clean, gocv.MorphOpen, ker)
	gocv.MorphologyEx(clean, &clean, gocv.MorphClose, ker)

	contours := gocv.FindContours(clean, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer contours.Close()
	imgArea := float64(w * h)
	minSide := float64(min(w, h))
	var comps []handComp
	for i := 0; i < contours.Size(); i++ {
		c := contours.At(i)
		a := gocv.ContourArea(c)
		if a < maskMinShare*imgArea || a > maskMaxShare*imgArea {
			continue
		}
		rr := gocv.MinAreaRect(c)
		ra := float64(rr.Width * rr.Height)
		if ra <= 0 || a/ra > maskMaxRect || float64(min(rr.Width, rr.Height)) < maskMinThin*minSide {
			continue
		}
		comps = append(comps, handComp{Box: gocv.BoundingRect(c), Area: a, cnt: c.ToPoints()})
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].Area > comps[j].Area })
	if len(comps) > 2 {
		comps = comps[:2]
	}
	if len(comps) == 2 && comps[1].Area < maskSecondHand*comps[0].Area {
		comps = comps[:1]
	}
	return comps
}

// fillComps draws the components' outlines filled, which also fills holes.
func fillComps(dst *gocv.Mat, comps []handComp) {
	if len(comps) == 0 {
		return
	}
	pts := make([][]image.Point, len(comps))
	for i, c := range comps {
		pts[i] = c.cnt
	}
	pv := gocv.NewPointsVectorFromPoints(pts)
	defer pv.Close()
	gocv.FillPoly(dst, pv, colorWhite)
}

// grabCutRefine runs GrabCut seeded from a first mask: its eroded core is
// certain foreground, the rest of it probable foreground, a ring around it
// probable background, everything else certain background.
func grabCutRefine(grey, fg gocv.Mat) gocv.Mat {
	w, h := grey.Cols(), grey.Rows()
	k := max(3, int(0.03*float64(min(w, h))+0.5)|1)
	ker := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(k, k))
	defer ker.Close()
	core, ring := gocv.NewMat(), gocv.NewMat()
	defer core.Close()
	defer ring.Close()
	gocv.Erode(fg, &core, ker)
	gocv.Dilate(fg, &ring, ker)

	gc := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), h, w, gocv.MatTypeCV8U) // GC_BGD
	setWhere := func(mask gocv.Mat, v float64) {
		val := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(v, 0, 0, 0), h, w, gocv.MatTypeCV8U)
		val.CopyToWithMask(&gc, mask)
		val.Close()
	}
	setWhere(ring, 2) // GC_PR_BGD
	setWhere(fg, 3)   // GC_PR_FGD
	setWhere(core, 1) // GC_FGD

	bgr := gocv.NewMat()
	defer bgr.Close()
	gocv.CvtColor(grey, &bgr, gocv.ColorGrayToBGR)
	bgd, fgd := gocv.NewMat(), gocv.NewMat()
	defer bgd.Close()
	defer fgd.Close()
	gocv.GrabCut(bgr, &gc, image.Rectangle{}, &bgd, &fgd, 3, gocv.GCInitWithMask)

	// Foreground = GC_FGD (1) or GC_PR_FGD (3): the low bit is set.
	out := gocv.NewMat()
	px, _ := gc.DataPtrUint8()
	for i, v := range px {
		px[i] = (v & 1) * 255
	}
	gc.CopyTo(&out)
	gc.Close()
	return out
}
