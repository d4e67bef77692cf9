package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveMBD is Salimans et al.'s definition written out directly.
func naiveMBD(f, T []float64, n, a, b, c int) []float64 {
	m := make([]float64, n*b*c)
	for i := 0; i < n; i++ {
		for q := 0; q < b*c; q++ {
			for k := 0; k < a; k++ {
				m[i*b*c+q] += f[i*a+k] * T[k*b*c+q]
			}
		}
	}
	out := make([]float64, n*(a+b))
	for i := 0; i < n; i++ {
		copy(out[i*(a+b):], f[i*a:(i+1)*a])
		for kb := 0; kb < b; kb++ {
			var s float64
			for j := 0; j < n; j++ {
				if j == i {
					continue
				}
				var l1 float64
				for q := 0; q < c; q++ {
					l1 += math.Abs(m[(i*b+kb)*c+q] - m[(j*b+kb)*c+q])
				}
				s += math.Exp(-l1)
			}
			out[i*(a+b)+a+kb] = s
		}
	}
	return out
}

func TestMinibatchDiscrimination(t *testing.T) {
	const n, a, b, c = 4, 3, 2, 3
	r := rand.New(rand.NewSource(2))
	f, T := gradtest.RandDense(r, n, a), gradtest.RandDense(r, a, b*c)
	g := G.NewGraph()
	out := G.Must(MinibatchDiscrimination(gradtest.Bound(g, "f", f), gradtest.Bound(g, "T", T), b, c))
	gradtest.RunGraph(t, g)
	if !out.Shape().Eq(tensor.Shape{n, a + b}) {
		t.Fatalf("shape %v", out.Shape())
	}
	want := naiveMBD(f.Float64s(), T.Float64s(), n, a, b, c)
	for i, v := range out.Value().Data().([]float64) {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Fatalf("output %d: %g, want %g", i, v, want[i])
		}
	}
	gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		fv, tv := gradtest.RandDense(r, n, a), gradtest.RandDense(r, a, b*c)
		fn, tn := gradtest.Bound(g, "f", fv), gradtest.Bound(g, "T", tv)
		y := G.Must(MinibatchDiscrimination(fn, tn, b, c))
		return weighted(t, g, y, r), []*G.Node{fn, tn}, []*tensor.Dense{fv, tv}
	})
	_, err := MinibatchDiscrimination(gradtest.Bound(G.NewGraph(), "f", f), gradtest.Bound(G.NewGraph(), "T", gradtest.RandDense(r, a, 5)), b, c)
	if err == nil || err.Error() != "minibatch discrimination: features (4, 3) and T (3, 5) do not fit 2 kernels of 3 dimensions (want (N, A) and (A, 6))" {
		t.Fatalf("error %v", err)
	}
}
