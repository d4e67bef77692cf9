// Package nettest holds what the tests and benchmarks of the models share:
// a synthetic batch, bit-for-bit score comparison, checkpoint round trips,
// numerical gradient checks over a parameter set and the training-step
// benchmark.
package nettest

import (
	"bytes"
	"math"
	"math/rand"
	"testing"
	"time"

	"xraylab/nets"
	"xraylab/nets/internal/gradtest"
)

// SynthBatch makes n size×size images: a bright disc (the "hand") on a
// dark background with noise, masked to the disc's bounding square.
func SynthBatch(r *rand.Rand, n, size int) *nets.Batch {
	b := &nets.Batch{N: n, H: size, W: size, Images: make([]float32, n*size*size), Masks: make([]float32, n*size*size)}
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

// TrainAndSave trains m for two steps on b, ends epoch epoch and returns
// the checkpoint Save writes.
func TrainAndSave(t testing.TB, m nets.Model, b *nets.Batch, epoch int) []byte {
	t.Helper()
	for i := 0; i < 2; i++ {
		if _, err := m.TrainStep(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.EndEpoch(epoch); err != nil {
		t.Fatal(err)
	}
	return Saved(t, m)
}

// Saved is what m.Save writes.
func Saved(t testing.TB, m nets.Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SameScores requires bit-identical scores and maps.
func SameScores(t testing.TB, a, b *nets.Scored) {
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

// ScoreSame scores test with a model and with its reloaded copy, requires
// bit-identical results (SameScores) and returns the first model's.
func ScoreSame(t testing.TB, orig, loaded nets.Model, test *nets.Batch) *nets.Scored {
	t.Helper()
	so, err := orig.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := loaded.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	SameScores(t, so, sl)
	return so
}

// TopBySelection is the mean of the k largest values, found by repeated
// selection rather than sorting.
func TopBySelection(v []float64, k int) float64 {
	v = append([]float64(nil), v...)
	if k > len(v) {
		k = len(v)
	}
	var s float64
	for n := 0; n < k; n++ {
		j := 0
		for q := range v {
			if v[q] > v[j] {
				j = q
			}
		}
		s += v[j]
		v[j] = math.Inf(-1)
	}
	return s / float64(k)
}

// CheckParamGradients compares perTensor random entries (drawn from r) of
// every float64 parameter tensor in ps with central differences of loss;
// grads holds the analytic gradients in ps's order. It returns how many
// entries it checked.
func CheckParamGradients(t *testing.T, ps *nets.ParamSet, grads [][]float64, loss func() float64, r *rand.Rand, perTensor int) int {
	t.Helper()
	checked := 0
	for pi, name := range ps.Names {
		data := ps.Vals[pi].Float64s()
		for j := 0; j < perTensor; j++ {
			i := r.Intn(len(data))
			num := gradtest.CentralDiff(loss, data, i)
			if d := math.Abs(num - grads[pi][i]); d > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", name, i, grads[pi][i], num)
			}
			if testing.Verbose() && j == 0 {
				t.Logf("%s[%d]: analytic %.6g numerical %.6g", name, i, grads[pi][i], num)
			}
			checked++
		}
	}
	return checked
}

// BenchTrainStep times m.TrainStep on batch after one untimed step that
// compiles the graphs, and reports ms/step besides ns/op. (No b.Helper:
// it added some 40 allocs/op to the figures this reports.)
func BenchTrainStep(b *testing.B, m nets.Model, batch *nets.Batch) {
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
