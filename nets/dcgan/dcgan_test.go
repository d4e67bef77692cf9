package dcgan

import (
	"bytes"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/internal/nettest"
)

// Each network's gradient of its own loss (through spectral norm,
// minibatch discrimination, LeakyReLU, transposed convolutions and the
// BCE on soft labels) against central differences, in float64.
func TestDCGANNumericalGradients(t *testing.T) {
	m, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	m.PowerIterate()
	z := gan.Normals(rand.New(rand.NewSource(99)), b.N*m.z)
	tr, tf := []float64{0.004, 0.001, 0.009}, []float64{0.995, 0.999, 0.992}
	nettest.CheckGANGradients(t, m.Nets(), func() (map[*gan.Net]float64, map[*gan.Net][]G.Value) {
		dp, ld, err := m.runD(b, z, tr, tf)
		if err != nil {
			t.Fatal(err)
		}
		gp, lg, err := m.runG(z)
		if err != nil {
			t.Fatal(err)
		}
		return map[*gan.Net]float64{m.d: ld, m.g: lg},
			map[*gan.Net][]G.Value{m.d: nettest.Grads(t, dp.gg, m.d), m.g: nettest.Grads(t, gp.gg, m.g)}
	})
}

// Scored against the other n − 1 images of a batch as its reference, an
// image gets exactly the logit the batch-relative discriminator of
// training gives it in that batch. Without a reference Score refuses; a
// checkpoint keeps the reference, and one without it (written before
// references) loads to a model that refuses to score until one is set.
func TestDCGANReference(t *testing.T) {
	m, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 4, 16)
	want := "dcgan: no reference batch is set: minibatch discrimination scores each image against a fixed batch of training images, which the runner sets (nets.Referenced)"
	if _, err := m.Score(b); err == nil || err.Error() != want {
		t.Fatalf("scoring without a reference: %v", err)
	}
	noRef := nettest.Saved(t, m)
	gg := gan.NewGraph(tensor.Float64)
	l, err := m.discriminate(gg.Bind(m.d), gg.Input("x", 4, 1, 16, 16))
	if err != nil {
		t.Fatal(err)
	}
	if err := gg.Compile(nil); err != nil {
		t.Fatal(err)
	}
	gg.Set("x", gan.ImagesOf(b))
	if err := gg.Run(); err != nil {
		t.Fatal(err)
	}
	inBatch := gan.Values(l)
	px := 16 * 16
	for i := 0; i < b.N; i++ {
		others := &nets.Batch{N: 3, H: 16, W: 16}
		for j := 0; j < b.N; j++ {
			if j != i {
				others.Images = append(others.Images, b.Image(j)...)
				others.Masks = append(others.Masks, b.Mask(j)...)
			}
		}
		if err := m.SetReference(others); err != nil {
			t.Fatal(err)
		}
		one := &nets.Batch{N: 1, H: 16, W: 16, Images: b.Images[i*px : (i+1)*px], Masks: b.Masks[i*px : (i+1)*px]}
		s, err := m.Score(one)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := s.Scores["d"][0], gan.Sigmoid(inBatch[i]); math.Abs(got-w) > 1e-12 {
			t.Fatalf("image %d: d %v against the others, %v in their batch", i, got, w)
		}
	}
	withRef := nettest.Saved(t, m)
	lm, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(9))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if err := lm.Load(bytes.NewReader(withRef)); err != nil {
		t.Fatal(err)
	}
	nettest.ScoreSame(t, m, lm, b)
	if err := m.Load(bytes.NewReader(noRef)); err != nil {
		t.Fatal(err)
	}
	if m.HasReference() {
		t.Fatal("a checkpoint without a reference left one set")
	}
	if _, err := m.Score(b); err == nil || err.Error() != want {
		t.Fatalf("scoring after loading a checkpoint without a reference: %v", err)
	}
	if err := m.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(6)), 2, 32)); err == nil ||
		err.Error() != "reference batch: dcgan: batch images are 32x32, model was built for 16x16" {
		t.Fatalf("a reference of another size: %v", err)
	}
}
