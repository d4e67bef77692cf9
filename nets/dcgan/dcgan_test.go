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
	// the checkpoint keeps the reference's features, not its images
	ck, err := nets.ReadCheckpoint(bytes.NewReader(withRef))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := ck.Tensor("mbd.ref.f"); !ok || len(f.Shape) != 2 || f.Shape[0] != 3 || f.Shape[1] != m.dHead.Features() {
		t.Fatalf("reference features in the checkpoint: %v %v", f.Shape, ok)
	}
	// a step changes the weights: the restored features no longer hold,
	// and the images are needed again
	if _, err := lm.TrainStep(b); err != nil {
		t.Fatal(err)
	}
	if _, err := lm.Score(b); err == nil || err.Error() != want {
		t.Fatalf("scoring a restored model after a step: %v", err)
	}
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

// The saliency gradient ∂d/∂x that the maps are built from agrees with
// central differences of the scores Score gives, and Score adds the maps
// built from it only when asked.
func TestDCGANSaliencyGradient(t *testing.T) {
	m, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(7)), 3, 16)); err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(8)), 2, 16)
	nettest.CheckSaliency(t, m, b, func(b *nets.Batch) ([]float64, error) { return m.Saliency(b, m.dScore) })
	g, err := m.Saliency(b, m.dScore)
	if err != nil {
		t.Fatal(err)
	}
	// Score adds the maps only when asked, masked: zero where the mask is
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Extra != nil {
		t.Fatalf("maps %v without SetSaliency", s.Extra)
	}
	m.SetSaliency(true)
	if s, err = m.Score(b); err != nil {
		t.Fatal(err)
	}
	want, err := nets.SaliencyMaps(b, g)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{nets.MapDGrad, nets.MapDGradX} {
		if len(s.Extra[name]) != len(b.Images) {
			t.Fatalf("map %s has %d values", name, len(s.Extra[name]))
		}
		for p, v := range s.Extra[name] {
			if v != want[name][p] {
				t.Fatalf("map %s at %d: %v, want %v", name, p, v, want[name][p])
			}
		}
	}
}

// A discriminator with hand-set weights that sees only the 4×4 input
// patch at rows and columns 3..6 (conv0 sums 4×4 patches, conv1 and the
// head each pass one position on, minibatch discrimination weighs
// nothing): its saliency is zero outside that patch, and the map peaks
// inside it, where a bright square sits.
func TestDCGANSaliencyPeaksOnPattern(t *testing.T) {
	m, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.d.PS.Vals {
		v.Zero()
	}
	set := func(name string, v float64, at ...int) {
		if err := m.d.PS.Get(name).SetAt(v, at...); err != nil {
			t.Fatalf("%s%v: %v", name, at, err)
		}
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			set("d.conv0.w", 1, 0, 0, y, x)
		}
	}
	set("d.conv1.w", 1, 0, 0, 1, 1) // conv1 (i, j) = conv0 (2i, 2j)
	set("d.head.w", 1, 0, 0, 1, 1)  // head = conv1 (1, 1) = conv0 (2, 2): input rows and columns 3..6
	set("d.out.w", 1, 0, 0)
	for i := 0; i < 50; i++ {
		m.d.PowerIterate()
	}
	if err := m.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(7)), 3, 16)); err != nil {
		t.Fatal(err)
	}
	b := &nets.Batch{N: 1, H: 16, W: 16, Images: make([]float32, 256), Masks: make([]float32, 256)}
	r := rand.New(rand.NewSource(9))
	for p := range b.Images {
		b.Images[p], b.Masks[p] = float32(r.Float64()*0.2), 1
		if y, x := p/16, p%16; y >= 3 && y <= 6 && x >= 3 && x <= 6 {
			b.Images[p] = 0.9
		}
	}
	g, err := m.Saliency(b, m.dScore)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range g {
		in := p/16 >= 3 && p/16 <= 6 && p%16 >= 3 && p%16 <= 6
		if in && v == 0 || !in && v != 0 {
			t.Fatalf("gradient %g at row %d column %d (inside the patch: %v)", v, p/16, p%16, in)
		}
	}
	m.SetSaliency(true)
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{nets.MapDGrad, nets.MapDGradX} {
		best := 0
		for p, v := range s.Extra[name] {
			if v > s.Extra[name][best] {
				best = p
			}
		}
		if y, x := best/16, best%16; y < 3 || y > 6 || x < 3 || x > 6 {
			t.Errorf("map %s peaks at row %d column %d, outside the patch 3..6", name, y, x)
		}
	}
}
