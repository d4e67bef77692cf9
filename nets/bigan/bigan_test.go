package bigan

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/internal/nettest"
)

// The joint discriminator's input at the paper's size: image and latent
// features side by side.
func TestBiGANArchitecture(t *testing.T) {
	m, err := newBiGAN(nets.Config{Size: 128, Params: map[string]float64{"width": 1.0 / 64}, Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if m.dJ[0].Cin != 16+8 { // 1024/64 image features + 512/64 latent features: the code's 1536 at width 1
		t.Fatalf("joint input %d", m.dJ[0].Cin)
	}
}

// Each network's gradient of its own loss (through spectral norm,
// LeakyReLU, BN, transposed convolutions and the hinge or BCE losses)
// against central differences, in float64.
func TestBiGANNumericalGradients(t *testing.T) {
	nettest.ForEachGANLoss(t, false, func(t *testing.T, cfg nets.Config, b *nets.Batch) {
		m, err := newBiGAN(cfg, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		m.PowerIterate()
		z := gan.Normals(rand.New(rand.NewSource(99)), b.N*m.z)
		nettest.CheckGANGradients(t, m.Nets(), func() (map[*gan.Net]float64, map[*gan.Net][]G.Value) {
			ge, d, l, err := m.phases(b, z)
			if err != nil {
				t.Fatal(err)
			}
			return map[*gan.Net]float64{m.g: l["ge"], m.e: l["ge"], m.d: l["d"]},
				map[*gan.Net][]G.Value{m.g: nettest.Grads(t, ge.gg, m.g), m.e: nettest.Grads(t, ge.gg, m.e), m.d: nettest.Grads(t, d.gg, m.d)}
		})
	})
}

// BiGAN's mse is the masked error of its own reconstruction G(E(x)).
func TestBiGANScores(t *testing.T) {
	b := nettest.SynthBatch(rand.New(rand.NewSource(3)), 3, 16)
	m, err := newBiGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(false), Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Infer(b, m.inferGraph)
	if err != nil {
		t.Fatal(err)
	}
	rec := v["recon"]
	for i := 0; i < b.N; i++ {
		var se, ms float64
		for p := 0; p < b.Pixels(); p++ {
			mk := float64(b.Mask(i)[p])
			d := mk * (float64(b.Image(i)[p]) - rec[i*b.Pixels()+p])
			se += d * d
			ms += mk
		}
		if got := s.Scores["mse"][i]; math.Abs(got-se/ms) > 1e-12 {
			t.Fatalf("image %d mse %g, want %g", i, got, se/ms)
		}
	}
}

// BiGAN's saliency ∂d/∂x, through D's image path and the encoder both,
// agrees with central differences of its d score.
func TestBiGANSaliencyGradient(t *testing.T) {
	m, err := newBiGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(false), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	nettest.CheckSaliency(t, m, nettest.SynthBatch(rand.New(rand.NewSource(8)), 2, 16), func(b *nets.Batch) ([]float64, error) {
		return m.Saliency(b, m.dScore)
	})
}
