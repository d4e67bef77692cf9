// Package dcgan is the paper's DCGAN, registered as "dcgan": a generator
// and a spectrally normalised discriminator with minibatch
// discrimination, scored by the discriminator's belief that an image is
// fake.
package dcgan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
)

// dcganSpec: the paper's DCGAN settings (supplement .4: soft labels with
// δ = 0.01, generator lr 1e-3, discriminator lr 1e-5, z = 2048, spectral
// normalisation, no BatchNorm, minibatch discrimination, Adam).
var dcganSpec = nets.Spec{
	Name:   "dcgan",
	Scores: []string{"d"},
	Params: gan.WithParams(gan.AdamParams, map[string]nets.ParamRange{
		"width":      {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":          {Min: 1, Max: 8192, Default: 2048, Integer: true},
		"lr_g":       {Min: 1e-8, Max: 1e-1, Default: 1e-3},
		"lr_d":       {Min: 1e-8, Max: 1e-1, Default: 1e-5},
		"soft_delta": {Min: 0, Max: 0.5, Default: 0.01},
		// PyTorch's nn.LeakyReLU default, which the authors' code uses.
		"slope":       {Min: 0, Max: 0.99, Default: 0.01},
		"mbd_kernels": {Min: 1, Max: 1024, Default: 100, Integer: true},
		"mbd_dims":    {Min: 1, Max: 64, Default: 5, Integer: true},
	}),
}

func init() {
	dcganSpec.New = func(cfg nets.Config) (nets.Model, error) { return newDCGAN(cfg, tensor.Float32) }
	nets.Register(dcganSpec)
}

// dcgan is the paper's DCGAN (README "Models as coded", rows "DCGAN label
// direction" and "GAN scores with minibatch discrimination"): the generator maps
// z to 4×4 maps by a 4×4 transposed convolution, then stride-2 transposed
// convolutions halve the channels down to 16 (×width) and the last one
// gives the 1-channel image with Tanh; LeakyReLU, spectral norm on every
// layer, no BatchNorm. The discriminator has stride-2 4×4 convolutions from
// 4 (×width) channels doubling to 4×4 maps, a 4×4 valid convolution (eight
// convolutions at 512 px), minibatch discrimination and a linear layer.
// At 512 px this is exactly the coded network; a smaller image drops
// stages at the deep end.
//
// Labels follow the authors' code: real = 0, fake = 1, softened by
// U(0, δ) towards the middle for the discriminator. The discriminator's
// output is thus the probability that an image is fake, and the anomaly
// score "d" is that probability: higher = less like the training images =
// more anomalous. (The authors' evaluation took 1 − output with real = 0,
// which ranks normal images higher; the paper's .53 may be affected.)
type dcgan struct {
	*gan.Base
	*gan.Reference // D scores each image against a fixed batch of training images
	slope, delta   float64
	z              int
	g, d           *gan.Net
	gLayers        []gan.Layer
	dTrunk         []gan.Layer
	dHead          gan.DiscHead
	dPhases        map[int]*dcganD
	gPhases        map[int]*dcganG
}

type dcganD struct {
	gg   *gan.Graph
	loss *G.Node
}
type dcganG struct {
	gg   *gan.Graph
	loss *G.Node
}

func newDCGAN(cfg nets.Config, dt tensor.Dtype) (*dcgan, error) {
	base, p, stages, err := gan.NewBase(dcganSpec, cfg, dt)
	if err != nil {
		return nil, err
	}
	m := &dcgan{Base: base, slope: p["slope"], delta: p["soft_delta"], z: int(p["z"]),
		g: gan.NewNet("g", dt), d: gan.NewNet("d", dt),
		dPhases: map[int]*dcganD{}, gPhases: map[int]*dcganG{}}
	width := p["width"]
	m.gLayers = gan.GeneratorLayers("g", m.z, stages, 16, width, false, true, gan.LReLU)
	m.dTrunk = gan.TrunkLayers("d", stages, 4, width)
	m.dHead = gan.NewDiscHead("d", m.dTrunk[len(m.dTrunk)-1].Cout, int(p["mbd_kernels"]), int(p["mbd_dims"]))
	// the authors' weights_init: convolution weights from N(0, 0.02)
	wi := gan.WeightInit{NormalStd: 0.02}
	m.g.AddLayers(m.gLayers, wi, cfg.Rand)
	m.d.AddLayers(m.dTrunk, wi, cfg.Rand)
	m.dHead.Add(m.d, wi, cfg.Rand)
	m.g.Opt = nets.NewAdam(m.g.PS, p["lr_g"], p["beta1"], p["beta2"])
	m.d.Opt = nets.NewAdam(m.d.PS, p["lr_d"], p["beta1"], p["beta2"])
	m.SetNets(m.g, m.d)
	m.Reference = m.UseReference(m.d, m.dTrunk, m.dHead, m.slope)
	return m, nil
}

func (m *dcgan) ScoreNames() []string { return m.ExpandScores(dcganSpec.Scores) }

func (m *dcgan) generate(b *gan.Bind, z *G.Node) (*G.Node, error) {
	zi, err := gan.ZImage(z)
	if err != nil {
		return nil, err
	}
	return b.Forward(zi, m.gLayers, m.slope)
}

func (m *dcgan) discriminate(b *gan.Bind, x *G.Node) (*G.Node, error) {
	return gan.ImageDisc(b, x, m.dTrunk, m.dHead, m.slope)
}

// dPhase: fake = G(z) without gradients to G; loss BCE(D(x), t_real) +
// BCE(D(fake), t_fake), gradients for D.
func (m *dcgan) dPhase(n int) (*dcganD, error) {
	if p, ok := m.dPhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, z := gg.Input("x", n, 1, s, s), gg.Input("z", n, m.z)
	tr, tf := gg.Input("t_real", n), gg.Input("t_fake", n)
	fake, err := m.generate(gg.Bind(m.g), z)
	if err != nil {
		return nil, fmt.Errorf("dcgan: %w", err)
	}
	db := gg.Bind(m.d)
	lr, err := m.discriminate(db, x)
	if err != nil {
		return nil, fmt.Errorf("dcgan: %w", err)
	}
	lf, err := m.discriminate(db, fake)
	if err != nil {
		return nil, fmt.Errorf("dcgan: %w", err)
	}
	a, err := nets.BCEWithLogits(lr, tr)
	if err != nil {
		return nil, err
	}
	c, err := nets.BCEWithLogits(lf, tf)
	if err != nil {
		return nil, err
	}
	loss, err := G.Add(a, c)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(loss, m.d); err != nil {
		return nil, fmt.Errorf("dcgan discriminator: %w", err)
	}
	p := &dcganD{gg: gg, loss: loss}
	m.dPhases[n] = p
	return p, nil
}

// gPhase: loss BCE(D(G(z)), real = 0), gradients for G.
func (m *dcgan) gPhase(n int) (*dcganG, error) {
	if p, ok := m.gPhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	z := gg.Input("z", n, m.z)
	fake, err := m.generate(gg.Bind(m.g), z)
	if err != nil {
		return nil, fmt.Errorf("dcgan: %w", err)
	}
	lf, err := m.discriminate(gg.Bind(m.d), fake)
	if err != nil {
		return nil, fmt.Errorf("dcgan: %w", err)
	}
	loss, err := nets.BCEConst(lf, 0)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(loss, m.g); err != nil {
		return nil, fmt.Errorf("dcgan generator: %w", err)
	}
	p := &dcganG{gg: gg, loss: loss}
	m.gPhases[n] = p
	return p, nil
}

// runD runs the discriminator phase on given inputs and returns the loss.
func (m *dcgan) runD(b *nets.Batch, z, tReal, tFake []float64) (*dcganD, float64, error) {
	p, err := m.dPhase(b.N)
	if err != nil {
		return nil, 0, err
	}
	p.gg.Set("x", gan.ImagesOf(b))
	p.gg.Set("z", z)
	p.gg.Set("t_real", tReal)
	p.gg.Set("t_fake", tFake)
	if err := p.gg.Run(); err != nil {
		return nil, 0, fmt.Errorf("dcgan: discriminator step: %w", err)
	}
	return p, p.gg.Scalar(p.loss), nil
}

func (m *dcgan) runG(z []float64) (*dcganG, float64, error) {
	p, err := m.gPhase(len(z) / m.z)
	if err != nil {
		return nil, 0, err
	}
	p.gg.Set("z", z)
	if err := p.gg.Run(); err != nil {
		return nil, 0, fmt.Errorf("dcgan: generator step: %w", err)
	}
	return p, p.gg.Scalar(p.loss), nil
}

// TrainStep follows the authors' order: one discriminator step on real
// images and G(z), then one generator step through the updated
// discriminator, with the same z. A NaN or infinite discriminator loss
// changes nothing; a bad generator loss comes after the discriminator's
// update, which stays applied (the runner resumes from its last checkpoint).
func (m *dcgan) TrainStep(b *nets.Batch) (map[string]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	z := gan.Normals(m.Rand(), b.N*m.z)
	tReal, tFake := make([]float64, b.N), make([]float64, b.N)
	for i := range tReal {
		tReal[i] = m.Rand().Float64() * m.delta
	}
	for i := range tFake {
		tFake[i] = 1 - m.Rand().Float64()*m.delta
	}
	m.PowerIterate()
	dp, ld, err := m.runD(b, z, tReal, tFake)
	if err != nil {
		return nil, err
	}
	if err := gan.CheckFinite("dcgan", map[string]float64{"d": ld}); err != nil {
		return nil, err
	}
	if err := gan.Step("dcgan", nil, gan.Trained{Graph: dp.gg, Net: m.d}); err != nil {
		return nil, err
	}
	gp, lg, err := m.runG(z)
	if err != nil {
		return nil, err
	}
	if err := gan.CheckFinite("dcgan", map[string]float64{"g": lg}); err != nil {
		return nil, fmt.Errorf("%w (after the discriminator's update of this batch)", err)
	}
	if err := gan.Step("dcgan", nil, gan.Trained{Graph: gp.gg, Net: m.g}); err != nil {
		return nil, err
	}
	return map[string]float64{"d": ld, "g": lg}, nil
}

// Score gives "d", the discriminator's probability that each image is fake
// (see the type's comment), each image's minibatch features compared with
// the fixed reference batch (gan.Reference) rather than with the rest of
// its scoring batch; DCGAN has no reconstruction, so its only maps are the
// discriminator's saliency (SetSaliency).
func (m *dcgan) Score(b *nets.Batch) (*nets.Scored, error) {
	v, err := m.Infer(b, func(gg *gan.Graph, x *G.Node) (map[string]*G.Node, error) {
		l, err := m.Disc(gg, x)
		return map[string]*G.Node{"logits": l}, err
	})
	if err != nil {
		return nil, err
	}
	d := make([]float64, b.N)
	for i, l := range v["logits"] {
		d[i] = gan.Sigmoid(l)
	}
	out := &nets.Scored{Scores: map[string][]float64{"d": d}}
	if err := m.AddSaliency(b, out, m.dScore); err != nil {
		return nil, err
	}
	return out, nil
}

// dScore is the anomaly score d = σ(D(x)) as a node, for the saliency maps.
func (m *dcgan) dScore(gg *gan.Graph, x *G.Node) (*G.Node, error) {
	l, err := m.Disc(gg, x)
	if err != nil {
		return nil, err
	}
	return gan.ProbFake(l)
}
