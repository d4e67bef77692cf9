// Package alphagan is the paper's α-GAN, registered as "alphagan": an
// encoder, a generator, an image discriminator and a code discriminator,
// scored by the reconstruction and both discriminators.
package alphagan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/ops"
)

// alphaganSpec: the paper's α-GAN settings (supplement .4: z = 100,
// generator and encoder lr 1e-3, discriminator and code discriminator lr
// 5e-6, hinge loss, minibatch discrimination; README: L1 reconstruction
// weight 0.01, Adam β = (0.5, 0.999)). hinge = 0 selects BCE for the two
// discriminators, as the authors' code ran.
var alphaganSpec = nets.Spec{
	Name:   "alphagan",
	Scores: []string{"c", "mse", "mse_topk", "d", "c_d"},
	Params: gan.WithParams(gan.AdamParams, map[string]nets.ParamRange{
		"width":       {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":           {Min: 4, Max: 8192, Default: 100, Integer: true},
		"lr_ge":       {Min: 1e-8, Max: 1e-1, Default: 1e-3},
		"lr_d":        {Min: 1e-8, Max: 1e-1, Default: 5e-6},
		"slope":       {Min: 0, Max: 0.99, Default: 0.1},
		"hinge":       {Min: 0, Max: 1, Default: 1, Integer: true},
		"l1":          {Min: 0, Max: 100, Default: 0.01},
		"mbd_kernels": {Min: 1, Max: 1024, Default: 100, Integer: true},
		"mbd_dims":    {Min: 1, Max: 64, Default: 5, Integer: true},
		// mask_recon = 1 masks the L1 reconstruction loss as the
		// autoencoders' loss is, Σ|m⊙(x−G(ẑ))| / Σm; 0 (the default) is
		// the authors' unmasked mean (README "Models as coded").
		"mask_recon": {Min: 0, Max: 1, Default: 0, Integer: true},
	}),
}

func init() {
	alphaganSpec.New = func(cfg nets.Config) (nets.Model, error) { return newAlphaGAN(cfg, tensor.Float32) }
	nets.Register(alphaganSpec)
}

// alphagan is the paper's α-GAN (Rosca et al. 2017) as coded: encoder E
// (the BiGAN encoder's trunk with two 4×4 valid heads and Tanh, μ and a
// scale s; the code draws ẑ = μ + s·ε), generator G (as BiGAN's), image
// discriminator D (the encoder's trunk, a 4×4 valid convolution, minibatch
// discrimination, linear) and code discriminator C (MLP z → z/2 → z/4 → 1
// with LeakyReLU(0.1), no spectral norm).
//
// Losses, all from one forward pass and applied together as in the
// authors' code: E: λ·|x − G(ẑ)|₁ − C(ẑ); G: λ·|x − G(ẑ)|₁ − D(G(ẑ)) −
// D(G(z)) (logits; −l is exactly the code's BCE(·,1) − BCE(·,0)); D: real
// x, fake G(ẑ) and G(z); C: real z ~ N(0, I), fake ẑ. E is not trained
// through D(G(ẑ)), as in the code and in Rosca et al.'s algorithm.
//
// Scores: the reconstruction G(μ) gives "mse", "mse_top<k>" and maps;
// "d" = 1 − σ(D(x)), "c" = 1 − σ(C(μ)), "c_d" = their mean. D scores
// each image against a fixed reference batch of training images
// (gan.Reference), not the rest of its scoring batch as the paper's code
// does, so no score depends on which images share a batch.
type alphagan struct {
	*gan.Base
	*gan.Reference  // D scores each image against a fixed batch of training images
	slope, l1       float64
	hinge, maskRec  bool
	z               int
	e, g, d, c      *gan.Net
	eTrunk          []gan.Layer
	eMu, eScale     gan.Layer
	gLayers, cLayer []gan.Layer
	dTrunk          []gan.Layer
	dHead           gan.DiscHead
	ePhases         map[int]*agE
	gPhases         map[int]*agG
	dcPhases        map[int]*agDC
}

type agE struct {
	gg       *gan.Graph
	loss     *G.Node
	zhat, l1 *gan.Out
}
type agG struct {
	gg         *gan.Graph
	loss       *G.Node
	xrec, xgen *gan.Out
}
type agDC struct {
	gg     *gan.Graph
	cost   *G.Node
	ld, lc *gan.Out
}

func newAlphaGAN(cfg nets.Config, dt tensor.Dtype) (*alphagan, error) {
	base, p, stages, err := gan.NewBase(alphaganSpec, cfg, dt)
	if err != nil {
		return nil, err
	}
	width := p["width"]
	m := &alphagan{Base: base, slope: p["slope"], l1: p["l1"], hinge: p["hinge"] == 1, maskRec: p["mask_recon"] == 1, z: int(p["z"]),
		e: gan.NewNet("e", dt), g: gan.NewNet("g", dt), d: gan.NewNet("d", dt), c: gan.NewNet("c", dt),
		ePhases: map[int]*agE{}, gPhases: map[int]*agG{}, dcPhases: map[int]*agDC{}}
	m.eTrunk = gan.TrunkLayers("e", stages, 64, width)
	top := m.eTrunk[len(m.eTrunk)-1].Cout
	m.eMu = gan.Layer{Name: "e.mu", Kind: gan.Conv, Cin: top, Cout: m.z, K: 4, S: 1, P: 0, Bias: true, Act: gan.Tanh}
	m.eScale = gan.Layer{Name: "e.scale", Kind: gan.Conv, Cin: top, Cout: m.z, K: 4, S: 1, P: 0, Bias: true, Act: gan.Tanh}
	m.gLayers = gan.GeneratorLayers("g", m.z, stages, 64, width, true, false, gan.ReLU)
	m.dTrunk = gan.TrunkLayers("d", stages, 64, width)
	m.dHead = gan.NewDiscHead("d", top, int(p["mbd_kernels"]), int(p["mbd_dims"]))
	m.cLayer = []gan.Layer{
		{Name: "c.l0", Kind: gan.Linear, Cin: m.z, Cout: m.z / 2, Bias: true, Act: gan.LReLU},
		{Name: "c.l1", Kind: gan.Linear, Cin: m.z / 2, Cout: m.z / 4, Bias: true, Act: gan.LReLU},
		{Name: "c.out", Kind: gan.Linear, Cin: m.z / 4, Cout: 1, Bias: true},
	}
	wi := gan.WeightInit{}
	m.e.AddLayers(append(append([]gan.Layer(nil), m.eTrunk...), m.eMu, m.eScale), wi, cfg.Rand)
	m.g.AddLayers(m.gLayers, wi, cfg.Rand)
	m.d.AddLayers(m.dTrunk, wi, cfg.Rand)
	m.dHead.Add(m.d, wi, cfg.Rand)
	m.c.AddLayers(m.cLayer, wi, cfg.Rand)
	m.e.Opt = nets.NewAdam(m.e.PS, p["lr_ge"], p["beta1"], p["beta2"])
	m.g.Opt = nets.NewAdam(m.g.PS, p["lr_ge"], p["beta1"], p["beta2"])
	m.d.Opt = nets.NewAdam(m.d.PS, p["lr_d"], p["beta1"], p["beta2"])
	m.c.Opt = nets.NewAdam(m.c.PS, p["lr_d"], p["beta1"], p["beta2"])
	m.SetNets(m.e, m.g, m.d, m.c)
	m.NewerParams(map[string]float64{"mask_recon": 0}) // checkpoints before it trained unmasked
	m.Reference = m.UseReference(m.d, m.dTrunk, m.dHead, m.slope)
	return m, nil
}

func (m *alphagan) ScoreNames() []string { return m.ExpandScores(alphaganSpec.Scores) }

// encode returns μ and, when withScale, the scale head.
func (m *alphagan) encode(b *gan.Bind, x *G.Node, withScale bool) (mu, scale *G.Node, err error) {
	h, err := b.Forward(x, m.eTrunk, m.slope)
	if err != nil {
		return nil, nil, err
	}
	if mu, err = b.Forward(h, []gan.Layer{m.eMu}, m.slope); err != nil {
		return nil, nil, err
	}
	if mu, err = gan.Flatten(mu); err != nil {
		return nil, nil, err
	}
	if withScale {
		if scale, err = b.Forward(h, []gan.Layer{m.eScale}, m.slope); err != nil {
			return nil, nil, err
		}
		if scale, err = gan.Flatten(scale); err != nil {
			return nil, nil, err
		}
	}
	return mu, scale, nil
}

func (m *alphagan) generate(b *gan.Bind, z *G.Node) (*G.Node, error) {
	zi, err := gan.ZImage(z)
	if err != nil {
		return nil, err
	}
	return b.Forward(zi, m.gLayers, m.slope)
}

func (m *alphagan) discriminate(b *gan.Bind, x *G.Node) (*G.Node, error) {
	return gan.ImageDisc(b, x, m.dTrunk, m.dHead, m.slope)
}

func (m *alphagan) codeDisc(b *gan.Bind, z *G.Node) (*G.Node, error) {
	h, err := b.Forward(z, m.cLayer, m.slope)
	if err != nil {
		return nil, err
	}
	return ops.Reshape(h, tensor.Shape{h.Shape()[0]})
}

// l1Loss is λ·L1(x, rec): masked by the graph's "mask" input (filled by
// phases) with mask_recon, else the unmasked mean.
func (m *alphagan) l1Loss(gg *gan.Graph, x, rec *G.Node) (*G.Node, error) {
	var l *G.Node
	var err error
	if m.maskRec {
		l, err = nets.MaskedL1(x, rec, gg.Input("mask", x.Shape()...))
	} else {
		l, err = nets.MeanAbsDiff(x, rec)
	}
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(l, nets.ScalarNode(m.Dtype(), m.l1))
}

// ePhase: ẑ = μ + s·ε, λ·L1(x, G(ẑ)) − mean C(ẑ); gradients for E.
func (m *alphagan) ePhase(n int) (*agE, error) {
	if p, ok := m.ePhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, eps := gg.Input("x", n, 1, s, s), gg.Input("eps", n, m.z)
	mu, sc, err := m.encode(gg.Bind(m.e), x, true)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	noise, err := G.HadamardProd(sc, eps)
	if err != nil {
		return nil, err
	}
	zhat, err := G.Add(mu, noise)
	if err != nil {
		return nil, err
	}
	rec, err := m.generate(gg.Bind(m.g), zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	l1, err := m.l1Loss(gg, x, rec)
	if err != nil {
		return nil, err
	}
	lc, err := m.codeDisc(gg.Bind(m.c), zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	adv, err := nets.NegMean(lc)
	if err != nil {
		return nil, err
	}
	loss, err := G.Add(l1, adv)
	if err != nil {
		return nil, err
	}
	zOut, err := gan.Output(zhat)
	if err != nil {
		return nil, err
	}
	l1Out, err := gan.Output(l1)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(loss, m.e); err != nil {
		return nil, fmt.Errorf("alphagan encoder: %w", err)
	}
	p := &agE{gg: gg, loss: loss, zhat: zOut, l1: l1Out}
	m.ePhases[n] = p
	return p, nil
}

// gPhase: from ẑ (detached) and z, λ·L1(x, G(ẑ)) − mean D(G(ẑ)) −
// mean D(G(z)); gradients for G.
func (m *alphagan) gPhase(n int) (*agG, error) {
	if p, ok := m.gPhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, zhat, z := gg.Input("x", n, 1, s, s), gg.Input("z_hat", n, m.z), gg.Input("z", n, m.z)
	gb := gg.Bind(m.g)
	rec, err := m.generate(gb, zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	gen, err := m.generate(gb, z)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	l1, err := m.l1Loss(gg, x, rec)
	if err != nil {
		return nil, err
	}
	db := gg.Bind(m.d)
	lrec, err := m.discriminate(db, rec)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	lgen, err := m.discriminate(db, gen)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	a, err := nets.NegMean(lrec)
	if err != nil {
		return nil, err
	}
	c, err := nets.NegMean(lgen)
	if err != nil {
		return nil, err
	}
	loss, err := nets.AddLosses(l1, a, c)
	if err != nil {
		return nil, err
	}
	recOut, err := gan.Output(rec)
	if err != nil {
		return nil, err
	}
	genOut, err := gan.Output(gen)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(loss, m.g); err != nil {
		return nil, fmt.Errorf("alphagan generator: %w", err)
	}
	p := &agG{gg: gg, loss: loss, xrec: recOut, xgen: genOut}
	m.gPhases[n] = p
	return p, nil
}

// dcPhase: D on x (real), G(ẑ) and G(z) (fake); C on z (real) and ẑ
// (fake); all inputs detached. The cost is L_D + L_C over disjoint
// networks, so each gets exactly its own loss's gradient.
func (m *alphagan) dcPhase(n int) (*agDC, error) {
	if p, ok := m.dcPhases[n]; ok {
		return p, nil
	}
	gg := gan.NewGraph(m.Dtype())
	s := m.Cfg.Size
	x, rec, gen := gg.Input("x", n, 1, s, s), gg.Input("x_rec", n, 1, s, s), gg.Input("x_gen", n, 1, s, s)
	zhat, z := gg.Input("z_hat", n, m.z), gg.Input("z", n, m.z)
	db, cb := gg.Bind(m.d), gg.Bind(m.c)
	var dl [3]*G.Node
	for i, img := range []*G.Node{x, rec, gen} {
		l, err := m.discriminate(db, img)
		if err != nil {
			return nil, fmt.Errorf("alphagan: %w", err)
		}
		dl[i] = l
	}
	ld, err := nets.DiscLoss(m.hinge, dl[:1], dl[1:])
	if err != nil {
		return nil, err
	}
	cz, err := m.codeDisc(cb, z)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	chat, err := m.codeDisc(cb, zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	lc, err := nets.DiscLoss(m.hinge, []*G.Node{cz}, []*G.Node{chat})
	if err != nil {
		return nil, err
	}
	cost, err := G.Add(ld, lc)
	if err != nil {
		return nil, err
	}
	ldOut, err := gan.Output(ld)
	if err != nil {
		return nil, err
	}
	lcOut, err := gan.Output(lc)
	if err != nil {
		return nil, err
	}
	if err := gg.Compile(cost, m.d, m.c); err != nil {
		return nil, fmt.Errorf("alphagan discriminators: %w", err)
	}
	p := &agDC{gg: gg, cost: cost, ld: ldOut, lc: lcOut}
	m.dcPhases[n] = p
	return p, nil
}

// phases runs the three graphs on given inputs.
func (m *alphagan) phases(b *nets.Batch, z, eps []float64) (*agE, *agG, *agDC, map[string]float64, error) {
	n := b.N
	x := gan.ImagesOf(b)
	var mask []float64
	if m.maskRec {
		mask = make([]float64, len(b.Masks))
		var sum float64
		for i, v := range b.Masks {
			mask[i], sum = float64(v), sum+float64(v)
		}
		if sum == 0 {
			return nil, nil, nil, nil, fmt.Errorf("alphagan: the batch's masks are all zero, so the masked loss is undefined")
		}
	}
	ep, err := m.ePhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ep.gg.Set("x", x)
	ep.gg.Set("eps", eps)
	if err := ep.gg.Run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: encoder step: %w", err)
	}
	gp, err := m.gPhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if m.maskRec {
		ep.gg.Set("mask", mask)
		gp.gg.Set("mask", mask)
	}
	gp.gg.Set("x", x)
	gp.gg.Set("z", z)
	gp.gg.SetFrom("z_hat", ep.zhat)
	if err := gp.gg.Run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: generator step: %w", err)
	}
	dp, err := m.dcPhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	dp.gg.Set("x", x)
	dp.gg.Set("z", z)
	dp.gg.SetFrom("z_hat", ep.zhat)
	dp.gg.SetFrom("x_rec", gp.xrec)
	dp.gg.SetFrom("x_gen", gp.xgen)
	if err := dp.gg.Run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: discriminator step: %w", err)
	}
	losses := map[string]float64{
		"e": ep.gg.Scalar(ep.loss), "g": gp.gg.Scalar(gp.loss),
		"d": dp.ld.Scalar(), "c": dp.lc.Scalar(), "l1": ep.l1.Scalar(),
	}
	return ep, gp, dp, losses, nil
}

// TrainStep updates E, G, D and C from one forward pass, as the authors'
// code does; a NaN or infinite loss changes nothing.
func (m *alphagan) TrainStep(b *nets.Batch) (map[string]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	z := gan.Normals(m.Rand(), b.N*m.z)
	eps := gan.Normals(m.Rand(), b.N*m.z)
	m.PowerIterate()
	ep, gp, dp, losses, err := m.phases(b, z, eps)
	if err != nil {
		return nil, err
	}
	if err := gan.CheckFinite("alphagan", losses); err != nil {
		return nil, err
	}
	// G ran on ẑ then on z in the generator phase, as in the code: its
	// statistics are those two passes'.
	if err := gan.Step("alphagan", &gan.Trained{Graph: gp.gg, Net: m.g}, gan.Trained{Graph: ep.gg, Net: m.e},
		gan.Trained{Graph: gp.gg, Net: m.g}, gan.Trained{Graph: dp.gg, Net: m.d}, gan.Trained{Graph: dp.gg, Net: m.c}); err != nil {
		return nil, err
	}
	return losses, nil
}

// inferGraph builds the reconstruction G(μ_E(x)), D(x) and C(μ_E(x)).
func (m *alphagan) inferGraph(gg *gan.Graph, x *G.Node) (map[string]*G.Node, error) {
	mu, _, err := m.encode(gg.Bind(m.e), x, false)
	if err != nil {
		return nil, err
	}
	rec, err := m.generate(gg.Bind(m.g), mu)
	if err != nil {
		return nil, err
	}
	ld, err := m.Disc(gg, x)
	if err != nil {
		return nil, err
	}
	lc, err := m.codeDisc(gg.Bind(m.c), mu)
	if err != nil {
		return nil, err
	}
	return map[string]*G.Node{"recon": rec, "d": ld, "c": lc}, nil
}

// Score gives "c", "mse", "mse_top<k>", "d" and "c_d" and maps from the
// reconstruction G(μ_E(x)).
func (m *alphagan) Score(b *nets.Batch) (*nets.Scored, error) {
	v, err := m.Infer(b, m.inferGraph)
	if err != nil {
		return nil, err
	}
	out, err := m.ReconScores(b, v["recon"])
	if err != nil {
		return nil, err
	}
	ld, lc := v["d"], v["c"]
	d, c, cd := make([]float64, b.N), make([]float64, b.N), make([]float64, b.N)
	for i := range d {
		d[i] = gan.OneMinusSigmoid(ld[i])
		c[i] = gan.OneMinusSigmoid(lc[i])
		cd[i] = (c[i] + d[i]) / 2
	}
	out.Scores["d"], out.Scores["c"], out.Scores["c_d"] = d, c, cd
	if err := m.AddSaliency(b, out, m.dScore); err != nil {
		return nil, err
	}
	return out, nil
}

// dScore is the anomaly score d = 1 − σ(D(x)) as a node, for the saliency
// maps.
func (m *alphagan) dScore(gg *gan.Graph, x *G.Node) (*G.Node, error) {
	l, err := m.Disc(gg, x)
	if err != nil {
		return nil, err
	}
	return gan.ProbNotReal(l)
}
