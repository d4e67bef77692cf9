// Package bigan is the paper's BiGAN as coded, registered as "bigan": an
// encoder, a generator and a joint discriminator on (x, z), scored by the
// reconstruction G(E(x)) and the discriminator.
package bigan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/ops"
)

// biganSpec: the paper's BiGAN settings (supplement .4: z = 100, generator
// and encoder lr 1e-3, discriminator lr 5e-6, hinge loss, Adam β = (0.5,
// 0.999)). hinge = 0 selects the loss the authors' code actually ran under
// that name, −log D(real) − log(1 − D(fake)).
var biganSpec = nets.Spec{
	Name:   "bigan",
	Scores: []string{"mse", "mse_topk", "d"},
	Params: gan.WithParams(gan.AdamParams, map[string]nets.ParamRange{
		"width": {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":     {Min: 1, Max: 8192, Default: 100, Integer: true},
		"lr_ge": {Min: 1e-8, Max: 1e-1, Default: 1e-3},
		"lr_d":  {Min: 1e-8, Max: 1e-1, Default: 5e-6},
		"slope": {Min: 0, Max: 0.99, Default: 0.1},
		"hinge": {Min: 0, Max: 1, Default: 1, Integer: true},
	}),
}

func init() {
	biganSpec.New = func(cfg nets.Config) (nets.Model, error) { return newBiGAN(cfg, tensor.Float32) }
	nets.Register(biganSpec)
}

// bigan is the paper's BiGAN as coded (README "Models as coded", rows
// "BiGAN / α-GAN adversarial loss", "BiGAN self-attention" and
// "reconstruction loss of BiGAN / α-GAN"; the
// authors' sagan.py without its self-attention blocks, which the paper
// does not describe): an encoder of spectral-normed stride-2 4×4
// convolutions from 64 (×width) channels doubling to 4×4 maps with
// LeakyReLU(0.1) and a 4×4 valid convolution to z; a generator of
// transposed convolutions with BN + ReLU from 4×4 maps down to 64 channels
// and a last one to the image with Tanh; a discriminator on (x, z) whose
// image path is the encoder's trunk plus a 4×4 valid convolution, whose
// latent path is two spectral-normed linear layers of 512, joined by two
// linear layers of 1024 and a linear output.
//
// Discriminator and generator+encoder gradients come from the same forward
// pass and are applied together, as in the authors' code. Scores: the
// reconstruction G(E(x)) gives "mse" and "mse_top<k>" and the maps; "d" is
// 1 − σ(D(x, E(x))): the less the discriminator believes the pair is a
// real one, the more anomalous. (With the hinge loss D's output is a
// margin, not a probability; σ keeps it in (0,1) and ranks the same.)
type bigan struct {
	*gan.Base
	slope            float64
	hinge            bool
	z                int
	g, e, d          *gan.Net
	gLayers, eLayers []gan.Layer
	dTrunk, dZ, dJ   []gan.Layer
	dX               gan.Layer
	gePhases         map[int]*biganGE
	dPhases          map[int]*biganD
}

type biganGE struct {
	gg       *gan.Graph
	loss     *G.Node
	ze, xgen *gan.Out
}
type biganD struct {
	gg   *gan.Graph
	loss *G.Node
}

func newBiGAN(cfg nets.Config, dt tensor.Dtype) (*bigan, error) {
	base, p, stages, err := gan.NewBase(biganSpec, cfg, dt)
	if err != nil {
		return nil, err
	}
	width := p["width"]
	m := &bigan{Base: base, slope: p["slope"], hinge: p["hinge"] == 1, z: int(p["z"]),
		g: gan.NewNet("g", dt), e: gan.NewNet("e", dt), d: gan.NewNet("d", dt),
		gePhases: map[int]*biganGE{}, dPhases: map[int]*biganD{}}
	m.gLayers = gan.GeneratorLayers("g", m.z, stages, 64, width, true, false, gan.ReLU)
	m.eLayers = gan.TrunkLayers("e", stages, 64, width)
	top := m.eLayers[len(m.eLayers)-1].Cout
	m.eLayers = append(m.eLayers, gan.Layer{Name: "e.out", Kind: gan.Conv, Cin: top, Cout: m.z, K: 4, S: 1, P: 0, Bias: true})
	m.dTrunk = gan.TrunkLayers("d", stages, 64, width)
	m.dX = gan.Layer{Name: "d.x.last", Kind: gan.Conv, Cin: top, Cout: top, K: 4, S: 1, P: 0, SN: true, Bias: true, Act: gan.LReLU}
	zc, jc := nets.Scaled(512, width), nets.Scaled(1024, width)
	m.dZ = []gan.Layer{
		{Name: "d.z0", Kind: gan.Linear, Cin: m.z, Cout: zc, SN: true, Bias: true, Act: gan.LReLU},
		{Name: "d.z1", Kind: gan.Linear, Cin: zc, Cout: zc, SN: true, Bias: true, Act: gan.LReLU},
	}
	m.dJ = []gan.Layer{
		{Name: "d.j0", Kind: gan.Linear, Cin: top + zc, Cout: jc, SN: true, Bias: true, Act: gan.LReLU},
		{Name: "d.j1", Kind: gan.Linear, Cin: jc, Cout: jc, SN: true, Bias: true, Act: gan.LReLU},
		{Name: "d.out", Kind: gan.Linear, Cin: jc, Cout: 1, Bias: true},
	}
	wi := gan.WeightInit{} // PyTorch's defaults: the authors' sagan.py has no weights_init
	m.g.AddLayers(m.gLayers, wi, cfg.Rand)
	m.e.AddLayers(m.eLayers, wi, cfg.Rand)
	m.d.AddLayers(append(append(append(append([]gan.Layer(nil), m.dTrunk...), m.dX), m.dZ...), m.dJ...), wi, cfg.Rand)
	m.g.Opt = nets.NewAdam(m.g.PS, p["lr_ge"], p["beta1"], p["beta2"])
	m.e.Opt = nets.NewAdam(m.e.PS, p["lr_ge"], p["beta1"], p["beta2"])
	m.d.Opt = nets.NewAdam(m.d.PS, p["lr_d"], p["beta1"], p["beta2"])
	m.SetNets(m.g, m.e, m.d)
	return m, nil
}

func (m *bigan) ScoreNames() []string { return m.ExpandScores(biganSpec.Scores) }

func (m *bigan) generate(b *gan.Bind, z *G.Node) (*G.Node, error) {
	zi, err := gan.ZImage(z)
	if err != nil {
		return nil, err
	}
	return b.Forward(zi, m.gLayers, m.slope)
}

func (m *bigan) encode(b *gan.Bind, x *G.Node) (*G.Node, error) {
	h, err := b.Forward(x, m.eLayers, m.slope)
	if err != nil {
		return nil, err
	}
	return gan.Flatten(h)
}

// discriminate returns the logits (N) of D(x, z).
func (m *bigan) discriminate(b *gan.Bind, x, z *G.Node) (*G.Node, error) {
	hx, err := b.Forward(x, append(m.dTrunk[:len(m.dTrunk):len(m.dTrunk)], m.dX), m.slope)
	if err != nil {
		return nil, err
	}
	if hx, err = gan.Flatten(hx); err != nil {
		return nil, err
	}
	hz, err := b.Forward(z, m.dZ, m.slope)
	if err != nil {
		return nil, err
	}
	h, err := ops.ConcatCols(hx, hz)
	if err != nil {
		return nil, fmt.Errorf("d joint: %w", err)
	}
	if h, err = b.Forward(h, m.dJ, m.slope); err != nil {
		return nil, err
	}
	return ops.Reshape(h, tensor.Shape{h.Shape()[0]})
}

// gePhase: z_e = E(x), x_gen = G(z), losses on D(x, z_e) (real) and
// D(x_gen, z) (fake); gradients for G and E.
func (m *bigan) gePhase(n int) (*biganGE, error) {
	if p, ok := m.gePhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, z := gg.Input("x", n, 1, s, s), gg.Input("z", n, m.z)
	ze, err := m.encode(gg.Bind(m.e), x)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	xg, err := m.generate(gg.Bind(m.g), z)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	db := gg.Bind(m.d)
	lr, err := m.discriminate(db, x, ze)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	lf, err := m.discriminate(db, xg, z)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	var loss *G.Node
	if m.hinge {
		// generator and encoder hinge loss: mean D(real pair) − mean D(fake pair)
		a, err := G.Mean(lr)
		if err != nil {
			return nil, err
		}
		c, err := nets.NegMean(lf)
		if err != nil {
			return nil, err
		}
		loss, err = G.Add(a, c)
		if err != nil {
			return nil, err
		}
	} else {
		// the labels swapped: −log D(fake) − log(1 − D(real))
		if loss, err = nets.DiscLoss(false, []*G.Node{lf}, []*G.Node{lr}); err != nil {
			return nil, err
		}
	}
	zeOut, err := gan.Output(ze)
	if err != nil {
		return nil, err
	}
	xgOut, err := gan.Output(xg)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(loss, m.g, m.e); err != nil {
		return nil, fmt.Errorf("bigan generator/encoder: %w", err)
	}
	p := &biganGE{gg: gg, loss: loss, ze: zeOut, xgen: xgOut}
	m.gePhases[n] = p
	return p, nil
}

// dPhase: the discriminator's loss on the same pairs, taken as detached
// inputs from the generator/encoder phase. D runs once on the 2n pairs,
// the n real ones (x, E(x)) then the n fake ones (G(z), z): D has no
// BatchNorm and no minibatch layer, so each pair's logit is what a pass
// of its own would give, and one pass over both halves makes each
// product twice as large and computes each weight's gradient at once
// rather than as two terms to add. The loss, the mean over the real
// pairs plus the mean over the fake ones, is twice the mean over all 2n
// of the per-pair loss: hinge max(0, 1 − s·l) with s = +1 for a real pair
// and −1 for a fake one; BCE softplus(l) − t·l with t = 1 and 0.
func (m *bigan) dPhase(n int) (*biganD, error) {
	if p, ok := m.dPhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, z := gg.Input("x", 2*n, 1, s, s), gg.Input("z", 2*n, m.z)
	t := gg.Input("t", 2*n)
	l, err := m.discriminate(gg.Bind(m.d), x, z)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	var per *G.Node
	label := make([]float64, 2*n)
	if m.hinge {
		for i := range label {
			label[i] = 1
			if i >= n {
				label[i] = -1
			}
		}
		if per, err = G.HadamardProd(l, t); err == nil {
			if per, err = G.Sub(nets.ScalarNode(m.Dtype(), 1), per); err == nil {
				per, err = G.Rectify(per)
			}
		}
	} else {
		for i := 0; i < n; i++ {
			label[i] = 1
		}
		var lt *G.Node
		if per, err = G.Softplus(l); err == nil {
			if lt, err = G.HadamardProd(l, t); err == nil {
				per, err = G.Sub(per, lt)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bigan discriminator loss: %w", err)
	}
	gg.Set("t", label)
	loss, err := G.Mean(per)
	if err == nil {
		loss, err = G.Mul(nets.ScalarNode(m.Dtype(), 2), loss)
	}
	if err != nil {
		return nil, fmt.Errorf("bigan discriminator loss: %w", err)
	}
	if err := gg.Compile(loss, m.d); err != nil {
		return nil, fmt.Errorf("bigan discriminator: %w", err)
	}
	p := &biganD{gg: gg, loss: loss}
	m.dPhases[n] = p
	return p, nil
}

// phases runs both phases on given inputs and returns their losses.
func (m *bigan) phases(b *nets.Batch, z []float64) (*biganGE, *biganD, map[string]float64, error) {
	ge, err := m.gePhase(b.N)
	if err != nil {
		return nil, nil, nil, err
	}
	x := gan.ImagesOf(b)
	ge.gg.Set("x", x)
	ge.gg.Set("z", z)
	if err := ge.gg.Run(); err != nil {
		return nil, nil, nil, fmt.Errorf("bigan: generator/encoder step: %w", err)
	}
	d, err := m.dPhase(b.N)
	if err != nil {
		return nil, nil, nil, err
	}
	s := m.Cfg.Size
	d.gg.Set("x", x)
	d.gg.SetFromAt("x", b.N*s*s, ge.xgen)
	d.gg.SetFromAt("z", 0, ge.ze)
	d.gg.SetAt("z", b.N*m.z, z)
	if err := d.gg.Run(); err != nil {
		return nil, nil, nil, fmt.Errorf("bigan: discriminator step: %w", err)
	}
	return ge, d, map[string]float64{"ge": ge.gg.Scalar(ge.loss), "d": d.gg.Scalar(d.loss)}, nil
}

// TrainStep computes the generator+encoder and discriminator gradients from
// one forward pass and applies them together; a NaN or infinite loss
// changes nothing.
func (m *bigan) TrainStep(b *nets.Batch) (map[string]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	z := gan.Normals(m.Rand(), b.N*m.z)
	m.PowerIterate()
	ge, d, losses, err := m.phases(b, z)
	if err != nil {
		return nil, err
	}
	if err := gan.CheckFinite("bigan", losses); err != nil {
		return nil, err
	}
	if err := gan.Step("bigan", &gan.Trained{Graph: ge.gg, Net: m.g},
		gan.Trained{Graph: ge.gg, Net: m.g}, gan.Trained{Graph: ge.gg, Net: m.e}, gan.Trained{Graph: d.gg, Net: m.d}); err != nil {
		return nil, err
	}
	return losses, nil
}

// inferGraph builds the reconstruction G(E(x)) and D(x, E(x)).
func (m *bigan) inferGraph(gg *gan.Graph, x *G.Node) (map[string]*G.Node, error) {
	ze, err := m.encode(gg.Bind(m.e), x)
	if err != nil {
		return nil, err
	}
	rec, err := m.generate(gg.Bind(m.g), ze)
	if err != nil {
		return nil, err
	}
	l, err := m.discriminate(gg.Bind(m.d), x, ze)
	if err != nil {
		return nil, err
	}
	return map[string]*G.Node{"recon": rec, "logits": l}, nil
}

// Score gives "mse", "mse_top<k>" and maps from G(E(x)) (running BN
// statistics) and "d" = 1 − σ(D(x, E(x))).
func (m *bigan) Score(b *nets.Batch) (*nets.Scored, error) {
	v, err := m.Infer(b, m.inferGraph)
	if err != nil {
		return nil, err
	}
	out, err := m.ReconScores(b, v["recon"])
	if err != nil {
		return nil, err
	}
	d := make([]float64, b.N)
	for i, l := range v["logits"] {
		d[i] = gan.OneMinusSigmoid(l)
	}
	out.Scores["d"] = d
	if err := m.AddSaliency(b, out, m.dScore); err != nil {
		return nil, err
	}
	return out, nil
}

// dScore is the anomaly score d = 1 − σ(D(x, E(x))) as a node, for the
// saliency maps: x enters through both D's image path and E.
func (m *bigan) dScore(gg *gan.Graph, x *G.Node) (*G.Node, error) {
	ze, err := m.encode(gg.Bind(m.e), x)
	if err != nil {
		return nil, err
	}
	l, err := m.discriminate(gg.Bind(m.d), x, ze)
	if err != nil {
		return nil, err
	}
	return gan.ProbNotReal(l)
}
