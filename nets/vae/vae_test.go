package vae

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

func tinyVAE(t testing.TB, seed int64, size int, width float64, z int, dt tensor.Dtype) *vae {
	t.Helper()
	m, err := newVAE(nets.Config{Size: size, TopK: []int{5, 50},
		Params: map[string]float64{"width": width, "z": float64(z), "lr": 1e-3},
		Rand:   rand.New(rand.NewSource(seed))}, dt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func vaeNoise(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64()
	}
	return out
}

// The paper's table at 512 px and its scaled versions: encoder sides and
// channels, the 2×2 bottleneck, and a decoder that returns exactly to the
// input size; then the shapes of a built graph.
func TestVAEArchitecture(t *testing.T) {
	cases := []struct {
		size    int
		width   float64
		chans   []int
		encSide []int
		decSide []int
	}{
		{512, 1, []int{8, 16, 32, 64, 128, 256, 512},
			[]int{255, 126, 62, 30, 14, 6, 2}, []int{6, 14, 30, 62, 126, 254, 512}},
		{64, 1, []int{64, 128, 256, 512}, []int{31, 14, 6, 2}, []int{6, 14, 30, 64}},
		{64, 0.25, []int{16, 32, 64, 128}, []int{31, 14, 6, 2}, []int{6, 14, 30, 64}},
		{16, 0.125, []int{32, 64}, []int{7, 2}, []int{6, 16}},
	}
	for _, c := range cases {
		chans, err := vaeChannels(c.size, c.width)
		if err != nil {
			t.Fatal(err)
		}
		if len(chans) != len(c.chans) {
			t.Fatalf("size %d: channels %v, want %v", c.size, chans, c.chans)
		}
		for i := range chans {
			if chans[i] != c.chans[i] {
				t.Fatalf("size %d width %g: channels %v, want %v", c.size, c.width, chans, c.chans)
			}
		}
		h := c.size
		for i := range chans {
			h = (h-4)/2 + 1
			if h != c.encSide[i] {
				t.Fatalf("size %d: encoder side %d after stage %d, want %d", c.size, h, i, c.encSide[i])
			}
		}
		for i := range chans {
			k := 4
			if i == len(chans)-1 {
				k = 6
			}
			h = (h-1)*2 + k
			if h != c.decSide[i] {
				t.Fatalf("size %d: decoder side %d after layer %d, want %d", c.size, h, i, c.decSide[i])
			}
		}
	}

	m := tinyVAE(t, 1, 32, 0.125, 12, tensor.Float32)
	vg, err := m.graph(3, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		got  tensor.Shape
		want tensor.Shape
	}{
		{"mu", vg.mu.Shape(), tensor.Shape{3, 12}},
		{"logvar", vg.logvar.Shape(), tensor.Shape{3, 12}},
		{"z", vg.z.Shape(), tensor.Shape{3, 12}},
		{"logits", vg.logits.Shape(), tensor.Shape{3, 1, 32, 32}},
		{"recon", vg.Recon.Shape(), tensor.Shape{3, 1, 32, 32}},
		{"mu.w", m.ps.Get("mu.w").Shape(), tensor.Shape{64 * 4, 12}},
		{"dec_in.w", m.ps.Get("dec_in.w").Shape(), tensor.Shape{12, 64 * 4}},
		{"out.w", m.ps.Get("out.w").Shape(), tensor.Shape{16, 1, 6, 6}},
	} {
		if !s.got.Eq(s.want) {
			t.Errorf("%s shape %v, want %v", s.name, s.got, s.want)
		}
	}
	if len(m.stats) != 3+2 {
		t.Fatalf("%d BatchNorm layers, want 3 encoder + 2 decoder", len(m.stats))
	}
}

// The training graph's losses against a recomputation in Go from its own
// intermediate values: z = μ + exp(½ log σ²)·ε, masked BCE on the logits,
// KLD summed over dimensions and images.
func TestVAELossFormula(t *testing.T) {
	m := tinyVAE(t, 3, 16, 0.125, 6, tensor.Float64)
	b := nettest.SynthBatch(rand.New(rand.NewSource(4)), 3, 16)
	// a mask that is not all ones inside the image, so masking matters
	for i := range b.Masks {
		if i%7 == 0 {
			b.Masks[i] = 0
		}
	}
	eps := vaeNoise(rand.New(rand.NewSource(5)), 3*6)
	vg, err := m.forwardBackward(b, eps)
	if err != nil {
		t.Fatal(err)
	}
	mu, lv, z := vg.out.mu.Data().([]float64), vg.out.logvar.Data().([]float64), vg.out.z.Data().([]float64)
	for i := range z {
		if want := mu[i] + math.Exp(lv[i]/2)*eps[i]; math.Abs(z[i]-want) > 1e-12 {
			t.Fatalf("z[%d] = %g, want μ + σε = %g", i, z[i], want)
		}
	}
	logits := vg.out.logits.Data().([]float64)
	var num, den float64
	for p, l := range logits {
		x, mk := float64(b.Images[p]), float64(b.Masks[p])
		// BCE(σ(l), x) = −x log σ(l) − (1−x) log(1−σ(l))
		s := 1 / (1 + math.Exp(-l))
		num += mk * (-x*math.Log(s) - (1-x)*math.Log(1-s))
		den += mk
	}
	var kld float64
	for i := range mu {
		kld += -0.5 * (1 + lv[i] - mu[i]*mu[i] - math.Exp(lv[i]))
	}
	got := map[string]float64{"bce": nets.ScalarOf(vg.out.bce), "kld": nets.ScalarOf(vg.out.kld), "loss": nets.ScalarOf(vg.out.loss)}
	want := map[string]float64{"bce": num / den, "kld": kld, "loss": num/den + kld}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-10*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %.12g, want %.12g", k, got[k], w)
		}
	}
	for i, v := range vg.out.recon.Data().([]float64) {
		if want := 1 / (1 + math.Exp(-logits[i])); math.Abs(v-want) > 1e-12 {
			t.Fatalf("recon[%d] %g is not sigmoid(logit) %g", i, v, want)
		}
	}
}

func TestVAEScore(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 8, tensor.Float32)
	if _, err := m.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(2)), 4, 16)); err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(3)), 3, 16)
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	recon, mu, lv, err := m.inference(b)
	if err != nil {
		t.Fatal(err)
	}
	// (one value per image and score: the contract test, nets/models)
	px := b.Pixels()
	for i := 0; i < b.N; i++ {
		var kld float64
		for j := 0; j < m.z; j++ {
			u, l := mu[i*m.z+j], lv[i*m.z+j]
			kld += -0.5 * (1 + l - u*u - math.Exp(l))
		}
		var ae, se []float64
		var l1, mse, msum float64
		for p := 0; p < px; p++ {
			mk := float64(b.Mask(i)[p])
			d := mk*float64(b.Image(i)[p]) - mk*recon[i*px+p]
			if d < 0 {
				d = -d
			}
			l1 += d
			mse += d * d
			msum += mk
			if mk != 0 {
				ae, se = append(ae, d), append(se, d*d)
			}
		}
		want := map[string]float64{
			"kld": kld, "l1": l1 / msum, "mse": mse / msum,
			"l1_kld": l1/msum + kld, "mse_kld": mse/msum + kld,
			"l1_top5": nettest.TopBySelection(ae, 5), "mse_top5": nettest.TopBySelection(se, 5),
			"l1_top50": nettest.TopBySelection(ae, 50), "mse_top50": nettest.TopBySelection(se, 50),
		}
		for name, w := range want {
			if got := s.Scores[name][i]; math.Abs(got-w) > 1e-9*math.Max(1, math.Abs(w)) {
				t.Errorf("image %d %s = %.12g, want %.12g", i, name, got, w)
			}
		}
		// the map is the smoothed masked squared error
		sq := make([]float32, px)
		for p := range sq {
			d := float64(b.Mask(i)[p]) * (float64(b.Image(i)[p]) - recon[i*px+p])
			sq[p] = float32(d * d)
		}
		sm := make([]float32, px)
		nets.GaussianSmooth(sm, sq, b.H, b.W, nets.HeatmapSigma(b.H))
		for p := range sm {
			if sm[p] != s.Maps[i*px+p] {
				t.Fatalf("image %d map pixel %d: %g, want %g", i, p, s.Maps[i*px+p], sm[p])
			}
		}
	}
	for _, v := range recon {
		if v <= 0 || v >= 1 {
			t.Fatalf("reconstruction value %g outside (0,1) of the sigmoid", v)
		}
	}
	// Scoring decodes μ: it repeats exactly and draws no noise (the source
	// is where a twin that never scored has it).
	s2, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	nettest.SameScores(t, s, s2)
	twin := tinyVAE(t, 1, 16, 0.125, 8, tensor.Float32)
	if _, err := twin.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(2)), 4, 16)); err != nil {
		t.Fatal(err)
	}
	if a, b := m.Cfg.Rand.Int63(), twin.Cfg.Rand.Int63(); a != b {
		t.Fatalf("scoring consumed random numbers: next draw %d, a twin that never scored draws %d", a, b)
	}
}

// A diverging step is reported with its parts and changes nothing.
func TestVAENaNLoss(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float32)
	b := nettest.SynthBatch(rand.New(rand.NewSource(1)), 2, 16)
	b.Images[5] = float32(math.Inf(1))
	before := append([]float32(nil), m.ps.Vals[0].Float32s()...)
	_, err := m.TrainStep(b)
	if err == nil || !strings.HasPrefix(err.Error(), "vae: loss is NaN (bce NaN, kld ") {
		t.Fatalf("error %v, want vae: loss is NaN (bce NaN, kld …)", err)
	}
	for i, v := range m.ps.Vals[0].Float32s() {
		if v != before[i] {
			t.Fatal("a NaN step changed the weights")
		}
	}
	if m.opt.Step != 0 {
		t.Fatalf("optimiser step %d after a NaN step", m.opt.Step)
	}
	// and the next good step is as if the bad one had never run
	good := nettest.SynthBatch(rand.New(rand.NewSource(2)), 2, 16)
	eps := vaeNoise(rand.New(rand.NewSource(3)), 2*4)
	fresh := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float32)
	l1, err := m.trainWith(good, eps)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := fresh.trainWith(good, eps)
	if err != nil {
		t.Fatal(err)
	}
	if l1["loss"] != l2["loss"] {
		t.Fatalf("after a NaN step the loss is %v, without it %v", l1["loss"], l2["loss"])
	}
	for i, v := range m.ps.Vals[0].Float32s() {
		if v != fresh.ps.Vals[0].Float32s()[i] {
			t.Fatal("a NaN step leaked into the next update (gradients accumulated)")
		}
	}
}

// Running the training graph twice gives the same gradients, not their
// sum (Gorgonia accumulates into bound derivatives unless they are zeroed).
func TestVAEGradientsDoNotAccumulate(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float64)
	b := nettest.SynthBatch(rand.New(rand.NewSource(1)), 2, 16)
	eps := vaeNoise(rand.New(rand.NewSource(2)), 8)
	first := vaeGradsOf(t, m, b, eps)
	second := vaeGradsOf(t, m, b, eps)
	for i := range first {
		for j := range first[i] {
			if first[i][j] != second[i][j] {
				t.Fatalf("%s[%d]: gradient %g on the first run, %g on the second", m.ps.Names[i], j, first[i][j], second[i][j])
			}
		}
	}
}

func vaeGradsOf(t *testing.T, m *vae, b *nets.Batch, eps []float64) [][]float64 {
	t.Helper()
	vg, err := m.forwardBackward(b, eps)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := vg.Grads()
	if err != nil {
		t.Fatal(err)
	}
	return nettest.Copies(gv)
}

// The noise must fit the batch and the latent size.
func TestVAENoiseLength(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float32)
	if _, err := m.forwardBackward(nettest.SynthBatch(rand.New(rand.NewSource(1)), 2, 16), make([]float64, 3)); err == nil ||
		err.Error() != "vae: 3 noise values for 2 images of z = 4" {
		t.Errorf("noise length: error %v", err)
	}
}

// The VAE's loss gradient (convolutions, BatchNorm, ReLU, the linear
// layers, the reparameterisation, the transposed convolutions, the output
// bias, softplus BCE and the KLD) against central differences, in float64
// on a tiny input with the noise held fixed.
func TestVAENumericalGradient(t *testing.T) {
	m := tinyVAE(t, 5, 16, 0.125, 4, tensor.Float64)
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	eps := vaeNoise(rand.New(rand.NewSource(7)), 3*4)
	grads := vaeGradsOf(t, m, b, eps)
	loss := func() float64 {
		vg, err := m.forwardBackward(b, eps)
		if err != nil {
			t.Fatal(err)
		}
		return nets.ScalarOf(vg.out.loss)
	}
	nettest.CheckParamGradients(t, m.ps, grads, loss, rand.New(rand.NewSource(9)), 3)
}
