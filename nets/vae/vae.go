// Package vae is the paper's variational autoencoder, registered as
// "vae": masked BCE plus KLD in training, reconstruction, L1 and KLD
// scores, decoding the mean so scores repeat exactly.
package vae

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/ops"
)

// vaeSpec: the VAE's hyperparameters; the defaults here are the authors'
// code (z = 1024, Adam 5e-5). A spec's expansion fills in the paper's
// (experiments/paper.go): lr 1e-4 from supplement .4 and z = 1024 from the
// architecture table (2×2×512 → 1024), not .4's z = 2048 with h_dim 18,432
// (a 6×6 bottleneck that fits no encoder the paper draws); README "Models
// as coded", row "VAE z, h_dim". z and lr are parameters, so either can be
// run.
var vaeSpec = nets.Spec{
	Name:   "vae",
	Scores: []string{"kld", "l1", "l1_kld", "l1_topk", "mse", "mse_kld", "mse_topk"},
	Params: map[string]nets.ParamRange{
		"lr":    {Min: 1e-7, Max: 1e-1, Default: 5e-5},
		"width": {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":     {Min: 1, Max: 65536, Default: 1024, Integer: true},
		"beta1": {Min: 0, Max: 0.9999, Default: 0.9},
		"beta2": {Min: 0, Max: 0.99999, Default: 0.999},
	},
}

func init() {
	vaeSpec.New = func(cfg nets.Config) (nets.Model, error) { return newVAE(cfg, tensor.Float32) }
	nets.Register(vaeSpec)
}

// vaeChannels gives the encoder's output channels for a size×size input.
// The paper's VAE (512 px) has seven 4×4/s2 unpadded convolutions
// 1→8→16→…→512 ending at 2×2; a power of two 2^n reaches 2×2 after n−2
// of them (floor((h−4)/2)+1 each), and the decoder's six 4×4/s2 and one
// 6×6/s2 transposed convolutions give back exactly 2^n. Smaller images
// drop the first, widest stages and keep the deepest channel counts, so
// the bottleneck stays 512·width×2×2 as in the paper.
func vaeChannels(size int, width float64) ([]int, error) {
	if size < 16 || size > 512 || size&(size-1) != 0 {
		return nil, fmt.Errorf("vae: image size %d must be a power of two from 16 to 512 (unpadded 4x4 stride-2 stages down to 2x2)", size)
	}
	stages := bits.TrailingZeros(uint(size)) - 2
	all := []int{8, 16, 32, 64, 128, 256, 512}
	out := make([]int, stages)
	for i, c := range all[len(all)-stages:] {
		out[i] = nets.Scaled(c, width)
	}
	return out, nil
}

// vae is the variational autoencoder (README "Models as coded", rows "VAE
// z, h_dim" and "VAE reconstruction scores"):
// encoder conv(4×4, s2, no padding) → BN → ReLU per stage down to C×2×2;
// linear μ and log σ²; z = μ + exp(½ log σ²)·ε; linear back to C×2×2;
// transposed convolutions 4×4/s2 with BN + ReLU, a last 6×6/s2 one with a
// bias, and Sigmoid. Convolutions followed by BatchNorm have no bias (the
// authors' have one, which BatchNorm cancels exactly, in training and in
// inference alike).
//
// Loss per step: the masked BCE, Σ m⊙BCE(x̂, x)/Σm over the batch (the
// paper's masked reconstruction loss with BCE, the authors' choice of
// reconstruction term), plus the KLD summed over latent dimensions and
// images, as coded. BCE is computed on the logits l as softplus(l) − l·x.
type vae struct {
	*nets.Base
	z     int
	dt    tensor.Dtype
	chans []int // encoder output channels per stage
	ps    *nets.ParamSet
	stats []*nets.BNStats
	opt   *nets.Adam
	train map[int]*vaeGraph
	infer map[int]*vaeGraph
	// arena is the output memory all of the model's graphs share.
	arena ops.Arena
}

// vaeGraph is an ae.Graph (x, mask, the Sigmoid reconstruction, the total
// loss, the machine) plus the VAE's own nodes. In inference graphs z = μ
// and there is no ε, mask or loss.
type vaeGraph struct {
	*ae.Graph
	epsT                  *tensor.Dense
	eps                   *G.Node
	mu, logvar, z, logits *G.Node
	bce, kld              *G.Node
	out                   vaeValues
}

// vaeValues are copies of a run's values taken by Read instructions as
// soon as each is computed: the tape machine reuses a node's memory once
// its last consumer has run, so reading node.Value() after RunAll can see
// a later op's result (μ, for one, is overwritten in the training graph).
type vaeValues struct {
	mu, logvar, z, logits, recon, bce, kld, loss G.Value
}

func newVAE(cfg nets.Config, dt tensor.Dtype) (*vae, error) {
	params, err := nets.ResolveParams(vaeSpec, cfg)
	if err != nil {
		return nil, err
	}
	width := params["width"]
	chans, err := vaeChannels(cfg.Size, width)
	if err != nil {
		return nil, err
	}
	topK, err := nets.ResolveTopK("vae", cfg.TopK)
	if err != nil {
		return nil, err
	}
	m := &vae{Base: nets.NewBase("vae", cfg, params, topK), z: int(params["z"]), dt: dt, chans: chans,
		ps: nets.NewParamSet(dt), train: map[int]*vaeGraph{}, infer: map[int]*vaeGraph{}}
	r := cfg.Rand
	bn := func(name string, ch int) {
		m.ps.Add(name+".gamma", tensor.Shape{1, ch, 1, 1}, nets.ConstInit(1))
		m.ps.Add(name+".beta", tensor.Shape{1, ch, 1, 1}, nets.ConstInit(0))
		m.stats = append(m.stats, nets.NewBNStats(dt, name, ch))
	}
	cin := 1
	for i, c := range chans {
		name := fmt.Sprintf("enc%d", i)
		m.ps.Add(name+".w", tensor.Shape{c, cin, 4, 4}, nets.UniformInit(r, cin*16))
		bn(name, c)
		cin = c
	}
	// Linear layers as PyTorch's nn.Linear: weight and bias U(±1/√in),
	// stored (in, out) so that a batch row times the weight is the output.
	hdim := cin * 4
	linear := func(name string, in, out int) {
		m.ps.Add(name+".w", tensor.Shape{in, out}, nets.UniformInit(r, in))
		m.ps.Add(name+".b", tensor.Shape{out}, nets.UniformInit(r, in))
	}
	linear("mu", hdim, m.z)
	linear("logvar", hdim, m.z)
	linear("dec_in", m.z, hdim)
	// ConvTranspose2d weights are (Cin, Cout, k, k), PyTorch's fan-in Cout·k·k.
	for i := len(chans) - 1; i > 0; i-- {
		name := fmt.Sprintf("dec%d", len(chans)-1-i)
		m.ps.Add(name+".w", tensor.Shape{chans[i], chans[i-1], 4, 4}, nets.UniformInit(r, chans[i-1]*16))
		bn(name, chans[i-1])
	}
	m.ps.Add("out.w", tensor.Shape{chans[0], 1, 6, 6}, nets.UniformInit(r, 36))
	m.ps.Add("out.b", tensor.Shape{1, 1, 1, 1}, nets.UniformInit(r, 36))
	m.opt = nets.NewAdam(m.ps, params["lr"], params["beta1"], params["beta2"])
	// restore rejects a checkpoint of another width or z before touching
	// anything (shapes are checked again tensor by tensor)
	m.Track([]string{"width", "z"}, func() []nets.StateEntry { return nets.StateEntries(m.ps, m.opt, m.stats) }, m.opt)
	return m, nil
}

func (m *vae) ScoreNames() []string { return m.ExpandScores(vaeSpec.Scores) }

// vaeLinear is x·W + b for a batch of rows x.
func vaeLinear(gn *nets.GraphNet, x *G.Node, name string) (*G.Node, error) {
	h, err := G.Mul(x, gn.Param(name+".w"))
	if err != nil {
		return nil, fmt.Errorf("vae %s: %w", name, err)
	}
	if h, err = G.BroadcastAdd(h, gn.Param(name+".b"), nil, []byte{0}); err != nil {
		return nil, fmt.Errorf("vae %s bias: %w", name, err)
	}
	return h, nil
}

// forward builds the network on vg.X; with eps it samples z, without it
// decodes μ.
func (m *vae) forward(gn *nets.GraphNet, vg *vaeGraph) error {
	wrap := func(name string, err error) error { return fmt.Errorf("vae %s: %w", name, err) }
	n := vg.X.Shape()[0]
	h := vg.X
	var err error
	for i := range m.chans {
		name := fmt.Sprintf("enc%d", i)
		if h, err = gn.Conv(h, gn.Param(name+".w"), nets.ConvLayer{Stride: 2, BN: name, Act: ops.Act{Kind: ops.ActReLU}}); err != nil {
			return wrap(name, err)
		}
	}
	top := m.chans[len(m.chans)-1]
	if h, err = G.Reshape(h, tensor.Shape{n, top * 4}); err != nil {
		return wrap("flatten", err)
	}
	if vg.mu, err = vaeLinear(gn, h, "mu"); err != nil {
		return err
	}
	if vg.logvar, err = vaeLinear(gn, h, "logvar"); err != nil {
		return err
	}
	vg.z = vg.mu
	if vg.eps != nil {
		half, err := G.Mul(vg.logvar, nets.ScalarNode(m.dt, 0.5))
		if err != nil {
			return wrap("reparameterisation", err)
		}
		std, err := G.Exp(half)
		if err != nil {
			return wrap("reparameterisation", err)
		}
		noise, err := G.HadamardProd(std, vg.eps)
		if err != nil {
			return wrap("reparameterisation", err)
		}
		if vg.z, err = G.Add(vg.mu, noise); err != nil {
			return wrap("reparameterisation", err)
		}
	}
	if h, err = vaeLinear(gn, vg.z, "dec_in"); err != nil {
		return err
	}
	if h, err = G.Reshape(h, tensor.Shape{n, top, 2, 2}); err != nil {
		return wrap("unflatten", err)
	}
	for i := 0; i < len(m.chans)-1; i++ {
		name := fmt.Sprintf("dec%d", i)
		if h, err = gn.Conv(h, gn.Param(name+".w"), nets.ConvLayer{Transposed: true, Stride: 2, BN: name, Act: ops.Act{Kind: ops.ActReLU}}); err != nil {
			return wrap(name, err)
		}
	}
	if gn.Inference {
		// scoring reads the reconstruction only: one fused op
		vg.Recon, err = gn.Conv(h, gn.Param("out.w"), nets.ConvLayer{Transposed: true, Stride: 2,
			Bias: gn.Param("out.b"), Act: ops.Act{Kind: ops.ActSigmoid}})
		if err != nil {
			return wrap("out", err)
		}
		return nil
	}
	if h, err = ops.ConvTranspose2d(h, gn.Param("out.w"), 2, 0); err != nil {
		return wrap("out", err)
	}
	if vg.logits, err = ops.AddBias(h, gn.Param("out.b")); err != nil {
		return wrap("out bias", err)
	}
	if vg.Recon, err = G.Sigmoid(vg.logits); err != nil {
		return wrap("sigmoid", err)
	}
	return nil
}

// loss adds the masked BCE on the logits and the summed KLD
// −½Σ(1 + log σ² − μ² − σ²), written ½(Σ(σ² − log σ² + μ²) − N·z).
func (m *vae) loss(vg *vaeGraph) error {
	wrap := func(what string, err error) error { return fmt.Errorf("vae loss %s: %w", what, err) }
	sp, err := G.Softplus(vg.logits)
	if err != nil {
		return wrap("bce", err)
	}
	lx, err := G.HadamardProd(vg.logits, vg.X)
	if err != nil {
		return wrap("bce", err)
	}
	bce, err := G.Sub(sp, lx)
	if err != nil {
		return wrap("bce", err)
	}
	if bce, err = G.HadamardProd(vg.Mask, bce); err != nil {
		return wrap("bce", err)
	}
	num, err := G.Sum(bce)
	if err != nil {
		return wrap("bce", err)
	}
	den, err := G.Sum(vg.Mask)
	if err != nil {
		return wrap("bce", err)
	}
	if vg.bce, err = G.Div(num, den); err != nil {
		return wrap("bce", err)
	}
	v, err := G.Exp(vg.logvar)
	if err != nil {
		return wrap("kld", err)
	}
	if v, err = G.Sub(v, vg.logvar); err != nil {
		return wrap("kld", err)
	}
	mu2, err := G.Square(vg.mu)
	if err != nil {
		return wrap("kld", err)
	}
	if v, err = G.Add(v, mu2); err != nil {
		return wrap("kld", err)
	}
	s, err := G.Sum(v)
	if err != nil {
		return wrap("kld", err)
	}
	if s, err = G.Sub(s, nets.ScalarNode(m.dt, float64(vg.mu.Shape().TotalSize()))); err != nil {
		return wrap("kld", err)
	}
	if vg.kld, err = G.Mul(s, nets.ScalarNode(m.dt, 0.5)); err != nil {
		return wrap("kld", err)
	}
	if vg.Loss, err = G.Add(vg.bce, vg.kld); err != nil {
		return wrap("total", err)
	}
	return nil
}

// graph builds (once per batch size and mode) a compiled graph.
func (m *vae) graph(n int, training bool) (*vaeGraph, error) {
	cache := m.infer
	if training {
		cache = m.train
	}
	if g, ok := cache[n]; ok {
		return g, nil
	}
	gn := nets.NewGraphNet(m.ps)
	gn.Inference = !training
	vg := &vaeGraph{Graph: &ae.Graph{Net: gn}}
	shape := tensor.Shape{n, 1, m.Cfg.Size, m.Cfg.Size}
	vg.XT = tensor.New(tensor.Of(m.dt), tensor.WithShape(shape...))
	vg.X = G.NewTensor(gn.Graph, m.dt, 4, G.WithShape(shape...), G.WithName("x"), G.WithValue(vg.XT))
	if training {
		vg.epsT = tensor.New(tensor.Of(m.dt), tensor.WithShape(n, m.z))
		vg.eps = G.NewMatrix(gn.Graph, m.dt, G.WithShape(n, m.z), G.WithName("eps"), G.WithValue(vg.epsT))
	}
	if err := m.forward(gn, vg); err != nil {
		return nil, err
	}
	if training {
		vg.MaskT = tensor.New(tensor.Of(m.dt), tensor.WithShape(shape...))
		vg.Mask = G.NewTensor(gn.Graph, m.dt, 4, G.WithShape(shape...), G.WithName("mask"), G.WithValue(vg.MaskT))
		if err := m.loss(vg); err != nil {
			return nil, err
		}
		G.Read(vg.z, &vg.out.z)
		G.Read(vg.logits, &vg.out.logits)
		G.Read(vg.bce, &vg.out.bce)
		G.Read(vg.kld, &vg.out.kld)
		G.Read(vg.Loss, &vg.out.loss)
	}
	G.Read(vg.mu, &vg.out.mu)
	G.Read(vg.logvar, &vg.out.logvar)
	G.Read(vg.Recon, &vg.out.recon)
	var err error
	if training {
		var g *G.ExprGraph
		if _, g, err = ops.Grad(vg.Loss, gn.Nodes...); err != nil {
			return nil, fmt.Errorf("vae gradients: %w", err)
		}
		vg.VM = G.NewTapeMachine(g, G.BindDualValues(gn.Nodes...))
		err = m.arena.Plan(vg.VM, g, vg.Recon, vg.Loss)
	} else {
		vg.VM = G.NewTapeMachine(gn.Graph, G.EvalMode())
		err = m.arena.Plan(vg.VM, gn.Graph, vg.Recon)
	}
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	cache[n] = vg
	return vg, nil
}

// forwardBackward runs the training graph on b with the given
// reparameterisation noise ε (N×z): losses and gradients, with BN
// statistics updated in the graph but not yet adopted by the model.
func (m *vae) forwardBackward(b *nets.Batch, eps []float64) (*vaeGraph, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	if len(eps) != b.N*m.z {
		return nil, fmt.Errorf("vae: %d noise values for %d images of z = %d", len(eps), b.N, m.z)
	}
	var msum float64
	for _, v := range b.Masks {
		msum += float64(v)
	}
	if msum == 0 {
		return nil, fmt.Errorf("vae: the batch's masks are all zero, so the masked loss is undefined")
	}
	vg, err := m.graph(b.N, true)
	if err != nil {
		return nil, err
	}
	if err := vg.Net.LoadStats(m.stats); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	nets.SetInput(vg.XT, b.Images)
	nets.SetInput(vg.MaskT, b.Masks)
	switch d := vg.epsT.Data().(type) {
	case []float32:
		for i, v := range eps {
			d[i] = float32(v)
		}
	case []float64:
		copy(d, eps)
	}
	vg.Net.ZeroGrads()
	vg.VM.Reset()
	if err := vg.VM.RunAll(); err != nil {
		return nil, fmt.Errorf("vae: training step: %w", err)
	}
	return vg, nil
}

// TrainStep runs one Adam step on BCE + KLD with noise drawn from the
// model's seeded source. A NaN or infinite loss leaves weights, optimiser
// and statistics untouched and returns an error.
func (m *vae) TrainStep(b *nets.Batch) (map[string]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	eps := make([]float64, b.N*m.z)
	for i := range eps {
		eps[i] = m.Cfg.Rand.NormFloat64()
	}
	return m.trainWith(b, eps)
}

// trainWith is TrainStep with given noise.
func (m *vae) trainWith(b *nets.Batch, eps []float64) (map[string]float64, error) {
	vg, err := m.forwardBackward(b, eps)
	if err != nil {
		return nil, err
	}
	bce, kld, loss := nets.ScalarOf(vg.out.bce), nets.ScalarOf(vg.out.kld), nets.ScalarOf(vg.out.loss)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return nil, fmt.Errorf("vae: loss is %v (bce %v, kld %v)", loss, bce, kld)
	}
	grads, err := vg.Grads()
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	vg.Net.SaveStats(m.stats)
	if err := m.opt.Update(m.ps, grads); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	return map[string]float64{"bce": bce, "kld": kld, "loss": loss}, nil
}

// inference runs the inference graph (running BN statistics, z = μ) and
// returns the reconstruction (N×H×W), μ and log σ² (N×z).
func (m *vae) inference(b *nets.Batch) (recon, mu, logvar []float64, err error) {
	vg, err := m.run(b)
	if err != nil {
		return nil, nil, nil, err
	}
	return nets.Float64s(vg.out.recon), nets.Float64s(vg.out.mu), nets.Float64s(vg.out.logvar), nil
}

// run runs the inference graph on b; its outputs hold until the next run.
func (m *vae) run(b *nets.Batch) (*vaeGraph, error) {
	vg, err := m.graph(b.N, false)
	if err != nil {
		return nil, err
	}
	if err := vg.Net.LoadStats(m.stats); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	nets.SetInput(vg.XT, b.Images)
	vg.VM.Reset()
	if err := vg.VM.RunAll(); err != nil {
		return nil, fmt.Errorf("vae: scoring: %w", err)
	}
	return vg, nil
}

// reconScores are the mse and l1 scores (and the map) of the graph's
// reconstruction, read in its own dtype.
func reconScores[R float32 | float64](b *nets.Batch, recon []R, topK nets.TopK, out *nets.Scored) error {
	if err := nets.ReconstructionScores(b, recon, "mse", topK, out); err != nil {
		return err
	}
	return nets.ErrorScores(b, recon, "l1", topK, math.Abs, false, out)
}

// Score gives per image: kld = −½Σⱼ(1 + log σ²ⱼ − μⱼ² − σ²ⱼ) summed over
// latent dimensions; l1 and mse, the masked mean absolute and squared
// errors, and their top-k means; l1_kld and mse_kld, plain sums. The map
// is the smoothed masked squared error.
//
// The reconstruction decodes the mean μ rather than a sample: a score must
// not change when the same image is scored twice, and checkpoints must
// reproduce scores bit for bit. (The authors' evaluation decodes a random
// sample, so their reconstruction scores carry sampling noise.)
func (m *vae) Score(b *nets.Batch) (*nets.Scored, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	vg, err := m.run(b)
	if err != nil {
		return nil, err
	}
	mu, logvar := nets.Float64s(vg.out.mu), nets.Float64s(vg.out.logvar)
	out := &nets.Scored{}
	switch recon := vg.out.recon.Data().(type) {
	case []float32:
		err = reconScores(b, recon, m.TopKs(), out)
	case []float64:
		err = reconScores(b, recon, m.TopKs(), out)
	default:
		err = fmt.Errorf("reconstruction of type %T", recon)
	}
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	kld := make([]float64, b.N)
	l1kld := make([]float64, b.N)
	msekld := make([]float64, b.N)
	for i := range kld {
		var s float64
		for j := i * m.z; j < (i+1)*m.z; j++ {
			s += 1 + logvar[j] - mu[j]*mu[j] - math.Exp(logvar[j])
		}
		kld[i] = -0.5 * s
		l1kld[i] = out.Scores["l1"][i] + kld[i]
		msekld[i] = out.Scores["mse"][i] + kld[i]
	}
	out.Scores["kld"], out.Scores["l1_kld"], out.Scores["mse_kld"] = kld, l1kld, msekld
	return out, nil
}

// SeedEpoch replaces the noise source at the start of an epoch, so a run
// resumed from a checkpoint samples exactly as an uninterrupted one.
func (m *vae) SeedEpoch(r *rand.Rand) { m.Cfg.Rand = r }
