package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets/internal/gradtest"
)

// shareNet is a small training graph of our ops (convolutions, bias,
// BatchNorm, LeakyReLU, max pooling, spectral norm) with a root output y
// that is read after runs.
type shareNet struct {
	g       *G.ExprGraph
	x       *tensor.Dense
	params  []*G.Node
	y, cost *G.Node
	vm      G.VM
}

func newShareNet(t *testing.T, seed int64, arena *Arena) *shareNet {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	g := G.NewGraph()
	s := &shareNet{g: g, x: gradtest.RandDense(r, 2, 1, 16, 16)}
	x := gradtest.Bound(g, "x", s.x)
	param := func(name string, shape ...int) *G.Node {
		n := gradtest.Bound(g, name, gradtest.RandDense(r, shape...))
		s.params = append(s.params, n)
		return n
	}
	w1, b1 := param("w1", 4, 1, 3, 3), param("b1", 1, 4, 1, 1)
	w2, gamma, beta := param("w2", 6, 4, 3, 3), param("gamma", 1, 6, 1, 1), param("beta", 1, 6, 1, 1)
	w3 := param("w3", 1, 6, 3, 3)
	u, v := gradtest.RandDense(r, 6), gradtest.RandDense(r, 4*3*3)
	h := G.Must(LeakyReLU(G.Must(AddBias(G.Must(Conv2d(x, w1, 1, 1)), b1)), 0.2))
	h, _, err := MaxPool2d(h, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	w2n := G.Must(SpectralNorm(w2, gradtest.Bound(g, "u", u), gradtest.Bound(g, "v", v)))
	h, _, err = BatchNorm2d(G.Must(Conv2d(h, w2n, 1, 1)), gamma, beta, true)
	if err != nil {
		t.Fatal(err)
	}
	s.y = G.Must(Conv2d(h, w3, 1, 1))
	out := G.Must(LeakyReLU(s.y, 0.1))
	s.cost = weighted(t, g, out, r)
	_, cg, err := Grad(s.cost, s.params...)
	if err != nil {
		t.Fatal(err)
	}
	s.vm = G.NewTapeMachine(cg, G.BindDualValues(s.params...))
	if arena != nil {
		if err := arena.Plan(s.vm, cg, s.y, s.cost); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *shareNet) run(t *testing.T) {
	t.Helper()
	ZeroGrads(s.params)
	s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
}

// values are the cost, y and every gradient, as read after a run.
func (s *shareNet) values(t *testing.T) [][]float64 {
	t.Helper()
	out := [][]float64{{s.cost.Value().Data().(float64)}, append([]float64(nil), s.y.Value().(*tensor.Dense).Float64s()...)}
	for _, p := range s.params {
		gv, err := p.Grad()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]float64(nil), gv.(*tensor.Dense).Float64s()...))
	}
	return out
}

func sameBits(t *testing.T, what string, got, want [][]float64) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			if math.Float64bits(got[i][j]) != math.Float64bits(want[i][j]) {
				t.Fatalf("%s: value %d[%d] is %v, unshared %v", what, i, j, got[i][j], want[i][j])
			}
		}
	}
}

// plannedBytes is the size of every output Plan put in a slot.
func plannedBytes(g *G.ExprGraph) (int, int) {
	var b, n int
	for _, nd := range g.AllNodes() {
		if op, ok := nd.Op().(buffered); ok && op.buffers() != nil && op.buffers().slot != nil {
			b += nd.Shape().TotalSize() * int(nd.Dtype().Size())
			n++
		}
	}
	return b, n
}

func TestPlanSharesMemoryAndKeepsValues(t *testing.T) {
	ref := newShareNet(t, 1, nil)
	arena := &Arena{}
	s := newShareNet(t, 1, arena)
	planned, n := plannedBytes(s.g)
	if n < 10 || 3*arena.Bytes() >= 2*planned {
		t.Fatalf("%d outputs (%d bytes) planned into %d bytes of slots: want at least 10 in at most two thirds of that", n, planned, arena.Bytes())
	}
	for _, k := range []*G.Node{s.y, s.cost} {
		if op, ok := k.Op().(buffered); ok && op.buffers().slot != nil {
			t.Fatalf("kept node %v was given a shared slot", k)
		}
	}
	// twice, with new inputs in between: a run must not depend on what the
	// slots held before
	for round := 0; round < 2; round++ {
		ref.run(t)
		s.run(t)
		sameBits(t, "shared", s.values(t), ref.values(t))
		r := rand.New(rand.NewSource(int64(10 + round)))
		for i := range s.x.Float64s() {
			v := r.NormFloat64()
			s.x.Float64s()[i], ref.x.Float64s()[i] = v, v
		}
	}
}

// Two graphs planned into one arena run one after the other; what is read
// after the runs (kept outputs, gradients) is that of each graph alone.
func TestPlanGraphsShareOneArena(t *testing.T) {
	refA, refB := newShareNet(t, 1, nil), newShareNet(t, 2, nil)
	arena := &Arena{}
	a, b := newShareNet(t, 1, arena), newShareNet(t, 2, arena)
	pa, _ := plannedBytes(a.g)
	pb, _ := plannedBytes(b.g)
	if arena.Bytes() >= pa {
		t.Fatalf("two graphs' %d and %d planned bytes take %d bytes of slots: want less than one graph's", pa, pb, arena.Bytes())
	}
	refA.run(t)
	refB.run(t)
	a.run(t)
	b.run(t)
	sameBits(t, "first graph", a.values(t), refA.values(t))
	sameBits(t, "second graph", b.values(t), refB.values(t))
}

// A view of one of our outputs (Gorgonia's Reshape) keeps that output's
// memory as long as the view is read: here b, of the same size, would
// otherwise take y's slot after y's last direct read and overwrite what v
// shows.
func TestPlanKeepsViewedValuesAlive(t *testing.T) {
	build := func(arena *Arena) *G.Node {
		r := rand.New(rand.NewSource(3))
		g := G.NewGraph()
		x := gradtest.Bound(g, "x", gradtest.RandDense(r, 2, 2, 6, 6))
		w := gradtest.Bound(g, "w", gradtest.RandDense(r, 3, 2, 3, 3))
		y := G.Must(Conv2d(x, w, 1, 1))
		v := G.Must(G.Reshape(y, tensor.Shape{2, 3 * 36}))
		a := G.Must(LeakyReLU(y, 0.1))
		b := G.Must(LeakyReLU(a, 0.3))
		c := G.Must(Reshape(b, tensor.Shape{2, 3 * 36}))
		cost := G.Must(G.Sum(G.Must(G.HadamardProd(c, v))))
		vm := G.NewTapeMachine(g)
		if arena != nil {
			if err := arena.Plan(vm, g, cost); err != nil {
				t.Fatal(err)
			}
			if y.Op().(buffered).buffers().slot == nil || b.Op().(buffered).buffers().slot == nil {
				t.Fatal("nothing was shared")
			}
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return cost
	}
	got, want := build(&Arena{}).Value().Data().(float64), build(nil).Value().Data().(float64)
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("cost %v with shared memory, %v without", got, want)
	}
}

// Outputs nothing reads and the kept nodes keep buffers of their own; a
// weight gradient, added into its parameter's gradient as soon as it is
// computed, is shared.
func TestPlanPinsOutputsSharesWeightGradients(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	g := G.NewGraph()
	x := gradtest.Bound(g, "x", gradtest.RandDense(r, 2, 2, 6, 6))
	w := gradtest.Bound(g, "w", gradtest.RandDense(r, 3, 2, 3, 3))
	y := G.Must(Conv2d(x, w, 1, 1))
	side := G.Must(LeakyReLU(y, 0.1)) // an output: nothing reads it
	kept := G.Must(LeakyReLU(y, 0.2))
	cost := G.Must(G.Sum(kept))
	_, cg, err := Grad(cost, w)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(cg, G.BindDualValues(w))
	if err := (&Arena{}).Plan(vm, cg, kept, cost); err != nil {
		t.Fatal(err)
	}
	slotOf := func(n *G.Node) *slot { return n.Op().(buffered).buffers().slot }
	if slotOf(side) != nil || slotOf(kept) != nil {
		t.Fatalf("the unread output (slot %v) or the kept one (slot %v) was shared", slotOf(side), slotOf(kept))
	}
	var dw *G.Node
	for _, n := range cg.AllNodes() {
		if d := n.DerivOf(); len(d) == 1 && d[0] == w {
			dw = n
		}
	}
	if dw == nil || slotOf(dw) == nil || slotOf(y) == nil {
		t.Fatalf("the weight gradient %v or the activation was not shared", dw)
	}
}
