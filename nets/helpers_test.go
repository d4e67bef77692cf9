package nets

import (
	"bytes"
	"math"
	"math/rand"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Helpers shared by the package's tests and benchmarks.

// synthBatch makes n size×size images: a bright disc (the "hand") on a
// dark background with noise, masked to the disc's bounding square.
func synthBatch(r *rand.Rand, n, size int) *Batch {
	b := &Batch{N: n, H: size, W: size, Images: make([]float32, n*size*size), Masks: make([]float32, n*size*size)}
	for i := 0; i < n; i++ {
		cx, cy := float64(size)/2+r.Float64()*4-2, float64(size)/2+r.Float64()*4-2
		rad := float64(size) / 4
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				p := i*size*size + y*size + x
				d := math.Hypot(float64(x)-cx, float64(y)-cy)
				v := 0.1 + 0.05*r.Float64()
				if d < rad {
					v = 0.7 + 0.1*r.Float64()
				}
				b.Images[p] = float32(v)
				if math.Abs(float64(x)-cx) < rad+2 && math.Abs(float64(y)-cy) < rad+2 {
					b.Masks[p] = 1
				}
			}
		}
	}
	return b
}

// trainAndSave trains m for two steps on b, ends epoch epoch and returns
// the checkpoint Save writes.
func trainAndSave(t *testing.T, m Model, b *Batch, epoch int) []byte {
	t.Helper()
	for i := 0; i < 2; i++ {
		if _, err := m.TrainStep(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.EndEpoch(epoch); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameScores requires bit-identical scores and maps.
func sameScores(t *testing.T, a, b *Scored) {
	t.Helper()
	for name, va := range a.Scores {
		vb := b.Scores[name]
		for i := range va {
			if math.Float64bits(va[i]) != math.Float64bits(vb[i]) {
				t.Fatalf("score %s[%d]: %v vs %v", name, i, va[i], vb[i])
			}
		}
	}
	for i := range a.Maps {
		if a.Maps[i] != b.Maps[i] {
			t.Fatalf("map value %d: %v vs %v", i, a.Maps[i], b.Maps[i])
		}
	}
}

// scoreSame scores test with a model and with its reloaded copy, requires
// bit-identical results (sameScores) and returns the first model's.
func scoreSame(t *testing.T, orig, loaded Model, test *Batch) *Scored {
	t.Helper()
	so, err := orig.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := loaded.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, so, sl)
	return so
}

// benchTrainStep times m.TrainStep on batch after one untimed step that
// compiles the graphs, and reports ms/step besides ns/op. (No b.Helper:
// it added some 40 allocs/op to the figures this reports.)
func benchTrainStep(b *testing.B, m Model, batch *Batch) {
	if _, err := m.TrainStep(batch); err != nil { // compiles the graph
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/step")
}

// randDense is a float64 tensor of uniform values in [-1, 1).
func randDense(r *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i := range t.Float64s() {
		t.Float64s()[i] = r.Float64()*2 - 1
	}
	return t
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// centralDiff is the numerical derivative (f(v+ε) − f(v−ε)) / 2ε of f
// with respect to v = data[i], ε = 1e-6; data[i] is left as it was.
func centralDiff(f func() float64, data []float64, i int) float64 {
	const eps = 1e-6
	orig := data[i]
	data[i] = orig + eps
	up := f()
	data[i] = orig - eps
	down := f()
	data[i] = orig
	return (up - down) / (2 * eps)
}

// runGraph runs g once on a new tape machine, closed when the test ends.
func runGraph(t *testing.T, g *G.ExprGraph, opts ...G.VMOpt) {
	t.Helper()
	vm := G.NewTapeMachine(g, opts...)
	t.Cleanup(func() { vm.Close() })
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
}

// opLoss is Σ op(x, w) ⊙ rw, computed by the op's own Do: with a fixed
// random rw every output element matters.
func opLoss(t *testing.T, op G.Op, x, w, rw *tensor.Dense) func() float64 {
	return func() float64 {
		y, err := op.Do(x, w)
		if err != nil {
			t.Fatal(err)
		}
		return dot(y.(*tensor.Dense).Float64s(), rw.Float64s())
	}
}

// checkOpGradients builds cost = Σ apply(x, w) ⊙ rw as a graph, checks
// its value against loss (opLoss of the same op) within lossTol(loss), then
// its gradients with respect to x and w against central differences of
// loss: every element, or with spread > 0 about spread of them evenly
// apart in each tensor.
func checkOpGradients(t *testing.T, x, w, rw *tensor.Dense, apply func(x, w *G.Node) (*G.Node, error), loss func() float64, lossTol func(want float64) float64, spread int) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x))
	wn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(w.Shape()...), G.WithName("w"), G.WithValue(w))
	yn, err := apply(xn, wn)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(yn, G.NodeFromAny(g, rw, G.WithName("r"))))))
	if _, err := G.Grad(cost, xn, wn); err != nil {
		t.Fatal(err)
	}
	runGraph(t, g, G.BindDualValues(xn, wn))
	if got, want := cost.Value().Data().(float64), loss(); math.Abs(got-want) > lossTol(want) {
		t.Fatalf("graph loss %g, op loss %g", got, want)
	}
	for _, p := range []struct {
		name string
		v    *tensor.Dense
		n    *G.Node
	}{{"x", x, xn}, {"w", w, wn}} {
		gv, err := p.n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		analytic := gv.Data().([]float64)
		data := p.v.Float64s()
		step := 1
		if spread > 0 {
			step = max(1, len(data)/spread)
		}
		for i := 0; i < len(data); i += step {
			num := centralDiff(loss, data, i)
			if math.Abs(num-analytic[i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", p.name, i, analytic[i], num)
			}
		}
	}
}
