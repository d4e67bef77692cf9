package nets

import (
	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gradCheck builds a float64 graph from bound input tensors, runs it once
// for the analytic gradients of cost with respect to wrt, then compares
// every entry against central differences obtained by perturbing the bound
// tensors in place and rerunning the machine.
func gradCheck(t *testing.T, build func(g *G.ExprGraph) (cost *G.Node, wrt []*G.Node, data []*tensor.Dense)) {
	t.Helper()
	g := G.NewGraph()
	cost, wrt, data := build(g)
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer vm.Close()
	run := func() float64 {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return cost.Value().Data().(float64)
	}
	run()
	// read every gradient before rerunning: some ops accumulate into it
	analytics := make([][]float64, len(wrt))
	for k, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		analytics[k] = append([]float64(nil), gv.Data().([]float64)...)
	}
	for k, n := range wrt {
		analytic := analytics[k]
		d := data[k].Float64s()
		for i := range d {
			num := centralDiff(run, d, i)
			if math.Abs(num-analytic[i]) > 1e-6+1e-5*math.Abs(num) {
				t.Fatalf("d cost/d %s[%d]: analytic %.9g, numerical %.9g", n.Name(), i, analytic[i], num)
			}
		}
	}
}

func bound(g *G.ExprGraph, name string, v *tensor.Dense) *G.Node {
	return G.NewTensor(g, tensor.Float64, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
}

// weighted is Σ y⊙r for a fixed random r, so every output element matters.
func weighted(t *testing.T, g *G.ExprGraph, y *G.Node, r *rand.Rand) *G.Node {
	t.Helper()
	rw := randDense(r, y.Shape()...)
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
	gradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		xv := awayFromZero(randDense(r, 2, 3, 4, 4))
		xn := bound(g, "x", xv)
		y := G.Must(LeakyReLU(xn, 0.2))
		return weighted(t, g, y, r), []*G.Node{xn}, []*tensor.Dense{xv}
	})
}

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
	f, T := randDense(r, n, a), randDense(r, a, b*c)
	g := G.NewGraph()
	out := G.Must(MinibatchDiscrimination(bound(g, "f", f), bound(g, "T", T), b, c))
	runGraph(t, g)
	if !out.Shape().Eq(tensor.Shape{n, a + b}) {
		t.Fatalf("shape %v", out.Shape())
	}
	want := naiveMBD(f.Float64s(), T.Float64s(), n, a, b, c)
	for i, v := range out.Value().Data().([]float64) {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Fatalf("output %d: %g, want %g", i, v, want[i])
		}
	}
	gradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		fv, tv := randDense(r, n, a), randDense(r, a, b*c)
		fn, tn := bound(g, "f", fv), bound(g, "T", tv)
		y := G.Must(MinibatchDiscrimination(fn, tn, b, c))
		return weighted(t, g, y, r), []*G.Node{fn, tn}, []*tensor.Dense{fv, tv}
	})
	_, err := MinibatchDiscrimination(bound(G.NewGraph(), "f", f), bound(G.NewGraph(), "T", randDense(r, a, 5)), b, c)
	if err == nil || err.Error() != "minibatch discrimination: features (4, 3) and T (3, 5) do not fit 2 kernels of 3 dimensions (want (N, A) and (A, 6))" {
		t.Fatalf("error %v", err)
	}
}

// The power iteration converges to the largest singular value that gonum's
// SVD computes, and SpectralNorm divides by uᵀWv.
func TestSpectralNorm(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	w := randDense(r, 5, 2, 2, 2)
	s := newSNState(tensor.Float64, "w", w.Shape(), r)
	for i := 0; i < 200; i++ {
		powerIterate(w, s)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(5, 8, w.Float64s()), mat.SVDNone) {
		t.Fatal("svd failed")
	}
	want := svd.Values(nil)[0]
	g := G.NewGraph()
	wn := bound(g, "w", w)
	out := G.Must(SpectralNorm(wn, bound(g, "u", s.u), bound(g, "v", s.v)))
	runGraph(t, g)
	for i, v := range out.Value().Data().([]float64) {
		if got := w.Float64s()[i] / v; math.Abs(got-want) > 1e-9*want {
			t.Fatalf("element %d divided by %g, want σ_max %g", i, got, want)
		}
	}
	// Gradient through σ, with u and v held fixed as in training.
	gradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
		wv := randDense(r, 3, 2, 2, 2)
		st := newSNState(tensor.Float64, "w", wv.Shape(), r)
		powerIterate(wv, st)
		wn := bound(g, "w", wv)
		y := G.Must(SpectralNorm(wn, bound(g, "u", st.u), bound(g, "v", st.v)))
		return weighted(t, g, y, r), []*G.Node{wn}, []*tensor.Dense{wv}
	})
	_, err := SpectralNorm(wn, bound(g, "u2", randDense(r, 4)), bound(g, "v2", s.v))
	if err == nil || err.Error() != "spectral norm: weight (5, 2, 2, 2) needs u of shape (5) and v of shape (8), got (4) and (8)" {
		t.Fatalf("error %v", err)
	}
}

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
	ln := bound(g, "l", tensor.New(tensor.WithShape(len(logits)), tensor.WithBacking(logits)))
	tn := bound(g, "t", tensor.New(tensor.WithShape(len(logits)), tensor.WithBacking(targets)))
	b := G.Must(BCEWithLogits(ln, tn))
	hr, hf := G.Must(HingeLoss(ln, true)), G.Must(HingeLoss(ln, false))
	b0, b1 := G.Must(bceConst(ln, 0)), G.Must(bceConst(ln, 1))
	runGraph(t, g)
	var want0, want1 float64
	for _, l := range logits {
		want0 += math.Max(l, 0) + math.Log1p(math.Exp(-math.Abs(l)))
		want1 += math.Max(-l, 0) + math.Log1p(math.Exp(-math.Abs(l)))
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"bce", scalarOf(b.Value()), bce}, {"hinge real", scalarOf(hr.Value()), hReal}, {"hinge fake", scalarOf(hf.Value()), hFake},
		{"bce target 0", scalarOf(b0.Value()), want0 / n}, {"bce target 1", scalarOf(b1.Value()), want1 / n}} {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Fatalf("%s: %.12g, want %.12g", c.name, c.got, c.want)
		}
	}
	if _, err := bceConst(ln, 0.5); err == nil || err.Error() != "bce: constant target 0.5 must be 0 or 1; use BCEWithLogits for soft targets" {
		t.Fatalf("error %v", err)
	}
	r := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		name string
		loss func(l, t *G.Node) (*G.Node, error)
	}{
		{"bce", BCEWithLogits},
		{"hinge real", func(l, _ *G.Node) (*G.Node, error) { return HingeLoss(l, true) }},
		{"hinge fake", func(l, _ *G.Node) (*G.Node, error) { return HingeLoss(l, false) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			gradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
				lv := randDense(r, 8)
				for i := range lv.Float64s() {
					lv.Float64s()[i] *= 3 // spans the hinge's kinks at ±1, kept off them below
					if math.Abs(math.Abs(lv.Float64s()[i])-1) < 0.05 {
						lv.Float64s()[i] += 0.1
					}
				}
				tv := tensor.New(tensor.WithShape(8), tensor.WithBacking([]float64{0, 0.01, 1, 0.99, 0.3, 0, 1, 0.005}))
				ln := bound(g, "l", lv)
				return G.Must(c.loss(ln, bound(g, "t", tv))), []*G.Node{ln}, []*tensor.Dense{lv}
			})
		})
	}
}

func TestScoreSpread(t *testing.T) {
	s := ScoreSpread(map[string][]float64{
		"flat":  {0.5, 0.5, 0.5},
		"tiny":  {0.6064261, 0.6064260, 0.6064261},
		"wide":  {1, 2, 3, 4},
		"nan":   {math.NaN(), 1, 1},
		"empty": nil,
	})
	w := s["wide"]
	if w.N != 4 || w.Min != 1 || w.Max != 4 || w.Mean != 2.5 || w.Distinct != 4 || math.Abs(w.Std-math.Sqrt(5.0/3)) > 1e-15 {
		t.Fatalf("wide spread %+v", w)
	}
	if s["nan"].NaN != 1 || s["nan"].Distinct != 1 {
		t.Fatalf("nan spread %+v", s["nan"])
	}
	for _, c := range []struct {
		name string
		tol  float64
		want bool
	}{{"flat", 0, true}, {"tiny", 1e-6, true}, {"tiny", 1e-8, false}, {"wide", 0.5, false}, {"nan", 0, true}, {"empty", 0, true}} {
		if got := s[c.name].Constant(c.tol); got != c.want {
			t.Fatalf("%s Constant(%g) = %v, want %v (%+v)", c.name, c.tol, got, c.want, s[c.name])
		}
	}
	got := CollapsedScores(map[string][]float64{"a": {1, 1}, "b": {1, 2}, "c": {3}}, 1e-9)
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("collapsed %v, want [a c]", got)
	}
}
