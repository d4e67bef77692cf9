package ops

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// The convolution kernels spread their work over GOMAXPROCS goroutines
// themselves: the products (split over rows or columns of the result),
// im2col and col2im (split over image channels). With -tags openblas,
// OpenBLAS then runs single-threaded (blas_openblas.go): its own worker
// threads busy-wait between calls (sched_yield), and a CNN step makes
// hundreds of calls with Go work in between; measured on the CAE at 128 px,
// 2 threads, they spent three times as long spinning as computing, a third
// of the step's CPU. Every split writes disjoint outputs, so results do not depend on
// how the goroutines are scheduled; OpenBLAS's products can differ in the
// last bits with the split (its kernels for a block's edge sum in another
// order), so, as with OpenBLAS's own threads, they depend on GOMAXPROCS.

// splitGEMM says whether gemm splits products over goroutines itself (set
// for OpenBLAS; gonum's pure-Go BLAS parallelises internally).
var splitGEMM = false

// gemmParallelMin is the smallest product (m·n·k) worth splitting.
const gemmParallelMin = 1 << 18

// workers is how many goroutines a kernel may use.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallel runs f over [0, n) split into at most workers() contiguous
// ranges, serially when n·unit (a work estimate) is below min.
func parallel(n, unit, min int, f func(lo, hi int)) {
	parallelN(n, unit, min, func(_, lo, hi int) { f(lo, hi) })
}

// parallelN is parallel that also tells each call its index i among the
// ranges, in order, and returns how many ranges there were.
func parallelN(n, unit, min int, f func(i, lo, hi int)) int {
	w := workers()
	if w > n {
		w = n
	}
	if w < 2 || n*unit < min {
		f(0, 0, n)
		return 1
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, lo, hi)
		}()
	}
	wg.Wait()
	return w
}

// splitGemm runs c = alpha·op(a)·op(b) + beta·c as several products over
// disjoint blocks of c: rows when op(a) has at least as many as op(b) has
// columns, columns otherwise.
func splitGemm[T Float](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int,
	call func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)) {
	if m >= n {
		parallel(m, n*k, gemmParallelMin, func(lo, hi int) {
			as := a[lo:]
			if tA == blas.NoTrans {
				as = a[lo*lda:]
			}
			call(tA, tB, hi-lo, n, k, alpha, as, lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	parallel(n, m*k, gemmParallelMin, func(lo, hi int) {
		bs := b[lo:]
		if tB == blas.Trans {
			bs = b[lo*ldb:]
		}
		call(tA, tB, m, hi-lo, k, alpha, a, lda, bs, ldb, beta, c[lo:], ldc)
	})
}

// im2colPar is im2colLD over images [0, nc) of x (chw values apart, im2col
// columns p apart in col), split over the images' channels.
func im2colPar[T Float](x []T, nc, cin, h, w, k, stride, pad int, col []T, p, ld int) {
	hw, kk := h*w, k*k
	if h == k && w == k && pad == 0 {
		im2colWhole(x, nc, cin*hw, col, p, ld)
		return
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	parallel(nc*cin, kk*p, 1<<15, func(lo, hi int) {
		ph := newPhases[T](h, w, stride)
		defer ph.release()
		taps := ph.tapTable(k, pad)
		for t := lo; t < hi; t++ {
			j, ci := t/cin, t%cin
			ph.load(x[(j*cin+ci)*hw:][:hw])
			ph.im2colRows(taps, 0, oh, ow, col[j*p+ci*kk*ld:], ld)
		}
	})
}

// im2colWhole is im2colPar for a kernel as large as the image, without
// padding (the GANs' last 4×4 valid convolutions on 4×4 maps): each image
// is its own single column, so the im2col matrix is the images transposed,
// col[t·ld + j·p] = x[j·chw + t]. The general path would make one shiftRows
// call per (channel, tap) to copy one value (8192 per image at 512
// channels), which cost more than the product. It writes the same values,
// so the products and results are unchanged.
func im2colWhole[T Float](x []T, nc, chw int, col []T, p, ld int) {
	wholeBlocks(nc, chw, func(j, t0, t1 int) {
		dst := col[t0*ld+j*p:]
		for i, v := range x[j*chw+t0 : j*chw+t1] {
			dst[i*ld] = v
		}
	})
}

// col2imWhole is col2imPar for a kernel as large as the image, without
// padding (the generators' first transposed convolution, 1×1 to 4×4), the
// adjoint of im2colWhole: every pixel gets exactly one column value, which
// the general path adds onto a cleared plane, so it is written as 0 + v
// (the same bits, −0 included).
func col2imWhole[T Float](col []T, nc, chw int, x []T, p, ld int) {
	var zero T
	wholeBlocks(nc, chw, func(j, t0, t1 int) {
		src := col[t0*ld+j*p:]
		dst := x[j*chw+t0 : j*chw+t1]
		for i := range dst {
			dst[i] = zero + src[i*ld]
		}
	})
}

// wholeBlocks runs f(j, t0, t1) over images j and blocks [t0, t1) of the
// chw rows of their im2col matrix, split over goroutines by rows: within a
// block each image's run of values is contiguous and the matrix's rows
// are each written by one goroutine.
func wholeBlocks(nc, chw int, f func(j, t0, t1 int)) {
	parallel(chw, nc, 1<<15, func(lo, hi int) {
		const blk = 64
		for t0 := lo; t0 < hi; t0 += blk {
			t1 := min(hi, t0+blk)
			for j := 0; j < nc; j++ {
				f(j, t0, t1)
			}
		}
	})
}

// col2imPar is col2imLD of the columns of images [0, nc) onto x, split
// over the images' channels (each channel's plane is written by one
// goroutine only).
func col2imPar[T Float](col []T, nc, cin, h, w, k, stride, pad int, x []T, p, ld int) {
	hw, kk := h*w, k*k
	if h == k && w == k && pad == 0 {
		col2imWhole(col, nc, cin*hw, x, p, ld)
		return
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	parallel(nc*cin, kk*p, 1<<15, func(lo, hi int) {
		ph := newPhases[T](h, w, stride)
		defer ph.release()
		taps := ph.tapTable(k, pad)
		for t := lo; t < hi; t++ {
			j, ci := t/cin, t%cin
			dst := x[(j*cin+ci)*hw:][:hw]
			ph.startAdd(dst)
			ph.col2imRows(taps, col[j*p+ci*kk*ld:], 0, oh, ow, ld)
			ph.finishAdd(dst)
		}
	})
}

// Elementwise runs f over [0, n) split into contiguous ranges, one per
// worker, for an elementwise update outside the graphs (Adam): each index is
// computed by one goroutine only, so results do not depend on the split.
func Elementwise(n int, f func(lo, hi int)) { parallel(n, 1, elementwiseMin, f) }
