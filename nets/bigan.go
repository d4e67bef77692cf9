package nets

import (
	"fmt"
	"io"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// biganSpec: the paper's BiGAN settings (supplement .4: z = 100, generator
// and encoder lr 1e-3, discriminator lr 5e-6, hinge loss, Adam β = (0.5,
// 0.999)). hinge = 0 selects the loss the authors' code actually ran under
// that name, −log D(real) − log(1 − D(fake)).
var biganSpec = Spec{
	Name:   "bigan",
	Scores: []string{"mse", "mse_topk", "d"},
	Params: withParams(ganAdamParams, map[string]ParamRange{
		"width": {Min: 1.0 / 64, Max: 4, Default: 1},
		"z":     {Min: 1, Max: 8192, Default: 100, Integer: true},
		"lr_ge": {Min: 1e-8, Max: 1e-1, Default: 1e-3},
		"lr_d":  {Min: 1e-8, Max: 1e-1, Default: 5e-6},
		"slope": {Min: 0, Max: 0.99, Default: 0.1},
		"hinge": {Min: 0, Max: 1, Default: 1, Integer: true},
	}),
}

func init() {
	biganSpec.New = func(cfg Config) (Model, error) { return newBiGAN(cfg, tensor.Float32) }
	register(biganSpec)
}

// bigan is the paper's BiGAN as coded (README "Models as coded"; the
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
	*ganBase
	slope            float64
	hinge            bool
	z                int
	g, e, d          *ganNet
	gLayers, eLayers []gLayer
	dTrunk, dZ, dJ   []gLayer
	dX               gLayer
	gePhases         map[int]*biganGE
	dPhases          map[int]*biganD
	infer            map[int]*biganInfer
}

type biganGE struct {
	gg       *ganGraph
	loss     *G.Node
	ze, xgen *outVal
}
type biganD struct {
	gg   *ganGraph
	loss *G.Node
}
type biganInfer struct {
	gg            *ganGraph
	recon, logits *G.Node
}

func newBiGAN(cfg Config, dt tensor.Dtype) (*bigan, error) {
	base, p, stages, err := newGANBase(biganSpec, cfg, dt)
	if err != nil {
		return nil, err
	}
	width := p["width"]
	m := &bigan{ganBase: base, slope: p["slope"], hinge: p["hinge"] == 1, z: int(p["z"]),
		g: newGANNet("g", dt), e: newGANNet("e", dt), d: newGANNet("d", dt),
		gePhases: map[int]*biganGE{}, dPhases: map[int]*biganD{}, infer: map[int]*biganInfer{}}
	m.gLayers = generatorLayers("g", m.z, stages, 64, width, true, false, aReLU)
	m.eLayers = trunkLayers("e", stages, 64, width)
	top := m.eLayers[len(m.eLayers)-1].cout
	m.eLayers = append(m.eLayers, gLayer{name: "e.out", kind: kConv, cin: top, cout: m.z, k: 4, s: 1, p: 0, bias: true})
	m.dTrunk = trunkLayers("d", stages, 64, width)
	m.dX = gLayer{name: "d.x.last", kind: kConv, cin: top, cout: top, k: 4, s: 1, p: 0, sn: true, bias: true, act: aLReLU}
	zc, jc := scaled(512, width), scaled(1024, width)
	m.dZ = []gLayer{
		{name: "d.z0", kind: kLinear, cin: m.z, cout: zc, sn: true, bias: true, act: aLReLU},
		{name: "d.z1", kind: kLinear, cin: zc, cout: zc, sn: true, bias: true, act: aLReLU},
	}
	m.dJ = []gLayer{
		{name: "d.j0", kind: kLinear, cin: top + zc, cout: jc, sn: true, bias: true, act: aLReLU},
		{name: "d.j1", kind: kLinear, cin: jc, cout: jc, sn: true, bias: true, act: aLReLU},
		{name: "d.out", kind: kLinear, cin: jc, cout: 1, bias: true},
	}
	wi := weightInit{} // PyTorch's defaults: the authors' sagan.py has no weights_init
	m.g.addLayers(m.gLayers, wi, cfg.Rand)
	m.e.addLayers(m.eLayers, wi, cfg.Rand)
	m.d.addLayers(append(append(append(append([]gLayer(nil), m.dTrunk...), m.dX), m.dZ...), m.dJ...), wi, cfg.Rand)
	m.g.opt = newAdam(m.g.ps, p["lr_ge"], p["beta1"], p["beta2"])
	m.e.opt = newAdam(m.e.ps, p["lr_ge"], p["beta1"], p["beta2"])
	m.d.opt = newAdam(m.d.ps, p["lr_d"], p["beta1"], p["beta2"])
	m.nets = []*ganNet{m.g, m.e, m.d}
	return m, nil
}

func (m *bigan) ScoreNames() []string { return ExpandScores(biganSpec.Scores, m.topK) }

func (m *bigan) generate(b *netBind, z *G.Node) (*G.Node, error) {
	zi, err := zImage(z)
	if err != nil {
		return nil, err
	}
	return b.forward(zi, m.gLayers, m.slope)
}

func (m *bigan) encode(b *netBind, x *G.Node) (*G.Node, error) {
	h, err := b.forward(x, m.eLayers, m.slope)
	if err != nil {
		return nil, err
	}
	return flatten(h)
}

// discriminate returns the logits (N) of D(x, z).
func (m *bigan) discriminate(b *netBind, x, z *G.Node) (*G.Node, error) {
	hx, err := b.forward(x, append(m.dTrunk[:len(m.dTrunk):len(m.dTrunk)], m.dX), m.slope)
	if err != nil {
		return nil, err
	}
	if hx, err = flatten(hx); err != nil {
		return nil, err
	}
	hz, err := b.forward(z, m.dZ, m.slope)
	if err != nil {
		return nil, err
	}
	h, err := ConcatCols(hx, hz)
	if err != nil {
		return nil, fmt.Errorf("d joint: %w", err)
	}
	if h, err = b.forward(h, m.dJ, m.slope); err != nil {
		return nil, err
	}
	return Reshape(h, tensor.Shape{h.Shape()[0]})
}

// gePhase: z_e = E(x), x_gen = G(z), losses on D(x, z_e) (real) and
// D(x_gen, z) (fake); gradients for G and E.
func (m *bigan) gePhase(n int) (*biganGE, error) {
	if p, ok := m.gePhases[n]; ok {
		return p, nil
	}
	gg := newGANGraph(m.dt)
	s := m.cfg.Size
	x, z := gg.input("x", n, 1, s, s), gg.input("z", n, m.z)
	ze, err := m.encode(gg.bind(m.e), x)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	xg, err := m.generate(gg.bind(m.g), z)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	db := gg.bind(m.d)
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
		c, err := negMean(lf)
		if err != nil {
			return nil, err
		}
		loss, err = G.Add(a, c)
		if err != nil {
			return nil, err
		}
	} else {
		// the labels swapped: −log D(fake) − log(1 − D(real))
		if loss, err = discLoss(false, []*G.Node{lf}, []*G.Node{lr}); err != nil {
			return nil, err
		}
	}
	zeOut, err := output(ze)
	if err != nil {
		return nil, err
	}
	xgOut, err := output(xg)
	if err != nil {
		return nil, err
	}
	if err := gg.compile(loss, m.g, m.e); err != nil {
		return nil, fmt.Errorf("bigan generator/encoder: %w", err)
	}
	p := &biganGE{gg: gg, loss: loss, ze: zeOut, xgen: xgOut}
	m.gePhases[n] = p
	return p, nil
}

// dPhase: the discriminator's loss on the same pairs, taken as detached
// inputs from the generator/encoder phase.
func (m *bigan) dPhase(n int) (*biganD, error) {
	if p, ok := m.dPhases[n]; ok {
		return p, nil
	}
	gg := newGANGraph(m.dt)
	s := m.cfg.Size
	x, ze := gg.input("x", n, 1, s, s), gg.input("z_e", n, m.z)
	xg, z := gg.input("x_gen", n, 1, s, s), gg.input("z", n, m.z)
	db := gg.bind(m.d)
	lr, err := m.discriminate(db, x, ze)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	lf, err := m.discriminate(db, xg, z)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	loss, err := discLoss(m.hinge, []*G.Node{lr}, []*G.Node{lf})
	if err != nil {
		return nil, err
	}
	if err := gg.compile(loss, m.d); err != nil {
		return nil, fmt.Errorf("bigan discriminator: %w", err)
	}
	p := &biganD{gg: gg, loss: loss}
	m.dPhases[n] = p
	return p, nil
}

// phases runs both phases on given inputs and returns their losses.
func (m *bigan) phases(b *Batch, z []float64) (*biganGE, *biganD, map[string]float64, error) {
	ge, err := m.gePhase(b.N)
	if err != nil {
		return nil, nil, nil, err
	}
	x := imagesOf(b)
	ge.gg.set("x", x)
	ge.gg.set("z", z)
	if err := ge.gg.run(); err != nil {
		return nil, nil, nil, fmt.Errorf("bigan: generator/encoder step: %w", err)
	}
	d, err := m.dPhase(b.N)
	if err != nil {
		return nil, nil, nil, err
	}
	d.gg.set("x", x)
	d.gg.set("z", z)
	d.gg.setFrom("z_e", ge.ze)
	d.gg.setFrom("x_gen", ge.xgen)
	if err := d.gg.run(); err != nil {
		return nil, nil, nil, fmt.Errorf("bigan: discriminator step: %w", err)
	}
	return ge, d, map[string]float64{"ge": ge.gg.scalar(ge.loss), "d": d.gg.scalar(d.loss)}, nil
}

// TrainStep computes the generator+encoder and discriminator gradients from
// one forward pass and applies them together; a NaN or infinite loss
// changes nothing.
func (m *bigan) TrainStep(b *Batch) (map[string]float64, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	z := normals(m.rnd, b.N*m.z)
	m.powerIterate()
	ge, d, losses, err := m.phases(b, z)
	if err != nil {
		return nil, err
	}
	if err := checkFinite("bigan", losses); err != nil {
		return nil, err
	}
	var grads [][]G.Value
	for _, pg := range []struct {
		gg *ganGraph
		n  *ganNet
	}{{ge.gg, m.g}, {ge.gg, m.e}, {d.gg, m.d}} {
		gr, err := pg.gg.grads(pg.n)
		if err != nil {
			return nil, fmt.Errorf("bigan: %w", err)
		}
		grads = append(grads, gr)
	}
	ge.gg.adoptStats(m.g)
	if err := updateNets("bigan", []*ganNet{m.g, m.e, m.d}, grads); err != nil {
		return nil, err
	}
	return losses, nil
}

func (m *bigan) inferGraph(n int) (*biganInfer, error) {
	if p, ok := m.infer[n]; ok {
		return p, nil
	}
	gg := newGANGraph(m.dt)
	x := gg.input("x", n, 1, m.cfg.Size, m.cfg.Size)
	ze, err := m.encode(gg.bind(m.e), x)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	rec, err := m.generate(gg.bind(m.g), ze)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	l, err := m.discriminate(gg.bind(m.d), x, ze)
	if err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	if err := gg.compile(nil); err != nil {
		return nil, err
	}
	p := &biganInfer{gg: gg, recon: rec, logits: l}
	m.infer[n] = p
	return p, nil
}

// Score gives "mse", "mse_top<k>" and maps from G(E(x)) (running BN
// statistics) and "d" = 1 − σ(D(x, E(x))).
func (m *bigan) Score(b *Batch) (*Scored, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	p, err := m.inferGraph(b.N)
	if err != nil {
		return nil, err
	}
	p.gg.set("x", imagesOf(b))
	if err := p.gg.run(); err != nil {
		return nil, fmt.Errorf("bigan: scoring: %w", err)
	}
	out := &Scored{}
	if err := reconstructionScores(b, values(p.recon), "mse", m.topK, out); err != nil {
		return nil, fmt.Errorf("bigan: %w", err)
	}
	d := make([]float64, b.N)
	for i, l := range values(p.logits) {
		d[i] = oneMinusSigmoid(l)
	}
	out.Scores["d"] = d
	return out, nil
}

func (m *bigan) Save(w io.Writer) error { return writeCheckpoint(w, m.checkpoint()) }

func (m *bigan) Load(r io.Reader) error {
	ck, err := readCheckpoint(r)
	if err != nil {
		return err
	}
	return m.restore(ck)
}
