package nets_test

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/internal/gradtest"
)

func TestLosses(t *testing.T) {
	logits := []float64{-200, -3, -0.4, 0.7, 5, 200}
	targets := []float64{0.01, 0.005, 1, 0.99, 0, 1}
	// −[t·log σ(l) + (1−t)·log(1−σ(l))], in a form that is exact for large |l|
	var bce, hReal, hFake float64
	for i, l := range logits {
		logSig := -math.Log1p(math.Exp(-math.Abs(l))) + math.Min(l, 0)  // log σ(l)
		logOne := -math.Log1p(math.Exp(-math.Abs(l))) + math.Min(-l, 0) // log(1−σ(l))
		bce -= targets[i]*logSig + (1-targets[i])*logOne
		hReal += math.Max(0, 1-l)
		hFake += math.Max(0, 1+l)
	}
	n := float64(len(logits))
	bce, hReal, hFake = bce/n, hReal/n, hFake/n
	g := G.NewGraph()
	ln := gradtest.Bound(g, "l", tensor.New(tensor.WithShape(len(logits)), tensor.WithBacking(logits)))
	tn := gradtest.Bound(g, "t", tensor.New(tensor.WithShape(len(logits)), tensor.WithBacking(targets)))
	b := G.Must(nets.BCEWithLogits(ln, tn))
	hr, hf := G.Must(nets.HingeLoss(ln, true)), G.Must(nets.HingeLoss(ln, false))
	b0, b1 := G.Must(nets.BCEConst(ln, 0)), G.Must(nets.BCEConst(ln, 1))
	gradtest.RunGraph(t, g)
	var want0, want1 float64
	for _, l := range logits {
		want0 += math.Max(l, 0) + math.Log1p(math.Exp(-math.Abs(l)))
		want1 += math.Max(-l, 0) + math.Log1p(math.Exp(-math.Abs(l)))
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"bce", nets.ScalarOf(b.Value()), bce}, {"hinge real", nets.ScalarOf(hr.Value()), hReal}, {"hinge fake", nets.ScalarOf(hf.Value()), hFake},
		{"bce target 0", nets.ScalarOf(b0.Value()), want0 / n}, {"bce target 1", nets.ScalarOf(b1.Value()), want1 / n}} {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Fatalf("%s: %.12g, want %.12g", c.name, c.got, c.want)
		}
	}
	if _, err := nets.BCEConst(ln, 0.5); err == nil || err.Error() != "bce: constant target 0.5 must be 0 or 1; use BCEWithLogits for soft targets" {
		t.Fatalf("error %v", err)
	}
	r := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		name string
		loss func(l, t *G.Node) (*G.Node, error)
	}{
		{"bce", nets.BCEWithLogits},
		{"hinge real", func(l, _ *G.Node) (*G.Node, error) { return nets.HingeLoss(l, true) }},
		{"hinge fake", func(l, _ *G.Node) (*G.Node, error) { return nets.HingeLoss(l, false) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			gradtest.GradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
				lv := gradtest.RandDense(r, 8)
				for i := range lv.Float64s() {
					lv.Float64s()[i] *= 3 // spans the hinge's kinks at ±1, kept off them below
					if math.Abs(math.Abs(lv.Float64s()[i])-1) < 0.05 {
						lv.Float64s()[i] += 0.1
					}
				}
				tv := tensor.New(tensor.WithShape(8), tensor.WithBacking([]float64{0, 0.01, 1, 0.99, 0.3, 0, 1, 0.005}))
				ln := gradtest.Bound(g, "l", lv)
				return G.Must(c.loss(ln, gradtest.Bound(g, "t", tv))), []*G.Node{ln}, []*tensor.Dense{lv}
			})
		})
	}
}

// MaskedL1 is Σ|m⊙(x−x̂)| / Σm, by hand.
func TestMaskedL1(t *testing.T) {
	x := []float64{0.5, 0.2, 0.9, 0.0}
	rec := []float64{0.1, 0.6, 0.2, 0.7}
	mask := []float64{1, 1, 0, 1}
	g := G.NewGraph()
	dense := func(v []float64) *tensor.Dense {
		return tensor.New(tensor.WithShape(1, 1, 2, 2), tensor.WithBacking(v))
	}
	l := G.Must(nets.MaskedL1(gradtest.Bound(g, "x", dense(x)), gradtest.Bound(g, "r", dense(rec)), gradtest.Bound(g, "m", dense(mask))))
	gradtest.RunGraph(t, g)
	if got, want := nets.ScalarOf(l.Value()), (0.4+0.4+0.7)/3; math.Abs(got-want) > 1e-12 {
		t.Fatalf("masked L1 %.15g, want %.15g", got, want)
	}
}
