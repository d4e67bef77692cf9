package models_test

import (
	"bytes"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

// The contract every registered model keeps, run over one table: what the
// registry says about it, seeded training, learning on a tiny set,
// checkpoints, score shapes, and the errors it gives. Each row also holds
// the model's own pinned values (defaults, messages).

// batchCase is a batch a model must refuse (or, with ok, accept) in
// TrainStep and in Score; an empty want is not checked.
type batchCase struct {
	name         string
	batch        func() *nets.Batch
	train, score string
}

// ok marks a batchCase step that must succeed.
const ok = "ok"

// mismatch is a checkpoint of this row's model refused by a model built
// with other settings.
type mismatch struct {
	size   int                // 0: the row's
	params map[string]float64 // merged into the row's
	want   string
}

type contract struct {
	name     string
	size     int
	params   map[string]float64 // tiny networks
	topK     []int
	ckpt     bool   // uses the checkpoint format (Save → LoadModel)
	noisy    bool   // draws noise while training: must be an EpochSeeder
	maps     bool   // Score gives per-pixel maps
	lossKeys string // sorted names of a training step's losses
	// seedKeys are losses that must differ between seeds 42 and 4242 on
	// the first step.
	seedKeys []string
	steps    int // training steps of the seeded check
	// seededSize and seededParams, where set, are the seeded check's
	// image size and parameters (merged into params).
	seededSize   int
	seededParams map[string]float64
	epoch        int // the epoch a round-tripped checkpoint records
	// recon, for autoencoders, is the reconstruction loss that must be
	// lower after the seeded steps than at the first.
	recon func(l map[string]float64) float64
	// stepCheck checks each step's losses.
	stepCheck func(t *testing.T, l map[string]float64)
	// gan: the discriminator must move at the second step and come to
	// tell real images from generated ones (separates).
	gan bool
	// dChance is the discriminator loss "d" when every logit is 0: 2·ln 2
	// for BCE, 1 per real or fake term for the hinge.
	dChance float64

	defaults    map[string]float64 // registered parameter defaults
	scoreNames  string             // with top-k 10 and 200
	configs     []configCase       // refused configurations
	ckptTensors []string           // tensors a checkpoint must hold
	mismatches  []mismatch
	batches     []batchCase
	nan         struct {
		index  int
		value  float32
		want   string
		prefix bool // want is a prefix of the error
	}
}

type configCase struct {
	name string
	cfg  nets.Config // Rand is added
	want string
}

func synth(seed int64, n, size int) func() *nets.Batch {
	return func() *nets.Batch { return nettest.SynthBatch(rand.New(rand.NewSource(seed)), n, size) }
}

func emptyMask(n, size int) func() *nets.Batch {
	return func() *nets.Batch {
		b := nettest.SynthBatch(rand.New(rand.NewSource(1)), n, size)
		clear(b.Masks)
		return b
	}
}

var ganSizeErr = " must be a power of two of at least 16 (stride-2 stages down to 4x4)"

func contracts() []contract {
	r := rand.New(rand.NewSource(1))
	aeDefaults := map[string]float64{"lr": 1e-4, "width": 1}
	ganDefaults := func(more map[string]float64) map[string]float64 {
		out := map[string]float64{"beta1": 0.5, "beta2": 0.999}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	mse := func(l map[string]float64) float64 { return l["mse"] }
	cs := []contract{
		{
			name: "cae", size: 32, params: map[string]float64{"width": 0.125, "lr": 1e-3}, topK: []int{5, 50},
			ckpt: true, maps: true, lossKeys: "mse", seedKeys: []string{"mse"}, steps: 3, recon: mse,
			seededParams: map[string]float64{"width": 0.25}, epoch: 3,
			defaults: aeDefaults, scoreNames: "mse,mse_top10,mse_top200",
			configs: []configCase{
				{"size", nets.Config{Size: 48}, "cae: image size 48 must be a positive multiple of 32 (five stride-2 stages)"},
				{"unknown", nets.Config{Size: 32, Params: map[string]float64{"depth": 3}}, `cae: unknown parameter "depth" (accepted: beta1, beta2, lr, width)`},
				{"range", nets.Config{Size: 32, Params: map[string]float64{"lr": 2}}, "cae: parameter lr = 2 is outside [1e-07, 0.1]"},
				{"topk", nets.Config{Size: 32, TopK: []int{0}}, "cae: top-k value 0 must be positive"},
			},
			mismatches: []mismatch{
				{params: map[string]float64{"width": 0.25}, want: "checkpoint: width 0.125, the model has 0.25"},
				{size: 64, want: "checkpoint: image size 32, the model has 64"},
			},
			batches: []batchCase{
				{"size", synth(1, 2, 64), "cae: batch images are 64x64, model was built for 32x32", ""},
				{"one image", synth(1, 1, 32), "cae: a training batch of 1 image(s) at 32 px leaves one value per channel at the 1x1 bottleneck; BatchNorm needs at least 2", ok},
				{"empty mask", emptyMask(2, 32), "cae: the batch's masks are all zero, so the masked loss is undefined", ""},
			},
		},
		{
			name: "bae", size: 16, params: map[string]float64{"width": 0.125, "lr": 1e-3}, topK: []int{5, 50},
			ckpt: true, maps: true, lossKeys: "mse", seedKeys: []string{"mse"}, steps: 4, recon: mse,
			seededSize: 32, seededParams: map[string]float64{"width": 0.25}, epoch: 5,
			defaults: aeDefaults, scoreNames: "mse,mse_top10,mse_top200",
			configs: func() []configCase {
				sizeErr := func(s string) string {
					return "bae: image size " + s + " must be a power of two from 8 to 512 (pooling halves it down to a 1x1 bottleneck)"
				}
				return []configCase{
					{"size", nets.Config{Size: 96}, sizeErr("96")},
					{"small", nets.Config{Size: 4}, sizeErr("4")},
					{"big", nets.Config{Size: 1024}, sizeErr("1024")},
					{"unknown", nets.Config{Size: 16, Params: map[string]float64{"z": 3}}, `bae: unknown parameter "z" (accepted: beta1, beta2, lr, width)`},
					{"range", nets.Config{Size: 16, Params: map[string]float64{"width": 8}}, "bae: parameter width = 8 is outside [0.015625, 4]"},
					{"topk", nets.Config{Size: 16, TopK: []int{-1}}, "bae: top-k value -1 must be positive"},
				}
			}(),
			mismatches: []mismatch{{params: map[string]float64{"width": 0.25}, want: "checkpoint: width 0.125, the model has 0.25"}},
			batches: []batchCase{
				{"one image", synth(1, 1, 16), "bae: a training batch of 1 image(s) at 16 px leaves one value per channel at the 1x1 bottleneck; BatchNorm needs at least 2", ok},
				{"size", synth(1, 2, 32), "", "bae: batch images are 32x32, model was built for 16x16"},
			},
		},
		{
			name: "vae", size: 16, params: map[string]float64{"width": 0.125, "z": 6, "lr": 1e-3}, topK: []int{5, 50},
			ckpt: true, noisy: true, maps: true, lossKeys: "bce,kld,loss", seedKeys: []string{"bce", "kld"}, steps: 4,
			seededSize: 32, seededParams: map[string]float64{"width": 0.25, "z": 16}, epoch: 2,
			recon: func(l map[string]float64) float64 { return l["bce"] + l["kld"] },
			stepCheck: func(t *testing.T, l map[string]float64) {
				if l["loss"] != l["bce"]+l["kld"] && math.Abs(l["loss"]-(l["bce"]+l["kld"])) > 1e-5*l["loss"] {
					t.Fatalf("loss %v is not bce %v + kld %v", l["loss"], l["bce"], l["kld"])
				}
			},
			defaults:   map[string]float64{"lr": 5e-5, "z": 1024, "width": 1},
			scoreNames: "kld,l1,l1_kld,l1_top10,l1_top200,mse,mse_kld,mse_top10,mse_top200",
			configs: []configCase{
				{"size", nets.Config{Size: 48}, "vae: image size 48 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
				{"small", nets.Config{Size: 8}, "vae: image size 8 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
				{"big", nets.Config{Size: 1024}, "vae: image size 1024 must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)"},
				{"unknown", nets.Config{Size: 16, Params: map[string]float64{"zdim": 3}}, `vae: unknown parameter "zdim" (accepted: beta1, beta2, lr, width, z)`},
				{"z integer", nets.Config{Size: 16, Params: map[string]float64{"z": 2.5}}, "vae: parameter z = 2.5 must be an integer"},
				{"z range", nets.Config{Size: 16, Params: map[string]float64{"z": 0}}, "vae: parameter z = 0 is outside [1, 65536]"},
				{"topk", nets.Config{Size: 16, TopK: []int{3, 3}}, "vae: top-k value 3 is listed twice"},
			},
			mismatches: []mismatch{
				{params: map[string]float64{"z": 7}, want: "checkpoint: z 6, the model has 7"},
				{params: map[string]float64{"width": 0.25}, want: "checkpoint: width 0.125, the model has 0.25"},
				{size: 32, want: "checkpoint: image size 16, the model has 32"},
			},
			batches: []batchCase{
				{"size", synth(1, 2, 32), "vae: batch images are 32x32, model was built for 16x16", ""},
				{"values", func() *nets.Batch {
					return &nets.Batch{N: 2, H: 16, W: 16, Images: make([]float32, 10), Masks: make([]float32, 10)}
				}, "vae: batch shape 2x16x16 needs 512 values, has 10 images and 10 mask values", ""},
				{"empty mask", emptyMask(2, 16), "vae: the batch's masks are all zero, so the masked loss is undefined", ""},
				// BatchNorm sees 4 values per channel at 2×2
				{"one image", synth(1, 1, 16), ok, ok},
			},
		},
		{
			name: "dcgan", size: 16, params: nettest.TinyGANParams(true), topK: []int{5},
			ckpt: true, noisy: true, lossKeys: "d,g", seedKeys: []string{"d"}, steps: 3, gan: true, dChance: 2 * math.Ln2, epoch: 2,
			defaults:    ganDefaults(map[string]float64{"lr_g": 1e-3, "lr_d": 1e-5, "z": 2048, "soft_delta": 0.01}),
			scoreNames:  "d",
			ckptTensors: []string{"sn.u/d.conv0.w"},
			configs: []configCase{
				{"size", nets.Config{Size: 48}, "dcgan: image size 48" + ganSizeErr},
				{"range", nets.Config{Size: 32, Params: map[string]float64{"lr_d": 1}}, "dcgan: parameter lr_d = 1 is outside [1e-08, 0.1]"},
			},
			mismatches: []mismatch{{params: map[string]float64{"width": 0.25}, want: "checkpoint: width 0.125, the model has 0.25"}},
			batches:    []batchCase{{"size", synth(1, 2, 32), "dcgan: batch images are 32x32, model was built for 16x16", ""}},
		},
		{
			name: "bigan", size: 16, params: nettest.TinyGANParams(false), topK: []int{5},
			ckpt: true, noisy: true, maps: true, lossKeys: "d,ge", seedKeys: []string{"d"}, steps: 3, gan: true, dChance: 2, epoch: 2,
			defaults:    ganDefaults(map[string]float64{"lr_ge": 1e-3, "lr_d": 5e-6, "z": 100, "hinge": 1}),
			scoreNames:  "mse,mse_top10,mse_top200,d",
			ckptTensors: []string{"sn.u/d.conv0.w"},
			configs: []configCase{
				{"size", nets.Config{Size: 8}, "bigan: image size 8" + ganSizeErr},
				{"unknown", nets.Config{Size: 32, Params: map[string]float64{"mbd_kernels": 3}}, `bigan: unknown parameter "mbd_kernels" (accepted: beta1, beta2, hinge, lr_d, lr_ge, slope, width, z)`},
			},
		},
		{
			name: "alphagan", size: 16, params: nettest.TinyGANParams(true), topK: []int{5},
			ckpt: true, noisy: true, maps: true, lossKeys: "c,d,e,g,l1", seedKeys: []string{"d"}, steps: 3, gan: true, dChance: 3, epoch: 2,
			defaults:    ganDefaults(map[string]float64{"lr_ge": 1e-3, "lr_d": 5e-6, "z": 100, "l1": 0.01}),
			scoreNames:  "c,mse,mse_top10,mse_top200,d,c_d",
			ckptTensors: []string{"sn.u/d.conv0.w"},
			configs: []configCase{
				{"hinge", nets.Config{Size: 32, Params: map[string]float64{"hinge": 0.5}}, "alphagan: parameter hinge = 0.5 must be an integer"},
			},
		},
		{
			name: "pixelgauss", size: 4, params: map[string]float64{"var_floor": 0.01}, topK: []int{3}, epoch: 1,
			maps: true, scoreNames: "mean,mean_top10,mean_top200",
			batches: []batchCase{
				{"size", func() *nets.Batch {
					return &nets.Batch{N: 1, H: 2, W: 2, Images: make([]float32, 4), Masks: make([]float32, 4)}
				}, "pixelgauss: batch images are 2x2, model was built for 4x4", "pixelgauss: batch images are 2x2, model was built for 4x4"},
				{"values", func() *nets.Batch {
					return &nets.Batch{N: 1, H: 4, W: 4, Images: make([]float32, 15), Masks: make([]float32, 16)}
				}, "batch shape 1x4x4 needs 16 values, has 15 images and 16 mask values", "batch shape 1x4x4 needs 16 values, has 15 images and 16 mask values"},
				{"empty", func() *nets.Batch { return &nets.Batch{N: 0, H: 4, W: 4} },
					"batch shape 0x4x4: every dimension must be positive", "batch shape 0x4x4: every dimension must be positive"},
			},
		},
	}
	for i := range cs {
		c := &cs[i]
		switch c.name {
		case "cae":
			c.nan.index, c.nan.value, c.nan.want = 5, float32(math.NaN()), "cae: loss mse is NaN"
		case "bae":
			c.nan.index, c.nan.value, c.nan.want = 3, float32(math.NaN()), "bae: loss mse is NaN"
		case "vae":
			c.nan.index, c.nan.value, c.nan.want, c.nan.prefix = 5, float32(math.Inf(1)), "vae: loss is NaN (bce NaN, kld ", true
		case "dcgan", "bigan":
			c.nan.index, c.nan.value, c.nan.want = 5, float32(math.NaN()), c.name+": loss d is NaN"
		case "alphagan":
			c.nan.index, c.nan.value, c.nan.want = 5, float32(math.NaN()), "alphagan: loss c is NaN"
		}
		for j := range c.configs {
			c.configs[j].cfg.Rand = r
		}
	}
	return cs
}

// build makes the row's model with the given seed; size and params
// override the row's when set.
func (c contract) build(t testing.TB, seed int64, size int, params map[string]float64) nets.Model {
	t.Helper()
	p := map[string]float64{}
	for k, v := range c.params {
		p[k] = v
	}
	for k, v := range params {
		p[k] = v
	}
	if size == 0 {
		size = c.size
	}
	m, err := nets.New(c.name, nets.Config{Size: size, TopK: c.topK, Params: p, Rand: rand.New(rand.NewSource(seed))})
	if err != nil {
		t.Fatal(err)
	}
	// as the runner does: a reference batch of training images
	if r, ok := m.(nets.Referenced); ok {
		if err := r.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(77)), 3, size)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (c contract) model(t testing.TB, seed int64) nets.Model { return c.build(t, seed, 0, nil) }

// TestContract runs every check on every registered model; a model
// without a row fails.
func TestContract(t *testing.T) {
	rows := map[string]contract{}
	for _, c := range contracts() {
		rows[c.name] = c
	}
	for _, name := range nets.Names() {
		c, ok := rows[name]
		if !ok {
			t.Errorf("model %s is registered but has no row in the contract table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Run("registered", c.registered)
			t.Run("config", c.config)
			t.Run("seeded", c.seeded)
			t.Run("scores", c.scores)
			t.Run("batch independent", c.batchIndependent)
			t.Run("roundtrip", c.roundTrip)
			t.Run("mismatch", c.mismatch)
			t.Run("inference follows training", c.inferenceFollowsTraining)
			t.Run("batches", c.batchErrors)
			t.Run("nan", c.nanStep)
		})
	}
}

// The registry gives the model under its name with the pinned defaults and
// score names, and noisy models take an epoch's noise stream.
func (c contract) registered(t *testing.T) {
	s, ok := nets.Lookup(c.name)
	if !ok {
		t.Fatalf("%s is not registered", c.name)
	}
	for p, want := range c.defaults {
		if got := s.Params[p].Default; got != want {
			t.Errorf("%s default %g, want %g", p, got, want)
		}
	}
	m, err := nets.New(c.name, nets.Config{Size: c.size, TopK: []int{10, 200}, Params: c.params, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != c.name {
		t.Fatalf("name %s", m.Name())
	}
	if got := strings.Join(m.ScoreNames(), ","); got != c.scoreNames {
		t.Fatalf("score names %s, want %s", got, c.scoreNames)
	}
	if _, ok := m.(nets.EpochSeeder); c.noisy && !ok {
		t.Errorf("%s does not implement EpochSeeder: a resumed run would draw other noise", c.name)
	}
}

func (c contract) config(t *testing.T) {
	for _, cc := range c.configs {
		t.Run(cc.name, func(t *testing.T) {
			_, err := nets.New(c.name, cc.cfg)
			if err == nil || err.Error() != cc.want {
				t.Fatalf("error %v, want %q", err, cc.want)
			}
		})
	}
}

func (c contract) trainLosses(t *testing.T, seed int64, steps int) []map[string]float64 {
	t.Helper()
	size := c.size
	if c.seededSize != 0 {
		size = c.seededSize
	}
	m := c.build(t, seed, size, c.seededParams)
	b := nettest.SynthBatch(rand.New(rand.NewSource(7)), 4, size)
	var out []map[string]float64
	for i := 0; i < steps; i++ {
		l, err := m.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		if c.stepCheck != nil {
			c.stepCheck(t, l)
		}
		out = append(out, l)
	}
	return out
}

// Same seed ⇒ bit-identical losses (initialisation and noise both come
// from the seed); another seed ⇒ different ones; and training learns:
// an autoencoder's reconstruction loss goes down, a GAN's discriminator
// moves and comes to tell real images from noise.
func (c contract) seeded(t *testing.T) {
	if c.lossKeys == "" {
		if l, err := c.model(t, 1).TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(7)), 4, c.size)); err != nil || len(l) != 0 {
			t.Fatalf("losses %v, error %v; want none", l, err)
		}
		return
	}
	a, b, other := c.trainLosses(t, 42, c.steps), c.trainLosses(t, 42, c.steps), c.trainLosses(t, 4242, 1)
	var keys []string
	for k := range a[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != c.lossKeys {
		t.Fatalf("losses %s, want %s", got, c.lossKeys)
	}
	for i := range a {
		for k, v := range a[i] {
			if math.Float64bits(v) != math.Float64bits(b[i][k]) {
				t.Fatalf("same seed, step %d loss %s: %v vs %v", i, k, v, b[i][k])
			}
		}
	}
	for _, k := range c.seedKeys {
		if a[0][k] == other[0][k] {
			t.Fatalf("seeds 42 and 4242 gave the same first loss %s %v", k, a[0][k])
		}
	}
	if c.recon != nil {
		if last := len(a) - 1; !(c.recon(a[last]) < c.recon(a[0])) {
			t.Fatalf("loss did not decrease over %d steps: %v", len(a), a)
		}
	}
	if c.gan {
		if a[1]["d"] == a[0]["d"] {
			t.Fatal("training did not change the discriminator loss")
		}
		c.separates(t)
	}
}

// separates trains a GAN on a tiny set with a faster discriminator than
// the paper's (lr_d 3e-3) and requires the discriminator to tell the real
// images from the generator's samples of noise: after ten steps its loss
// is below its first step's and below the loss of a discriminator that
// cannot tell them apart (every logit 0).
func (c contract) separates(t *testing.T) {
	m := c.build(t, 3, 0, map[string]float64{"lr_d": 3e-3})
	train := nettest.SynthBatch(rand.New(rand.NewSource(7)), 4, c.size)
	var d []float64
	for i := 0; i < 10; i++ {
		l, err := m.TrainStep(train)
		if err != nil {
			t.Fatal(err)
		}
		d = append(d, l["d"])
	}
	if last := d[len(d)-1]; !(last < d[0] && last < c.dChance) {
		t.Fatalf("discriminator losses %v: not below the first nor below chance %g", d, c.dChance)
	}
}

// Every score has a value per image, maps (where the model makes them)
// cover every pixel, and scoring is repeatable.
func (c contract) scores(t *testing.T) {
	m := c.model(t, 1)
	if _, err := m.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(2)), 4, c.size)); err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(3)), 3, c.size)
	s, err := m.Score(b)
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
	if c.maps && len(s.Maps) != len(b.Images) || !c.maps && s.Maps != nil {
		t.Fatalf("%d map values for %d pixels (maps: %v)", len(s.Maps), len(b.Images), c.maps)
	}
	s2, err := m.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	nettest.SameScores(t, s, s2)
}

// An image's scores are the same scored alone, in a batch with others, and
// in any order: no score depends on which images share its batch (the
// GANs with minibatch discrimination score against a fixed reference).
func (c contract) batchIndependent(t *testing.T) {
	m := c.model(t, 1)
	if _, err := m.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(2)), 4, c.size)); err != nil {
		t.Fatal(err)
	}
	all := nettest.SynthBatch(rand.New(rand.NewSource(3)), 4, c.size)
	px := c.size * c.size
	saliency := false
	if sm, ok := m.(nets.SaliencyMapper); ok {
		sm.SetSaliency(true) // its maps, too, are the image's alone
		saliency = true
	}
	pick := func(idx ...int) *nets.Batch {
		b := &nets.Batch{N: len(idx), H: c.size, W: c.size}
		for _, i := range idx {
			b.Images = append(b.Images, all.Image(i)...)
			b.Masks = append(b.Masks, all.Mask(i)...)
		}
		return b
	}
	whole, err := m.Score(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range [][]int{{0}, {3}, {3, 1, 0, 2}, {2, 0}} {
		got, err := m.Score(pick(idx...))
		if err != nil {
			t.Fatal(err)
		}
		for at, i := range idx {
			for _, n := range m.ScoreNames() {
				w, g := whole.Scores[n][i], got.Scores[n][at]
				if math.Abs(g-w) > 1e-5*math.Max(1, math.Abs(w)) {
					t.Fatalf("image %d's %s is %v in the batch %v, %v in the batch of 4", i, n, g, idx, w)
				}
			}
			maps := map[string][2][]float32{}
			if c.maps {
				maps["reconstruction"] = [2][]float32{whole.Maps, got.Maps}
			}
			if saliency {
				if len(whole.Extra) != 2 {
					t.Fatalf("saliency maps %d, want d_grad and d_gradx", len(whole.Extra))
				}
				for name, v := range whole.Extra {
					maps[name] = [2][]float32{v, got.Extra[name]}
				}
			}
			for name, mm := range maps {
				if len(mm[1]) != len(idx)*px {
					t.Fatalf("map %s has %d values for %d images", name, len(mm[1]), len(idx))
				}
				for p := 0; p < px; p++ {
					w, g := mm[0][i*px+p], mm[1][at*px+p]
					if math.Abs(float64(g-w)) > 1e-5*math.Max(1e-3, math.Abs(float64(w))) {
						t.Fatalf("image %d's %s map at %d is %v in the batch %v, %v in the batch of 4", i, name, p, g, idx, w)
					}
				}
			}
		}
	}
}

// A saved model loads (by Load into a model of another seed, and by
// LoadModel from the file alone) to one that scores bit-identically,
// saves the same file, and, given the same noise stream, keeps training
// exactly as the original (weights, Adam moments and step, BN and
// spectral-norm state, epoch all restored).
func (c contract) roundTrip(t *testing.T) {
	orig := c.model(t, 11)
	tr := nettest.SynthBatch(rand.New(rand.NewSource(12)), 4, c.size)
	data := nettest.TrainAndSave(t, orig, tr, c.epoch)
	loaded := c.model(t, 99) // another seed: every value must come from the file
	if err := loaded.Load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	test := nettest.SynthBatch(rand.New(rand.NewSource(13)), 3, c.size)
	nettest.ScoreSame(t, orig, loaded, test)
	if !bytes.Equal(nettest.Saved(t, loaded), data) {
		t.Fatal("a loaded model saves another file")
	}
	models := []nets.Model{orig, loaded}
	if c.ckpt {
		if e := loaded.(interface{ Epoch() int }).Epoch(); e != c.epoch {
			t.Fatalf("epoch %d after load, want %d", e, c.epoch)
		}
		ck, err := nets.ReadCheckpoint(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ck.Step != 2 {
			t.Fatalf("optimiser step %d saved, want 2", ck.Step)
		}
		for _, name := range c.ckptTensors {
			if _, ok := ck.Tensor(name); !ok {
				t.Fatalf("the checkpoint has no tensor %s", name)
			}
		}
		lm, err := nets.LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
		if err != nil {
			t.Fatal(err)
		}
		if lm.Name() != c.name {
			t.Fatalf("LoadModel built %s", lm.Name())
		}
		nettest.ScoreSame(t, orig, lm, test)
		models = append(models, lm)
	}
	// Two more steps, the runner's way: a resumed run gets its reference
	// images again (a checkpoint keeps only their features).
	const steps = 2
	for _, m := range models[1:] {
		if r, ok := m.(nets.Referenced); ok {
			if err := r.SetReference(nettest.SynthBatch(rand.New(rand.NewSource(77)), 3, c.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	losses := make([][]map[string]float64, len(models))
	files := make([][]byte, len(models))
	for i, m := range models {
		if s, ok := m.(nets.EpochSeeder); ok {
			s.SeedEpoch(rand.New(rand.NewSource(5)))
		}
		for step := 0; step < steps; step++ {
			l, err := m.TrainStep(tr)
			if err != nil {
				t.Fatal(err)
			}
			losses[i] = append(losses[i], l)
		}
		files[i] = nettest.Saved(t, m)
	}
	for i := 1; i < len(models); i++ {
		for step, ls := range losses[0] {
			for k, v := range ls {
				if math.Float64bits(v) != math.Float64bits(losses[i][step][k]) {
					t.Fatalf("step %d loss %s after load %v, without %v", step, k, losses[i][step][k], v)
				}
			}
		}
		if !bytes.Equal(files[i], files[0]) {
			t.Fatal("after two more steps a reloaded model holds another state than the original")
		}
	}
}

// A checkpoint of another model, size, architecture, or a truncated one
// is refused and leaves the model as it was.
func (c contract) mismatch(t *testing.T) {
	if !c.ckpt {
		t.Skip("not in the checkpoint format")
	}
	data := nettest.Saved(t, c.model(t, 1))
	type refusal struct {
		m            nets.Model
		data         []byte
		want, prefix string
	}
	var rs []refusal
	for _, mm := range c.mismatches {
		rs = append(rs, refusal{m: c.build(t, 1, mm.size, mm.params), data: data, want: mm.want})
	}
	rs = append(rs, refusal{m: c.model(t, 1), data: data[:len(data)/2], prefix: "checkpoint: truncated: "})
	for _, o := range contracts() {
		if o.ckpt && o.name != c.name {
			rs = append(rs, refusal{m: c.model(t, 1), data: nettest.Saved(t, o.model(t, 1)),
				want: `checkpoint: holds model "` + o.name + `", not "` + c.name + `"`})
		}
	}
	for _, r := range rs {
		before := nettest.Saved(t, r.m)
		err := r.m.Load(bytes.NewReader(r.data))
		if err == nil || (r.want != "" && err.Error() != r.want) || (r.prefix != "" && !strings.HasPrefix(err.Error(), r.prefix)) {
			t.Fatalf("error %v, want %q%q", err, r.want, r.prefix)
		}
		if !bytes.Equal(nettest.Saved(t, r.m), before) {
			t.Fatalf("a rejected checkpoint (%v) changed the model", err)
		}
	}
}

// An inference graph built before training must see the trained weights and
// statistics: graphs share the model's tensors rather than copying them.
func (c contract) inferenceFollowsTraining(t *testing.T) {
	m := c.model(t, 21)
	test := nettest.SynthBatch(rand.New(rand.NewSource(22)), 2, c.size)
	before, err := m.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.TrainStep(nettest.SynthBatch(rand.New(rand.NewSource(23)), 3, c.size)); err != nil {
		t.Fatal(err)
	}
	after, err := m.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	first := m.ScoreNames()[0]
	if after.Scores[first][0] == before.Scores[first][0] {
		t.Fatalf("score %s did not change after a training step", first)
	}
	fresh := c.model(t, 1)
	if err := fresh.Load(bytes.NewReader(nettest.Saved(t, m))); err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	nettest.SameScores(t, after, want)
}

func (c contract) batchErrors(t *testing.T) {
	for _, bc := range c.batches {
		t.Run(bc.name, func(t *testing.T) {
			m := c.model(t, 1)
			for _, step := range []struct {
				what string
				want string
				run  func(*nets.Batch) error
			}{
				{"TrainStep", bc.train, func(b *nets.Batch) error { _, err := m.TrainStep(b); return err }},
				{"Score", bc.score, func(b *nets.Batch) error { _, err := m.Score(b); return err }},
			} {
				err := step.run(bc.batch())
				switch {
				case step.want == "":
				case step.want == ok && err != nil:
					t.Errorf("%s: %v", step.what, err)
				case step.want != ok && (err == nil || err.Error() != step.want):
					t.Errorf("%s: error %v, want %q", step.what, err, step.want)
				}
			}
		})
	}
}

// A diverging step is reported by name and leaves weights, optimiser and
// BatchNorm statistics as they were (the spectral norms' power iteration
// runs before the step, as the authors' code does).
func (c contract) nanStep(t *testing.T) {
	if c.nan.want == "" {
		t.Skip("the model has no loss")
	}
	m := c.model(t, 1)
	before := nettest.Saved(t, m)
	n := 2
	if c.gan {
		n = 3
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(1)), n, c.size)
	b.Images[c.nan.index] = c.nan.value
	_, err := m.TrainStep(b)
	if err == nil || (!c.nan.prefix && err.Error() != c.nan.want) || (c.nan.prefix && !strings.HasPrefix(err.Error(), c.nan.want)) {
		t.Fatalf("error %v, want %q", err, c.nan.want)
	}
	was, err := nets.ReadCheckpoint(bytes.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	is, err := nets.ReadCheckpoint(bytes.NewReader(nettest.Saved(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if is.Step != was.Step || len(is.Tensors) != len(was.Tensors) {
		t.Fatalf("optimiser step %d, %d tensors after a NaN step; %d, %d before", is.Step, len(is.Tensors), was.Step, len(was.Tensors))
	}
	for i, tw := range was.Tensors {
		// spectral-norm state moves before the step; the scoring
		// reference's features follow the normalised weights
		if !strings.HasPrefix(tw.Name, "sn.") && !strings.HasPrefix(tw.Name, "mbd.ref.") && !sameData(tw.Data, is.Tensors[i].Data) {
			t.Fatalf("a NaN step changed %s", tw.Name)
		}
	}
}

// sameData compares checkpoint tensor data bit for bit.
func sameData(a, b any) bool {
	switch a := a.(type) {
	case []float32:
		return slices.EqualFunc(a, b.([]float32), func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
	case []float64:
		return slices.EqualFunc(a, b.([]float64), func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
	}
	return false
}
