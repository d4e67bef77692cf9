package ae_test

import (
	"math"
	"math/rand"
	"testing"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/internal/nettest"
	_ "xraylab/nets/models"
)

// tiny builds a registered autoencoder at width 0.125 as the trainer it is.
func tiny(t *testing.T, name string, size int) *ae.Model {
	t.Helper()
	m, err := nets.New(name, nets.Config{Size: size, TopK: []int{5, 50}, Params: map[string]float64{"width": 0.125, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	return m.(*ae.Model)
}

// The scores are the masked squared error of the model's own
// reconstruction, recomputed here independently (top-k by selection, not
// sorting), and the reconstruction lies in the range of the output layer:
// [0,1) for the CAE's tanh(relu), (0,1) for the BAE's sigmoid.
func TestReconstructionScores(t *testing.T) {
	for _, c := range []struct {
		name    string
		size    int
		openLow bool // 0 excluded
	}{{"cae", 32, false}, {"bae", 16, true}} {
		t.Run(c.name, func(t *testing.T) {
			m := tiny(t, c.name, c.size)
			if _, err := m.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(2)), 4, c.size)); err != nil {
				t.Fatal(err)
			}
			// Score a batch of another size: the inference graph is separate.
			b := nettest.SynthBatch(rand.New(rand.NewSource(3)), 3, c.size)
			s, err := m.Score(b)
			if err != nil {
				t.Fatal(err)
			}
			recon, err := m.Reconstruct(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range recon {
				if v < 0 || v >= 1 || (c.openLow && v == 0) {
					t.Fatalf("reconstruction value %g outside the output layer's range", v)
				}
			}
			px := b.Pixels()
			for i := 0; i < b.N; i++ {
				var se []float64
				var sum, msum float64
				for p := 0; p < px; p++ {
					mk := float64(b.Mask(i)[p])
					d := mk*float64(b.Image(i)[p]) - mk*recon[i*px+p]
					sum += d * d
					msum += mk
					if mk != 0 {
						se = append(se, d*d)
					}
				}
				want := map[string]float64{"mse": sum / msum, "mse_top5": nettest.TopBySelection(se, 5), "mse_top50": nettest.TopBySelection(se, 50)}
				for name, w := range want {
					if got := s.Scores[name][i]; math.Abs(got-w) > 1e-12 {
						t.Errorf("image %d %s = %.15g, want %.15g", i, name, got, w)
					}
				}
				if s.Scores["mse_top50"][i] > s.Scores["mse_top5"][i] {
					t.Fatalf("top-50 mean above top-5 mean")
				}
			}
			if len(s.Scores) != 3 || len(s.Maps) != len(b.Images) {
				t.Fatalf("%d scores and %d map values for %d pixels", len(s.Scores), len(s.Maps), len(b.Images))
			}
			// Scoring is in inference mode: it is repeatable and does not move BN statistics.
			s2, err := m.Score(b)
			if err != nil {
				t.Fatal(err)
			}
			nettest.SameScores(t, s, s2)
		})
	}
}

// The training graph gives the same gradients when run twice, not their
// sum; before gradients were zeroed per run, every step used the sum of
// all steps' gradients.
func TestGradientsDoNotAccumulate(t *testing.T) {
	for _, m := range []*ae.Model{tiny(t, "bae", 16), tiny(t, "cae", 32)} {
		b := nettest.SynthBatch(rand.New(rand.NewSource(2)), 3, m.Cfg.Size)
		var runs [2][]float32
		for r := range runs {
			ag, _, err := m.ForwardBackward(b)
			if err != nil {
				t.Fatal(err)
			}
			gv, err := ag.Grads()
			if err != nil {
				t.Fatal(err)
			}
			runs[r] = append([]float32(nil), gv[0].Data().([]float32)...)
		}
		for i := range runs[0] {
			if runs[0][i] != runs[1][i] {
				t.Fatalf("%s: %s gradient[%d] %g on the first run, %g on the second", m.Name(), m.PS.Names[0], i, runs[0][i], runs[1][i])
			}
		}
	}
}
