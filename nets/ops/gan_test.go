package ops

// Tests of the ops the GANs use: LeakyReLU, minibatch discrimination and
// spectral normalisation.

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestLeakyReLUValuesAndGradient(t *testing.T) {
	x := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{-2, -0.5, 0, 0.5, 3, -1}))
	out, err := leakyOp{slope: 0.1, dims: 2}.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{-0.2, -0.05, 0, 0.5, 3, -0.1}
	for i, v := range out.(*tensor.Dense).Float64s() {
		if math.Abs(v-want[i]) > 1e-15 {
			t.Fatalf("leaky relu %v, want %v", out.(*tensor.Dense).Float64s(), want)
		}
	}
	if _, err := LeakyReLU(G.NewTensor(G.NewGraph(), tensor.Float64, 2, G.WithShape(2, 2), G.WithName("x")), 1); err == nil || err.Error() != "leaky relu: slope 1 must be in [0, 1)" {
		t.Fatalf("error %v", err)
	}
	r := rand.New(rand.NewSource(1))
	gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		xv := awayFromZero(gradtest.RandDense(r, 2, 3, 4, 4))
		xn := gradtest.Bound(g, "x", xv)
		y := G.Must(LeakyReLU(xn, 0.2))
		return weighted(t, g, y, r), []*G.Node{xn}, []*tensor.Dense{xv}
	})
}

// naiveMBD is Salimans et al.'s definition written out directly.
func naiveMBD(f, T []float64, n, a, b, c int) []float64 {
	m := make([]float64, n*b*c)
	for i := 0; i < n; i++ {
		for q := 0; q < b*c; q++ {
			for k := 0; k < a; k++ {
				m[i*b*c+q] += f[i*a+k] * T[k*b*c+q]
			}
		}
	}
	out := make([]float64, n*(a+b))
	for i := 0; i < n; i++ {
		copy(out[i*(a+b):], f[i*a:(i+1)*a])
		for kb := 0; kb < b; kb++ {
			var s float64
			for j := 0; j < n; j++ {
				if j == i {
					continue
				}
				var l1 float64
				for q := 0; q < c; q++ {
					l1 += math.Abs(m[(i*b+kb)*c+q] - m[(j*b+kb)*c+q])
				}
				s += math.Exp(-l1)
			}
			out[i*(a+b)+a+kb] = s
		}
	}
	return out
}

func TestMinibatchDiscrimination(t *testing.T) {
	const n, a, b, c = 4, 3, 2, 3
	r := rand.New(rand.NewSource(2))
	f, T := gradtest.RandDense(r, n, a), gradtest.RandDense(r, a, b*c)
	g := G.NewGraph()
	out := G.Must(MinibatchDiscrimination(gradtest.Bound(g, "f", f), gradtest.Bound(g, "T", T), b, c))
	gradtest.RunGraph(t, g)
	if !out.Shape().Eq(tensor.Shape{n, a + b}) {
		t.Fatalf("shape %v", out.Shape())
	}
	want := naiveMBD(f.Float64s(), T.Float64s(), n, a, b, c)
	for i, v := range out.Value().Data().([]float64) {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Fatalf("output %d: %g, want %g", i, v, want[i])
		}
	}
	gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		fv, tv := gradtest.RandDense(r, n, a), gradtest.RandDense(r, a, b*c)
		fn, tn := gradtest.Bound(g, "f", fv), gradtest.Bound(g, "T", tv)
		y := G.Must(MinibatchDiscrimination(fn, tn, b, c))
		return weighted(t, g, y, r), []*G.Node{fn, tn}, []*tensor.Dense{fv, tv}
	})
	_, err := MinibatchDiscrimination(gradtest.Bound(G.NewGraph(), "f", f), gradtest.Bound(G.NewGraph(), "T", gradtest.RandDense(r, a, 5)), b, c)
	if err == nil || err.Error() != "minibatch discrimination: features (4, 3) and T (3, 5) do not fit 2 kernels of 3 dimensions (want (N, A) and (A, 6))" {
		t.Fatalf("error %v", err)
	}
}

// The power iteration converges to the largest singular value that gonum's
// SVD computes, and SpectralNorm divides by uᵀWv.
func TestSpectralNorm(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	w := gradtest.RandDense(r, 5, 2, 2, 2)
	s := NewSNState(tensor.Float64, "w", w.Shape(), r)
	for i := 0; i < 200; i++ {
		PowerIterate(w, s)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(5, 8, w.Float64s()), mat.SVDNone) {
		t.Fatal("svd failed")
	}
	want := svd.Values(nil)[0]
	g := G.NewGraph()
	wn := gradtest.Bound(g, "w", w)
	out := G.Must(SpectralNorm(wn, gradtest.Bound(g, "u", s.U), gradtest.Bound(g, "v", s.V)))
	gradtest.RunGraph(t, g)
	for i, v := range out.Value().Data().([]float64) {
		if got := w.Float64s()[i] / v; math.Abs(got-want) > 1e-9*want {
			t.Fatalf("element %d divided by %g, want σ_max %g", i, got, want)
		}
	}
	// Gradient through σ, with u and v held fixed as in training.
	gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		wv := gradtest.RandDense(r, 3, 2, 2, 2)
		st := NewSNState(tensor.Float64, "w", wv.Shape(), r)
		PowerIterate(wv, st)
		wn := gradtest.Bound(g, "w", wv)
		y := G.Must(SpectralNorm(wn, gradtest.Bound(g, "u", st.U), gradtest.Bound(g, "v", st.V)))
		return weighted(t, g, y, r), []*G.Node{wn}, []*tensor.Dense{wv}
	})
	_, err := SpectralNorm(wn, gradtest.Bound(g, "u2", gradtest.RandDense(r, 4)), gradtest.Bound(g, "v2", s.V))
	if err == nil || err.Error() != "spectral norm: weight (5, 2, 2, 2) needs u of shape (5) and v of shape (8), got (4) and (8)" {
		t.Fatalf("error %v", err)
	}
}
