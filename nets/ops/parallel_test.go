package ops

import (
	"math"
	"math/rand"
	"runtime"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// Splitting a product over goroutines, by rows or by columns of the
// result and for every transposition, gives the single product's values,
// and with beta = 1 adds onto c as it does: bit for bit with gonum's BLAS,
// within float32 rounding with OpenBLAS (whose kernels for the edge of a
// block accumulate in another order), and the same on every run.
func TestSplitGemmMatchesOneProduct(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	r := rand.New(rand.NewSource(5))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, sz := range [][3]int{{97, 70, 64}, {40, 130, 80}} { // m ≥ n splits rows, m < n columns
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				tA, tB, lda, ldb := blas.NoTrans, blas.NoTrans, k, n
				if ta {
					tA, lda = blas.Trans, m
				}
				if tb {
					tB, ldb = blas.Trans, k
				}
				a, b, c0 := rnd(m*k), rnd(k*n), rnd(m*n)
				for _, beta := range []float32{0, 1} {
					want := append([]float32(nil), c0...)
					blasImpl.Sgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, want, n)
					got := append([]float32(nil), c0...)
					var calls atomic.Int32
					splitGemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, got, n,
						func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
							calls.Add(1)
							blasImpl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						})
					if calls.Load() != 3 {
						t.Errorf("%v: %d products, want 3", sz, calls.Load())
					}
					again := append([]float32(nil), c0...)
					splitGemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, again, n, blasImpl.Sgemm)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(again[i]) {
							t.Fatalf("%v: element %d is %v, then %v on a second run", sz, i, got[i], again[i])
						}
						d := math.Abs(float64(got[i]) - float64(want[i]))
						if splitGEMM && d <= 1e-5*(1+math.Abs(float64(want[i]))) || d == 0 {
							continue
						}
						t.Fatalf("%v ta=%v tb=%v beta=%g: element %d is %v split, %v in one product", sz, ta, tb, beta, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// stridedRange agrees with testing every column.
func TestStridedRange(t *testing.T) {
	for ow := 0; ow < 9; ow++ {
		for w := 1; w < 9; w++ {
			for stride := 1; stride < 4; stride++ {
				for off := -3; off < 5; off++ {
					lo, hi := stridedRange(ow, w, stride, off)
					for x := 0; x < ow; x++ {
						ix := x*stride - off
						in := ix >= 0 && ix < w
						if in != (x >= lo && x < hi) {
							t.Fatalf("ow %d w %d stride %d off %d: range [%d, %d), column %d (input %d) in bounds %v", ow, w, stride, off, lo, hi, x, ix, in)
						}
					}
					if lo > hi {
						t.Fatalf("ow %d w %d stride %d off %d: lo %d > hi %d", ow, w, stride, off, lo, hi)
					}
				}
			}
		}
	}
}
