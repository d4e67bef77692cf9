package ops

import "gonum.org/v1/gonum/blas"

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
					for x := range dst {
						ix := x*stride - pad + kj
						if ix < 0 || ix >= w {
							dst[x] = 0
						} else {
							dst[x] = line[ix]
						}
					}
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
					for x, v := range src {
						ix := x*stride - pad + kj
						if ix >= 0 && ix < w {
							line[ix] += v
						}
					}
				}
			}
		}
	}
}

// gemm computes c = alpha·op(a)·op(b) + beta·c on row-major matrices with
// the package's BLAS (blas.go); op(a) is m×k and op(b) is k×n.
func gemm[T Float](ta, tb bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if ta {
		tA = blas.Trans
	}
	if tb {
		tB = blas.Trans
	}
	switch av := any(a).(type) {
	case []float32:
		blasImpl.Sgemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blasImpl.Dgemm(tA, tB, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}
