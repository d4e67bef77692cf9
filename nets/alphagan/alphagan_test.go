package alphagan

import (
	"bytes"
	"math"
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

// mask_recon = 1 makes the reconstruction loss λ·Σ|m⊙(x−G(ẑ))| / Σm, the
// autoencoders' masking; the default keeps the authors' unmasked mean. A
// checkpoint from before the parameter (without it) loads into a model
// with the default, and a batch of empty masks is refused when masked.
func TestAlphaGANMaskedReconstruction(t *testing.T) {
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	for i := range b.Masks {
		if i%3 == 0 {
			b.Masks[i] = 0 // a mask that leaves pixels out
		}
	}
	for _, masked := range []float64{0, 1} {
		p := nettest.TinyGANParams(true)
		p["mask_recon"], p["l1"] = masked, 0.5
		m, err := newAlphaGAN(nets.Config{Size: 16, Params: p, Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewSource(99))
		_, gp, _, l, err := m.phases(b, gan.Normals(r, b.N*m.z), gan.Normals(r, b.N*m.z))
		if err != nil {
			t.Fatal(err)
		}
		rec := nets.Float64s(gan.OutValue(gp.xrec))
		var num, den float64
		for i, x := range b.Images {
			w := 1.0
			if masked == 1 {
				w = float64(b.Masks[i])
			}
			num += w * math.Abs(float64(x)-rec[i])
			den += w
		}
		if want := 0.5 * num / den; math.Abs(l["l1"]-want) > 1e-9 {
			t.Fatalf("mask_recon %g: l1 loss %.12g, want %.12g", masked, l["l1"], want)
		}
	}
	p := nettest.TinyGANParams(true)
	p["mask_recon"] = 1
	m, err := newAlphaGAN(nets.Config{Size: 16, Params: p, Rand: rand.New(rand.NewSource(5))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	empty := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	clear(empty.Masks)
	if _, err := m.TrainStep(empty); err == nil || err.Error() != "alphagan: the batch's masks are all zero, so the masked loss is undefined" {
		t.Fatalf("empty masks: %v", err)
	}
	// a checkpoint without mask_recon, as one written before it existed
	old, err := newAlphaGAN(nets.Config{Size: 16, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := nets.ReadCheckpoint(bytes.NewReader(nettest.Saved(t, old)))
	if err != nil {
		t.Fatal(err)
	}
	delete(ck.Params, "mask_recon")
	var buf bytes.Buffer
	if err := nets.WriteCheckpoint(&buf, ck); err != nil {
		t.Fatal(err)
	}
	if err := old.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("a checkpoint before mask_recon: %v", err)
	}
	if err := m.Load(bytes.NewReader(buf.Bytes())); err == nil || err.Error() != "checkpoint: mask_recon 0, the model has 1" {
		t.Fatalf("into a masked model: %v", err)
	}
}

// α-GAN's saliency ∂d/∂x agrees with central differences of its d score.
func TestAlphaGANSaliencyGradient(t *testing.T) {
	m, err := newAlphaGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(7)), 3, 16)); err != nil {
		t.Fatal(err)
	}
	nettest.CheckSaliency(t, m, nettest.SynthBatch(rand.New(rand.NewSource(8)), 2, 16), func(b *nets.Batch) ([]float64, error) {
		return m.Saliency(b, m.dScore)
	})
}
