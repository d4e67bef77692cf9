package preprocess

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"runtime"
	"sort"
	"unsafe"

	"gocv.io/x/gocv"
)

// Foreground-mask settings. Shares are of the working image's area or
// shorter side.
const (
	maskWorkSide     = 512   // masks are computed with the longer side at most this
	maskLowSide      = 128   // the background surface is estimated at this longer side
	maskMinShare     = 0.02  // smaller components are markers, letters, dust
	maskMaxRect      = 0.88  // more rectangular components are labels and carrier edges
	maskMinThin      = 0.04  // a component's rotated-rectangle short side must reach this share
	maskSecondHand   = 0.45  // a second component is a hand when ≥ this share of the first (labels are smaller)
	maskMaxShare     = 0.92  // a "hand" covering more than this is the carrier itself
	maskSurround     = 2     // grey levels ≤ this touching the border are padding or a collimator surround
	maskBgSigma      = 0.05  // local background surface: Gaussian σ, share of the shorter side
	maskBgExclude    = 0.03  // background samples keep this distance from the current mask
	maskRounds       = 4     // background / threshold rounds
	maskRobustRounds = 3     // then rounds that also drop outlying samples
	maskNoiseK       = 3.0   // threshold above the local background: this many noise σ ...
	maskContrastK    = 0.05  // ... or this share of the hand's median contrast, whichever is larger
	maskMinStep      = 1.5   // ... and never below this many grey levels
	maskOpen         = 0.01  // opening (removes scan lines, glow bands, dust), share of the shorter side
	maskStatSamples  = 30000 // pixels sampled for the noise and contrast medians
	maskNarrow       = 0.12  // what the robust rounds add must be narrower than this share of the shorter side
	maskMarkerShare  = 0.05  // bright regions smaller than this share of the image are markers, not background
	maskBroadSigma   = 0.3   // broad background surface (follows exposure fields), share of the shorter side
	maskFieldRim     = 0.01  // glow along padding and field edges, share of the shorter side
	maskFieldFull    = 0.8   // a mask filling more of the field than this means the surround is background
	maskEdgeBand     = 0.06  // edge artefacts (glows, scan borders) reach this share of the shorter side
	maskEdgeWindow   = 0.5   // ... and run along this share of the edge
	maskEdgeQuantile = 0.3   // ... so that this quantile along the edge is theirs, not the anatomy's
	maskEdgeStep     = 3.0   // ... and fade by more than this many grey levels towards the inside
	maskEdgeInner    = 10.0  // ... down to the background (within this many grey levels)
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
// same size as grey. The hand is brighter than what lies around it, but
// the background is neither flat nor dark everywhere (graded exposures,
// collimation fields, glows), so every pixel is compared with a smooth
// estimate of the background around it: a robust quadratic and a broad
// surface first (with a model of glows and scan borders along the image
// edges), then rounds of a local surface interpolated (normalised Gaussian
// convolution) from the pixels clear of the current mask and of markers,
// each followed by a threshold just above the background noise; see
// docs/preprocessing.md. Padding and black collimator surrounds are never
// hand. An opening removes scan lines and
// glow bands; the largest non-rectangular components (one, or two when
// the second is hand-sized) are kept with their holes filled, so markers,
// letters and wedges lying apart from the hand fall outside and anything
// enclosed by the hand (bones, metal) falls inside. Optionally refined
// with GrabCut. The components come back in grey's coordinates, largest
// first.
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
	bin := segmentHands(work)
	defer bin.Close()
	best := handComponents(bin)
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

// segmentHands thresholds the working image against its local background
// and returns the raw binary foreground (before component selection).
func segmentHands(work gocv.Mat) gocv.Mat {
	w, h := work.Cols(), work.Rows()
	n := w * h
	side := float64(min(w, h))
	raw, _ := work.DataPtrUint8()
	s := make([]float32, n)
	for i, v := range raw {
		s[i] = float32(v)
	}
	s = blurF(s, w, h, math.Max(0.8, side/300))
	field, padded := fieldMask(raw, w, h)
	core := field
	rim := max(1, int(maskFieldRim*side+0.5))
	if padded {
		// Padding and field edges glow: segment inside the field's core,
		// then carry the mask through the rim where the hand reaches it.
		out := make([]bool, n)
		for i, f := range field {
			out[i] = !f
		}
		in := out
		out = make([]bool, n)
		dilateBool(out, in, w, h, rim)
		core = make([]bool, n)
		for i, o := range out {
			core[i] = !o
		}
	}
	mask, share := thresholdRounds(s, core, w, h)
	if padded && share > 0 && share <= maskFieldFull {
		grown := make([]bool, n)
		dilateBool(grown, mask, w, h, rim+1)
		for i := range mask {
			mask[i] = mask[i] || grown[i] && field[i] && !core[i]
		}
	}
	if padded && (share == 0 || share > maskFieldFull) {
		// The "surround" is the background itself (a black background
		// clipped to 0), not padding: the field is then nearly all hand.
		// Let the surround inform the background.
		all := make([]bool, n)
		for i := range all {
			all[i] = true
		}
		mask, _ = thresholdRounds(s, all, w, h)
	}
	return boolMat(mask, w, h)
}

// thresholdRounds segments s inside field: a conservative start (the
// clearly bright part above the quadratic and broad background), then rounds of
// a local background surface estimated from the field pixels clear of the
// current mask, each thresholded just above the background noise. The
// mask grows outwards round by round; what never entered it (glows,
// graded fields) keeps informing the background. It returns the mask and
// its share of the field.
func thresholdRounds(s []float32, field []bool, w, h int) ([]bool, float64) {
	n := w * h
	side := float64(min(w, h))
	ls := math.Min(1, float64(maskLowSide)/float64(max(w, h)))
	lw, lh := max(1, int(float64(w)*ls+0.5)), max(1, int(float64(h)*ls+0.5))
	mask, raw := make([]bool, n), make([]bool, n)
	bg := quadBackground(s, field, w, h)
	edge := edgeBackground(s, bg, w, h, lw, lh)
	// The edge model is -inf but in a band along the edges: only its
	// finite pixels can raise the background.
	var edgeAt []int32
	for i, e := range edge {
		if !math.IsInf(float64(e), -1) {
			edgeAt = append(edgeAt, int32(i))
		}
	}
	// Buffers reused by every round: the rounds would otherwise allocate
	// (and the collector clear and sweep) a few full-size images each.
	wt := make([]float32, n)[:n]
	low := newLowBufs(lw * lh)
	fb := boolBytes(field)[:n]
	if maskBroadSigma > 0 {
		// A broad surface that follows exposure fields but not the hand:
		// samples far above the quadratic (the hand) are dropped twice.
		for i, f := range field {
			wt[i] = float32(b2u(f))
		}
		neg, kn := make([]float64, n/7+1), 0
		for i := 0; i < n; i += 7 { // kept without a branch on the sign, as in the rounds
			r := float64(s[i] - bg[i])
			neg[kn] = -r
			kn += int(b2u(field[i]) & b2u(r <= 0))
		}
		neg = neg[:kn]
		cut := below32(4*math.Max(0.3, 1.4826*median(neg)) + 4)
		for pass := 0; pass < 2; pass++ {
			dropAbove(wt, s, bg, cut)
			localBackground(bg, s, wt, bg, w, h, lw, lh, maskBroadSigma*side*ls, low)
		}
	}
	dt := 0.0
	step := max(1, n/maskStatSamples) | 1 // odd, so that it does not follow columns
	var base []bool
	r := max(1, int(maskBgExclude*side+0.5))
	sigma := maskBgSigma * side * ls
	excl, grown, lab := make([]bool, n), make([]bool, n), make([]int32, n)
	var runs []labelRun
	neg, pos := make([]float64, 0, n/step+1), make([]float64, 0, n/step+1)
	for round := 0; round <= maskRounds+maskRobustRounds; round++ {
		if round > 0 {
			// Markers, text and wedges apart from the mask (small bright
			// regions) are no background either.
			dilateBool(excl, mask, w, h, r)
			nl := labelBool(lab, raw, w, h)
			area := make([]int, nl+1)
			near := make([]byte, nl+1)
			ex := boolBytes(excl)[:n]
			// Labels come in runs along the rows: each run is counted in
			// registers and added once (a per-pixel count would chain
			// every step on one counter), and kept for painting the
			// markers below. The background (label 0, where raw is 0) is
			// skipped eight pixels at a time.
			runs = runs[:0]
			lb, rw := lab[:n], boolBytes(raw)[:n]
			for i := 0; i < n; {
				for i+8 <= n && binary.LittleEndian.Uint64(rw[i:]) == 0 {
					i += 8
				}
				for i < n && lb[i] == 0 {
					i++
				}
				if i == n {
					break
				}
				l, start, nr := lb[i], i, byte(0)
				for i < n && lb[i] == l {
					nr |= ex[i]
					i++
				}
				area[l] += i - start
				near[l] |= nr
				runs = append(runs, labelRun{int32(start), int32(i), l})
			}
			keep := make([]bool, nl+1) // keep[0] (background) stays false
			any := false
			for l := 1; l <= nl; l++ {
				keep[l] = near[l] == 0 && float64(area[l]) < maskMarkerShare*float64(n)
				any = any || keep[l]
			}
			// The weights are the field clear of excl and of the grown
			// markers, computed as bytes in one pass; excl itself is not
			// needed after it, and raw (the markers) only to grow them.
			if any {
				clear(raw)
				for _, u := range runs {
					if keep[u.l] {
						rb := boolBytes(raw[u.a:u.b])
						for i := range rb {
							rb[i] = 1
						}
					}
				}
				dilateBool(grown, raw, w, h, r)
				gb := boolBytes(grown)[:n]
				for i := range wt {
					wt[i] = float32(fb[i] &^ (ex[i] | gb[i]))
				}
			} else {
				for i := range wt {
					wt[i] = float32(fb[i] &^ ex[i])
				}
			}
			localBackground(bg, s, wt, bg, w, h, lw, lh, sigma, low)
			if round > maskRounds {
				// Robust rounds: samples standing out of the surface
				// (faint fingertips not yet in the mask) pull the
				// background up to themselves; drop them.
				dropAbove(wt, s, bg, below32(dt))
				localBackground(bg, s, wt, bg, w, h, lw, lh, sigma, low)
			}
		}
		for _, i := range edgeAt {
			if e := edge[i]; e > bg[i] {
				bg[i] = e
			}
		}
		// Noise: robust σ of the background residual's darker half.
		// The residual's sign is noise: each sample is written and kept
		// by advancing the count, not by a branch that would mispredict
		// every other sample.
		neg, pos = neg[:cap(neg)], pos[:cap(pos)]
		kn, kp := 0, 0
		for i := 0; i < n; i += step { // a sample is enough for the medians
			r := float64(s[i] - bg[i])
			f, m, dark := b2u(field[i]), b2u(mask[i]), b2u(r <= 0)
			pos[kp], neg[kn] = r, -r
			kp += int(f & m)
			kn += int(f & (m ^ 1) & dark)
		}
		neg, pos = neg[:kn], pos[:kp]
		noise := 1.0
		if len(neg) > 16 {
			noise = math.Max(0.3, 1.4826*median(neg))
		}
		if round == 0 {
			// Start from the clearly bright part only, so that glows and
			// fields next to the hand do not enter the mask and keep
			// informing the background.
			dt = 4*noise + 4
		} else {
			dt = math.Max(maskMinStep, math.Max(maskNoiseK*noise, maskContrastK*median(pos)))
		}
		t32 := below32(dt)
		rb, b := boolBytes(raw)[:n], bg[:n]
		for i, v := range s[:n] { // bytes, without a branch on the field
			rb[i] = b2u(v-b[i] > t32) & fb[i]
		}
		cleanMask(mask, raw, w, h)
		if round == maskRounds {
			base = append([]bool(nil), mask...)
		}
	}
	// What the robust rounds added is anatomy where it is narrow (finger
	// tips); a broad addition is a brighter field the mask crept into.
	mask = keepNarrow(base, mask, w, h, lw, lh, maskNarrow*side*ls)
	on, nf := 0, 0
	mb := boolBytes(mask)[:n]
	for i, f := range fb {
		nf += int(f)
		on += int(f & mb[i])
	}
	return mask, float64(on) / float64(max(1, nf))
}

// keepNarrow returns base plus the connected parts of grown − base that
// contain no disk of diameter d (on the low-resolution grid).
func keepNarrow(base, grown []bool, w, h, lw, lh int, d float64) []bool {
	extra := make([]bool, w*h)
	any := false
	for i := range grown {
		extra[i] = grown[i] && !base[i]
		any = any || extra[i]
	}
	if !any {
		return grown
	}
	broad := openLow(extra, w, h, lw, lh, d)
	lp := make([]int32, w*h)
	nl := labelBool(lp, extra, w, h)
	wide := make([]bool, nl+1)
	for i, b := range broad {
		if b && extra[i] {
			wide[lp[i]] = true
		}
	}
	out := append([]bool(nil), base...)
	for i, v := range extra {
		if v && !wide[lp[i]] {
			out[i] = true
		}
	}
	return out
}

// edgeBackground models glows, bright scan borders and ramps along the
// image edges: within a band along each edge, the background at distance d
// from it is a low quantile of the pixels at that distance over a long
// stretch of the edge, which anatomy crossing the edge does not fill. It
// is -inf away from the edges.
func edgeBackground(s, bg []float32, w, h, lw, lh int) []float32 {
	low, lbg := resizeF(s, w, h, lw, lh), resizeF(bg, w, h, lw, lh)
	out := make([]float32, lw*lh)
	for i := range out {
		out[i] = float32(math.Inf(-1))
	}
	depth := max(2, int(maskEdgeBand*float64(min(lw, lh))+0.5))
	// side k: pixel at (distance d, position t along the edge).
	at := func(k, d, t int) int {
		switch k {
		case 0:
			return t*lw + d // left
		case 1:
			return t*lw + lw - 1 - d // right
		case 2:
			return d*lw + t // top
		default:
			return (lh-1-d)*lw + t // bottom
		}
	}
	for k := 0; k < 4; k++ {
		length := lh
		if k >= 2 {
			length = lw
		}
		half := max(2, int(maskEdgeWindow*float64(length)/2))
		line := make([]float64, length)
		win := make([]float64, 0, 2*half+2)
		q := make([][]float64, 2*depth) // q[d][t]
		for d := range q {
			for t := 0; t < length; t++ {
				line[t] = float64(low[at(k, d, t)])
			}
			q[d] = make([]float64, length)
			// The window slides along the edge kept sorted (one value in,
			// one out per step), so each quantile is read, not selected:
			// the same element of the same window as quantile's.
			win = win[:0]
			for u := 0; u <= min(length-1, half); u++ {
				win = sortedInsert(win, line[u])
			}
			for t := 0; t < length; t++ {
				if t > 0 {
					if u := t + half; u < length {
						win = sortedInsert(win, line[u])
					}
					if u := t - half - 1; u >= 0 {
						win = sortedRemove(win, line[u])
					}
				}
				q[d][t] = win[min(len(win)-1, int(maskEdgeQuantile*float64(len(win))))]
			}
		}
		// Only what fades towards the inside is an edge artefact: anatomy
		// or a field running on inwards keeps its level.
		for t := 0; t < length; t++ {
			inner := q[2*depth-1][t]
			if inner > float64(lbg[at(k, 2*depth-1, t)])+maskEdgeInner {
				continue // bright inside too: anatomy running off the edge
			}
			for d := 0; d < depth; d++ {
				if q[d][t] > inner+maskEdgeStep {
					i := at(k, d, t)
					out[i] = max(out[i], float32(q[d][t]))
				}
			}
		}
	}
	// Upsample: nearest, so the band keeps its -inf outside.
	full := make([]float32, w*h)
	cols := nearestCols(w, lw)
	for y := 0; y < h; y++ {
		src := out[min(lh-1, y*lh/h)*lw:][:lw]
		row := full[y*w:][:w]
		for x, c := range cols {
			row[x] = src[c]
		}
	}
	return full
}

// sortedInsert inserts v into the ascending slice a.
func sortedInsert(a []float64, v float64) []float64 {
	i := sort.SearchFloat64s(a, v)
	a = append(a, 0)
	copy(a[i+1:], a[i:])
	a[i] = v
	return a
}

// sortedRemove removes one element equal to v from the ascending slice a.
func sortedRemove(a []float64, v float64) []float64 {
	i := sort.SearchFloat64s(a, v)
	copy(a[i:], a[i+1:])
	return a[:len(a)-1]
}

// fieldMask is false on padding and black collimator surrounds: regions of
// grey ≤ maskSurround that touch the image border.
func fieldMask(raw []byte, w, h int) (field []bool, padded bool) {
	field = make([]bool, w*h)
	for i := range field {
		field[i] = true
	}
	var stack []int
	push := func(i int) {
		if field[i] && raw[i] <= maskSurround {
			field[i] = false
			padded = true
			stack = append(stack, i)
		}
	}
	for x := 0; x < w; x++ {
		push(x)
		push((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x < w-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y < h-1 {
			push(i + w)
		}
	}
	return field, padded
}

// quadBackground fits a quadratic surface to the background robustly:
// starting from the darker half of the field, each pass refits to the
// pixels within 2.5 σ of the last surface (the hand lies far above it).
func quadBackground(s []float32, field []bool, w, h int) []float32 {
	n := w * h
	step := max(1, int(math.Sqrt(float64(n)/20000)))
	// Each point's basis is computed once, with its value beside it; the
	// normal equations are summed on and above the diagonal only (the
	// products below it are the same numbers) and each pass evaluates the
	// surface once per point: the same sums in the same order as the
	// plain loops.
	np := ((h + step - 1) / step) * ((w + step - 1) / step)
	basis, pv := make([][6]float64, 0, np), make([]float64, 0, np)
	for y := 0; y < h; y += step {
		for x := 0; x < w; x += step {
			if i := y*w + x; field[i] {
				px, py := float64(x)/float64(w)-0.5, float64(y)/float64(h)-0.5
				basis = append(basis, [6]float64{1, px, py, px * px, px * py, py * py})
				pv = append(pv, float64(s[i]))
			}
		}
	}
	bg := make([]float32, n)
	if len(pv) < 10 {
		return bg
	}
	vals := append([]float64(nil), pv...)
	cut := quantile(vals, 0.4)
	in := make([]bool, len(pv))
	for i, v := range pv {
		in[i] = v <= cut
	}
	var coef [6]float64
	fit := vals // the quantile's copy is free again
	res := make([]float64, 0, len(pv))
	for pass := 0; pass < 4; pass++ {
		// The 27 sums are locals, each added to in the points' order
		// (the same numbers as indexed arrays), so that they stay in
		// registers: the indexed loops were most of the fit's time.
		var a00, a01, a02, a03, a04, a05, a11, a12, a13, a14, a15 float64
		var a22, a23, a24, a25, a33, a34, a35, a44, a45, a55 float64
		var b0, b1, b2, b3, b4, b5 float64
		for i := range basis {
			if !in[i] {
				continue
			}
			b, v := &basis[i], pv[i]
			x0, x1, x2, x3, x4, x5 := b[0], b[1], b[2], b[3], b[4], b[5]
			b0 += x0 * v
			a00 += x0 * x0
			a01 += x0 * x1
			a02 += x0 * x2
			a03 += x0 * x3
			a04 += x0 * x4
			a05 += x0 * x5
			b1 += x1 * v
			a11 += x1 * x1
			a12 += x1 * x2
			a13 += x1 * x3
			a14 += x1 * x4
			a15 += x1 * x5
			b2 += x2 * v
			a22 += x2 * x2
			a23 += x2 * x3
			a24 += x2 * x4
			a25 += x2 * x5
			b3 += x3 * v
			a33 += x3 * x3
			a34 += x3 * x4
			a35 += x3 * x5
			b4 += x4 * v
			a44 += x4 * x4
			a45 += x4 * x5
			b5 += x5 * v
			a55 += x5 * x5
		}
		ata := [6][6]float64{
			{a00, a01, a02, a03, a04, a05},
			{a01, a11, a12, a13, a14, a15},
			{a02, a12, a22, a23, a24, a25},
			{a03, a13, a23, a33, a34, a35},
			{a04, a14, a24, a34, a44, a45},
			{a05, a15, a25, a35, a45, a55},
		}
		atb := [6]float64{b0, b1, b2, b3, b4, b5}
		c, ok := solve6(ata, atb)
		if !ok {
			break
		}
		coef = c
		res = res[:0]
		for i, v := range pv {
			fit[i] = v - eval6(coef, basis[i])
			if in[i] {
				res = append(res, math.Abs(fit[i]))
			}
		}
		sd := math.Max(0.5, 1.4826*median(res))
		for i := range fit {
			in[i] = fit[i] < 2.5*sd
		}
	}
	// eval6 over the grid, with the terms of one coordinate computed once
	// per row or column; the sum keeps eval6's order, so the surface is
	// the same to the last bit.
	xs, cx1, cx3 := make([]float64, w), make([]float64, w), make([]float64, w)
	for x := range xs {
		u := float64(x)/float64(w) - 0.5
		xs[x], cx1[x], cx3[x] = u, coef[1]*u, coef[3]*(u*u)
	}
	for y := 0; y < h; y++ {
		v := float64(y)/float64(h) - 0.5
		cy2, cy5 := coef[2]*v, coef[5]*(v*v)
		row := bg[y*w : (y+1)*w]
		for x := range row {
			e := coef[0]*1 + cx1[x]
			e += cy2
			e += cx3[x]
			e += coef[4] * (xs[x] * v)
			e += cy5
			row[x] = float32(e)
		}
	}
	return bg
}

func eval6(c, b [6]float64) float64 {
	v := 0.0
	for i := range c {
		v += c[i] * b[i]
	}
	return v
}

// solve6 solves a 6×6 system by Gaussian elimination with partial pivoting.
func solve6(a [6][6]float64, b [6]float64) ([6]float64, bool) {
	for c := 0; c < 6; c++ {
		p := c
		for r := c + 1; r < 6; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-9 {
			return [6]float64{}, false
		}
		a[c], a[p] = a[p], a[c]
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < 6; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 6; k++ {
				a[r][k] -= f * a[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [6]float64
	for r := 5; r >= 0; r-- {
		v := b[r]
		for k := r + 1; k < 6; k++ {
			v -= a[r][k] * x[k]
		}
		x[r] = v / a[r][r]
	}
	return x, true
}

// localBackground interpolates the background from the pixels with weight
// 1 by normalised Gaussian convolution on a low-resolution grid into dst
// (which may be prior); far from any sample it falls back to prior.
func localBackground(dst, s, wt, prior []float32, w, h, lw, lh int, sigma float64, low *lowBufs) {
	const eps = 0.02
	// Each image shrinks through its own resize straight from Go memory
	// (floatView): interleaving the three into one three-channel image
	// for a single resize cost more than the two extra resizes.
	ln, lwt, lp := low.ln, low.lwt, low.lp
	if w == lw && h == lh {
		for i := range s {
			ln[i] = s[i] * wt[i]
		}
		copy(lwt, wt)
		copy(lp, prior)
	} else {
		if w == 4*lw && h == 4*lh {
			shrink4(s, wt, prior, w, lw, lh, ln, lwt, lp)
		} else {
			shrinkArea(s, wt, prior, w, h, lw, lh, ln, lwt, lp)
		}
	}
	sigma = math.Max(1, sigma)
	// Samples and weights are blurred as the two channels of one image:
	// OpenCV filters each channel with the same arithmetic as alone (the
	// same bits), in one pass.
	two, blurred := low.two, low.blurred
	for i := range ln {
		two[2*i], two[2*i+1] = ln[i], lwt[i]
	}
	m, r := floatViewC(two, lw, lh, 2), floatViewC(blurred, lw, lh, 2)
	gocv.GaussianBlur(m, &r, image.Pt(0, 0), sigma, sigma, gocv.BorderReplicate)
	m.Close()
	r.Close()
	runtime.KeepAlive(two)
	runtime.KeepAlive(blurred)
	bn := ln
	for i := range bn {
		bn[i] = (blurred[2*i] + eps*lp[i]) / (blurred[2*i+1] + eps)
	}
	resizeInto(dst, bn, lw, lh, w, h)
}

// lowBufs are localBackground's low-resolution images, every one fully
// written by each call: the rounds reuse them rather than allocate (and
// clear) five images a call.
type lowBufs struct{ ln, lwt, lp, two, blurred []float32 }

func newLowBufs(n int) *lowBufs {
	return &lowBufs{make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, 2*n), make([]float32, 2*n)}
}

// shrink4 is, for a factor of exactly 4 on both axes, OpenCV's INTER_AREA
// shrink of s·wt, wt and prior into ln, lwt and lp, to the last bit (its
// integer-factor path sums each block's rows, then the row sums, and
// scales by 1/16; TestShrink4MatchesOpenCV), in one pass over the three
// full-size images and without the product image: the three resizes and
// the product were an eighth of the mask's time. The explicit float32
// conversions keep the compiler from fusing a product into a sum.
func shrink4(s, wt, prior []float32, w, lw, lh int, ln, lwt, lp []float32) {
	const sc = float32(1) / 16
	for y := 0; y < lh; y++ {
		for x := 0; x < lw; x++ {
			var bn, bw, bp [4]float32
			for dy := 0; dy < 4; dy++ {
				o := (4*y+dy)*w + 4*x
				r, q, p := s[o:o+4:o+4], wt[o:o+4:o+4], prior[o:o+4:o+4]
				bn[dy] = float32(r[0]*q[0]) + float32(r[1]*q[1]) + float32(r[2]*q[2]) + float32(r[3]*q[3])
				bw[dy] = q[0] + q[1] + q[2] + q[3]
				bp[dy] = p[0] + p[1] + p[2] + p[3]
			}
			i := y*lw + x
			ln[i] = (bn[0] + bn[1] + bn[2] + bn[3]) * sc
			lwt[i] = (bw[0] + bw[1] + bw[2] + bw[3]) * sc
			lp[i] = (bp[0] + bp[1] + bp[2] + bp[3]) * sc
		}
	}
}

// areaTap is one source pixel's share of a destination pixel in OpenCV's
// INTER_AREA shrink by a non-integer factor (its DecimateAlpha).
type areaTap struct {
	di, si int
	alpha  float32
}

// areaTaps is OpenCV's computeResizeAreaTab for one axis (ssize source
// pixels onto dsize), in its order and with its rounding.
func areaTaps(ssize, dsize int) []areaTap {
	scale := 1 / (float64(dsize) / float64(ssize))
	var tab []areaTap
	for dx := 0; dx < dsize; dx++ {
		fsx1 := float64(dx) * scale
		fsx2 := fsx1 + scale
		cell := math.Min(scale, float64(ssize)-fsx1)
		sx1, sx2 := int(math.Ceil(fsx1)), int(math.Floor(fsx2))
		sx2 = min(sx2, ssize-1)
		sx1 = min(sx1, sx2)
		if float64(sx1)-fsx1 > 1e-3 {
			tab = append(tab, areaTap{dx, sx1 - 1, float32((float64(sx1) - fsx1) / cell)})
		}
		for sx := sx1; sx < sx2; sx++ {
			tab = append(tab, areaTap{dx, sx, float32(1.0 / cell)})
		}
		if fsx2-float64(sx2) > 1e-3 {
			tab = append(tab, areaTap{dx, sx2, float32(math.Min(math.Min(fsx2-float64(sx2), 1), cell) / cell)})
		}
	}
	return tab
}

// shrinkArea is shrink4 for any other shrink to lw×lh: OpenCV's INTER_AREA
// by a non-integer factor (ResizeArea_Invoker: each source row is summed
// across with the x weights, then the rows into the destination row with
// the y weights, all in float32) of s·wt, wt and prior, to the last bit
// (TestShrinkAreaMatchesOpenCV), in one pass. An integer factor other
// than 4 on both axes takes OpenCV's other path and is left to it.
func shrinkArea(s, wt, prior []float32, w, h, lw, lh int, ln, lwt, lp []float32) {
	if w%lw == 0 && h%lh == 0 {
		sw := make([]float32, w*h)
		for i := range sw {
			sw[i] = s[i] * wt[i]
		}
		resizeInto(ln, sw, w, h, lw, lh)
		resizeInto(lwt, wt, w, h, lw, lh)
		resizeInto(lp, prior, w, h, lw, lh)
		return
	}
	xt, yt := areaTaps(w, lw), areaTaps(h, lh)
	// A destination pixel's x taps are consecutive in the table: each is
	// summed in a local, in the table's order.
	xo := make([]int, lw+1)
	for k, x := range xt {
		xo[x.di+1] = k + 1
	}
	// The x taps' sources and weights as two flat arrays: the inner loop
	// reads 8 bytes a tap instead of the table's 24.
	xsi, xal := make([]int32, len(xt)), make([]float32, len(xt))
	for k, x := range xt {
		xsi[k], xal[k] = int32(x.si), x.alpha
	}
	bn, bw, bp := make([]float32, lw), make([]float32, lw), make([]float32, lw)
	sn, sw, sp := make([]float32, lw), make([]float32, lw), make([]float32, lw)
	prevDy, lastSy := yt[0].di, -1
	flush := func(dy int) {
		copy(ln[dy*lw:(dy+1)*lw], sn)
		copy(lwt[dy*lw:(dy+1)*lw], sw)
		copy(lp[dy*lw:(dy+1)*lw], sp)
	}
	for _, y := range yt {
		if y.si != lastSy { // a row split between two destination rows is summed once
			o := y.si * w
			rs, rw, rp := s[o:o+w], wt[o:o+w], prior[o:o+w]
			for dx := range bn {
				var an, aw, ap float32
				k0, k1 := xo[dx], xo[dx+1]
				ts, ta := xsi[k0:k1], xal[k0:k1]
				ta = ta[:len(ts)]
				for k, si := range ts {
					al, q := ta[k], rw[si]
					an += float32(float32(rs[si]*q) * al)
					aw += float32(q * al)
					ap += float32(rp[si] * al)
				}
				bn[dx], bw[dx], bp[dx] = an, aw, ap
			}
			lastSy = y.si
		}
		beta := y.alpha
		if y.di != prevDy {
			flush(prevDy)
			for i := range sn {
				sn[i], sw[i], sp[i] = beta*bn[i], beta*bw[i], beta*bp[i]
			}
			prevDy = y.di
		} else {
			for i := range sn {
				sn[i] += float32(beta * bn[i])
				sw[i] += float32(beta * bw[i])
				sp[i] += float32(beta * bp[i])
			}
		}
	}
	flush(prevDy)
}

// resizeF resamples a float image (area when shrinking, linear when growing).
// OpenCV reads src and writes the result in place through Mats over the Go
// slices (floatView): the masks resample full-size float images a few
// dozen times each, and copying them into and out of C memory was a good
// part of the mask's time.
func resizeF(src []float32, w, h, ow, oh int) []float32 {
	out := make([]float32, ow*oh)
	resizeInto(out, src, w, h, ow, oh)
	return out
}

// resizeInto is resizeF into dst (ow×oh, not overlapping src).
func resizeInto(dst, src []float32, w, h, ow, oh int) {
	if w == ow && h == oh {
		copy(dst, src)
		return
	}
	m, r := floatView(src, w, h), floatView(dst, ow, oh)
	defer m.Close()
	defer r.Close()
	interp := gocv.InterpolationLinear
	if ow < w {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(m, &r, image.Pt(ow, oh), 0, 0, interp)
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
}

func blurF(src []float32, w, h int, sigma float64) []float32 {
	out := make([]float32, w*h)
	m, r := floatView(src, w, h), floatView(out, w, h)
	defer m.Close()
	defer r.Close()
	gocv.GaussianBlur(m, &r, image.Pt(0, 0), sigma, sigma, gocv.BorderReplicate)
	runtime.KeepAlive(src)
	return out
}

// floatView is a CV_32F Mat over src's memory (no copy): OpenCV writes
// into it in place as long as the destination has the result's size and
// type. gocv's Mat keeps src referenced while it lives.
func floatView(src []float32, w, h int) gocv.Mat { return floatViewC(src, w, h, 1) }

// floatViewC is floatView for cn (1 or 2) interleaved channels.
func floatViewC(src []float32, w, h, cn int) gocv.Mat {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), 4*len(src))
	mt := gocv.MatTypeCV32F
	if cn == 2 {
		mt = gocv.MatTypeCV32FC2
	}
	m, err := gocv.NewMatFromBytes(h, w, mt, b)
	if err != nil {
		panic("preprocess: float view: " + err.Error()) // only for an empty slice, which the masks never pass
	}
	return m
}

// cleanMask opens mask (scan lines, glow bands and dust go) and writes the
// hand-like components with their holes filled into out.
func cleanMask(out, mask []bool, w, h int) {
	m := boolView(mask, w, h)
	defer m.Close()
	comps := handComponents(m)
	clear(out)
	if len(comps) > 0 {
		o := boolView(out, w, h)
		fillCompsWith(&o, comps, colorTrue)
		o.Close()
	}
	runtime.KeepAlive(mask)
	runtime.KeepAlive(out)
}

// labelBool labels the 8-connected regions of a boolean mask 1..n (0 off)
// into lab and returns n.
func labelBool(lab []int32, mask []bool, w, h int) int {
	m := boolView(mask, w, h)
	defer m.Close()
	// OpenCV writes the labels straight into lab: the Mat over it already
	// has the result's size and type.
	labels, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV32S, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(lab))), 4*len(lab)))
	if err != nil {
		panic("preprocess: label view: " + err.Error()) // only for an empty mask, which the masks never pass
	}
	defer labels.Close()
	n := gocv.ConnectedComponents(m, &labels) - 1
	runtime.KeepAlive(mask)
	runtime.KeepAlive(lab)
	return n
}

// openLow opens a boolean mask with a disk of diameter d on the
// low-resolution grid and returns the result at full resolution: the parts
// of the mask at least about d wide.
func openLow(mask []bool, w, h, lw, lh int, d float64) []bool {
	f := make([]float32, w*h)
	for i, v := range mask {
		if v {
			f[i] = 1
		}
	}
	low := resizeF(f, w, h, lw, lh)
	m := gocv.NewMatWithSize(lh, lw, gocv.MatTypeCV8U)
	defer m.Close()
	px, _ := m.DataPtrUint8()
	for i, v := range low {
		px[i] = 0
		if v >= 0.5 {
			px[i] = 255
		}
	}
	k := max(3, int(d+0.5)|1)
	ker := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(k, k))
	defer ker.Close()
	gocv.MorphologyEx(m, &m, gocv.MorphOpen, ker)
	res := make([]bool, w*h)
	cols := nearestCols(w, lw)
	for y := 0; y < h; y++ {
		src := px[min(lh-1, y*lh/h)*lw:][:lw]
		row := boolBytes(res[y*w:][:w])
		for x, c := range cols {
			row[x] = b2u(src[c] != 0)
		}
	}
	return res
}

// dilateBool writes mask grown by r pixels (square structuring element)
// into out.
func dilateBool(out, mask []bool, w, h, r int) {
	m, o := boolView(mask, w, h), boolView(out, w, h)
	defer m.Close()
	defer o.Close()
	ker := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(2*r+1, 2*r+1))
	defer ker.Close()
	gocv.Dilate(m, &o, ker)
	runtime.KeepAlive(mask)
	runtime.KeepAlive(out)
}

// boolMat is a boolean mask as an 8-bit 0/255 Mat.
func boolMat(mask []bool, w, h int) gocv.Mat {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8U)
	px, _ := m.DataPtrUint8()
	for i, v := range mask {
		px[i] = 0
		if v {
			px[i] = 255
		}
	}
	return m
}

// nearestCols is, for each of w columns, its nearest-neighbour source
// column among lw: a table, since a division per pixel was most of the
// nearest upsamples' time.
func nearestCols(w, lw int) []int32 {
	cols := make([]int32, w)
	for x := range cols {
		cols[x] = int32(min(lw-1, x*lw/w))
	}
	return cols
}

// labelRun is a run [a, b) of pixels with label l.
type labelRun struct{ a, b, l int32 }

// below32 is the largest float32 not above dt: for a float32 v,
// float64(v) > dt is then v > below32(dt), the same test in float32.
func below32(dt float64) float32 {
	t := float32(dt)
	if float64(t) > dt {
		t = math.Nextafter32(t, float32(math.Inf(-1)))
	}
	return t
}

// dropAbove zeroes the weights (0 or 1) of the samples whose residual
// s−bg is above t, without a branch (the residual's sign is noise).
func dropAbove(wt, s, bg []float32, t float32) {
	s, bg = s[:len(wt)], bg[:len(wt)]
	for i, v := range wt {
		wt[i] = v * float32(b2u(!(s[i]-bg[i] > t)))
	}
}

// boolBytes is a boolean slice's memory as bytes, 0 or 1 (no copy).
func boolBytes(b []bool) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// b2u is 1 for true and 0 for false, without a branch (a Go bool is one
// byte, 0 or 1).
func b2u(b bool) byte { return *(*byte)(unsafe.Pointer(&b)) }

// colorTrue draws true into a boolView.
var colorTrue = color.RGBA{R: 1, G: 1, B: 1, A: 1}

// boolView is an 8-bit Mat over a boolean mask's memory (no copy): Go
// stores a bool as one byte, 0 or 1, which OpenCV's binary operations
// (morphology, contours, labelling: all "non-zero is set") read as they
// read 0/255, and whose results (dilations, fills with colorTrue) stay 0
// or 1. The masks went through 0/255 copies a few dozen times per image,
// a good part of their time. Only 0/1 may ever be written into it.
func boolView(mask []bool, w, h int) gocv.Mat {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(mask))), len(mask))
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8U, b)
	if err != nil {
		panic("preprocess: mask view: " + err.Error()) // only for an empty mask, which the masks never pass
	}
	return m
}

func median(v []float64) float64 { return quantile(v, 0.5) }

// quantile returns v's q-quantile (0 when empty), reordering v in place
// (quickselect: the masks need many medians of large samples).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	k := min(len(v)-1, int(q*float64(len(v))))
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three as the pivot, moved to hi.
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[mid] < v[hi] {
			v[mid], v[hi] = v[hi], v[mid]
		}
		// Lomuto's partition without a branch on the comparison (which
		// mispredicts half the time): the swap is made always and i
		// advances by the comparison. Within the part ≥ p the order may
		// differ from the branching form's; the element of rank k, what
		// quantile returns, does not.
		p := v[hi]
		i := lo
		for j := lo; j < hi; j++ {
			x := v[j]
			v[j] = v[i]
			v[i] = x
			i += int(b2u(x < p))
		}
		v[i], v[hi] = v[hi], v[i]
		switch {
		case k < i:
			hi = i - 1
		case k > i:
			lo = i + 1
		default:
			return v[k]
		}
	}
	return v[k]
}

// handComponents opens a binary image and returns the hand-like external
// contours: big enough, not rectangular, not thin, not the whole carrier;
// the largest, plus the second when it is hand-sized.
func handComponents(bin gocv.Mat) []handComp {
	w, h := bin.Cols(), bin.Rows()
	k := max(3, int(maskOpen*float64(min(w, h))+0.5)|1)
	ker := gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(k, k))
	defer ker.Close()
	clean := gocv.NewMat()
	defer clean.Close()
	gocv.MorphologyEx(bin, &clean, gocv.MorphOpen, ker)

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
func fillComps(dst *gocv.Mat, comps []handComp) { fillCompsWith(dst, comps, colorWhite) }

// fillCompsWith is fillComps in colour col.
func fillCompsWith(dst *gocv.Mat, comps []handComp, col color.RGBA) {
	if len(comps) == 0 {
		return
	}
	pts := make([][]image.Point, len(comps))
	for i, c := range comps {
		pts[i] = c.cnt
	}
	pv := gocv.NewPointsVectorFromPoints(pts)
	defer pv.Close()
	gocv.FillPoly(dst, pv, col)
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
