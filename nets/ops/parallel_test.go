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
		for ci := 0; ci < g.c; ci++ {
			for ki := 0; ki < g.k; ki++ {
				for kj := 0; kj < g.k; kj++ {
					row := ((ci*g.k+ki)*g.k + kj) * ld
					for y := 0; y < oh; y++ {
						for x := 0; x < ow; x++ {
							iy, ix := y*g.s-g.pad+ki, x*g.s-g.pad+kj
							var v float32
							in := iy >= 0 && iy < g.h && ix >= 0 && ix < g.w
							if in {
								v = im[(ci*g.h+iy)*g.w+ix]
							}
							if got := col[row+y*ow+x]; got != v {
								t.Fatalf("%+v: im2col row (%d,%d,%d) column (%d,%d) is %v, want %v", g, ci, ki, kj, y, x, got, v)
							}
							if in {
								want[(ci*g.h+iy)*g.w+ix] += col[row+y*ow+x]
							}
						}
					}
				}
			}
		}
		for i, v := range want {
			if back[i] != v {
				t.Fatalf("%+v: col2im pixel %d is %v, want %v", g, i, back[i], v)
			}
		}
	}
}

// im2colPar over a batch against the definition, bit for bit: the
// whole-image kernels (im2colWhole's transpose: one column per image,
// strides 1 and 2, enough values to split over goroutines) and a strided
// padded one through the phase planes, with ld wider than the batch's
// columns and stale contents in col.
func TestIm2colParMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, g := range []struct{ n, c, h, w, k, s, pad int }{
		{5, 3, 4, 4, 4, 1, 0}, {3, 600, 4, 4, 4, 2, 0}, {2, 2, 1, 1, 1, 1, 0},
		{3, 2, 6, 6, 4, 2, 1}, {2, 1, 5, 4, 4, 1, 0},
	} {
		oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		p, chw := oh*ow, g.c*g.h*g.w
		ld := g.n*p + 2
		x := make([]float32, g.n*chw)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		col := make([]float32, g.c*g.k*g.k*ld)
		for i := range col {
			col[i] = float32(r.NormFloat64())
		}
		im2colPar(x, g.n, g.c, g.h, g.w, g.k, g.s, g.pad, col, p, ld)
		for j := 0; j < g.n; j++ {
			for ci := 0; ci < g.c; ci++ {
				for ki := 0; ki < g.k; ki++ {
					for kj := 0; kj < g.k; kj++ {
						row := ((ci*g.k+ki)*g.k + kj) * ld
						for y := 0; y < oh; y++ {
							for xx := 0; xx < ow; xx++ {
								iy, ix := y*g.s-g.pad+ki, xx*g.s-g.pad+kj
								var v float32
								if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
									v = x[j*chw+(ci*g.h+iy)*g.w+ix]
								}
								if got := col[row+j*p+y*ow+xx]; got != v {
									t.Fatalf("%+v: image %d row (%d,%d,%d) column (%d,%d) is %v, want %v", g, j, ci, ki, kj, y, xx, got, v)
								}
							}
						}
					}
				}
			}
		}
	}
}

// col2imPar over a batch against the definition, bit for bit (its sums
// added tap by tap, as the reference does here, onto a cleared image):
// whole-image kernels (col2imWhole, whose −0 columns must come out +0 as
// the general path's 0 + v gives them) and a strided padded one.
func TestCol2imParMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	negZero := float32(math.Copysign(0, -1))
	for _, g := range []struct{ n, c, h, w, k, s, pad int }{
		{5, 3, 4, 4, 4, 1, 0}, {3, 600, 4, 4, 4, 2, 0}, {3, 2, 6, 6, 4, 2, 1}, {2, 1, 5, 4, 4, 1, 0},
	} {
		oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		p, chw := oh*ow, g.c*g.h*g.w
		ld := g.n*p + 2
		col := make([]float32, g.c*g.k*g.k*ld)
		for i := range col {
			col[i] = float32(r.NormFloat64())
			if i%7 == 0 {
				col[i] = negZero
			}
		}
		x := make([]float32, g.n*chw)
		for i := range x {
			x[i] = 7 // must be overwritten
		}
		col2imPar(col, g.n, g.c, g.h, g.w, g.k, g.s, g.pad, x, p, ld)
		want := make([]float32, len(x))
		for j := 0; j < g.n; j++ {
			for ci := 0; ci < g.c; ci++ {
				for ki := 0; ki < g.k; ki++ {
					for kj := 0; kj < g.k; kj++ {
						row := ((ci*g.k+ki)*g.k + kj) * ld
						for y := 0; y < oh; y++ {
							for xx := 0; xx < ow; xx++ {
								iy, ix := y*g.s-g.pad+ki, xx*g.s-g.pad+kj
								if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
									want[j*chw+(ci*g.h+iy)*g.w+ix] += col[row+j*p+y*ow+xx]
								}
							}
						}
					}
				}
			}
		}
		for i, v := range want {
			if math.Float32bits(x[i]) != math.Float32bits(v) {
				t.Fatalf("%+v: pixel %d is %v (bits %x), want %v (bits %x)", g, i, x[i], math.Float32bits(x[i]), v, math.Float32bits(v))
			}
		}
	}
}
