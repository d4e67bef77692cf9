package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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
