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
	if stride > 1 {
		ph := newPhases[T](h, w, stride)
		defer ph.release()
		for ci := 0; ci < c; ci++ {
			ph.im2col(im[ci*h*w:(ci+1)*h*w], k, pad, col[ci*k*k*ld:], ld)
		}
		return
	}
	oh := h + 2*pad - k + 1
	ow := w + 2*pad - k + 1
	for ci := 0; ci < c; ci++ {
		src := im[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld:][:oh*ow]
				if ow == w { // "same" padding: the tap's row is the image shifted
					copyShifted(row, src, oh, ow, h, w, ki-pad, kj-pad)
					continue
				}
				// a contiguous run per output row: zeros, a copy, zeros
				lo, hi := max(0, pad-kj), min(ow, w+pad-kj)
				for y := 0; y < oh; y++ {
					iy := y - pad + ki
					dst := row[y*ow : (y+1)*ow]
					if iy < 0 || iy >= h || lo >= hi {
						clear(dst)
						continue
					}
					line := src[iy*w : (iy+1)*w]
					clear(dst[:lo])
					copy(dst[lo:hi], line[lo-pad+kj:hi-pad+kj])
					clear(dst[hi:])
				}
			}
		}
	}
}

// col2imLD is the adjoint of im2colLD: it zeroes im and adds every column
// entry back onto the pixel it was read from. col is scratch: entries that
// fall outside the image may be zeroed on the way.
func col2imLD[T Float](col []T, c, h, w, k, stride, pad int, im []T, ld int) {
	if stride > 1 {
		ph := newPhases[T](h, w, stride)
		defer ph.release()
		for ci := 0; ci < c; ci++ {
			ph.col2im(col[ci*k*k*ld:], k, pad, im[ci*h*w:(ci+1)*h*w], ld)
		}
		return
	}
	oh := h + 2*pad - k + 1
	ow := w + 2*pad - k + 1
	clear(im[:c*h*w])
	for ci := 0; ci < c; ci++ {
		dstIm := im[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld:][:oh*ow]
				if ow == w {
					addShifted(dstIm, row, oh, ow, h, w, ki-pad, kj-pad)
					continue
				}
				lo, hi := max(0, pad-kj), min(ow, w+pad-kj)
				if lo >= hi {
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y - pad + ki
					if iy < 0 || iy >= h {
						continue
					}
					addTo(dstIm[iy*w+lo-pad+kj:iy*w+hi-pad+kj], row[y*ow+lo:y*ow+hi])
				}
			}
		}
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
	d = d[:len(s)]
	for i, v := range s {
		d[i] += v
	}
}

// level1 is gonum's pure-Go BLAS, whose level-1 routines are assembly:
// called directly (not through cgo) for runs of a few dozen values.
var level1 = gblas.Implementation{}

// copyShifted sets dst (oh rows of ow) to src shifted by (dy, dx):
// dst[y][x] = src[y+dy][x+dx] where 0 ≤ y+dy < vr and 0 ≤ x+dx < vc, else
// 0; src has rows of ow values (vr of them valid, vc columns of each). All
// rows go in one copy, whose values wrapped across row ends are then
// zeroed: one call instead of three per output row.
func copyShifted[T Float](dst, src []T, oh, ow, vr, vc, dy, dx int) {
	dst = dst[:oh*ow]
	ylo, yhi := max(0, -dy), min(oh, vr-dy)
	lo, hi := max(0, -dx), min(ow, vc-dx)
	if ylo >= yhi || lo >= hi {
		clear(dst)
		return
	}
	clear(dst[:ylo*ow])
	clear(dst[yhi*ow:])
	start, end, off := ylo*ow+lo, (yhi-1)*ow+hi, dy*ow+dx
	copy(dst[start:end], src[start+off:end+off])
	for y := ylo; y < yhi; y++ {
		r := dst[y*ow : (y+1)*ow]
		for x := 0; x < lo; x++ {
			r[x] = 0
		}
		for x := hi; x < ow; x++ {
			r[x] = 0
		}
	}
}

// addShifted is copyShifted's adjoint: dst[y+dy][x+dx] += src[y][x] for
// the same valid positions. It zeroes src's other entries (src is
// scratch) and adds all rows in one run: the zeros wrapped across row ends
// change nothing.
func addShifted[T Float](dst, src []T, oh, ow, vr, vc, dy, dx int) {
	ylo, yhi := max(0, -dy), min(oh, vr-dy)
	lo, hi := max(0, -dx), min(ow, vc-dx)
	if ylo >= yhi || lo >= hi {
		return
	}
	for y := ylo; y < yhi; y++ {
		r := src[y*ow : (y+1)*ow]
		for x := 0; x < lo; x++ {
			r[x] = 0
		}
		for x := hi; x < ow; x++ {
			r[x] = 0
		}
	}
	start, end, off := ylo*ow+lo, (yhi-1)*ow+hi, dy*ow+dx
	addTo(dst[start+off:end+off], src[start:end])
}

// phases holds one channel of an image split by a stride s into its s×s
// phase planes: plane (py, px) holds the pixels (s·a + py, s·b + px). A
// strided convolution's tap (ki, kj) reads, along an output row, one
// contiguous row of one plane, so im2col becomes copies and col2im
// contiguous additions, and the strided gather (or scatter) is done once
// per pixel instead of once per pixel and tap (k²/s² times: 4 for 4×4/s2).
// The values are exactly those of a direct strided unrolling, and col2im
// adds onto each pixel in the same order, so the results are bit for bit
// the same.
type phases[T Float] struct {
	h, w, s, rows, cols int // rows, cols: the largest plane's
	buf                 []T // s·s planes, rows×cols each
	p                   *[]T
}

func newPhases[T Float](h, w, s int) phases[T] {
	ph := phases[T]{h: h, w: w, s: s, rows: (h + s - 1) / s, cols: (w + s - 1) / s}
	ph.p = borrow[T](s * s * ph.rows * ph.cols)
	ph.buf = *ph.p
	return ph
}

func (ph phases[T]) release() { giveBack(ph.p) }

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
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy%s, iy/s
		if s == 2 {
			e, _, ce := ph.plane(py, 0)
			o, _, co := ph.plane(py, 1)
			e, o = e[a*ph.cols:][:ce], o[a*ph.cols:][:co]
			for b := range o {
				e[b], o[b] = line[2*b], line[2*b+1]
			}
			if ce > co {
				e[ce-1] = line[w-1]
			}
			continue
		}
		for px := 0; px < s && px < w; px++ {
			pl, _, cols := ph.plane(py, px)
			gather(pl[a*ph.cols:][:cols], line[px:], s)
		}
	}
}

// join writes the planes back into one channel im (h×w): every pixel once.
func (ph phases[T]) join(im []T) {
	s, w := ph.s, ph.w
	for iy := 0; iy < ph.h; iy++ {
		line := im[iy*w : (iy+1)*w]
		py, a := iy%s, iy/s
		if s == 2 {
			e, _, ce := ph.plane(py, 0)
			o, _, co := ph.plane(py, 1)
			e, o = e[a*ph.cols:][:ce], o[a*ph.cols:][:co]
			for b, v := range o {
				line[2*b], line[2*b+1] = e[b], v
			}
			if ce > co {
				line[w-1] = e[ce-1]
			}
			continue
		}
		for px := 0; px < s && px < w; px++ {
			pl, _, cols := ph.plane(py, px)
			scatter(line[px:], pl[a*ph.cols:][:cols], s)
		}
	}
}

// im2col is im2colLD of one channel im for stride ph.s.
func (ph phases[T]) im2col(im []T, k, pad int, col []T, ld int) {
	s := ph.s
	oh, ow := (ph.h+2*pad-k)/s+1, (ph.w+2*pad-k)/s+1
	ph.split(im)
	for ki := 0; ki < k; ki++ {
		py, dy := ph.tap(ki, pad)
		for kj := 0; kj < k; kj++ {
			px, dx := ph.tap(kj, pad)
			pl, rows, cols := ph.plane(py, px)
			row := col[(ki*k+kj)*ld:][:oh*ow]
			if ow == ph.cols {
				copyShifted(row, pl, oh, ow, rows, cols, dy, dx)
				continue
			}
			lo, hi := max(0, -dx), min(ow, cols-dx)
			for y := 0; y < oh; y++ {
				dst := row[y*ow : (y+1)*ow]
				a := y + dy
				if a < 0 || a >= rows || lo >= hi {
					clear(dst)
					continue
				}
				clear(dst[:lo])
				copy(dst[lo:hi], pl[a*ph.cols+lo+dx:a*ph.cols+hi+dx])
				clear(dst[hi:])
			}
		}
	}
}

// col2im is col2imLD of one channel's columns onto im for stride ph.s.
func (ph phases[T]) col2im(col []T, k, pad int, im []T, ld int) {
	s := ph.s
	oh, ow := (ph.h+2*pad-k)/s+1, (ph.w+2*pad-k)/s+1
	clear(ph.buf)
	for ki := 0; ki < k; ki++ {
		py, dy := ph.tap(ki, pad)
		for kj := 0; kj < k; kj++ {
			px, dx := ph.tap(kj, pad)
			pl, rows, cols := ph.plane(py, px)
			row := col[(ki*k+kj)*ld:][:oh*ow]
			if ow == ph.cols {
				addShifted(pl, row, oh, ow, rows, cols, dy, dx)
				continue
			}
			lo, hi := max(0, -dx), min(ow, cols-dx)
			if lo >= hi {
				continue
			}
			for y := max(0, -dy); y < oh && y+dy < rows; y++ {
				a := y + dy
				addTo(pl[a*ph.cols+lo+dx:a*ph.cols+hi+dx], row[y*ow+lo:y*ow+hi])
			}
		}
	}
	ph.join(im)
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
	if gemmCounting.Load() {
		t0 := time.Now()
		defer func() {
			gemmCalls.Add(1)
			gemmFlops.Add(2 * int64(m) * int64(n) * int64(k))
			gemmNanos.Add(int64(time.Since(t0)))
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
		if splitGEMM {
			splitGemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc, blasImpl.Sgemm)
			return
		}
		blasImpl.Sgemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		if splitGEMM {
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
// began: calls, floating-point operations (2·m·n·k each) and time in BLAS.
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
