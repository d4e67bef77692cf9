package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

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
