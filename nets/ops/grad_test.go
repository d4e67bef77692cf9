package ops

import (
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// countOps counts the nodes of g whose op prints with prefix.
func countOps(g *G.ExprGraph, prefix string) int {
	n := 0
	for _, node := range g.AllNodes() {
		if op := node.Op(); op != nil && strings.HasPrefix(op.String(), prefix) {
			n++
		}
	}
	return n
}

// A cost of two convolutions, differentiated with respect to the first
// kernel only: Gorgonia leaves the second kernel's gradient and the input
// image's in the graph, Grad's graph drops them, and a machine on it gives the
// same gradient, bit for bit, as one on the whole graph.
func TestGradPrunesUnusedGradients(t *testing.T) {
	build := func() (*G.ExprGraph, *G.Node, *G.Node) {
		r := rand.New(rand.NewSource(4))
		g := G.NewGraph()
		val := func(shape ...int) *tensor.Dense {
			d := make([]float64, tensor.Shape(shape).TotalSize())
			for i := range d {
				d[i] = r.NormFloat64()
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
		}
		x := G.NewTensor(g, G.Float64, 4, G.WithName("x"), G.WithValue(val(2, 1, 6, 6)))
		w1 := G.NewTensor(g, G.Float64, 4, G.WithName("w1"), G.WithValue(val(3, 1, 3, 3)))
		w2 := G.NewTensor(g, G.Float64, 4, G.WithName("w2"), G.WithValue(val(2, 3, 3, 3)))
		h, err := Conv2d(x, w1, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if h, err = Conv2d(h, w2, 1, 1); err != nil {
			t.Fatal(err)
		}
		cost, err := G.Sum(h)
		if err != nil {
			t.Fatal(err)
		}
		return g, cost, w1
	}
	run := func(g *G.ExprGraph, w *G.Node) []float64 {
		vm := G.NewTapeMachine(g, G.BindDualValues(w))
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, err := w.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), gv.Data().([]float64)...)
	}

	full, cost, w1 := build()
	if _, err := G.Grad(cost, w1); err != nil {
		t.Fatal(err)
	}
	// both kernels' gradients and both inputs' are there, w2's and x's unused
	if got := countOps(full, "Conv2dGradW"); got != 2 {
		t.Fatalf("Gorgonia's graph has %d kernel-gradient ops, want 2 (this test assumes it keeps unused ones)", got)
	}
	if got := countOps(full, "Conv2dGradX"); got != 2 {
		t.Fatalf("Gorgonia's graph has %d input-gradient ops, want 2", got)
	}
	want := run(full, w1)

	g, cost, w1 := build()
	grads, pruned, err := Grad(cost, w1)
	if err != nil {
		t.Fatal(err)
	}
	if len(grads) != 1 {
		t.Fatalf("%d gradients, want 1", len(grads))
	}
	if got := countOps(pruned, "Conv2dGradW"); got != 1 {
		t.Errorf("pruned graph has %d kernel-gradient ops, want 1 (w1's)", got)
	}
	if got := countOps(pruned, "Conv2dGradX"); got != 1 {
		t.Errorf("pruned graph has %d input-gradient ops, want 1 (the hidden layer's)", got)
	}
	if len(pruned.AllNodes()) >= len(g.AllNodes()) {
		t.Errorf("pruned graph has %d nodes, the whole graph %d", len(pruned.AllNodes()), len(g.AllNodes()))
	}
	got := run(pruned, w1)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("gradient %d: %v pruned, %v on the whole graph", i, got[i], want[i])
		}
	}
}
