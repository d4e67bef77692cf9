package nets

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func tinyBAE(t testing.TB, seed int64, size int, width float64, dt tensor.Dtype) *cae {
	t.Helper()
	m, err := newBAE(Config{Size: size, TopK: []int{5, 50}, Params: map[string]float64{"width": width, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(seed))}, dt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The authors' BAE at 512 px and the scaled layouts: stage kernels,
// strides and channels, and a trace of the sides down to 1×1 and back.
func TestBAEArchitecture(t *testing.T) {
	cases := []struct {
		size  int
		width float64
		want  []baeStage
	}{
		{512, 1, []baeStage{{3, 1, 16}, {4, 2, 32}, {4, 2, 64}, {4, 2, 128}, {4, 2, 256}}},
		{128, 1, []baeStage{{3, 1, 32}, {4, 2, 64}, {4, 2, 128}, {4, 2, 256}}},
		{64, 1, []baeStage{{3, 1, 32}, {4, 2, 64}, {4, 2, 128}, {3, 1, 256}}},
		{64, 0.25, []baeStage{{3, 1, 8}, {4, 2, 16}, {4, 2, 32}, {3, 1, 64}}},
		{16, 0.125, []baeStage{{3, 1, 8}, {4, 2, 16}, {3, 1, 32}}},
		{8, 1, []baeStage{{3, 1, 128}, {4, 2, 256}}},
	}
	for _, c := range cases {
		got, err := baeStages(c.size, c.width)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("size %d: stages %v, want %v", c.size, got, c.want)
		}
		h := c.size
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("size %d width %g: stages %v, want %v", c.size, c.width, got, c.want)
			}
			h = ((h+2-got[i].k)/got[i].s + 1) / 2 // conv with padding 1, then 2×2 pooling
		}
		if h != 1 {
			t.Fatalf("size %d: encoder ends at %dx%d, want the 1x1 bottleneck", c.size, h, h)
		}
	}

	// The built graph: every pooling output down to 1×1, every unpooling
	// back up, and a full-size reconstruction.
	m := tinyBAE(t, 1, 16, 0.125, tensor.Float32)
	gn := newGraphNet(m.ps)
	x := G.NewTensor(gn.g, tensor.Float32, 4, G.WithShape(2, 1, 16, 16), G.WithName("x"), G.WithInit(G.Zeroes()))
	recon, err := m.fwd(gn, x)
	if err != nil {
		t.Fatal(err)
	}
	if !recon.Shape().Eq(tensor.Shape{2, 1, 16, 16}) {
		t.Fatalf("reconstruction shape %v", recon.Shape())
	}
	var pooled, unpooled []string
	for _, n := range gn.g.AllNodes() {
		switch n.Op().(type) {
		case maxPoolOp:
			pooled = append(pooled, fmt.Sprint(n.Shape()))
		case scatterOp:
			unpooled = append(unpooled, fmt.Sprint(n.Shape()))
		}
	}
	if got, want := strings.Join(pooled, " "), "(2, 8, 8, 8) (2, 16, 2, 2) (2, 32, 1, 1)"; got != want {
		t.Fatalf("pooled shapes %s, want %s", got, want)
	}
	if got, want := strings.Join(unpooled, " "), "(2, 32, 2, 2) (2, 16, 4, 4) (2, 8, 16, 16)"; got != want {
		t.Fatalf("unpooled shapes %s, want %s", got, want)
	}
	if len(gn.bnOps) != len(m.stats) || len(m.stats) != 3+1+3 {
		t.Fatalf("%d BatchNorm ops, %d statistics; want 3 stages + bottleneck + 3 decoder", len(gn.bnOps), len(m.stats))
	}
}

func TestBAEConfigErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	sizeErr := func(s string) string {
		return "bae: image size " + s + " must be a power of two from 8 to 512 (pooling halves it down to a 1x1 bottleneck)"
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"size", Config{Size: 96, Rand: r}, sizeErr("96")},
		{"small", Config{Size: 4, Rand: r}, sizeErr("4")},
		{"big", Config{Size: 1024, Rand: r}, sizeErr("1024")},
		{"unknown", Config{Size: 16, Rand: r, Params: map[string]float64{"z": 3}}, `bae: unknown parameter "z" (accepted: beta1, beta2, lr, width)`},
		{"range", Config{Size: 16, Rand: r, Params: map[string]float64{"width": 8}}, "bae: parameter width = 8 is outside [0.015625, 4]"},
		{"topk", Config{Size: 16, Rand: r, TopK: []int{-1}}, "bae: top-k value -1 must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New("bae", c.cfg)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestBAERegistered(t *testing.T) {
	s, ok := Lookup("bae")
	if !ok {
		t.Fatal("bae is not registered")
	}
	if s.Params["lr"].Default != 1e-4 || s.Params["width"].Default != 1 {
		t.Fatalf("defaults lr %g width %g, want the paper's 1e-4 and 1", s.Params["lr"].Default, s.Params["width"].Default)
	}
	m, err := New("bae", Config{Size: 16, TopK: []int{10, 200}, Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "bae" {
		t.Fatalf("name %s", m.Name())
	}
	if got := strings.Join(m.ScoreNames(), ","); got != "mse,mse_top10,mse_top200" {
		t.Fatalf("score names %s", got)
	}
}

func TestBAESeededTraining(t *testing.T) {
	run := func(seed int64) []float64 {
		m := tinyBAE(t, seed, 32, 0.25, tensor.Float32)
		b := synthBatch(rand.New(rand.NewSource(7)), 4, 32)
		var out []float64
		for i := 0; i < 4; i++ {
			l, err := m.TrainStep(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, l["mse"])
		}
		return out
	}
	a, b, c := run(42), run(42), run(4242)
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("same seed, step %d: %v vs %v", i, a, b)
		}
	}
	if a[0] == c[0] {
		t.Fatalf("seeds 42 and 4242 gave the same first loss %v", a[0])
	}
	if !(a[3] < a[0]) {
		t.Fatalf("loss did not decrease over 4 steps: %v", a)
	}
}

func TestBAEScore(t *testing.T) {
	m := tinyBAE(t, 1, 16, 0.125, tensor.Float32)
	if _, err := m.TrainStep(synthBatch(rand.New(rand.NewSource(2)), 4, 16)); err != nil {
		t.Fatal(err)
	}
	b := synthBatch(rand.New(rand.NewSource(3)), 3, 16)
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	recon, err := m.reconstruct(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range recon {
		if v <= 0 || v >= 1 {
			t.Fatalf("reconstruction value %g outside (0,1) of the sigmoid", v)
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
		want := map[string]float64{"mse": sum / msum, "mse_top5": vaeTopBySelection(se, 5), "mse_top50": vaeTopBySelection(se, 50)}
		for name, w := range want {
			if got := s.Scores[name][i]; math.Abs(got-w) > 1e-12 {
				t.Errorf("image %d %s = %.15g, want %.15g", i, name, got, w)
			}
		}
	}
	if len(s.Scores) != 3 || len(s.Maps) != len(b.Images) {
		t.Fatalf("%d scores and %d map values", len(s.Scores), len(s.Maps))
	}
	s2, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, s, s2)
}

// The decoder places values with the encoder's own indices: the last
// unpooled map is zero everywhere except at the stored argmax positions of
// the first pooling, one per window.
func TestBAEUnpoolsAtStoredMaxima(t *testing.T) {
	m := tinyBAE(t, 3, 16, 0.125, tensor.Float64)
	gn := newGraphNet(m.ps)
	b := synthBatch(rand.New(rand.NewSource(4)), 2, 16)
	xT := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2, 1, 16, 16))
	setInput(xT, b.Images)
	x := G.NewTensor(gn.g, tensor.Float64, 4, G.WithShape(2, 1, 16, 16), G.WithName("x"), G.WithValue(xT))
	if _, err := m.fwd(gn, x); err != nil {
		t.Fatal(err)
	}
	var last *G.Node
	var idx *PoolIndices
	for _, n := range gn.g.AllNodes() {
		if op, ok := n.Op().(scatterOp); ok {
			last, idx = n, op.p // the last unpooling, back to 16×16
		}
	}
	var out G.Value
	G.Read(last, &out)
	if err := gn.loadStats(m.stats); err != nil {
		t.Fatal(err)
	}
	runGraph(t, gn.g, G.EvalMode())
	vals := out.Data().([]float64)
	at := map[int]bool{}
	hw, ohw := idx.in[2]*idx.in[3], idx.out[2]*idx.out[3]
	for j, k := range idx.Indices() {
		at[(j/ohw)*hw+int(k)] = true
	}
	if len(at) != idx.out.TotalSize() {
		t.Fatalf("%d distinct maxima for %d windows", len(at), idx.out.TotalSize())
	}
	for i, v := range vals {
		if !at[i] && v != 0 {
			t.Fatalf("unpooled value %g at %d, which is no window's maximum", v, i)
		}
	}
}

func TestBAEBatchErrors(t *testing.T) {
	m := tinyBAE(t, 1, 16, 0.125, tensor.Float32)
	one := synthBatch(rand.New(rand.NewSource(1)), 1, 16)
	if _, err := m.TrainStep(one); err == nil || err.Error() != "bae: a training batch of 1 image(s) at 16 px leaves one value per channel at the 1x1 bottleneck; BatchNorm needs at least 2" {
		t.Fatalf("error %v", err)
	}
	if _, err := m.Score(one); err != nil {
		t.Fatalf("scoring one image: %v", err)
	}
	wrong := synthBatch(rand.New(rand.NewSource(1)), 2, 32)
	if _, err := m.Score(wrong); err == nil || err.Error() != "bae: batch images are 32x32, model was built for 16x16" {
		t.Fatalf("error %v", err)
	}
	nan := synthBatch(rand.New(rand.NewSource(1)), 2, 16)
	nan.Images[3] = float32(math.NaN())
	if _, err := m.TrainStep(nan); err == nil || err.Error() != "bae: loss mse is NaN" {
		t.Fatalf("error %v", err)
	}
	if m.opt.step != 0 {
		t.Fatalf("optimiser step %d after a NaN step", m.opt.step)
	}
}

// Gradients of the masked MSE through convolutions, max pooling with
// indices, BatchNorm, Tanh, the 1×1 bottleneck, unpooling, transposed
// convolutions and Sigmoid, against central differences in float64.
func TestBAENumericalGradient(t *testing.T) {
	m := tinyBAE(t, 5, 16, 0.125, tensor.Float64)
	b := synthBatch(rand.New(rand.NewSource(6)), 3, 16)
	ag, _, err := m.forwardBackward(b)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := ag.grads()
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(gv))
	for i, g := range gv {
		grads[i] = append([]float64(nil), g.Data().([]float64)...)
	}
	loss := func() float64 {
		_, l, err := m.forwardBackward(b)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	aeNumericalGradient(t, m.ps, grads, loss, 10)
}

// The CAE/BAE training graph gives the same gradients when run twice, not
// their sum; before gradients were zeroed per run, every step used the sum
// of all steps' gradients.
func TestAEGradientsDoNotAccumulate(t *testing.T) {
	for _, m := range []*cae{tinyBAE(t, 1, 16, 0.125, tensor.Float32), tinyCAE(t, 1, 32, 0.125)} {
		b := synthBatch(rand.New(rand.NewSource(2)), 3, m.cfg.Size)
		var runs [2][]float32
		for r := range runs {
			ag, _, err := m.forwardBackward(b)
			if err != nil {
				t.Fatal(err)
			}
			gv, err := ag.grads()
			if err != nil {
				t.Fatal(err)
			}
			runs[r] = append([]float32(nil), gv[0].Data().([]float32)...)
		}
		for i := range runs[0] {
			if runs[0][i] != runs[1][i] {
				t.Fatalf("%s: %s gradient[%d] %g on the first run, %g on the second", m.name, m.ps.names[0], i, runs[0][i], runs[1][i])
			}
		}
	}
}

func TestBAECheckpointRoundTrip(t *testing.T) {
	orig := tinyBAE(t, 11, 16, 0.125, tensor.Float32)
	tr := synthBatch(rand.New(rand.NewSource(12)), 3, 16)
	data := trainAndSave(t, orig, tr, 5)
	lm, err := LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	loaded, ok := lm.(*cae)
	if !ok || loaded.Name() != "bae" || loaded.Epoch() != 5 {
		t.Fatalf("LoadModel built %T %s", lm, lm.Name())
	}
	test := synthBatch(rand.New(rand.NewSource(13)), 2, 16)
	scoreSame(t, orig, loaded, test)
	lo, err := orig.TrainStep(tr)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := loaded.TrainStep(tr)
	if err != nil {
		t.Fatal(err)
	}
	if lo["mse"] != ll["mse"] {
		t.Fatalf("next step loss %v after load, %v without", ll["mse"], lo["mse"])
	}
	// A CAE checkpoint is not a BAE's, and another width is refused.
	for _, c := range []struct {
		m    *cae
		want string
	}{
		{tinyCAE(t, 1, 32, 0.125), `checkpoint: holds model "bae", not "cae"`},
		{tinyBAE(t, 1, 16, 0.25, tensor.Float32), "checkpoint: width 0.125, the model has 0.25"},
	} {
		if err := c.m.Load(bytes.NewReader(data)); err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
