package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnCase is one geometry for the BatchNorm2d tests.
type bnCase struct {
	name       string
	n, c, h, w int
}

// bnCases: feature maps, a 1×1 map (the BAE's bottleneck) and one large
// enough for the per-channel loops to run in parallel.
var bnCases = []bnCase{
	{"3x4x5", 3, 4, 5, 3},
	{"1x1", 5, 3, 1, 1},
	{"parallel", 4, 3, 64, 64},
}

// bnRun is what one run of a BatchNorm graph gives: the output, the
// gradients of Σ y⊙r with respect to x, scale and bias, and the running
// statistics afterwards.
type bnRun struct {
	y, dx, ds, db []float64
	mean, vari    []float64
}

// runBN builds y = BN(x, scale, bias) (then ReLU, with relu) either with
// BatchNorm2d or as Gorgonia's composition (G.BatchNorm then G.Rectify),
// starts the running statistics at mean0, var0, and runs it once in
// training or, with eval, in inference mode.
func runBN(t *testing.T, fused, relu, eval bool, x, scale, bias, r, mean0, var0 *tensor.Dense) bnRun {
	t.Helper()
	g := G.NewGraph()
	node := func(v *tensor.Dense, name string) *G.Node {
		return G.NewTensor(g, tensor.Float64, 4, G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v.Clone()))
	}
	xn, sn, bn := node(x, "x"), node(scale, "scale"), node(bias, "bias")
	var y *G.Node
	var stats interface {
		SetStats(m, v tensor.Tensor) error
		Stats() (tensor.Tensor, tensor.Tensor)
	}
	var err error
	if fused {
		var layer *BatchNorm
		y, layer, err = BatchNorm2d(xn, sn, bn, relu)
		stats = layer
	} else {
		var op *G.BatchNormOp
		y, _, _, op, err = G.BatchNorm(xn, sn, bn, BNMomentum, BNEpsilon)
		if err == nil && relu {
			y, err = G.Rectify(y)
		}
		stats = op
	}
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, G.NodeFromAny(g, r, G.WithName("r"))))))
	if _, err := G.Grad(cost, xn, sn, bn); err != nil {
		t.Fatal(err)
	}
	opts := []G.VMOpt{G.BindDualValues(xn, sn, bn)}
	if eval {
		opts = append(opts, G.EvalMode())
	}
	vm := G.NewTapeMachine(g, opts...)
	defer vm.Close()
	// after NewTapeMachine, which resets Gorgonia's statistics
	if err := stats.SetStats(mean0, var0); err != nil {
		t.Fatal(err)
	}
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	grad := func(n *G.Node) []float64 {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), gv.Data().([]float64)...)
	}
	m, v := stats.Stats()
	return bnRun{y: append([]float64(nil), y.Value().Data().([]float64)...),
		dx: grad(xn), ds: grad(sn), db: grad(bn),
		mean: append([]float64(nil), m.Data().([]float64)...), vari: append([]float64(nil), v.Data().([]float64)...)}
}

// bnInputs draws x (shifted per channel so the means differ), scale, bias,
// the cost weights r and non-trivial running statistics.
func bnInputs(r *rand.Rand, c bnCase) (x, scale, bias, rw, mean0, var0 *tensor.Dense) {
	x = gradtest.RandDense(r, c.n, c.c, c.h, c.w)
	p := c.h * c.w
	for i, d := 0, x.Float64s(); i < len(d); i++ {
		d[i] = 2*d[i] + float64((i/p)%c.c) - 1
	}
	scale, bias = gradtest.RandDense(r, 1, c.c, 1, 1), gradtest.RandDense(r, 1, c.c, 1, 1)
	rw = gradtest.RandDense(r, c.n, c.c, c.h, c.w)
	mean0 = gradtest.RandDense(r, c.c)
	var0 = gradtest.RandDense(r, c.c)
	for i, v := range var0.Float64s() {
		var0.Float64s()[i] = 0.5 + math.Abs(v)
	}
	return
}

func bnCaseName(c bnCase, relu, eval bool) string {
	name := c.name
	if relu {
		name += "/relu"
	}
	if eval {
		name += "/eval"
	}
	return name
}

func closeSlices(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d]: %.12g, want %.12g", what, i, got[i], want[i])
		}
	}
}

// Values, gradients and running statistics against Gorgonia's unfused
// BatchNorm (+ Rectify) in float64, in training mode; in inference mode the
// values and the unchanged statistics (Gorgonia's inference gradient is
// not a reference: its 2-D path reads the variance as the mean).
func TestBatchNorm2dMatchesGorgonia(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, c := range bnCases {
		x, scale, bias, rw, mean0, var0 := bnInputs(r, c)
		for _, relu := range []bool{false, true} {
			for _, eval := range []bool{false, true} {
				t.Run(bnCaseName(c, relu, eval), func(t *testing.T) {
					got := runBN(t, true, relu, eval, x, scale, bias, rw, mean0, var0)
					want := runBN(t, false, relu, eval, x, scale, bias, rw, mean0, var0)
					closeSlices(t, "y", got.y, want.y, 1e-12)
					closeSlices(t, "running mean", got.mean, want.mean, 1e-12)
					closeSlices(t, "running variance", got.vari, want.vari, 1e-12)
					if eval {
						closeSlices(t, "running mean", got.mean, mean0.Float64s(), 0)
						closeSlices(t, "running variance", got.vari, var0.Float64s(), 0)
						return
					}
					closeSlices(t, "d scale", got.ds, want.ds, 1e-10)
					closeSlices(t, "d bias", got.db, want.db, 1e-10)
					closeSlices(t, "dx", got.dx, want.dx, 1e-10)
					if relu {
						for i, v := range got.y {
							if v < 0 {
								t.Fatalf("y[%d] = %g after ReLU", i, v)
							}
						}
					}
				})
			}
		}
	}
}

// The gradients of Σ y⊙r with respect to x, scale and bias against central
// differences of the op's own forward pass, in training (the batch
// statistics depend on x) and in inference mode.
func TestBatchNorm2dNumericalGradient(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, c := range bnCases {
		x, scale, bias, rw, mean0, var0 := bnInputs(r, c)
		for _, relu := range []bool{false, true} {
			for _, eval := range []bool{false, true} {
				t.Run(bnCaseName(c, relu, eval), func(t *testing.T) {
					got := runBN(t, true, relu, eval, x, scale, bias, rw, mean0, var0)
					xv, sv, bv := x.Clone().(*tensor.Dense), scale.Clone().(*tensor.Dense), bias.Clone().(*tensor.Dense)
					bn := newBatchNorm(tensor.Float64, c.c, relu)
					bn.training = !eval
					op := bnOp{bn: bn}
					loss := func() float64 {
						if err := bn.SetStats(mean0, var0); err != nil {
							t.Fatal(err)
						}
						y, err := op.Do(xv, sv, bv)
						if err != nil {
							t.Fatal(err)
						}
						return dot(y.(*tensor.Dense).Float64s(), rw.Float64s())
					}
					for _, p := range []struct {
						name     string
						v        *tensor.Dense
						analytic []float64
					}{{"x", xv, got.dx}, {"scale", sv, got.ds}, {"bias", bv, got.db}} {
						data := p.v.Float64s()
						step := max(1, len(data)/61)
						for i := 0; i < len(data); i += step {
							num := gradtest.CentralDiff(loss, data, i)
							if math.Abs(num-p.analytic[i]) > 1e-6*math.Max(1, math.Abs(num)) {
								t.Fatalf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", p.name, i, p.analytic[i], num)
							}
						}
					}
				})
			}
		}
	}
}

// A second run of a machine on new input writes into the same output and
// gradient tensors and gives exactly what a fresh graph gives.
func TestBatchNorm2dBuffersReusedAcrossRuns(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	c := bnCases[0]
	x1, scale, bias, rw, mean0, var0 := bnInputs(r, c)
	x2, _, _, _, _, _ := bnInputs(r, c)

	g := G.NewGraph()
	xT := x1.Clone().(*tensor.Dense)
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(xT.Shape()...), G.WithName("x"), G.WithValue(xT))
	sn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(scale.Shape()...), G.WithName("scale"), G.WithValue(scale.Clone()))
	bnn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(bias.Shape()...), G.WithName("bias"), G.WithValue(bias.Clone()))
	y, layer, err := BatchNorm2d(xn, sn, bnn, true)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, G.NodeFromAny(g, rw, G.WithName("r"))))))
	grads, err := G.Grad(cost, xn, sn, bnn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(xn, sn, bnn))
	defer vm.Close()
	nodes := G.Nodes{xn, sn, bnn}
	run := func() {
		if err := layer.SetStats(mean0, var0); err != nil {
			t.Fatal(err)
		}
		ZeroGrads(nodes)
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	run()
	firstY, firstDX := y.Value().(*tensor.Dense), grads[0].Value().(*tensor.Dense)
	copy(xT.Float64s(), x2.Float64s())
	run()
	if y.Value().(*tensor.Dense) != firstY || grads[0].Value().(*tensor.Dense) != firstDX {
		t.Fatalf("the second run allocated a new output or input gradient")
	}
	fresh := runBN(t, true, true, false, x2, scale, bias, rw, mean0, var0)
	closeSlices(t, "y", y.Value().Data().([]float64), fresh.y, 0)
	for i, want := range [][]float64{fresh.dx, fresh.ds, fresh.db} {
		gv, err := nodes[i].Grad()
		if err != nil {
			t.Fatal(err)
		}
		closeSlices(t, "gradient of "+nodes[i].Name(), gv.Data().([]float64), want, 0)
	}
	m, v := layer.Stats()
	closeSlices(t, "running mean", m.Data().([]float64), fresh.mean, 0)
	closeSlices(t, "running variance", v.Data().([]float64), fresh.vari, 0)
}

func TestBatchNorm2dErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 4, 4), G.WithName("x"))
	x3 := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 3, 4), G.WithName("x3"))
	ok := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 3, 1, 1), G.WithName("ok"))
	wide := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 4, 1, 1), G.WithName("wide"))
	for _, tc := range []struct {
		name    string
		x, s, b *G.Node
		want    string
	}{
		{"3-D input", x3, ok, ok, "batchnorm: input (2, 3, 4) must be 4-D (N, C, H, W)"},
		{"scale", x, wide, ok, "batchnorm: scale has shape (1, 4, 1, 1), want (1, 3, 1, 1) for input (2, 3, 4, 4)"},
		{"bias", x, ok, wide, "batchnorm: bias has shape (1, 4, 1, 1), want (1, 3, 1, 1) for input (2, 3, 4, 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := BatchNorm2d(tc.x, tc.s, tc.b, false); err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// one value per channel: no batch variance to train with
	bn := newBatchNorm(tensor.Float64, 3, false)
	one := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(1, 3, 1, 1))
	p := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(1, 3, 1, 1))
	want := "BatchNorm2d{relu=false}: input (1, 3, 1, 1) has 1 value(s) per channel; training needs at least 2"
	if _, err := (bnOp{bn: bn}).Do(one, p, p); err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	bn.training = false
	if _, err := (bnOp{bn: bn}).Do(one, p, p); err != nil {
		t.Fatalf("inference on one value per channel: %v", err)
	}
	want = "batchnorm: running mean is float64 (4), want float64 (3)"
	if err := bn.SetStats(tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(4)), bn.variance); err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// The float32 kernels (what the models train with) against a naive
// float64 computation of BatchNorm2d + ReLU and its gradient on the same
// values: two-pass statistics, x̂, and dx = s/σ·(dz − mean(dz) −
// x̂·mean(dz·x̂)). One channel sits far from zero (mean 1000, σ ≈ 1): its
// statistics must still come out right; y = a·x + b itself then cancels
// in float32 (a·x ≈ −b ≈ 2000), so y is held to float32's rounding of
// those terms.
func TestBatchNorm2dFloat32MatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	n, c, p := 3, 4, 37
	x, dy := make([]float32, n*c*p), make([]float32, n*c*p)
	for i := range x {
		ci := (i / p) % c
		x[i] = float32(r.NormFloat64()*float64(ci+1)*0.5 + float64(ci) - 1)
		if ci == 3 {
			x[i] = float32(1000 + r.NormFloat64())
		}
		dy[i] = float32(r.NormFloat64())
	}
	scale, bias := []float32{1.5, -0.7, 0.3, 2}, []float32{0.1, 0.4, -0.2, 0}
	for _, relu := range []bool{false, true} {
		bn := newBatchNorm(tensor.Float32, c, relu)
		runMean, runVar := make([]float32, c), []float32{1, 1, 1, 1}
		y, dx, ds, db := make([]float32, len(x)), make([]float32, len(x)), make([]float32, c), make([]float32, c)
		bnForward(bn, n, c, p, x, scale, bias, runMean, runVar, y)
		bnBackward(bn, n, c, p, x, y, dy, scale, dx, ds, db)
		m := float64(n * p)
		for ci := 0; ci < c; ci++ {
			at := func(i, j int) int { return (i*c+ci)*p + j }
			var mean, vr float64
			for i := 0; i < n; i++ {
				for j := 0; j < p; j++ {
					mean += float64(x[at(i, j)]) / m
				}
			}
			for i := 0; i < n; i++ {
				for j := 0; j < p; j++ {
					d := float64(x[at(i, j)]) - mean
					vr += d * d / m
				}
			}
			sigma := math.Sqrt(vr + BNEpsilon)
			if got, want := float64(runMean[ci]), BNMomentum*mean; math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Fatalf("relu %v channel %d: running mean %g, want %g", relu, ci, got, want)
			}
			if got, want := float64(runVar[ci]), 1-BNMomentum+BNMomentum*vr*m/(m-1); math.Abs(got-want) > 1e-4 {
				t.Fatalf("relu %v channel %d: running variance %g, want %g", relu, ci, got, want)
			}
			var mdz, mdzh, sdzh float64
			dz := func(i, j int) float64 {
				if relu && y[at(i, j)] == 0 {
					return 0
				}
				return float64(dy[at(i, j)])
			}
			for i := 0; i < n; i++ {
				for j := 0; j < p; j++ {
					h := (float64(x[at(i, j)]) - mean) / sigma
					want := float64(scale[ci])*h + float64(bias[ci])
					if relu {
						want = max(want, 0)
					}
					// float32 rounding of a·x and b, a few ulps each
					tol := 5e-7*(math.Abs(float64(scale[ci])/sigma*float64(x[at(i, j)]))+math.Abs(want)) + 1e-6
					if got := float64(y[at(i, j)]); math.Abs(got-want) > tol {
						t.Fatalf("relu %v y[%d,%d,%d] = %g, want %g", relu, i, ci, j, got, want)
					}
					mdz += dz(i, j) / m
					mdzh += dz(i, j) * h / m
					sdzh += dz(i, j) * h
				}
			}
			if got := float64(db[ci]); math.Abs(got-mdz*m) > 1e-4*math.Max(1, math.Abs(mdz*m)) {
				t.Fatalf("relu %v channel %d: d bias %g, want %g", relu, ci, got, mdz*m)
			}
			if got := float64(ds[ci]); math.Abs(got-sdzh) > 1e-3*math.Max(1, math.Abs(sdzh)) {
				t.Fatalf("relu %v channel %d: d scale %g, want %g", relu, ci, got, sdzh)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < p; j++ {
					h := (float64(x[at(i, j)]) - mean) / sigma
					want := float64(scale[ci]) / sigma * (dz(i, j) - mdz - h*mdzh)
					if got := float64(dx[at(i, j)]); math.Abs(got-want) > 1e-3*math.Max(1, math.Abs(want)) {
						t.Fatalf("relu %v dx[%d,%d,%d] = %g, want %g", relu, i, ci, j, got, want)
					}
				}
			}
		}
	}
}
