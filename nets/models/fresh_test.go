package models_test

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

// Models built one after another in one process with the same seed train
// bit-identically: the same losses at every step and the same checkpoint
// after them. A process that trains several runs (the local runner, a
// worker) must not carry anything from one model into the next: a shared
// buffer, a pool's stale contents, a cache keyed by shape.
func TestFreshModelsTrainIdentically(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
		mbd  bool
	}{{"dcgan", 16, true}, {"dcgan", 32, true}, {"bigan", 16, false}, {"bigan", 32, false}, {"alphagan", 16, true}, {"alphagan", 32, true}} {
		t.Run(fmt.Sprintf("%s/%d", c.name, c.size), func(t *testing.T) {
			const models, steps = 4, 4
			b := nettest.SynthBatch(rand.New(rand.NewSource(7)), 4, c.size)
			var first [][]float64
			var firstFile []byte
			var shift [][]float32
			for mi := 0; mi < models; mi++ {
				// move the next allocations by a few bytes, as other work
				// between two runs of a process would
				shift = append(shift, make([]float32, 1+2*mi))
				m, err := nets.New(c.name, nets.Config{Size: c.size, Params: nettest.TinyGANParams(c.mbd), Rand: rand.New(rand.NewSource(42))})
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := m.(nets.Referenced); ok {
					if err := r.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(77)), 3, c.size)); err != nil {
						t.Fatal(err)
					}
				}
				var got [][]float64
				for s := 0; s < steps; s++ {
					l, err := m.TrainStep(b)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, sortedValues(l))
				}
				file := nettest.Saved(t, m)
				if mi == 0 {
					first, firstFile = got, file
					continue
				}
				for s := range got {
					for k := range got[s] {
						if math.Float64bits(got[s][k]) != math.Float64bits(first[s][k]) {
							t.Fatalf("model %d, step %d: losses %v, the first model's %v", mi+1, s, got[s], first[s])
						}
					}
				}
				if !bytes.Equal(file, firstFile) {
					t.Fatalf("model %d: after %d steps its checkpoint differs from the first model's", mi+1, steps)
				}
			}
			runtime.KeepAlive(shift)
		})
	}
}

// sortedValues are a step's losses in the order of their names.
func sortedValues(l map[string]float64) []float64 {
	var out []float64
	for _, k := range slices.Sorted(maps.Keys(l)) {
		out = append(out, l[k])
	}
	return out
}
