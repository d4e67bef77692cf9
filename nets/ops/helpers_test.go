package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets/internal/gradtest"
)

// Helpers shared by the package's tests.

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// opLoss is Σ op(x, w) ⊙ rw, computed by the op's own Do: with a fixed
// random rw every output element matters.
func opLoss(t *testing.T, op G.Op, x, w, rw *tensor.Dense) func() float64 {
	return func() float64 {
		y, err := op.Do(x, w)
		if err != nil {
			t.Fatal(err)
		}
		return dot(y.(*tensor.Dense).Float64s(), rw.Float64s())
	}
}

// checkOpGradients builds cost = Σ apply(x, w) ⊙ rw as a graph, checks
// its value against loss (opLoss of the same op) within lossTol(loss), then
// its gradients with respect to x and w against central differences of
// loss: every element, or with spread > 0 about spread of them evenly
// apart in each tensor.
func checkOpGradients(t *testing.T, x, w, rw *tensor.Dense, apply func(x, w *G.Node) (*G.Node, error), loss func() float64, lossTol func(want float64) float64, spread int) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x))
	wn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(w.Shape()...), G.WithName("w"), G.WithValue(w))
	yn, err := apply(xn, wn)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(yn, G.NodeFromAny(g, rw, G.WithName("r"))))))
	if _, err := G.Grad(cost, xn, wn); err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, g, G.BindDualValues(xn, wn))
	if got, want := cost.Value().Data().(float64), loss(); math.Abs(got-want) > lossTol(want) {
		t.Fatalf("graph loss %g, op loss %g", got, want)
	}
	for _, p := range []struct {
		name string
		v    *tensor.Dense
		n    *G.Node
	}{{"x", x, xn}, {"w", w, wn}} {
		gv, err := p.n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		analytic := gv.Data().([]float64)
		data := p.v.Float64s()
		step := 1
		if spread > 0 {
			step = max(1, len(data)/spread)
		}
		for i := 0; i < len(data); i += step {
			num := gradtest.CentralDiff(loss, data, i)
			if math.Abs(num-analytic[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", p.name, i, analytic[i], num)
			}
		}
	}
}

// weighted is Σ y⊙r for a fixed random r, so every output element matters.
func weighted(t *testing.T, g *G.ExprGraph, y *G.Node, r *rand.Rand) *G.Node {
	t.Helper()
	rw := gradtest.RandDense(r, y.Shape()...)
	return G.Must(G.Sum(G.Must(G.HadamardProd(y, G.NodeFromAny(g, rw, G.WithName("r"))))))
}

// awayFromZero keeps values off the kinks of piecewise-linear functions.
func awayFromZero(d *tensor.Dense) *tensor.Dense {
	for i, v := range d.Float64s() {
		if math.Abs(v) < 0.05 {
			d.Float64s()[i] = 0.05 + v
		}
	}
	return d
}
