package alphagan

import (
	"math/rand"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/internal/nettest"
)

// The code discriminator halves z twice, and spectral norm sits where the
// authors put it: every generator layer but the last, every image
// discriminator convolution, none in the code discriminator.
func TestAlphaGANArchitecture(t *testing.T) {
	a, err := newAlphaGAN(nets.Config{Size: 16, Params: map[string]float64{"z": 100}, Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, l := range a.cLayer {
		got = append(got, l.Cout)
	}
	if !slices.Equal(got, []int{50, 25, 1}) {
		t.Fatalf("code discriminator %v, want 100→50→25→1", got)
	}
	if len(a.g.SN) != len(a.gLayers)-1 || len(a.d.SN) != len(a.dTrunk)+1 || len(a.c.SN) != 0 {
		t.Fatalf("spectral norms: g %d d %d c %d", len(a.g.SN), len(a.d.SN), len(a.c.SN))
	}
}

// Each network's gradient of its own loss (through spectral norm,
// minibatch discrimination, LeakyReLU, BN, transposed convolutions, the L1
// term and the hinge or BCE losses) against central differences, in
// float64.
func TestAlphaGANNumericalGradients(t *testing.T) {
	nettest.ForEachGANLoss(t, true, func(t *testing.T, cfg nets.Config, b *nets.Batch) {
		m, err := newAlphaGAN(cfg, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		m.PowerIterate()
		r := rand.New(rand.NewSource(99))
		z, eps := gan.Normals(r, b.N*m.z), gan.Normals(r, b.N*m.z)
		nettest.CheckGANGradients(t, m.Nets(), func() (map[*gan.Net]float64, map[*gan.Net][]G.Value) {
			ep, gp, dp, l, err := m.phases(b, z, eps)
			if err != nil {
				t.Fatal(err)
			}
			dc := l["d"] + l["c"]
			return map[*gan.Net]float64{m.e: l["e"], m.g: l["g"], m.d: dc, m.c: dc},
				map[*gan.Net][]G.Value{m.e: nettest.Grads(t, ep.gg, m.e), m.g: nettest.Grads(t, gp.gg, m.g),
					m.d: nettest.Grads(t, dp.gg, m.d), m.c: nettest.Grads(t, dp.gg, m.c)}
		})
	})
}

// α-GAN's c_d is the mean of c and d, and both are probabilities in (0,1).
func TestAlphaGANScores(t *testing.T) {
	b := nettest.SynthBatch(rand.New(rand.NewSource(3)), 3, 16)
	m, err := newAlphaGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(4)), 2, 16)); err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		c, d := s.Scores["c"][i], s.Scores["d"][i]
		if s.Scores["c_d"][i] != (c+d)/2 || c <= 0 || c >= 1 || d <= 0 || d >= 1 {
			t.Fatalf("image %d: c %g d %g c_d %g", i, c, d, s.Scores["c_d"][i])
		}
	}
	if len(s.Maps) != len(b.Images) {
		t.Fatalf("%d map values", len(s.Maps))
	}
}
