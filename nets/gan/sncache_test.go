package gan_test

import (
	"bytes"
	"math/rand"
	"testing"

	"xraylab/nets"
	_ "xraylab/nets/alphagan"
	_ "xraylab/nets/bigan"
	_ "xraylab/nets/dcgan"
	"xraylab/nets/internal/nettest"
)

// TestScoringFollowsWeights: a scoring graph keeps each normalised weight
// W/σ from batch to batch, so it must notice every change of the weights:
// after training steps and after loading a checkpoint, a model that has
// scored before scores bit for bit as a fresh model loaded from the same
// checkpoint (which computes every W/σ anew).
func TestScoringFollowsWeights(t *testing.T) {
	for _, name := range []string{"dcgan", "bigan", "alphagan"} {
		t.Run(name, func(t *testing.T) {
			const size = 16
			cfg := func(seed int64) nets.Config {
				return nets.Config{Size: size, TopK: []int{5}, Params: map[string]float64{"width": 0.25}, Rand: rand.New(rand.NewSource(seed))}
			}
			r := rand.New(rand.NewSource(4))
			train, test, ref := nettest.SynthBatch(r, 4, size), nettest.SynthBatch(r, 4, size), nettest.SynthBatch(r, 3, size)
			m, err := nets.New(name, cfg(1))
			if err != nil {
				t.Fatal(err)
			}
			if rm, ok := m.(nets.Referenced); ok {
				if err := rm.SetReference(ref); err != nil {
					t.Fatal(err)
				}
			}
			fresh := func(ck []byte) nets.Model {
				f, err := nets.New(name, cfg(2))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Load(bytes.NewReader(ck)); err != nil {
					t.Fatal(err)
				}
				return f
			}
			before, err := m.Score(test) // builds the scoring graph and its W/σ
			if err != nil {
				t.Fatal(err)
			}
			first := nettest.Saved(t, m)
			second := nettest.TrainAndSave(t, m, train, 1)
			after := nettest.ScoreSame(t, m, fresh(second), test)
			if after.Scores["d"][0] == before.Scores["d"][0] {
				t.Fatalf("d is %v before and after training: the steps changed nothing to compare", after.Scores["d"][0])
			}
			if err := m.Load(bytes.NewReader(first)); err != nil {
				t.Fatal(err)
			}
			nettest.SameScores(t, before, nettest.ScoreSame(t, m, fresh(first), test))
		})
	}
}
