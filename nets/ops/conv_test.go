package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convCase is one geometry for the convolution tests: n images of cin
// channels, h×w, to cout channels with a k×k kernel.
type convCase struct {
	name               string
	n, cin, cout, h, w int
	k, stride, pad     int
}

// convCases cover both kernel paths: small outputs whose images are
// unrolled side by side (convChunk > 1) and an output of more than
// convChunkCols pixels done one image at a time.
var convCases = []convCase{
	{"k3s1p1", 2, 3, 2, 5, 4, 3, 1, 1},
	{"k4s2p1", 3, 2, 3, 6, 6, 4, 2, 1},
	{"k1s1p0", 2, 3, 2, 3, 3, 1, 1, 0},
	{"k3s2p0", 2, 2, 2, 5, 7, 3, 2, 0},
	{"oneImageAtATime", 2, 1, 2, 47, 47, 3, 1, 1},
}

// Forward values against Gorgonia's own Conv2d on the same tensors.
func TestConv2dMatchesGorgonia(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			x := gradtest.RandDense(r, c.n, c.cin, c.h, c.w)
			w := gradtest.RandDense(r, c.cout, c.cin, c.k, c.k)
			oh, ow := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
			if chunk := convChunk(c.n, oh*ow); (c.name == "oneImageAtATime") != (chunk == 1) {
				t.Fatalf("case %s has chunk %d: it does not test the path it is named for", c.name, chunk)
			}
			g := G.NewGraph()
			xn := G.NodeFromAny(g, x, G.WithName("x"))
			wn := G.NodeFromAny(g, w, G.WithName("w"))
			ref, err := G.Conv2d(xn, wn, tensor.Shape{c.k, c.k}, []int{c.pad, c.pad}, []int{c.stride, c.stride}, []int{1, 1})
			if err != nil {
				t.Fatal(err)
			}
			ours, err := Conv2d(xn, wn, c.stride, c.pad)
			if err != nil {
				t.Fatal(err)
			}
			gradtest.RunGraph(t, g)
			want, got := ref.Value().(*tensor.Dense), ours.Value().(*tensor.Dense)
			if !got.Shape().Eq(want.Shape()) || !got.Shape().Eq(tensor.Shape{c.n, c.cout, oh, ow}) {
				t.Fatalf("shape %v, Gorgonia's %v", got.Shape(), want.Shape())
			}
			for i, v := range got.Float64s() {
				if math.Abs(v-want.Float64s()[i]) > 1e-12 {
					t.Fatalf("element %d: %g, Gorgonia's Conv2d gives %g", i, v, want.Float64s()[i])
				}
			}
		})
	}
}

// Gradients from the graph against central differences of the op itself.
func TestConv2dNumericalGradient(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			op := convOp{k: c.k, stride: c.stride, pad: c.pad}
			x := gradtest.RandDense(r, c.n, c.cin, c.h, c.w)
			w := gradtest.RandDense(r, c.cout, c.cin, c.k, c.k)
			os, err := op.outShape(x.Shape(), w.Shape())
			if err != nil {
				t.Fatal(err)
			}
			rw := gradtest.RandDense(r, os...)
			// every element on small cases, a spread sample on the large one
			checkOpGradients(t, x, w, rw, func(x, w *G.Node) (*G.Node, error) { return Conv2d(x, w, c.stride, c.pad) },
				opLoss(t, op, x, w, rw), func(want float64) float64 { return 1e-10 * math.Max(1, math.Abs(want)) }, 97)
		})
	}
}

// The convolutions keep their output tensors across runs of a machine; a
// second run on new inputs must give exactly what a fresh graph gives, in
// values and in gradients, and must write into the same tensors.
func TestConvBuffersReusedAcrossRuns(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	const n, c, h = 3, 2, 4
	w1 := gradtest.RandDense(r, 3, c, 4, 4) // conv 2→3, 4×4 s2: 4×4 → 2×2
	w2 := gradtest.RandDense(r, 3, 2, 4, 4) // convT 3→2, 4×4 s2: 2×2 → 4×4
	build := func(x *tensor.Dense) (run func() error, out *G.Node, params G.Nodes, xT *tensor.Dense) {
		g := G.NewGraph()
		xT = x.Clone().(*tensor.Dense)
		xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, c, h, h), G.WithName("x"), G.WithValue(xT))
		a := G.NewTensor(g, tensor.Float64, 4, G.WithShape(w1.Shape()...), G.WithName("w1"), G.WithValue(w1.Clone()))
		b := G.NewTensor(g, tensor.Float64, 4, G.WithShape(w2.Shape()...), G.WithName("w2"), G.WithValue(w2.Clone()))
		y := G.Must(Conv2d(xn, a, 2, 1))
		out = G.Must(ConvTranspose2d(y, b, 2, 1))
		cost := G.Must(G.Sum(G.Must(G.Square(out))))
		if _, err := G.Grad(cost, a, b); err != nil {
			t.Fatal(err)
		}
		params = G.Nodes{a, b}
		vm := G.NewTapeMachine(g, G.BindDualValues(a, b))
		t.Cleanup(func() { vm.Close() })
		return func() error { ZeroGrads(params); vm.Reset(); return vm.RunAll() }, out, params, xT
	}
	x1, x2 := gradtest.RandDense(r, n, c, h, h), gradtest.RandDense(r, n, c, h, h)
	run, out, params, xT := build(x1)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	first := out.Value().(*tensor.Dense)
	copy(xT.Float64s(), x2.Float64s())
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if out.Value().(*tensor.Dense) != first {
		t.Fatalf("the second run allocated a new output tensor")
	}
	freshRun, freshOut, freshParams, _ := build(x2)
	if err := freshRun(); err != nil {
		t.Fatal(err)
	}
	same := func(what string, a, b G.Value) {
		t.Helper()
		for i, v := range a.Data().([]float64) {
			if v != b.Data().([]float64)[i] {
				t.Fatalf("%s element %d: %g after reuse, %g fresh", what, i, v, b.Data().([]float64)[i])
			}
		}
	}
	same("output", out.Value(), freshOut.Value())
	for i := range params {
		g1, err1 := params[i].Grad()
		g2, err2 := freshParams[i].Grad()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		same("gradient of "+params[i].Name(), g1, g2)
	}
}

func TestConv2dShapeErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 3, 3), G.WithName("x"))
	cases := []struct {
		name    string
		w       *G.Node
		stride  int
		pad     int
		wantErr string
	}{
		{"channels", G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 3, 3, 3), G.WithName("w1")), 1, 1,
			"conv: input has 2 channels, kernel (4, 3, 3, 3) expects 3"},
		{"not square", G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 2, 3, 2), G.WithName("w2")), 1, 1,
			"conv: kernel (4, 2, 3, 2) must be square"},
		{"stride", G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 2, 3, 3), G.WithName("w3")), 0, 1,
			"conv: kernel 3, stride 0, pad 1: kernel and stride must be positive, pad non-negative"},
		{"too big", G.NewTensor(g, tensor.Float64, 4, G.WithShape(4, 2, 5, 5), G.WithName("w4")), 1, 0,
			"conv: input (1, 2, 3, 3) with kernel 5 and pad 0 gives an empty output"},
		{"not 4-D", G.NewTensor(g, tensor.Float64, 2, G.WithShape(4, 2), G.WithName("w5")), 1, 0,
			"conv: input (1, 2, 3, 3) and kernel (4, 2) must both be 4-D"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Conv2d(x, c.w, c.stride, c.pad)
			if err == nil || err.Error() != c.wantErr {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}
