package nets

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func tinyCAE(t testing.TB, seed int64, size int, width float64) *cae {
	t.Helper()
	m, err := newCAE(Config{Size: size, TopK: []int{5, 50}, Params: map[string]float64{"width": width, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(seed))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCAEArchitecture(t *testing.T) {
	ls := caeLayers(1)
	if len(ls) != 16 {
		t.Fatalf("%d layers, want 10 encoder + 6 decoder", len(ls))
	}
	var chans []int
	for _, l := range ls {
		chans = append(chans, l.cout)
	}
	want := []int{16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 256, 128, 64, 32, 16, 1}
	for i := range want {
		if chans[i] != want[i] {
			t.Fatalf("channels %v, want %v", chans, want)
		}
	}
	// At 512 px the bottleneck is 512×16×16 and the output 1×512×512.
	h := 512
	for i, l := range ls {
		if l.transpose {
			h = (h-1)*l.s - 2*l.p + l.k
		} else {
			h = (h+2*l.p-l.k)/l.s + 1
		}
		if i == 9 && (h != 16 || l.cout != 512) {
			t.Fatalf("bottleneck %d×%d×%d, want 512×16×16", l.cout, h, h)
		}
	}
	if h != 512 || ls[len(ls)-1].bn || !ls[len(ls)-2].bn {
		t.Fatalf("output side %d (want 512); BN on last layer %v", h, ls[len(ls)-1].bn)
	}
	if got := caeLayers(0.25)[9].cout; got != 128 {
		t.Fatalf("width 0.25 bottleneck channels %d, want 128", got)
	}
}

func TestCAEConfigErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"size", Config{Size: 48, Rand: r}, "cae: image size 48 must be a positive multiple of 32 (five stride-2 stages)"},
		{"unknown", Config{Size: 32, Rand: r, Params: map[string]float64{"depth": 3}}, `cae: unknown parameter "depth" (accepted: beta1, beta2, lr, width)`},
		{"range", Config{Size: 32, Rand: r, Params: map[string]float64{"lr": 2}}, "cae: parameter lr = 2 is outside [1e-07, 0.1]"},
		{"topk", Config{Size: 32, Rand: r, TopK: []int{0}}, "cae: top-k value 0 must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New("cae", c.cfg)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestCAERegistered(t *testing.T) {
	s, ok := Lookup("cae")
	if !ok {
		t.Fatal("cae is not registered")
	}
	if s.Params["lr"].Default != 1e-4 || s.Params["width"].Default != 1 {
		t.Fatalf("defaults lr %g width %g, want the paper's 1e-4 and 1", s.Params["lr"].Default, s.Params["width"].Default)
	}
	m, err := New("cae", Config{Size: 32, TopK: []int{10, 200}, Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.ScoreNames(), ","); got != "mse,mse_top10,mse_top200" {
		t.Fatalf("score names %s", got)
	}
}

// Same seed ⇒ bit-identical losses; another seed ⇒ different ones; and
// training reduces the loss on a fixed batch.
func TestCAESeededTraining(t *testing.T) {
	run := func(seed int64) []float64 {
		m := tinyCAE(t, seed, 32, 0.25)
		b := synthBatch(rand.New(rand.NewSource(7)), 4, 32)
		var out []float64
		for i := 0; i < 3; i++ {
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
	if !(a[2] < a[0]) {
		t.Fatalf("loss did not decrease over 3 steps: %v", a)
	}
}

func TestCAEScore(t *testing.T) {
	m := tinyCAE(t, 1, 32, 0.125)
	tr := synthBatch(rand.New(rand.NewSource(2)), 4, 32)
	if _, err := m.TrainStep(tr); err != nil {
		t.Fatal(err)
	}
	// Score a batch of another size: the inference graph is separate.
	b := synthBatch(rand.New(rand.NewSource(3)), 3, 32)
	s, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	recon, err := m.reconstruct(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range recon {
		if v < 0 || v >= 1 {
			t.Fatalf("reconstruction value %g outside [0,1) of tanh(relu)", v)
		}
	}
	// Recompute the scores independently from the reconstruction.
	for i := 0; i < b.N; i++ {
		var se []float64
		var sum, msum float64
		for p := 0; p < b.Pixels(); p++ {
			mk := float64(b.Mask(i)[p])
			d := mk*float64(b.Image(i)[p]) - mk*recon[i*b.Pixels()+p]
			sum += d * d
			msum += mk
			if mk != 0 {
				se = append(se, d*d)
			}
		}
		if got, want := s.Scores["mse"][i], sum/msum; math.Abs(got-want) > 1e-12 {
			t.Fatalf("image %d mse %g, want %g", i, got, want)
		}
		// top-5 by selection, not sorting
		var top float64
		for k := 0; k < 5; k++ {
			j := 0
			for q := range se {
				if se[q] > se[j] {
					j = q
				}
			}
			top += se[j]
			se[j] = -1
		}
		if got := s.Scores["mse_top5"][i]; math.Abs(got-top/5) > 1e-12 {
			t.Fatalf("image %d mse_top5 %g, want %g", i, got, top/5)
		}
		if s.Scores["mse_top50"][i] > s.Scores["mse_top5"][i] {
			t.Fatalf("top-50 mean above top-5 mean")
		}
	}
	if len(s.Maps) != len(b.Images) {
		t.Fatalf("%d map values for %d pixels", len(s.Maps), len(b.Images))
	}
	// Scoring is in inference mode: it is repeatable and does not move BN statistics.
	s2, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Scores["mse"][0] != s.Scores["mse"][0] {
		t.Fatalf("scoring twice gave %g then %g", s.Scores["mse"][0], s2.Scores["mse"][0])
	}
}

func TestCAEBatchErrors(t *testing.T) {
	m := tinyCAE(t, 1, 32, 0.125)
	wrong := synthBatch(rand.New(rand.NewSource(1)), 2, 64)
	if _, err := m.TrainStep(wrong); err == nil || err.Error() != "cae: batch images are 64x64, model was built for 32x32" {
		t.Fatalf("error %v", err)
	}
	one := synthBatch(rand.New(rand.NewSource(1)), 1, 32)
	if _, err := m.TrainStep(one); err == nil || err.Error() != "cae: a training batch of 1 image(s) at 32 px leaves one value per channel at the 1x1 bottleneck; BatchNorm needs at least 2" {
		t.Fatalf("error %v", err)
	}
	if _, err := m.Score(one); err != nil {
		t.Fatalf("scoring one image: %v", err)
	}
	empty := synthBatch(rand.New(rand.NewSource(1)), 2, 32)
	clear(empty.Masks)
	if _, err := m.TrainStep(empty); err == nil || err.Error() != "cae: the batch's masks are all zero, so the masked loss is undefined" {
		t.Fatalf("error %v", err)
	}
}

// A diverging step is reported by name and changes nothing.
func TestCAENaNLoss(t *testing.T) {
	m := tinyCAE(t, 1, 32, 0.125)
	b := synthBatch(rand.New(rand.NewSource(1)), 2, 32)
	b.Images[5] = float32(math.NaN())
	before := append([]float32(nil), m.ps.vals[0].Float32s()...)
	_, err := m.TrainStep(b)
	if err == nil || err.Error() != "cae: loss mse is NaN" {
		t.Fatalf("error %v, want cae: loss mse is NaN", err)
	}
	for i, v := range m.ps.vals[0].Float32s() {
		if v != before[i] {
			t.Fatal("a NaN step changed the weights")
		}
	}
	if m.opt.step != 0 {
		t.Fatalf("optimiser step %d after a NaN step", m.opt.step)
	}
}

// The CAE's loss gradient (every layer: Conv2d, BatchNorm, ReLU, the
// transposed convolutions, Tanh, masked MSE) against central differences,
// in float64 on a tiny input.
func TestCAENumericalGradient(t *testing.T) {
	m, err := newCAE(Config{Size: 32, Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := synthBatch(rand.New(rand.NewSource(6)), 3, 32)
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
	r := rand.New(rand.NewSource(8))
	checked := 0
	for pi, name := range m.ps.names {
		data := m.ps.vals[pi].Float64s()
		// three entries of every parameter tensor
		for j := 0; j < 3; j++ {
			i := r.Intn(len(data))
			num := centralDiff(loss, data, i)
			if d := math.Abs(num - grads[pi][i]); d > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("d loss/d %s[%d]: analytic %.9g, numerical %.9g", name, i, grads[pi][i], num)
			}
			if testing.Verbose() && j == 0 {
				t.Logf("%s[%d]: analytic %.6g numerical %.6g", name, i, grads[pi][i], num)
			}
			checked++
		}
	}
	if checked < 3*len(m.ps.names) {
		t.Fatalf("checked only %d entries", checked)
	}
}
