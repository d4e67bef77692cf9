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

// im2colLD and col2imLD against their definitions, one output pixel and
// tap at a time, bit for bit in float32, for strides 1 to 3 (the strided
// ones go through phase planes), odd and even sizes, paddings 0 to 2 and
// rows ld wider than the columns. col2im's reference adds in the same
// order (tap by tap), so even its sums must agree exactly.
func TestIm2colCol2imMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, g := range []struct{ c, h, w, k, s, pad int }{
		{2, 5, 4, 3, 1, 1}, {1, 6, 6, 4, 2, 1}, {2, 7, 5, 4, 2, 1}, {1, 5, 7, 3, 2, 0},
		{2, 8, 9, 4, 2, 2}, {1, 9, 7, 4, 3, 1}, {1, 1, 3, 1, 2, 0}, {3, 6, 5, 6, 2, 0},
		{1, 4, 4, 1, 1, 0},
	} {
		oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		ld := oh*ow + 3
		im := make([]float32, g.c*g.h*g.w)
		for i := range im {
			im[i] = float32(r.NormFloat64())
		}
		col := make([]float32, g.c*g.k*g.k*ld)
		for i := range col {
			col[i] = float32(r.NormFloat64()) // stale contents must all be overwritten
		}
		im2colLD(im, g.c, g.h, g.w, g.k, g.s, g.pad, col, ld)
		back := make([]float32, len(im))
		for i := range back {
			back[i] = 7 // col2im must zero it first
		}
		col2imLD(col, g.c, g.h, g.w, g.k, g.s, g.pad, back, ld)
		want := make([]float32, len(im))
		batchGeom{1, g.c, g.h, g.w, g.k, g.s, g.pad}.eachEntry(ld, func(ci, px int) {
			var v float32
			if px >= 0 {
				v = im[px]
				want[px] += col[ci]
			}
			if col[ci] != v {
				t.Fatalf("%+v: im2col entry %d is %v, want %v", g, ci, col[ci], v)
			}
		})
		for i, v := range want {
			if back[i] != v {
				t.Fatalf("%+v: col2im pixel %d is %v, want %v", g, i, back[i], v)
			}
		}
	}
}

// batchGeom is a batch's convolution geometry for the im2colPar and
// col2imPar tests.
type batchGeom struct{ n, c, h, w, k, s, pad int }

// eachEntry calls f for every entry of the batch's im2col matrix (rows ld
// apart): its index in col and, for a pixel inside the image, the pixel's
// index in the batch (else −1), straight from the definition.
func (g batchGeom) eachEntry(ld int, f func(ci, im int)) {
	oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
	p, chw := oh*ow, g.c*g.h*g.w
	for j := 0; j < g.n; j++ {
		for ci := 0; ci < g.c; ci++ {
			for ki := 0; ki < g.k; ki++ {
				for kj := 0; kj < g.k; kj++ {
					row := ((ci*g.k+ki)*g.k + kj) * ld
					for y := 0; y < oh; y++ {
						for x := 0; x < ow; x++ {
							iy, ix := y*g.s-g.pad+ki, x*g.s-g.pad+kj
							im := -1
							if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
								im = j*chw + (ci*g.h+iy)*g.w + ix
							}
							f(row+j*p+y*ow+x, im)
						}
					}
				}
			}
		}
	}
}

// im2colPar and col2imPar over a batch against the definition, bit for bit
// (col2im's sums added tap by tap, as the reference does here, onto a
// cleared image): kernels as large as the image (im2colWhole's transpose
// and its adjoint, strides 1 and 2, enough values to split over
// goroutines, −0 columns that must come out +0 as the general path's
// 0 + v gives them) and strided padded ones through the phase planes, with
// ld wider than the batch's columns and stale contents in col and x.
func TestIm2colCol2imParMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	negZero := float32(math.Copysign(0, -1))
	for _, g := range []batchGeom{
		{5, 3, 4, 4, 4, 1, 0}, {3, 600, 4, 4, 4, 2, 0}, {2, 2, 1, 1, 1, 1, 0},
		{3, 2, 6, 6, 4, 2, 1}, {2, 1, 5, 4, 4, 1, 0},
	} {
		oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		p := oh * ow
		ld := g.n*p + 2
		x := make([]float32, g.n*g.c*g.h*g.w)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		col := make([]float32, g.c*g.k*g.k*ld)
		for i := range col {
			col[i] = float32(r.NormFloat64())
		}
		im2colPar(x, g.n, g.c, g.h, g.w, g.k, g.s, g.pad, col, p, ld)
		g.eachEntry(ld, func(ci, im int) {
			var v float32
			if im >= 0 {
				v = x[im]
			}
			if col[ci] != v {
				t.Fatalf("%+v: im2col entry %d is %v, want %v", g, ci, col[ci], v)
			}
		})
		for i := range col {
			if i%7 == 0 {
				col[i] = negZero
			}
		}
		for i := range x {
			x[i] = 7 // must be overwritten
		}
		col2imPar(col, g.n, g.c, g.h, g.w, g.k, g.s, g.pad, x, p, ld)
		want := make([]float32, len(x))
		g.eachEntry(ld, func(ci, im int) {
			if im >= 0 {
				want[im] += col[ci]
			}
		})
		for i, v := range want {
			if math.Float32bits(x[i]) != math.Float32bits(v) {
				t.Fatalf("%+v: col2im pixel %d is %v (bits %x), want %v (bits %x)", g, i, x[i], math.Float32bits(x[i]), v, math.Float32bits(v))
			}
		}
	}
}
