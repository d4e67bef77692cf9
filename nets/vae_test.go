package nets

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func tinyVAE(t testing.TB, seed int64, size int, width float64, z int, dt tensor.Dtype) *vae {
	t.Helper()
	m, err := newVAE(Config{Size: size, TopK: []int{5, 50},
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
		{"recon", vg.recon.Shape(), tensor.Shape{3, 1, 32, 32}},
		{"mu.w", m.ps.get("mu.w").Shape(), tensor.Shape{64 * 4, 12}},
		{"dec_in.w", m.ps.get("dec_in.w").Shape(), tensor.Shape{12, 64 * 4}},
		{"out.w", m.ps.get("out.w").Shape(), tensor.Shape{16, 1, 6, 6}},
	} {
		if !s.got.Eq(s.want) {
			t.Errorf("%s shape %v, want %v", s.name, s.got, s.want)
		}
	}
	if len(m.stats) != 3+2 {
		t.Fatalf("%d BatchNorm layers, want 3 encoder + 2 decoder", len(m.stats))
	}
}

func TestVAEConfigErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"size", Config{Size: 48, Rand: r}, "vae: image size 48 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
		{"small", Config{Size: 8, Rand: r}, "vae: image size 8 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
		{"big", Config{Size: 1024, Rand: r}, "vae: image size 1024 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
		{"unknown", Config{Size: 16, Rand: r, Params: map[string]float64{"zdim": 3}}, `vae: unknown parameter "zdim" (accepted: beta1, beta2, lr, width, z)`},
		{"z integer", Config{Size: 16, Rand: r, Params: map[string]float64{"z": 2.5}}, "vae: parameter z = 2.5 must be an integer"},
		{"z range", Config{Size: 16, Rand: r, Params: map[string]float64{"z": 0}}, "vae: parameter z = 0 is outside [1, 65536]"},
		{"topk", Config{Size: 16, Rand: r, TopK: []int{3, 3}}, "vae: top-k value 3 is listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New("vae", c.cfg)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestVAERegistered(t *testing.T) {
	s, ok := Lookup("vae")
	if !ok {
		t.Fatal("vae is not registered")
	}
	if s.Params["lr"].Default != 5e-5 || s.Params["z"].Default != 1024 || s.Params["width"].Default != 1 {
		t.Fatalf("defaults lr %g z %g width %g, want the coded 5e-5, 1024, 1",
			s.Params["lr"].Default, s.Params["z"].Default, s.Params["width"].Default)
	}
	m, err := New("vae", Config{Size: 16, TopK: []int{10, 200}, Params: map[string]float64{"width": 0.125, "z": 4}, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	want := "kld,l1,l1_kld,l1_top10,l1_top200,mse,mse_kld,mse_top10,mse_top200"
	if got := strings.Join(m.ScoreNames(), ","); got != want {
		t.Fatalf("score names %s, want %s", got, want)
	}
}

// Same seed ⇒ bit-identical losses (initialisation and noise both come
// from the seed); another seed ⇒ different ones; training reduces the loss.
func TestVAESeededTraining(t *testing.T) {
	run := func(seed int64) [][2]float64 {
		m := tinyVAE(t, seed, 32, 0.25, 16, tensor.Float32)
		b := synthBatch(rand.New(rand.NewSource(7)), 4, 32)
		var out [][2]float64
		for i := 0; i < 4; i++ {
			l, err := m.TrainStep(b)
			if err != nil {
				t.Fatal(err)
			}
			if l["loss"] != l["bce"]+l["kld"] && math.Abs(l["loss"]-(l["bce"]+l["kld"])) > 1e-5*l["loss"] {
				t.Fatalf("loss %v is not bce %v + kld %v", l["loss"], l["bce"], l["kld"])
			}
			out = append(out, [2]float64{l["bce"], l["kld"]})
		}
		return out
	}
	a, b, c := run(42), run(42), run(4242)
	for i := range a {
		for j := 0; j < 2; j++ {
			if math.Float64bits(a[i][j]) != math.Float64bits(b[i][j]) {
				t.Fatalf("same seed, step %d: %v vs %v", i, a, b)
			}
		}
	}
	if a[0] == c[0] {
		t.Fatalf("seeds 42 and 4242 gave the same first losses %v", a[0])
	}
	if !(a[3][0]+a[3][1] < a[0][0]+a[0][1]) {
		t.Fatalf("loss did not decrease over 4 steps: %v", a)
	}
}

// The training graph's losses against a recomputation in Go from its own
// intermediate values: z = μ + exp(½ log σ²)·ε, masked BCE on the logits,
// KLD summed over dimensions and images.
func TestVAELossFormula(t *testing.T) {
	m := tinyVAE(t, 3, 16, 0.125, 6, tensor.Float64)
	b := synthBatch(rand.New(rand.NewSource(4)), 3, 16)
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
	got := map[string]float64{"bce": scalarOf(vg.out.bce), "kld": scalarOf(vg.out.kld), "loss": scalarOf(vg.out.loss)}
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
	if _, err := m.TrainStep(synthBatch(rand.New(rand.NewSource(2)), 4, 16)); err != nil {
		t.Fatal(err)
	}
	b := synthBatch(rand.New(rand.NewSource(3)), 3, 16)
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	recon, mu, lv, err := m.inference(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Scores) != len(m.ScoreNames()) {
		t.Fatalf("%d scores, want %d (%v)", len(s.Scores), len(m.ScoreNames()), m.ScoreNames())
	}
	for _, n := range m.ScoreNames() {
		if len(s.Scores[n]) != b.N {
			t.Fatalf("score %s has %d values for %d images", n, len(s.Scores[n]), b.N)
		}
	}
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
			"l1_top5": vaeTopBySelection(ae, 5), "mse_top5": vaeTopBySelection(se, 5),
			"l1_top50": vaeTopBySelection(ae, 50), "mse_top50": vaeTopBySelection(se, 50),
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
		GaussianSmooth(sm, sq, b.H, b.W, heatmapSigma(b.H))
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
	sameScores(t, s, s2)
	twin := tinyVAE(t, 1, 16, 0.125, 8, tensor.Float32)
	if _, err := twin.TrainStep(synthBatch(rand.New(rand.NewSource(2)), 4, 16)); err != nil {
		t.Fatal(err)
	}
	if a, b := m.cfg.Rand.Int63(), twin.cfg.Rand.Int63(); a != b {
		t.Fatalf("scoring consumed random numbers: next draw %d, a twin that never scored draws %d", a, b)
	}
}

// vaeTopBySelection is the mean of the k largest values, found by repeated
// selection rather than sorting.
func vaeTopBySelection(v []float64, k int) float64 {
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

func TestVAEBatchErrors(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float32)
	cases := []struct {
		name string
		b    *Batch
		want string
	}{
		{"size", synthBatch(rand.New(rand.NewSource(1)), 2, 32), "vae: batch images are 32x32, model was built for 16x16"},
		{"values", &Batch{N: 2, H: 16, W: 16, Images: make([]float32, 10), Masks: make([]float32, 10)},
			"vae: batch shape 2x16x16 needs 512 values, has 10 images and 10 mask values"},
		{"empty mask", func() *Batch {
			b := synthBatch(rand.New(rand.NewSource(1)), 2, 16)
			clear(b.Masks)
			return b
		}(), "vae: the batch's masks are all zero, so the masked loss is undefined"},
	}
	for _, c := range cases {
		if _, err := m.TrainStep(c.b); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := m.forwardBackward(synthBatch(rand.New(rand.NewSource(1)), 2, 16), make([]float64, 3)); err == nil ||
		err.Error() != "vae: 3 noise values for 2 images of z = 4" {
		t.Errorf("noise length: error %v", err)
	}
	// One image trains (BatchNorm sees 4 values per channel at 2×2) and scores.
	one := synthBatch(rand.New(rand.NewSource(1)), 1, 16)
	if _, err := m.TrainStep(one); err != nil {
		t.Fatalf("training on one image: %v", err)
	}
	if _, err := m.Score(one); err != nil {
		t.Fatalf("scoring one image: %v", err)
	}
}

// A diverging step is reported with its parts and changes nothing.
func TestVAENaNLoss(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float32)
	b := synthBatch(rand.New(rand.NewSource(1)), 2, 16)
	b.Images[5] = float32(math.Inf(1))
	before := append([]float32(nil), m.ps.vals[0].Float32s()...)
	_, err := m.TrainStep(b)
	if err == nil || !strings.HasPrefix(err.Error(), "vae: loss is NaN (bce NaN, kld ") {
		t.Fatalf("error %v, want vae: loss is NaN (bce NaN, kld …)", err)
	}
	for i, v := range m.ps.vals[0].Float32s() {
		if v != before[i] {
			t.Fatal("a NaN step changed the weights")
		}
	}
	if m.opt.step != 0 {
		t.Fatalf("optimiser step %d after a NaN step", m.opt.step)
	}
	// and the next good step is as if the bad one had never run
	good := synthBatch(rand.New(rand.NewSource(2)), 2, 16)
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
	for i, v := range m.ps.vals[0].Float32s() {
		if v != fresh.ps.vals[0].Float32s()[i] {
			t.Fatal("a NaN step leaked into the next update (gradients accumulated)")
		}
	}
}

// Running the training graph twice gives the same gradients, not their
// sum (Gorgonia accumulates into bound derivatives unless they are zeroed).
func TestVAEGradientsDoNotAccumulate(t *testing.T) {
	m := tinyVAE(t, 1, 16, 0.125, 4, tensor.Float64)
	b := synthBatch(rand.New(rand.NewSource(1)), 2, 16)
	eps := vaeNoise(rand.New(rand.NewSource(2)), 8)
	first := vaeGradsOf(t, m, b, eps)
	second := vaeGradsOf(t, m, b, eps)
	for i := range first {
		for j := range first[i] {
			if first[i][j] != second[i][j] {
				t.Fatalf("%s[%d]: gradient %g on the first run, %g on the second", m.ps.names[i], j, first[i][j], second[i][j])
			}
		}
	}
}

func vaeGradsOf(t *testing.T, m *vae, b *Batch, eps []float64) [][]float64 {
	t.Helper()
	vg, err := m.forwardBackward(b, eps)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := vg.grads()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(gv))
	for i, g := range gv {
		out[i] = append([]float64(nil), g.Data().([]float64)...)
	}
	return out
}

// The VAE's loss gradient (convolutions, BatchNorm, ReLU, the linear
// layers, the reparameterisation, the transposed convolutions, the output
// bias, softplus BCE and the KLD) against central differences, in float64
// on a tiny input with the noise held fixed.
func TestVAENumericalGradient(t *testing.T) {
	m := tinyVAE(t, 5, 16, 0.125, 4, tensor.Float64)
	b := synthBatch(rand.New(rand.NewSource(6)), 3, 16)
	eps := vaeNoise(rand.New(rand.NewSource(7)), 3*4)
	grads := vaeGradsOf(t, m, b, eps)
	loss := func() float64 {
		vg, err := m.forwardBackward(b, eps)
		if err != nil {
			t.Fatal(err)
		}
		return scalarOf(vg.out.loss)
	}
	aeNumericalGradient(t, m.ps, grads, loss, 9)
}

// aeNumericalGradient compares three random entries of every parameter
// tensor with central differences of loss.
func aeNumericalGradient(t *testing.T, ps *paramSet, grads [][]float64, loss func() float64, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	for pi, name := range ps.names {
		data := ps.vals[pi].Float64s()
		for j := 0; j < 3; j++ {
			i := r.Intn(len(data))
			num := centralDiff(loss, data, i)
			if d := math.Abs(num - grads[pi][i]); d > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", name, i, grads[pi][i], num)
			}
		}
	}
}

func savedVAE(t *testing.T) (*vae, []byte) {
	t.Helper()
	m := tinyVAE(t, 11, 16, 0.125, 6, tensor.Float32)
	b := synthBatch(rand.New(rand.NewSource(12)), 3, 16)
	return m, trainAndSave(t, m, b, 2)
}

// A loaded VAE scores bit-identically and continues training exactly
// (weights, Adam moments and step, BN statistics restored).
func TestVAECheckpointRoundTrip(t *testing.T) {
	orig, data := savedVAE(t)
	loaded := tinyVAE(t, 99, 16, 0.125, 6, tensor.Float32)
	if err := loaded.Load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if loaded.Epoch() != 2 || loaded.opt.step != 2 {
		t.Fatalf("epoch %d step %d after load, want 2 and 2", loaded.Epoch(), loaded.opt.step)
	}
	test := synthBatch(rand.New(rand.NewSource(13)), 2, 16)
	scoreSame(t, orig, loaded, test)
	tr := synthBatch(rand.New(rand.NewSource(14)), 3, 16)
	eps := vaeNoise(rand.New(rand.NewSource(15)), 3*6)
	lo, err := orig.trainWith(tr, eps)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := loaded.trainWith(tr, eps)
	if err != nil {
		t.Fatal(err)
	}
	if lo["loss"] != ll["loss"] {
		t.Fatalf("next step loss %v after load, %v without", ll["loss"], lo["loss"])
	}
	for i := range orig.ps.vals {
		a, b := orig.ps.vals[i].Float32s(), loaded.ps.vals[i].Float32s()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("after one more step %s[%d] is %v, without reload %v", orig.ps.names[i], j, b[j], a[j])
			}
		}
	}

	lm, err := LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	if lm.Name() != "vae" {
		t.Fatalf("LoadModel built %s", lm.Name())
	}
	ref := tinyVAE(t, 99, 16, 0.125, 6, tensor.Float32)
	if err := ref.Load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s1, err := ref.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := lm.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, s1, s2)
}

func TestVAECheckpointOtherConfig(t *testing.T) {
	_, data := savedVAE(t)
	var cae bytes.Buffer
	if err := tinyCAE(t, 1, 32, 0.125).Save(&cae); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    *vae
		data []byte
		want string
	}{
		{"z", tinyVAE(t, 1, 16, 0.125, 7, tensor.Float32), data, "checkpoint: z 6, the model has 7"},
		{"width", tinyVAE(t, 1, 16, 0.25, 6, tensor.Float32), data, "checkpoint: width 0.125, the model has 0.25"},
		{"size", tinyVAE(t, 1, 32, 0.125, 6, tensor.Float32), data, "checkpoint: image size 16, the model has 32"},
		{"model", tinyVAE(t, 1, 32, 0.125, 6, tensor.Float32), cae.Bytes(), `checkpoint: holds model "cae", not "vae"`},
		{"truncated", tinyVAE(t, 1, 16, 0.125, 6, tensor.Float32), data[:len(data)/2], ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := append([]float32(nil), c.m.ps.vals[0].Float32s()...)
			err := c.m.Load(bytes.NewReader(c.data))
			if err == nil || (c.want != "" && err.Error() != c.want) ||
				(c.want == "" && !strings.HasPrefix(err.Error(), "checkpoint: truncated: ")) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			for i, v := range c.m.ps.vals[0].Float32s() {
				if v != before[i] {
					t.Fatal("a rejected checkpoint changed the model")
				}
			}
		})
	}
}
