package ops

import (
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
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
	oh := (h+2*pad-k)/stride + 1
	ow := (w+2*pad-k)/stride + 1
	for ci := 0; ci < c; ci++ {
		src := im[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld:][:oh*ow]
				// a strided row's in-bounds columns are the same for every y
				slo, shi := stridedRange(ow, w, stride, pad-kj)
				for y := 0; y < oh; y++ {
					iy := y*stride - pad + ki
					dst := row[y*ow : (y+1)*ow]
					if iy < 0 || iy >= h {
						clear(dst)
						continue
					}
					line := src[iy*w : (iy+1)*w]
					if stride == 1 {
						// a contiguous run: zeros, a copy, zeros
						lo, hi := max(0, pad-kj), min(ow, w+pad-kj)
						if lo >= hi {
							clear(dst)
							continue
						}
						clear(dst[:lo])
						copy(dst[lo:hi], line[lo-pad+kj:hi-pad+kj])
						clear(dst[hi:])
						continue
					}
					// strided: zeros, a gather, zeros
					clear(dst[:slo])
					gather(dst[slo:shi], line[max(0, slo*stride-pad+kj):], stride)
					clear(dst[shi:])
				}
			}
		}
	}
}

// col2imLD is the adjoint of im2colLD: it zeroes im and adds every column
// entry back onto the pixel it was read from.
func col2imLD[T Float](col []T, c, h, w, k, stride, pad int, im []T, ld int) {
	oh := (h+2*pad-k)/stride + 1
	ow := (w+2*pad-k)/stride + 1
	clear(im[:c*h*w])
	for ci := 0; ci < c; ci++ {
		dstIm := im[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < k; ki++ {
			for kj := 0; kj < k; kj++ {
				row := col[((ci*k+ki)*k+kj)*ld:][:oh*ow]
				slo, shi := stridedRange(ow, w, stride, pad-kj)
				for y := 0; y < oh; y++ {
					iy := y*stride - pad + ki
					if iy < 0 || iy >= h {
						continue
					}
					line := dstIm[iy*w : (iy+1)*w]
					src := row[y*ow : (y+1)*ow]
					if stride == 1 {
						lo, hi := max(0, pad-kj), min(ow, w+pad-kj)
						if lo >= hi {
							continue
						}
						dl := line[lo-pad+kj : hi-pad+kj]
						for x, v := range src[lo:hi] {
							dl[x] += v
						}
						continue
					}
					scatterAdd(line[max(0, slo*stride-pad+kj):], src[slo:shi], stride)
				}
			}
		}
	}
}

// gather sets d[i] = s[i·stride]; scatterAdd adds s[i] onto d[i·stride].
// Stride 2 (every 4×4/s2 layer here) has its own loop the compiler can
// check once.
func gather[T Float](d, s []T, stride int) {
	if len(d) == 0 {
		return
	}
	if stride == 2 {
		s = s[:2*len(d)-1]
		for i := range d {
			d[i] = s[2*i]
		}
		return
	}
	for i := range d {
		d[i] = s[i*stride]
	}
}

func scatterAdd[T Float](d, s []T, stride int) {
	if len(s) == 0 {
		return
	}
	if stride == 2 {
		d = d[:2*len(s)-1]
		for i, v := range s {
			d[2*i] += v
		}
		return
	}
	for i, v := range s {
		d[i*stride] += v
	}
}

// stridedRange is the range [lo, hi) of output columns x in [0, ow) whose
// input column x·stride − off lies in [0, w) (hi ≥ lo).
func stridedRange(ow, w, stride, off int) (lo, hi int) {
	if off > 0 {
		lo = (off + stride - 1) / stride
	}
	// the last x with x·stride − off ≤ w − 1
	hi = min(ow, (w-1+off)/stride+1)
	if w-1+off < 0 {
		hi = 0
	}
	lo = min(lo, ow)
	return lo, max(lo, hi)
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
