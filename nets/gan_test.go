package nets

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tinyGANParams keep every network a few hundred parameters wide.
func tinyGANParams(name string) map[string]float64 {
	p := map[string]float64{"width": 0.125, "z": 8}
	if name != "bigan" {
		p["mbd_kernels"], p["mbd_dims"] = 3, 2
	}
	return p
}

func tinyGAN(t testing.TB, name string, seed int64, dt tensor.Dtype) Model {
	t.Helper()
	cfg := Config{Size: 16, TopK: []int{5}, Params: tinyGANParams(name), Rand: rand.New(rand.NewSource(seed))}
	var m Model
	var err error
	switch name {
	case "dcgan":
		m, err = newDCGAN(cfg, dt)
	case "bigan":
		m, err = newBiGAN(cfg, dt)
	case "alphagan":
		m, err = newAlphaGAN(cfg, dt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var ganNames = []string{"dcgan", "bigan", "alphagan"}

func TestGANsRegistered(t *testing.T) {
	want := map[string]string{
		"dcgan":    "d",
		"bigan":    "mse,mse_top10,mse_top200,d",
		"alphagan": "c,mse,mse_top10,mse_top200,d,c_d",
	}
	for _, name := range ganNames {
		s, ok := Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		p := tinyGANParams(name)
		m, err := New(name, Config{Size: 16, TopK: []int{10, 200}, Params: p, Rand: rand.New(rand.NewSource(1))})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(m.ScoreNames(), ","); got != want[name] {
			t.Fatalf("%s scores %s, want %s", name, got, want[name])
		}
		if s.Params["beta1"].Default != 0.5 || s.Params["beta2"].Default != 0.999 {
			t.Fatalf("%s Adam betas %g %g", name, s.Params["beta1"].Default, s.Params["beta2"].Default)
		}
	}
	// the supplement's learning rates and z dimensions
	for _, c := range []struct {
		model, param string
		want         float64
	}{
		{"dcgan", "lr_g", 1e-3}, {"dcgan", "lr_d", 1e-5}, {"dcgan", "z", 2048}, {"dcgan", "soft_delta", 0.01},
		{"bigan", "lr_ge", 1e-3}, {"bigan", "lr_d", 5e-6}, {"bigan", "z", 100}, {"bigan", "hinge", 1},
		{"alphagan", "lr_ge", 1e-3}, {"alphagan", "lr_d", 5e-6}, {"alphagan", "z", 100}, {"alphagan", "l1", 0.01},
	} {
		s, _ := Lookup(c.model)
		if got := s.Params[c.param].Default; got != c.want {
			t.Fatalf("%s %s default %g, want %g", c.model, c.param, got, c.want)
		}
	}
}

func TestGANConfigErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	cases := []struct {
		model string
		cfg   Config
		want  string
	}{
		{"dcgan", Config{Size: 48, Rand: r}, "dcgan: image size 48 must be a power of two of at least 16 (stride-2 stages down to 4x4)"},
		{"bigan", Config{Size: 8, Rand: r}, "bigan: image size 8 must be a power of two of at least 16 (stride-2 stages down to 4x4)"},
		{"alphagan", Config{Size: 32, Rand: r, Params: map[string]float64{"hinge": 0.5}}, "alphagan: parameter hinge = 0.5 must be an integer"},
		{"bigan", Config{Size: 32, Rand: r, Params: map[string]float64{"mbd_kernels": 3}}, `bigan: unknown parameter "mbd_kernels" (accepted: beta1, beta2, hinge, lr_d, lr_ge, slope, width, z)`},
		{"dcgan", Config{Size: 32, Rand: r, Params: map[string]float64{"lr_d": 1}}, "dcgan: parameter lr_d = 1 is outside [1e-08, 0.1]"},
	}
	for _, c := range cases {
		_, err := New(c.model, c.cfg)
		if err == nil || err.Error() != c.want {
			t.Fatalf("%s: error %v, want %q", c.model, err, c.want)
		}
	}
}

func channels(ls []gLayer) []int {
	var out []int
	for _, l := range ls {
		out = append(out, l.cout)
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// At the paper's sizes the layer stacks are the coded ones.
func TestGANArchitectures(t *testing.T) {
	st512, _ := ganStages("dcgan", 512)
	g := generatorLayers("g", 2048, st512, 16, 1, false, true, aLReLU)
	if got := channels(g); !sameInts(got, []int{1024, 512, 256, 128, 64, 32, 16, 1}) || g[0].s != 1 || g[0].p != 0 || g[0].cin != 2048 {
		t.Fatalf("DCGAN generator %v", got)
	}
	side := 1
	for _, l := range g {
		side = (side-1)*l.s - 2*l.p + l.k
	}
	if side != 512 {
		t.Fatalf("DCGAN generator output side %d", side)
	}
	d := trunkLayers("d", st512, 4, 1)
	if got := channels(d); !sameInts(got, []int{4, 8, 16, 32, 64, 128, 256}) {
		t.Fatalf("DCGAN discriminator %v (plus the 4x4 head: eight convolutions)", got)
	}
	st128, _ := ganStages("bigan", 128)
	if got := channels(trunkLayers("e", st128, 64, 1)); !sameInts(got, []int{64, 128, 256, 512, 1024}) {
		t.Fatalf("BiGAN encoder %v", got)
	}
	if got := channels(generatorLayers("g", 100, st128, 64, 1, true, false, aReLU)); !sameInts(got, []int{1024, 512, 256, 128, 64, 1}) {
		t.Fatalf("BiGAN generator %v", got)
	}
	// the authors' 64 px variant: encoder 64..512, generator 512..64
	st64, _ := ganStages("bigan", 64)
	if got := channels(generatorLayers("g", 100, st64, 64, 1, true, false, aReLU)); !sameInts(got, []int{512, 256, 128, 64, 1}) {
		t.Fatalf("64 px generator %v", got)
	}
	m, err := newBiGAN(Config{Size: 128, Params: map[string]float64{"width": 1.0 / 64}, Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if m.dJ[0].cin != 16+8 { // 1024/64 image features + 512/64 latent features: the code's 1536 at width 1
		t.Fatalf("joint input %d", m.dJ[0].cin)
	}
	a, err := newAlphaGAN(Config{Size: 16, Params: map[string]float64{"z": 100}, Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if got := channels(a.cLayer); !sameInts(got, []int{50, 25, 1}) {
		t.Fatalf("code discriminator %v, want 100→50→25→1", got)
	}
	if len(a.g.sn) != len(a.gLayers)-1 || len(a.d.sn) != len(a.dTrunk)+1 || len(a.c.sn) != 0 {
		t.Fatalf("spectral norms: g %d d %d c %d", len(a.g.sn), len(a.d.sn), len(a.c.sn))
	}
}

// phaseLosses runs a model's phases on fixed inputs and returns, for each
// network, its loss and gradients (float64 models only).
type phaseRun func() (map[*ganNet]float64, map[*ganNet][]G.Value)

func ganPhases(t *testing.T, m Model, b *Batch) (phaseRun, []*ganNet) {
	r := rand.New(rand.NewSource(99))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	grads := func(gg *ganGraph, n *ganNet) []G.Value {
		g, err := gg.grads(n)
		must(err)
		return g
	}
	switch m := m.(type) {
	case *dcgan:
		z := normals(r, b.N*m.z)
		tr, tf := []float64{0.004, 0.001, 0.009}, []float64{0.995, 0.999, 0.992}
		return func() (map[*ganNet]float64, map[*ganNet][]G.Value) {
			dp, ld, err := m.runD(b, z, tr, tf)
			must(err)
			gp, lg, err := m.runG(z)
			must(err)
			return map[*ganNet]float64{m.d: ld, m.g: lg}, map[*ganNet][]G.Value{m.d: grads(dp.gg, m.d), m.g: grads(gp.gg, m.g)}
		}, m.nets
	case *bigan:
		z := normals(r, b.N*m.z)
		return func() (map[*ganNet]float64, map[*ganNet][]G.Value) {
			ge, d, l, err := m.phases(b, z)
			must(err)
			return map[*ganNet]float64{m.g: l["ge"], m.e: l["ge"], m.d: l["d"]},
				map[*ganNet][]G.Value{m.g: grads(ge.gg, m.g), m.e: grads(ge.gg, m.e), m.d: grads(d.gg, m.d)}
		}, m.nets
	case *alphagan:
		z, eps := normals(r, b.N*m.z), normals(r, b.N*m.z)
		return func() (map[*ganNet]float64, map[*ganNet][]G.Value) {
			ep, gp, dp, l, err := m.phases(b, z, eps)
			must(err)
			dc := l["d"] + l["c"]
			return map[*ganNet]float64{m.e: l["e"], m.g: l["g"], m.d: dc, m.c: dc},
				map[*ganNet][]G.Value{m.e: grads(ep.gg, m.e), m.g: grads(gp.gg, m.g), m.d: grads(dp.gg, m.d), m.c: grads(dp.gg, m.c)}
		}, m.nets
	}
	t.Fatalf("unknown model %T", m)
	return nil, nil
}

// Each network's gradient of its own loss (through spectral norm,
// minibatch discrimination, LeakyReLU, BN, transposed convolutions and the
// adversarial losses) against central differences, in float64.
func TestGANNumericalGradients(t *testing.T) {
	for _, c := range []struct {
		name  string
		hinge float64
	}{{"dcgan", -1}, {"bigan", 1}, {"bigan", 0}, {"alphagan", 1}, {"alphagan", 0}} {
		name := c.name
		label := name + "/bce"
		if c.hinge == 1 {
			label = name + "/hinge"
		}
		t.Run(label, func(t *testing.T) {
			p := tinyGANParams(name)
			if c.hinge >= 0 {
				p["hinge"] = c.hinge
			}
			cfg := Config{Size: 16, TopK: []int{5}, Params: p, Rand: rand.New(rand.NewSource(5))}
			var m Model
			var err error
			switch name {
			case "dcgan":
				m, err = newDCGAN(cfg, tensor.Float64)
			case "bigan":
				m, err = newBiGAN(cfg, tensor.Float64)
			default:
				m, err = newAlphaGAN(cfg, tensor.Float64)
			}
			if err != nil {
				t.Fatal(err)
			}
			b := synthBatch(rand.New(rand.NewSource(6)), 3, 16)
			m.(interface{ powerIterate() }).powerIterate()
			run, nets := ganPhases(t, m, b)
			_, gv := run()
			analytic := map[*ganNet][][]float64{}
			for _, n := range nets {
				for _, g := range gv[n] {
					analytic[n] = append(analytic[n], append([]float64(nil), g.Data().([]float64)...))
				}
			}
			r := rand.New(rand.NewSource(8))
			for _, n := range nets {
				for pi, pname := range n.ps.names {
					data := n.ps.vals[pi].Float64s()
					for j := 0; j < 2; j++ {
						i := r.Intn(len(data))
						num := centralDiff(func() float64 { l, _ := run(); return l[n] }, data, i)
						got := analytic[n][pi][i]
						if math.Abs(num-got) > 1e-6+1e-4*math.Abs(num) {
							t.Errorf("d loss(%s)/d %s[%d]: analytic %.9g, numerical %.9g", n.name, pname, i, got, num)
						}
					}
				}
			}
		})
	}
}

func trainLosses(t *testing.T, name string, seed int64, steps int) []map[string]float64 {
	t.Helper()
	m := tinyGAN(t, name, seed, tensor.Float32)
	b := synthBatch(rand.New(rand.NewSource(7)), 4, 16)
	var out []map[string]float64
	for i := 0; i < steps; i++ {
		l, err := m.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestGANSeededTraining(t *testing.T) {
	wantKeys := map[string]string{"dcgan": "d,g", "bigan": "d,ge", "alphagan": "c,d,e,g,l1"}
	for _, name := range ganNames {
		a, b, c := trainLosses(t, name, 42, 3), trainLosses(t, name, 42, 3), trainLosses(t, name, 4242, 1)
		var keys []string
		for k := range a[0] {
			keys = append(keys, k)
		}
		if got := strings.Join(sortedCopy(keys), ","); got != wantKeys[name] {
			t.Fatalf("%s losses %s, want %s", name, got, wantKeys[name])
		}
		for i := range a {
			for k, v := range a[i] {
				if math.Float64bits(v) != math.Float64bits(b[i][k]) {
					t.Fatalf("%s same seed, step %d loss %s: %v vs %v", name, i, k, v, b[i][k])
				}
			}
		}
		if a[0]["d"] == c[0]["d"] {
			t.Fatalf("%s: seeds 42 and 4242 gave the same first loss %v", name, a[0]["d"])
		}
		if a[1]["d"] == a[0]["d"] {
			t.Fatalf("%s: training did not change the discriminator loss", name)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A loaded model scores bit-identically (weights, spectral-norm vectors and
// BN statistics restored) and, given the same noise source, keeps training
// exactly as the original (Adam moments and step restored).
func TestGANCheckpointRoundTrip(t *testing.T) {
	for _, name := range ganNames {
		t.Run(name, func(t *testing.T) {
			orig := tinyGAN(t, name, 11, tensor.Float32)
			b := synthBatch(rand.New(rand.NewSource(12)), 4, 16)
			data := trainAndSave(t, orig, b, 2)
			ck, err := readCheckpoint(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ck.tensor("sn.u/d.conv0.w"); !ok {
				t.Fatal("the checkpoint has no spectral-norm u vector for d.conv0.w")
			}
			loaded := tinyGAN(t, name, 99, tensor.Float32)
			if err := loaded.Load(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if e := loaded.(interface{ Epoch() int }).Epoch(); e != 2 {
				t.Fatalf("epoch %d after load", e)
			}
			test := synthBatch(rand.New(rand.NewSource(13)), 3, 16)
			so := scoreSame(t, orig, loaded, test)
			if len(so.Scores) != len(orig.ScoreNames()) {
				t.Fatalf("%d scores, names %v", len(so.Scores), orig.ScoreNames())
			}
			base := func(m Model) *ganBase {
				switch m := m.(type) {
				case *dcgan:
					return m.ganBase
				case *bigan:
					return m.ganBase
				case *alphagan:
					return m.ganBase
				}
				return nil
			}
			base(orig).rnd = rand.New(rand.NewSource(5))
			base(loaded).rnd = rand.New(rand.NewSource(5))
			lo, err := orig.TrainStep(b)
			if err != nil {
				t.Fatal(err)
			}
			ll, err := loaded.TrainStep(b)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range lo {
				if math.Float64bits(v) != math.Float64bits(ll[k]) {
					t.Fatalf("loss %s after load %v, without %v", k, ll[k], v)
				}
			}
			lm, err := LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
			if err != nil {
				t.Fatal(err)
			}
			if lm.Name() != name {
				t.Fatalf("LoadModel built %s", lm.Name())
			}
		})
	}
}

func TestGANCheckpointMismatch(t *testing.T) {
	var buf bytes.Buffer
	if err := tinyGAN(t, "dcgan", 1, tensor.Float32).Save(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	other, err := newDCGAN(Config{Size: 16, Params: map[string]float64{"width": 0.25, "z": 8, "mbd_kernels": 3, "mbd_dims": 2}, Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    Model
		want string
	}{
		{tinyGAN(t, "bigan", 1, tensor.Float32), `checkpoint: holds model "dcgan", not "bigan"`},
		{other, "checkpoint: width 0.125, the model has 0.25"},
	} {
		if err := c.m.Load(bytes.NewReader(data)); err == nil || err.Error() != c.want {
			t.Fatalf("error %v, want %q", err, c.want)
		}
	}
}

// Scores are oriented and derived as documented: α-GAN's c_d is the mean of
// c and d, all probabilities lie in (0,1), and BiGAN's mse is the masked
// error of its own reconstruction.
func TestGANScores(t *testing.T) {
	b := synthBatch(rand.New(rand.NewSource(3)), 3, 16)
	am := tinyGAN(t, "alphagan", 1, tensor.Float32)
	s, err := am.Score(b)
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
	bm := tinyGAN(t, "bigan", 1, tensor.Float32).(*bigan)
	s, err = bm.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	rec := values(bm.infer[b.N].recon)
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
	dm := tinyGAN(t, "dcgan", 1, tensor.Float32)
	s, err = dm.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Maps != nil || len(s.Scores) != 1 || len(s.Scores["d"]) != b.N {
		t.Fatalf("dcgan scored %v with %d map values", s.Scores, len(s.Maps))
	}
	// scoring is inference: repeatable, and it moves no state
	s2, err := dm.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, s, s2)
}

// A diverging step is reported by name and changes nothing.
func TestGANNaNLoss(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"dcgan", "dcgan: loss d is NaN"},
		{"bigan", "bigan: loss d is NaN"},
		{"alphagan", "alphagan: loss c is NaN"},
	} {
		m := tinyGAN(t, c.name, 1, tensor.Float32)
		b := synthBatch(rand.New(rand.NewSource(1)), 3, 16)
		b.Images[5] = float32(math.NaN())
		var before [][]float32
		for _, v := range m.(interface{ allParams() []*tensor.Dense }).allParams() {
			before = append(before, append([]float32(nil), v.Float32s()...))
		}
		if _, err := m.TrainStep(b); err == nil || err.Error() != c.want {
			t.Fatalf("error %v, want %q", err, c.want)
		}
		for i, v := range m.(interface{ allParams() []*tensor.Dense }).allParams() {
			for j, x := range v.Float32s() {
				if x != before[i][j] {
					t.Fatalf("%s: a NaN step changed parameter tensor %d", c.name, i)
				}
			}
		}
	}
	m := tinyGAN(t, "dcgan", 1, tensor.Float32)
	if _, err := m.TrainStep(synthBatch(rand.New(rand.NewSource(1)), 2, 32)); err == nil || err.Error() != "dcgan: batch images are 32x32, model was built for 16x16" {
		t.Fatalf("error %v", err)
	}
}
