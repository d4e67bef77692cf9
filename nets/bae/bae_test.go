package bae

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/internal/gradtest"
	"xraylab/nets/internal/nettest"
	"xraylab/nets/ops"
)

func tinyBAE(t testing.TB, seed int64, size int, width float64, dt tensor.Dtype) *ae.Model {
	t.Helper()
	m, err := newBAE(nets.Config{Size: size, TopK: []int{5, 50}, Params: map[string]float64{"width": width, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(seed))}, dt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The authors' BAE at 512 px and the scaled layouts: stage kernels,
// strides and channels, and a trace of the sides down to 1×1 and back.
func TestBAEArchitecture(t *testing.T) {
	cases := []struct {
		size  int
		width float64
		want  []baeStage
	}{
		{512, 1, []baeStage{{3, 1, 16}, {4, 2, 32}, {4, 2, 64}, {4, 2, 128}, {4, 2, 256}}},
		{128, 1, []baeStage{{3, 1, 32}, {4, 2, 64}, {4, 2, 128}, {4, 2, 256}}},
		{64, 1, []baeStage{{3, 1, 32}, {4, 2, 64}, {4, 2, 128}, {3, 1, 256}}},
		{64, 0.25, []baeStage{{3, 1, 8}, {4, 2, 16}, {4, 2, 32}, {3, 1, 64}}},
		{16, 0.125, []baeStage{{3, 1, 8}, {4, 2, 16}, {3, 1, 32}}},
		{8, 1, []baeStage{{3, 1, 128}, {4, 2, 256}}},
	}
	for _, c := range cases {
		got, err := baeStages(c.size, c.width)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("size %d: stages %v, want %v", c.size, got, c.want)
		}
		h := c.size
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("size %d width %g: stages %v, want %v", c.size, c.width, got, c.want)
			}
			h = ((h+2-got[i].k)/got[i].s + 1) / 2 // conv with padding 1, then 2×2 pooling
		}
		if h != 1 {
			t.Fatalf("size %d: encoder ends at %dx%d, want the 1x1 bottleneck", c.size, h, h)
		}
	}

	// The built graph: every pooling output down to 1×1, every unpooling
	// back up, and a full-size reconstruction.
	m := tinyBAE(t, 1, 16, 0.125, tensor.Float32)
	gn := nets.NewGraphNet(m.PS)
	x := G.NewTensor(gn.Graph, tensor.Float32, 4, G.WithShape(2, 1, 16, 16), G.WithName("x"), G.WithInit(G.Zeroes()))
	recon, err := m.Forward(gn, x)
	if err != nil {
		t.Fatal(err)
	}
	if !recon.Shape().Eq(tensor.Shape{2, 1, 16, 16}) {
		t.Fatalf("reconstruction shape %v", recon.Shape())
	}
	var pooled, unpooled []string
	for _, n := range gn.Graph.AllNodes() {
		switch op := n.Op(); {
		case op == nil:
		case strings.HasPrefix(op.String(), "MaxPool2d{"):
			pooled = append(pooled, fmt.Sprint(n.Shape()))
		case strings.HasPrefix(op.String(), "MaxUnpool2d{"):
			unpooled = append(unpooled, fmt.Sprint(n.Shape()))
		}
	}
	if got, want := strings.Join(pooled, " "), "(2, 8, 8, 8) (2, 16, 2, 2) (2, 32, 1, 1)"; got != want {
		t.Fatalf("pooled shapes %s, want %s", got, want)
	}
	if got, want := strings.Join(unpooled, " "), "(2, 32, 2, 2) (2, 16, 4, 4) (2, 8, 16, 16)"; got != want {
		t.Fatalf("unpooled shapes %s, want %s", got, want)
	}
	if len(gn.BNOps) != len(m.Stats) || len(m.Stats) != 3+1+3 {
		t.Fatalf("%d BatchNorm ops, %d statistics; want 3 stages + bottleneck + 3 decoder", len(gn.BNOps), len(m.Stats))
	}
}

// The decoder places values with the encoder's own indices: the last
// unpooled map is zero everywhere except at the stored argmax positions of
// the first pooling, one per window.
func TestBAEUnpoolsAtStoredMaxima(t *testing.T) {
	m := tinyBAE(t, 3, 16, 0.125, tensor.Float64)
	gn := nets.NewGraphNet(m.PS)
	b := nettest.SynthBatch(rand.New(rand.NewSource(4)), 2, 16)
	xT := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2, 1, 16, 16))
	nets.SetInput(xT, b.Images)
	x := G.NewTensor(gn.Graph, tensor.Float64, 4, G.WithShape(2, 1, 16, 16), G.WithName("x"), G.WithValue(xT))
	if _, err := m.Forward(gn, x); err != nil {
		t.Fatal(err)
	}
	var last *G.Node
	var idx *ops.PoolIndices
	for _, n := range gn.Graph.AllNodes() {
		if op, ok := n.Op().(interface{ PoolIndices() *ops.PoolIndices }); ok {
			last, idx = n, op.PoolIndices() // the last unpooling, back to 16×16
		}
	}
	var out G.Value
	G.Read(last, &out)
	if err := gn.LoadStats(m.Stats); err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, gn.Graph, G.EvalMode())
	vals := out.Data().([]float64)
	at := map[int]bool{}
	inShape, outShape := idx.InputShape(), idx.OutputShape()
	hw, ohw := inShape[2]*inShape[3], outShape[2]*outShape[3]
	for j, k := range idx.Indices() {
		at[(j/ohw)*hw+int(k)] = true
	}
	if len(at) != outShape.TotalSize() {
		t.Fatalf("%d distinct maxima for %d windows", len(at), outShape.TotalSize())
	}
	for i, v := range vals {
		if !at[i] && v != 0 {
			t.Fatalf("unpooled value %g at %d, which is no window's maximum", v, i)
		}
	}
}

// Gradients of the masked MSE through convolutions, max pooling with
// indices, BatchNorm, Tanh, the 1×1 bottleneck, unpooling, transposed
// convolutions and Sigmoid, against central differences in float64.
func TestBAENumericalGradient(t *testing.T) {
	m := tinyBAE(t, 5, 16, 0.125, tensor.Float64)
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	nettest.CheckAEGradients(t, m, b, rand.New(rand.NewSource(10)), 3)
}
