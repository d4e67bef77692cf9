package ops

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// biasRun builds y = add(x, b), a loss Σ y⊙r, and returns y, dL/dx and
// dL/db after one run.
func biasRun(t *testing.T, xs, bs tensor.Shape, xv, bv, rv []float32, add func(x, b *G.Node) (*G.Node, error)) (y, dx, db []float32) {
	t.Helper()
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, xs.Dims(), G.WithShape(xs...), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(append([]float32(nil), xv...)))))
	b := G.NewTensor(g, tensor.Float32, bs.Dims(), G.WithShape(bs...), G.WithName("b"),
		G.WithValue(tensor.New(tensor.WithShape(bs...), tensor.WithBacking(append([]float32(nil), bv...)))))
	r := G.NewTensor(g, tensor.Float32, xs.Dims(), G.WithShape(xs...), G.WithName("r"),
		G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(append([]float32(nil), rv...)))))
	out, err := add(x, b)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := G.HadamardProd(out, r)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, x, b); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(x, b))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gx, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.Grad()
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out.Value().Data().([]float32)...),
		append([]float32(nil), gx.Data().([]float32)...),
		append([]float32(nil), gb.Data().([]float32)...)
}

// AddBias gives x + b[c] and Gorgonia BroadcastAdd's gradients bit for bit
// (the GAN layers' training depends on it).
func TestAddBiasMatchesBroadcastAdd(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, c := range []struct {
		xs, bs  tensor.Shape
		pattern []byte
	}{
		{tensor.Shape{3, 4, 5, 6}, tensor.Shape{1, 4, 1, 1}, []byte{0, 2, 3}},
		{tensor.Shape{5, 7}, tensor.Shape{1, 7}, []byte{0}},
	} {
		rnd := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
			return v
		}
		xv, bv, rv := rnd(c.xs.TotalSize()), rnd(c.bs.TotalSize()), rnd(c.xs.TotalSize())
		y, dx, db := biasRun(t, c.xs, c.bs, xv, bv, rv, AddBias)
		wy, wdx, wdb := biasRun(t, c.xs, c.bs, xv, bv, rv, func(x, b *G.Node) (*G.Node, error) {
			return G.BroadcastAdd(x, b, nil, c.pattern)
		})
		ch, p := c.xs[1], c.xs.TotalSize()/(c.xs[0]*c.xs[1])
		for i := range y {
			if want := xv[i] + bv[(i/p)%ch]; y[i] != want {
				t.Fatalf("%v: y[%d] = %v, want x + b = %v", c.xs, i, y[i], want)
			}
		}
		for _, s := range []struct {
			name      string
			got, want []float32
		}{{"y", y, wy}, {"dx", dx, wdx}, {"db", db, wdb}} {
			if len(s.got) != len(s.want) {
				t.Fatalf("%v %s: %d values, BroadcastAdd %d", c.xs, s.name, len(s.got), len(s.want))
			}
			for i := range s.got {
				if math.Float32bits(s.got[i]) != math.Float32bits(s.want[i]) {
					t.Fatalf("%v %s[%d] = %v, BroadcastAdd %v", c.xs, s.name, i, s.got[i], s.want[i])
				}
			}
		}
	}
	if _, err := AddBias(G.NewTensor(G.NewGraph(), tensor.Float32, 4, G.WithShape(2, 3, 4, 4)),
		G.NewTensor(G.NewGraph(), tensor.Float32, 4, G.WithShape(1, 2, 1, 1))); err == nil ||
		err.Error() != "bias: (1, 2, 1, 1) does not broadcast over (2, 3, 4, 4) per channel" {
		t.Fatalf("mismatched bias: error %v", err)
	}
}
