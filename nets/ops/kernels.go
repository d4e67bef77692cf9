package ops

import (
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
	gblas "gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type the raw kernels work on.
type Float interface{ ~float32 | ~float64 }

// im2colLD unrolls the (c, h, w) image im into col, a (c·k·k) × (oh·ow)
// matrix whose rows are ld apart (ld ≥ oh·ow, so the columns of several
// images can sit side by side in one matrix) and whose row (ci, ki, kj)
// holds, for every output position, the input pixel under kernel tap
// (ki, kj) (0 outside the padded image); oh = (h + 2·pad − k)/stride + 1
// and likewise ow. Same layout as Caffe.
func im2colLD[T Float](im []T, c, h, w, k, stride, pad int, col []T, ld int) {
	ph := newPhases[T](h, w, stride)
	defer ph.release()
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	taps := ph.tapTable(k, pad)
	for ci := 0; ci < c; ci++ {
		ph.load(im[ci*h*w : (ci+1)*h*w])
		ph.im2colRows(taps, 0, oh, ow, col[ci*k*k*ld:], ld)
	}
}

// col2imLD is the adjoint of im2colLD: it zeroes im and adds every column
// entry back onto the pixel it was read from, tap by tap. col is scratch:
// entries that fall outside the image may be zeroed on the way.
func col2imLD[T Float](col []T, c, h, w, k, stride, pad int, im []T, ld int) {
	ph := newPhases[T](h, w, stride)
	defer ph.release()
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	taps := ph.tapTable(k, pad)
	for ci := 0; ci < c; ci++ {
		dst := im[ci*h*w : (ci+1)*h*w]
		ph.startAdd(dst)
		ph.col2imRows(taps, col[ci*k*k*ld:], 0, oh, ow, ld)
		ph.finishAdd(dst)
	}
}

// addTo adds s onto d (len(d) ≥ len(s)), long runs with gonum's SIMD axpy
// (1·v is exact, so the sums are those of the plain loop).
func addTo[T Float](d, s []T) {
	if len(s) >= 32 {
		switch sv := any(s).(type) {
		case []float32:
			level1.Saxpy(len(sv), 1, sv, 1, any(d).([]float32), 1)
			return
		case []float64:
			level1.Daxpy(len(sv), 1, sv, 1, any(d).([]float64), 1)
			return
		}
	}
	// short runs (col2im's rows of small or odd-sized maps, the VAE's):
	// four a step, as Go does not unroll (the same additions, so the same
	// bits)
	d = d[:len(s)]
	for len(s) >= 4 && len(d) >= 4 {
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		s, d = s[4:], d[4:]
	}
	for i, v := range s {
		d[i] += v
	}
}

// level1 is gonum's pure-Go BLAS, whose level-1 routines are assembly:
// called directly (not through cgo) for runs of a few dozen values.
var level1 = gblas.Implementation{}

// shiftRows writes output rows [y0, y1) (ow values each) of src shifted
// by (dy, dx) into dst: dst row y − y0 gets src[y+dy][x+dx] where
// 0 ≤ y+dy < vr and 0 ≤ x+dx < vc, else 0; src rows are sstride apart.
// When sstride = ow all rows go in one copy, whose values wrapped across
// row ends are zeroed after: one call instead of three per row.
func shiftRows[T Float](dst, src []T, sstride, y0, y1, ow, vr, vc, dy, dx int) {
	dst = dst[:(y1-y0)*ow]
	ylo, yhi := max(y0, -dy), min(y1, vr-dy)
	lo, hi := max(0, -dx), min(ow, vc-dx)
	if ylo >= yhi || lo >= hi {
		clear(dst)
		return
	}
	clear(dst[:(ylo-y0)*ow])
	clear(dst[(yhi-y0)*ow:])
	if sstride != ow {
		for y := ylo; y < yhi; y++ {
			d := dst[(y-y0)*ow : (y-y0+1)*ow]
			copy(d[lo:hi], src[(y+dy)*sstride+lo+dx:])
			if lo > 0 || hi < ow { // padding: rarely, and a call each otherwise
				clear(d[:lo])
				clear(d[hi:])
			}
		}
		return
	}
	start, end, soff := (ylo-y0)*ow+lo, (yhi-1-y0)*ow+hi, (ylo+dy)*ow+lo+dx
	copy(dst[start:end], src[soff:soff+end-start])
	if lo > 0 || hi < ow {
		zeroEdges(dst, ylo-y0, yhi-y0, ow, lo, hi)
	}
}

// zeroEdges zeroes columns [0, lo) and [hi, ow) of rows [r0, r1) of m.
func zeroEdges[T Float](m []T, r0, r1, ow, lo, hi int) {
	for r := r0; r < r1; r++ {
		row := m[r*ow : (r+1)*ow]
		for x := 0; x < lo; x++ {
			row[x] = 0
		}
		for x := hi; x < ow; x++ {
			row[x] = 0
		}
	}
}

// addRows is shiftRows' adjoint: dst[y+dy][x+dx] += src row y − y0,
// column x, for the same valid positions. When sstride = ow it zeroes
// src's other entries (src is scratch) and adds all rows in one run: the
// zeros wrapped across row ends change nothing.
func addRows[T Float](dst, src []T, sstride, y0, y1, ow, vr, vc, dy, dx int) {
	ylo, yhi := max(y0, -dy), min(y1, vr-dy)
	lo, hi := max(0, -dx), min(ow, vc-dx)
	if ylo >= yhi || lo >= hi {
		return
	}
	if sstride != ow {
		for y := ylo; y < yhi; y++ {
			addTo(dst[(y+dy)*sstride+lo+dx:], src[(y-y0)*ow+lo:(y-y0)*ow+hi])
		}
		return
	}
	if lo > 0 || hi < ow {
		zeroEdges(src, ylo-y0, yhi-y0, ow, lo, hi)
	}
	start, end, doff := (ylo-y0)*ow+lo, (yhi-1-y0)*ow+hi, (ylo+dy)*ow+lo+dx
	addTo(dst[doff:doff+end-start], src[start:end])
}

// phases holds one channel of an image split by a stride s into its s×s
// phase planes: plane (py, px) holds the pixels (s·a + py, s·b + px). A
// strided convolution's tap (ki, kj) reads, along an output row, one
// contiguous row of one plane, so im2col becomes copies and col2im
// contiguous additions, and the strided gather (or scatter) is done once
// per pixel instead of once per pixel and tap (k²/s² times: 4 for 4×4/s2).
// The values are exactly those of a direct strided unrolling. With s = 1
// the one plane is the channel itself, used in place.
type phases[T Float] struct {
	h, w, s, rows, cols int // rows, cols: the largest plane's
	buf                 []T // s·s planes, rows×cols each
	p                   *[]T
}

// newPhases borrows the planes' buffer (none for stride 1).
func newPhases[T Float](h, w, s int) phases[T] {
	ph := phasesIn[T](nil, h, w, s)
	if s > 1 {
		ph.p = borrow[T](phasesSize(h, w, s))
		ph.buf = *ph.p
	}
	return ph
}

// phasesSize is the buffer one channel's planes take.
func phasesSize(h, w, s int) int { return s * s * ((h + s - 1) / s) * ((w + s - 1) / s) }

// phasesIn lays one channel's planes over buf (phasesSize values).
func phasesIn[T Float](buf []T, h, w, s int) phases[T] {
	return phases[T]{h: h, w: w, s: s, rows: (h + s - 1) / s, cols: (w + s - 1) / s, buf: buf}
}

func (ph phases[T]) release() {
	if ph.p != nil {
		giveBack(ph.p)
	}
}

// load fills the planes from one channel im (h×w); with stride 1 it
// points ph at im (ph is then a copy to use, hence the pointer).
func (ph *phases[T]) load(im []T) {
	if ph.s == 1 {
		ph.buf = im
		return
	}
	ph.split(im)
}

// startAdd zeroes what col2imRows adds onto: the planes, or with stride 1
// im itself; finishAdd writes the planes into im.
func (ph *phases[T]) startAdd(im []T) {
	if ph.s == 1 {
		ph.buf = im
	}
	clear(ph.buf)
}

func (ph *phases[T]) finishAdd(im []T) {
	if ph.s > 1 {
		ph.join(im)
	}
}

// plane returns plane (py, px) and its valid rows and columns.
func (ph phases[T]) plane(py, px int) (pl []T, rows, cols int) {
	size := ph.rows * ph.cols
	return ph.buf[(py*ph.s+px)*size:][:size], (ph.h - py + ph.s - 1) / ph.s, (ph.w - px + ph.s - 1) / ph.s
}

// tap is where kernel offset t − pad falls: phase and shift in plane units.
func (ph phases[T]) tap(t, pad int) (phase, shift int) {
	d := t - pad
	phase = ((d % ph.s) + ph.s) % ph.s
	return phase, (d - phase) / ph.s
}

// split fills the planes from one channel im (h×w).
func (ph phases[T]) split(im []T) {
	s, w := ph.s, ph.w
	if s == 2 {
		ph.split2(im)
		return
	}
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy%s, iy/s
		for px := 0; px < s && px < w; px++ {
			pl, _, cols := ph.plane(py, px)
			gather(pl[a*ph.cols:][:cols], line[px:], s)
		}
	}
}

// split2 is split for stride 2 (the GANs' layers), a row pair at a time:
// the four planes and their widths found once per channel, not once per
// row, as their divisions cost as much as a short row's copies (8×8 and
// 16×16 maps at 64 px).
func (ph phases[T]) split2(im []T) {
	w, cols, pl := ph.w, ph.cols, ph.planes2()
	co := w / 2 // the odd planes' width; the even ones have one more for odd w
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy&1, iy>>1
		e, o := pl[py][0][a*cols:][:cols], pl[py][1][a*cols:][:co]
		pairs, ev := line[:2*co], e[:co]
		for b := range o {
			pr := pairs[2*b : 2*b+2 : 2*b+2] // one bounds check a pair
			ev[b], o[b] = pr[0], pr[1]
		}
		if w&1 == 1 {
			e[co] = line[w-1]
		}
	}
}

// join writes the planes back into one channel im (h×w): every pixel once.
func (ph phases[T]) join(im []T) {
	s, w := ph.s, ph.w
	if s == 2 {
		ph.join2(im)
		return
	}
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy%s, iy/s
		for px := 0; px < s && px < w; px++ {
			pl, _, cols := ph.plane(py, px)
			scatter(line[px:], pl[a*ph.cols:][:cols], s)
		}
	}
}

// planes2 are the four planes of stride 2, by (py, px).
func (ph phases[T]) planes2() (pl [2][2][]T) {
	for py := range 2 {
		for px := range 2 {
			pl[py][px], _, _ = ph.plane(py, px)
		}
	}
	return pl
}

// join2 is join for stride 2, split2's inverse.
func (ph phases[T]) join2(im []T) {
	w, cols, pl := ph.w, ph.cols, ph.planes2()
	co := w / 2
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy&1, iy>>1
		e, o := pl[py][0][a*cols:][:cols], pl[py][1][a*cols:][:co]
		pairs, ev := line[:2*co], e[:co]
		for b, v := range o {
			pr := pairs[2*b : 2*b+2 : 2*b+2]
			pr[0], pr[1] = ev[b], v
		}
		if w&1 == 1 {
			line[w-1] = e[co]
		}
	}
}

// tapInfo is where one kernel tap reads in the planes: the plane's offset
// in buf, its valid rows and columns, and the shift in plane units.
type tapInfo struct{ off, rows, cols, dy, dx int }

// tapTable lists the k·k taps in im2col's row order; it depends only on
// the geometry, so a kernel computes it once per call, not per channel
// and block (its divisions showed in profiles).
func (ph phases[T]) tapTable(k, pad int) []tapInfo {
	taps := make([]tapInfo, 0, k*k)
	size := ph.rows * ph.cols
	for ki := 0; ki < k; ki++ {
		py, dy := ph.tap(ki, pad)
		for kj := 0; kj < k; kj++ {
			px, dx := ph.tap(kj, pad)
			taps = append(taps, tapInfo{off: (py*ph.s + px) * size, rows: (ph.h - py + ph.s - 1) / ph.s,
				cols: (ph.w - px + ph.s - 1) / ph.s, dy: dy, dx: dx})
		}
	}
	return taps
}

// im2colRows writes output rows [y0, y1) (ow wide) of the channel's
// im2col rows, one per tap, into col (rows ld apart, (y1 − y0)·ow
// columns each).
func (ph phases[T]) im2colRows(taps []tapInfo, y0, y1, ow int, col []T, ld int) {
	size := ph.rows * ph.cols
	for t, ti := range taps {
		shiftRows(col[t*ld:], ph.buf[ti.off:ti.off+size], ph.cols, y0, y1, ow, ti.rows, ti.cols, ti.dy, ti.dx)
	}
}

// col2imRows adds im2colRows' columns back onto the planes (after
// startAdd; finishAdd then writes them into the image), tap by tap.
func (ph phases[T]) col2imRows(taps []tapInfo, col []T, y0, y1, ow, ld int) {
	size := ph.rows * ph.cols
	for t, ti := range taps {
		addRows(ph.buf[ti.off:ti.off+size], col[t*ld:][:(y1-y0)*ow], ph.cols, y0, y1, ow, ti.rows, ti.cols, ti.dy, ti.dx)
	}
}

// gather sets d[i] = s[i·stride]; scatter sets d[i·stride] = s[i].
func gather[T Float](d, s []T, stride int) {
	if len(d) == 0 {
		return
	}
	s = s[:(len(d)-1)*stride+1]
	for i := range d {
		d[i] = s[i*stride]
	}
}

func scatter[T Float](d, s []T, stride int) {
	if len(s) == 0 {
		return
	}
	d = d[:(len(s)-1)*stride+1]
	for i, v := range s {
		d[i*stride] = v
	}
}

// gemm computes c = alpha·op(a)·op(b) + beta·c on row-major matrices with
// the package's BLAS (blas.go); op(a) is m×k and op(b) is k×n.
func gemm[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmOn(splitGEMM, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmSerial is gemm in the calling goroutine only, for kernels that split
// their work over goroutines themselves.
func gemmSerial[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmOn(false, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func gemmOn[T Float](split, ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if gemmCounting.Load() {
		t0 := time.Now()
		defer func() {
			gemmCalls.Add(1)
			gemmFlops.Add(2 * int64(m) * int64(n) * int64(k))
			d := int64(time.Since(t0))
			if !split && splitGEMM {
				// a serial product runs beside workers()−1 others (the
				// per-image kernels): count its share of the machine's time,
				// as a split product's time is all of it
				d /= int64(workers())
			}
			gemmNanos.Add(d)
		}()
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if ta {
		tA = blas.Trans
	}
	if tb {
		tB = blas.Trans
	}
	switch av := any(a).(type) {
	case []float32:
		if split {
			splitGemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc, blasImpl.Sgemm)
			return
		}
		blasImpl.Sgemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		if split {
			splitGemm(tA, tB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc, blasImpl.Dgemm)
			return
		}
		blasImpl.Dgemm(tA, tB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// The convolution kernels' matrix products can be counted, for the
// benchmark's report of how close the convolutions come to the BLAS's peak
// (bench/): off unless CountGEMM(true), so training pays nothing for it.
var (
	gemmCounting                    atomic.Bool
	gemmCalls, gemmFlops, gemmNanos atomic.Int64
)

// GEMMStats are the convolution kernels' matrix products since counting
// began: calls, floating-point operations (2·m·n·k each) and time in BLAS
// as wall time of the whole machine (a product that one goroutine runs
// beside the others' counts 1/GOMAXPROCS of its duration).
type GEMMStats struct {
	Calls, Flops int64
	Seconds      float64
}

// CountGEMM turns counting on or off and resets the counts.
func CountGEMM(on bool) {
	gemmCounting.Store(on)
	gemmCalls.Store(0)
	gemmFlops.Store(0)
	gemmNanos.Store(0)
}

// GEMMCounts reads the counts so far.
func GEMMCounts() GEMMStats {
	return GEMMStats{Calls: gemmCalls.Load(), Flops: gemmFlops.Load(), Seconds: time.Duration(gemmNanos.Load()).Seconds()}
}

// Sgemm is c = a·b for row-major float32 matrices (a m×k, b k×n, c m×n)
// with the package's BLAS: the benchmark's measure of the BLAS's peak.
func Sgemm(m, n, k int, a, b, c []float32) {
	gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}
