package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets/internal/gradtest"
)

// Against the reference each image gets what Salimans et al.'s layer gives
// it in a batch of itself and the reference images (naiveMBD), whatever
// else its batch holds; the gradients with respect to f, the reference and
// T agree with central differences.
func TestMinibatchDiscriminationRef(t *testing.T) {
	const n, nr, a, b, c = 3, 4, 3, 2, 3
	r := rand.New(rand.NewSource(5))
	f, fr, T := gradtest.RandDense(r, n, a), gradtest.RandDense(r, nr, a), gradtest.RandDense(r, a, b*c)
	g := G.NewGraph()
	out := G.Must(MinibatchDiscriminationRef(gradtest.Bound(g, "f", f), gradtest.Bound(g, "fr", fr), gradtest.Bound(g, "T", T), b, c))
	gradtest.RunGraph(t, g)
	if !out.Shape().Eq(tensor.Shape{n, a + b}) {
		t.Fatalf("shape %v", out.Shape())
	}
	got := out.Value().Data().([]float64)
	for i := 0; i < n; i++ {
		alone := append(append([]float64(nil), f.Float64s()[i*a:(i+1)*a]...), fr.Float64s()...)
		want := naiveMBD(alone, T.Float64s(), 1+nr, a, b, c)[:a+b]
		for q, w := range want {
			if v := got[i*(a+b)+q]; math.Abs(v-w) > 1e-12 {
				t.Fatalf("image %d output %d: %g, want %g", i, q, v, w)
			}
		}
	}
	for _, rows := range [][2]int{{n, nr}, {nr + 2, 2}} { // fewer images than reference rows, and more
		gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
			fv, rv, tv := gradtest.RandDense(r, rows[0], a), gradtest.RandDense(r, rows[1], a), gradtest.RandDense(r, a, b*c)
			fn, rn, tn := gradtest.Bound(g, "f", fv), gradtest.Bound(g, "fr", rv), gradtest.Bound(g, "T", tv)
			y := G.Must(MinibatchDiscriminationRef(fn, rn, tn, b, c))
			return weighted(t, g, y, r), []*G.Node{fn, rn, tn}, []*tensor.Dense{fv, rv, tv}
		})
	}
	_, err := MinibatchDiscriminationRef(gradtest.Bound(G.NewGraph(), "f", f), gradtest.Bound(G.NewGraph(), "fr", gradtest.RandDense(r, nr, 2)), gradtest.Bound(G.NewGraph(), "T", T), b, c)
	if err == nil || err.Error() != "minibatch discrimination: features (3, 3), reference (4, 2) and T (3, 6) do not fit 2 kernels of 3 dimensions (want (N, A), (R, A) and (A, 6))" {
		t.Fatalf("error %v", err)
	}
}
