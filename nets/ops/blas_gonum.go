//go:build !openblas

package ops

import (
	"gonum.org/v1/gonum/blas"
	gblas "gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// gonumBLAS is gonum's pure-Go BLAS with its float32 dot products
// replaced. gonum's assembly dot product (internal/asm/f32.DotUnitary,
// behind Sdot, Sgemv without transposition and Sgemm of A·Bᵀ) first sums
// the elements before a 16-byte boundary one by one, so how its partial
// sums are grouped, and so the last bits of the result, depend on where
// the garbage collector placed the slices. Two models built in one process
// with one seed then trained apart in the last bits (their parameter
// tensors lie at other addresses); within one model the addresses stay,
// which is why repeated steps of one model agreed. The replacements sum
// in an order fixed by the indices alone. float64 needs none: gonum's
// float64 kernels do not align.
type gonumBLAS struct{ gblas.Implementation }

func init() {
	blasImpl = gonumBLAS{}
	G.Use(gonumBLAS{})
}

// dot32 is x·y in float32 with eight partial sums by index mod 8, added
// pairwise at the end: the order depends on the length only.
func dot32(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	var s [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		xs, ys := x[i:i+8:i+8], y[i:i+8:i+8]
		s[0] += xs[0] * ys[0]
		s[1] += xs[1] * ys[1]
		s[2] += xs[2] * ys[2]
		s[3] += xs[3] * ys[3]
		s[4] += xs[4] * ys[4]
		s[5] += xs[5] * ys[5]
		s[6] += xs[6] * ys[6]
		s[7] += xs[7] * ys[7]
	}
	for j := 0; i < n; i, j = i+1, j+1 {
		s[j] += x[i] * y[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// Sdot is gonum's Sdot with dot32 for unit strides.
func (b gonumBLAS) Sdot(n int, x []float32, incX int, y []float32, incY int) float32 {
	if n <= 0 || incX != 1 || incY != 1 || len(x) < n || len(y) < n {
		return b.Implementation.Sdot(n, x, incX, y, incY)
	}
	return dot32(x[:n], y[:n])
}

// Sgemv is gonum's Sgemv with y = α·A·x + β·y (no transposition, unit
// strides) computed row by row with dot32; the transposed product is a sum
// of scaled rows (axpy), which gonum computes element by element already.
func (b gonumBLAS) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if tA != blas.NoTrans || incX != 1 || incY != 1 || m <= 0 || n <= 0 || lda < n || len(a) < (m-1)*lda+n || len(x) < n || len(y) < m {
		b.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	for i := 0; i < m; i++ {
		d := alpha * dot32(a[i*lda:i*lda+n], x[:n])
		if beta == 0 {
			y[i] = d
		} else {
			y[i] = beta*y[i] + d
		}
	}
}

// Sgemm is gonum's Sgemm, with A·Bᵀ computed as A·(Bᵀ copied out): gonum's
// A·B sums scaled rows of B (axpy), element by element, while its A·Bᵀ
// would take dot products.
func (b gonumBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, bm []float32, ldb int, beta float32, c []float32, ldc int) {
	if tB != blas.Trans || tA != blas.NoTrans || m <= 0 || n <= 0 || k <= 0 || ldb < k || len(bm) < (n-1)*ldb+k {
		b.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc)
		return
	}
	p := borrow[float32](k * n)
	bt := *p
	for j := 0; j < n; j++ {
		row := bm[j*ldb : j*ldb+k]
		for l, v := range row {
			bt[l*n+j] = v
		}
	}
	b.Implementation.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, alpha, a, lda, bt, n, beta, c, ldc)
	giveBack(p)
}
