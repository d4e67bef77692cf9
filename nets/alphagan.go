package nets

import (
	"fmt"
	"io"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// alphaganSpec: the paper's α-GAN settings (supplement .4: z = 100,
// generator and encoder lr 1e-3, discriminator and code discriminator lr
// 5e-6, hinge loss, minibatch discrimination; README: L1 reconstruction
// weight 0.01, Adam β = (0.5, 0.999)). hinge = 0 selects BCE for the two
// discriminators, as the authors' code ran.
var alphaganSpec = Spec{
	Name:   "alphagan",
	Scores: []string{"c", "mse", "mse_topk", "d", "c_d"},
	Params: withParams(ganAdamParams, map[string]ParamRange{
		"width":       {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":           {Min: 4, Max: 8192, Default: 100, Integer: true},
		"lr_ge":       {Min: 1e-8, Max: 1e-1, Default: 1e-3},
		"lr_d":        {Min: 1e-8, Max: 1e-1, Default: 5e-6},
		"slope":       {Min: 0, Max: 0.99, Default: 0.1},
		"hinge":       {Min: 0, Max: 1, Default: 1, Integer: true},
		"l1":          {Min: 0, Max: 100, Default: 0.01},
		"mbd_kernels": {Min: 1, Max: 1024, Default: 100, Integer: true},
		"mbd_dims":    {Min: 1, Max: 64, Default: 5, Integer: true},
	}),
}

func init() {
	alphaganSpec.New = func(cfg Config) (Model, error) { return newAlphaGAN(cfg, tensor.Float32) }
	register(alphaganSpec)
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
// "d" = 1 − σ(D(x)), "c" = 1 − σ(C(μ)), "c_d" = their mean. D's score
// depends on the other images of the scored batch through minibatch
// discrimination, as in the paper's code.
type alphagan struct {
	*ganBase
	slope, l1       float64
	hinge           bool
	z               int
	e, g, d, c      *ganNet
	eTrunk          []gLayer
	eMu, eScale     gLayer
	gLayers, cLayer []gLayer
	dTrunk          []gLayer
	dHead           discHead
	ePhases         map[int]*agE
	gPhases         map[int]*agG
	dcPhases        map[int]*agDC
	infer           map[int]*agInfer
}

type agE struct {
	gg       *ganGraph
	loss     *G.Node
	zhat, l1 *outVal
}
type agG struct {
	gg         *ganGraph
	loss       *G.Node
	xrec, xgen *outVal
}
type agDC struct {
	gg     *ganGraph
	cost   *G.Node
	ld, lc *outVal
}
type agInfer struct {
	gg            *ganGraph
	recon, ld, lc *G.Node
}

func newAlphaGAN(cfg Config, dt tensor.Dtype) (*alphagan, error) {
	base, p, stages, err := newGANBase(alphaganSpec, cfg, dt)
	if err != nil {
		return nil, err
	}
	width := p["width"]
	m := &alphagan{ganBase: base, slope: p["slope"], l1: p["l1"], hinge: p["hinge"] == 1, z: int(p["z"]),
		e: newGANNet("e", dt), g: newGANNet("g", dt), d: newGANNet("d", dt), c: newGANNet("c", dt),
		ePhases: map[int]*agE{}, gPhases: map[int]*agG{}, dcPhases: map[int]*agDC{}, infer: map[int]*agInfer{}}
	m.eTrunk = trunkLayers("e", stages, 64, width)
	top := m.eTrunk[len(m.eTrunk)-1].cout
	m.eMu = gLayer{name: "e.mu", kind: kConv, cin: top, cout: m.z, k: 4, s: 1, p: 0, bias: true, act: aTanh}
	m.eScale = gLayer{name: "e.scale", kind: kConv, cin: top, cout: m.z, k: 4, s: 1, p: 0, bias: true, act: aTanh}
	m.gLayers = generatorLayers("g", m.z, stages, 64, width, true, false, aReLU)
	m.dTrunk = trunkLayers("d", stages, 64, width)
	m.dHead = newDiscHead("d", top, int(p["mbd_kernels"]), int(p["mbd_dims"]))
	m.cLayer = []gLayer{
		{name: "c.l0", kind: kLinear, cin: m.z, cout: m.z / 2, bias: true, act: aLReLU},
		{name: "c.l1", kind: kLinear, cin: m.z / 2, cout: m.z / 4, bias: true, act: aLReLU},
		{name: "c.out", kind: kLinear, cin: m.z / 4, cout: 1, bias: true},
	}
	wi := weightInit{}
	m.e.addLayers(append(append([]gLayer(nil), m.eTrunk...), m.eMu, m.eScale), wi, cfg.Rand)
	m.g.addLayers(m.gLayers, wi, cfg.Rand)
	m.d.addLayers(m.dTrunk, wi, cfg.Rand)
	m.dHead.add(m.d, wi, cfg.Rand)
	m.c.addLayers(m.cLayer, wi, cfg.Rand)
	m.e.opt = newAdam(m.e.ps, p["lr_ge"], p["beta1"], p["beta2"])
	m.g.opt = newAdam(m.g.ps, p["lr_ge"], p["beta1"], p["beta2"])
	m.d.opt = newAdam(m.d.ps, p["lr_d"], p["beta1"], p["beta2"])
	m.c.opt = newAdam(m.c.ps, p["lr_d"], p["beta1"], p["beta2"])
	m.nets = []*ganNet{m.e, m.g, m.d, m.c}
	return m, nil
}

func (m *alphagan) ScoreNames() []string { return ExpandScores(alphaganSpec.Scores, m.topK) }

// encode returns μ and, when withScale, the scale head.
func (m *alphagan) encode(b *netBind, x *G.Node, withScale bool) (mu, scale *G.Node, err error) {
	h, err := b.forward(x, m.eTrunk, m.slope)
	if err != nil {
		return nil, nil, err
	}
	if mu, err = b.forward(h, []gLayer{m.eMu}, m.slope); err != nil {
		return nil, nil, err
	}
	if mu, err = flatten(mu); err != nil {
		return nil, nil, err
	}
	if withScale {
		if scale, err = b.forward(h, []gLayer{m.eScale}, m.slope); err != nil {
			return nil, nil, err
		}
		if scale, err = flatten(scale); err != nil {
			return nil, nil, err
		}
	}
	return mu, scale, nil
}

func (m *alphagan) generate(b *netBind, z *G.Node) (*G.Node, error) {
	zi, err := zImage(z)
	if err != nil {
		return nil, err
	}
	return b.forward(zi, m.gLayers, m.slope)
}

func (m *alphagan) discriminate(b *netBind, x *G.Node) (*G.Node, error) {
	return imageDisc(b, x, m.dTrunk, m.dHead, m.slope)
}

func (m *alphagan) codeDisc(b *netBind, z *G.Node) (*G.Node, error) {
	h, err := b.forward(z, m.cLayer, m.slope)
	if err != nil {
		return nil, err
	}
	return Reshape(h, tensor.Shape{h.Shape()[0]})
}

func (m *alphagan) l1Loss(x, rec *G.Node) (*G.Node, error) {
	l, err := meanAbsDiff(x, rec)
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(l, scalarNode(m.dt, m.l1))
}

// ePhase: ẑ = μ + s·ε, λ·L1(x, G(ẑ)) − mean C(ẑ); gradients for E.
func (m *alphagan) ePhase(n int) (*agE, error) {
	if p, ok := m.ePhases[n]; ok {
		return p, nil
	}
	gg := newGANGraph(m.dt)
	s := m.cfg.Size
	x, eps := gg.input("x", n, 1, s, s), gg.input("eps", n, m.z)
	mu, sc, err := m.encode(gg.bind(m.e), x, true)
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
	rec, err := m.generate(gg.bind(m.g), zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	l1, err := m.l1Loss(x, rec)
	if err != nil {
		return nil, err
	}
	lc, err := m.codeDisc(gg.bind(m.c), zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	adv, err := negMean(lc)
	if err != nil {
		return nil, err
	}
	loss, err := G.Add(l1, adv)
	if err != nil {
		return nil, err
	}
	zOut, err := output(zhat)
	if err != nil {
		return nil, err
	}
	l1Out, err := output(l1)
	if err != nil {
		return nil, err
	}
	if err := gg.compile(loss, m.e); err != nil {
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
	gg := newGANGraph(m.dt)
	s := m.cfg.Size
	x, zhat, z := gg.input("x", n, 1, s, s), gg.input("z_hat", n, m.z), gg.input("z", n, m.z)
	gb := gg.bind(m.g)
	rec, err := m.generate(gb, zhat)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	gen, err := m.generate(gb, z)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	l1, err := m.l1Loss(x, rec)
	if err != nil {
		return nil, err
	}
	db := gg.bind(m.d)
	lrec, err := m.discriminate(db, rec)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	lgen, err := m.discriminate(db, gen)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	a, err := negMean(lrec)
	if err != nil {
		return nil, err
	}
	c, err := negMean(lgen)
	if err != nil {
		return nil, err
	}
	loss, err := addLosses(l1, a, c)
	if err != nil {
		return nil, err
	}
	recOut, err := output(rec)
	if err != nil {
		return nil, err
	}
	genOut, err := output(gen)
	if err != nil {
		return nil, err
	}
	if err := gg.compile(loss, m.g); err != nil {
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
	gg := newGANGraph(m.dt)
	s := m.cfg.Size
	x, rec, gen := gg.input("x", n, 1, s, s), gg.input("x_rec", n, 1, s, s), gg.input("x_gen", n, 1, s, s)
	zhat, z := gg.input("z_hat", n, m.z), gg.input("z", n, m.z)
	db, cb := gg.bind(m.d), gg.bind(m.c)
	var dl [3]*G.Node
	for i, img := range []*G.Node{x, rec, gen} {
		l, err := m.discriminate(db, img)
		if err != nil {
			return nil, fmt.Errorf("alphagan: %w", err)
		}
		dl[i] = l
	}
	ld, err := discLoss(m.hinge, dl[:1], dl[1:])
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
	lc, err := discLoss(m.hinge, []*G.Node{cz}, []*G.Node{chat})
	if err != nil {
		return nil, err
	}
	cost, err := G.Add(ld, lc)
	if err != nil {
		return nil, err
	}
	ldOut, err := output(ld)
	if err != nil {
		return nil, err
	}
	lcOut, err := output(lc)
	if err != nil {
		return nil, err
	}
	if err := gg.compile(cost, m.d, m.c); err != nil {
		return nil, fmt.Errorf("alphagan discriminators: %w", err)
	}
	p := &agDC{gg: gg, cost: cost, ld: ldOut, lc: lcOut}
	m.dcPhases[n] = p
	return p, nil
}

// phases runs the three graphs on given inputs.
func (m *alphagan) phases(b *Batch, z, eps []float64) (*agE, *agG, *agDC, map[string]float64, error) {
	n := b.N
	x := imagesOf(b)
	ep, err := m.ePhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ep.gg.set("x", x)
	ep.gg.set("eps", eps)
	if err := ep.gg.run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: encoder step: %w", err)
	}
	gp, err := m.gPhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	gp.gg.set("x", x)
	gp.gg.set("z", z)
	gp.gg.setFrom("z_hat", ep.zhat)
	if err := gp.gg.run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: generator step: %w", err)
	}
	dp, err := m.dcPhase(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	dp.gg.set("x", x)
	dp.gg.set("z", z)
	dp.gg.setFrom("z_hat", ep.zhat)
	dp.gg.setFrom("x_rec", gp.xrec)
	dp.gg.setFrom("x_gen", gp.xgen)
	if err := dp.gg.run(); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("alphagan: discriminator step: %w", err)
	}
	losses := map[string]float64{
		"e": ep.gg.scalar(ep.loss), "g": gp.gg.scalar(gp.loss),
		"d": dp.ld.scalar(), "c": dp.lc.scalar(), "l1": ep.l1.scalar(),
	}
	return ep, gp, dp, losses, nil
}

// TrainStep updates E, G, D and C from one forward pass, as the authors'
// code does; a NaN or infinite loss changes nothing.
func (m *alphagan) TrainStep(b *Batch) (map[string]float64, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	z := normals(m.rnd, b.N*m.z)
	eps := normals(m.rnd, b.N*m.z)
	m.powerIterate()
	ep, gp, dp, losses, err := m.phases(b, z, eps)
	if err != nil {
		return nil, err
	}
	if err := checkFinite("alphagan", losses); err != nil {
		return nil, err
	}
	var grads [][]G.Value
	for _, pg := range []struct {
		gg *ganGraph
		n  *ganNet
	}{{ep.gg, m.e}, {gp.gg, m.g}, {dp.gg, m.d}, {dp.gg, m.c}} {
		gr, err := pg.gg.grads(pg.n)
		if err != nil {
			return nil, fmt.Errorf("alphagan: %w", err)
		}
		grads = append(grads, gr)
	}
	// G ran on ẑ then on z in the generator phase, as in the code.
	gp.gg.adoptStats(m.g)
	if err := updateNets("alphagan", m.nets, grads); err != nil {
		return nil, err
	}
	return losses, nil
}

func (m *alphagan) inferGraph(n int) (*agInfer, error) {
	if p, ok := m.infer[n]; ok {
		return p, nil
	}
	gg := newGANGraph(m.dt)
	x := gg.input("x", n, 1, m.cfg.Size, m.cfg.Size)
	mu, _, err := m.encode(gg.bind(m.e), x, false)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	rec, err := m.generate(gg.bind(m.g), mu)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	ld, err := m.discriminate(gg.bind(m.d), x)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	lc, err := m.codeDisc(gg.bind(m.c), mu)
	if err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	if err := gg.compile(nil); err != nil {
		return nil, err
	}
	p := &agInfer{gg: gg, recon: rec, ld: ld, lc: lc}
	m.infer[n] = p
	return p, nil
}

// Score gives "c", "mse", "mse_top<k>", "d" and "c_d" and maps from the
// reconstruction G(μ_E(x)).
func (m *alphagan) Score(b *Batch) (*Scored, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	p, err := m.inferGraph(b.N)
	if err != nil {
		return nil, err
	}
	p.gg.set("x", imagesOf(b))
	if err := p.gg.run(); err != nil {
		return nil, fmt.Errorf("alphagan: scoring: %w", err)
	}
	out := &Scored{}
	if err := reconstructionScores(b, values(p.recon), "mse", m.topK, out); err != nil {
		return nil, fmt.Errorf("alphagan: %w", err)
	}
	ld, lc := values(p.ld), values(p.lc)
	d, c, cd := make([]float64, b.N), make([]float64, b.N), make([]float64, b.N)
	for i := range d {
		d[i] = oneMinusSigmoid(ld[i])
		c[i] = oneMinusSigmoid(lc[i])
		cd[i] = (c[i] + d[i]) / 2
	}
	out.Scores["d"], out.Scores["c"], out.Scores["c_d"] = d, c, cd
	return out, nil
}

func (m *alphagan) Save(w io.Writer) error { return writeCheckpoint(w, m.checkpoint()) }

func (m *alphagan) Load(r io.Reader) error {
	ck, err := readCheckpoint(r)
	if err != nil {
		return err
	}
	return m.restore(ck)
}
