package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float32 values against Gorgonia's Tanh (what the op replaced), on a tensor large enough
// for the pass to be split over goroutines; the gradient against central
// differences; and a second run of a machine reusing the output tensor.
func TestTanhValuesAndGradient(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	n := 2*tanhParallelMin + 5
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 3)
	}
	x := tensor.New(tensor.WithShape(n), tensor.WithBacking(xs))
	out, err := tanhOp{dims: 1}.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	g0 := G.NewGraph()
	ref, err := G.Tanh(G.NodeFromAny(g0, x.Clone().(*tensor.Dense), G.WithName("x")))
	if err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, g0)
	for i, v := range out.(*tensor.Dense).Float32s() {
		if want := ref.Value().Data().([]float32)[i]; v != want || math.Abs(float64(v)-math.Tanh(float64(xs[i]))) > 2e-7 {
			t.Fatalf("tanh(%v) = %v, want %v (Gorgonia's) and within 2e-7 of %v", xs[i], v, want, math.Tanh(float64(xs[i])))
		}
	}
	dy := make([]float32, n)
	for i := range dy {
		dy[i] = float32(r.NormFloat64())
	}
	dx, err := tanhOp{dims: 1, grad: true}.Do(out, tensor.New(tensor.WithShape(n), tensor.WithBacking(dy)))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range dx.(*tensor.Dense).Float32s() {
		y := out.(*tensor.Dense).Float32s()[i]
		if want := dy[i] * (1 - y*y); v != want {
			t.Fatalf("gradient at %v: %v, want %v", xs[i], v, want)
		}
	}
	gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		xv := gradtest.RandDense(r, 2, 3, 4, 4)
		xn := gradtest.Bound(g, "x", xv)
		y := G.Must(Tanh(xn))
		return weighted(t, g, y, r), []*G.Node{xn}, []*tensor.Dense{xv}
	})

	g := G.NewGraph()
	xv := gradtest.RandDense(r, 3, 4)
	xn := gradtest.Bound(g, "x", xv)
	y := G.Must(Tanh(xn))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	first := y.Value().(*tensor.Dense)
	xv.Float64s()[0] = 0.25
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if y.Value().(*tensor.Dense) != first || first.Float64s()[0] != math.Tanh(0.25) {
		t.Fatalf("second run: new output tensor %v or wrong value %v", y.Value().(*tensor.Dense) != first, first.Float64s()[0])
	}
}
