package nets

import (
	"fmt"
	"io"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// caeSpec: the paper's hyperparameters for the convolutional autoencoder.
var caeSpec = Spec{
	Name:   "cae",
	Scores: []string{"mse", "mse_topk"},
	Params: map[string]ParamRange{
		"lr":    {Min: 1e-7, Max: 1e-1, Default: 1e-4},
		"width": {Min: 1.0 / 64, Max: 4, Default: 1},
		"beta1": {Min: 0, Max: 0.9999, Default: 0.9},
		"beta2": {Min: 0, Max: 0.99999, Default: 0.999},
	},
}

func init() {
	caeSpec.New = func(cfg Config) (Model, error) { return newCAE(cfg, tensor.Float32) }
	register(caeSpec)
}

// layer is one convolution (or transposed convolution) of a network.
type layer struct {
	name               string
	transpose          bool
	cin, cout, k, s, p int
	bn                 bool
}

// caeLayers is the paper's CAE (README "Models as coded"): ten
// convolutions alternating 3×3/s1 and 4×4/s2 (five stride-2 stages, so the
// bottleneck is Size/32), BN without conv bias + ReLU; five 4×4/s2
// transposed convolutions with BN + ReLU, and a 3×3 transposed convolution
// to one channel. Channels are scaled by width.
func caeLayers(width float64) []layer {
	enc := []int{16, 32, 32, 64, 64, 128, 128, 256, 256, 512}
	var ls []layer
	cin := 1
	for i, c := range enc {
		k, s := 3, 1
		if i%2 == 1 {
			k, s = 4, 2
		}
		cout := scaled(c, width)
		ls = append(ls, layer{name: fmt.Sprintf("enc%d", i), cin: cin, cout: cout, k: k, s: s, p: 1, bn: true})
		cin = cout
	}
	for i, c := range []int{256, 128, 64, 32, 16} {
		cout := scaled(c, width)
		ls = append(ls, layer{name: fmt.Sprintf("dec%d", i), transpose: true, cin: cin, cout: cout, k: 4, s: 2, p: 1, bn: true})
		cin = cout
	}
	return append(ls, layer{name: "dec5", transpose: true, cin: cin, cout: 1, k: 3, s: 1, p: 1})
}

// cae is the convolutional autoencoder. The output is Tanh(ReLU(convT(·)))
// as in the authors' code (its decoder applies ReLU after every layer,
// the last included, then Tanh): the reconstruction lies in [0,1) like the
// [0,1] input, which is compared with it unscaled.
//
// The same type also runs the BAE (bae.go): both are deterministic
// autoencoders trained on the masked MSE and scored by reconstruction, so
// only the network (fwd), the name and the smallest BatchNorm'd side differ.
type cae struct {
	name   string
	cfg    Config
	width  float64
	topK   []int
	dt     tensor.Dtype
	layers []layer
	ps     *paramSet
	stats  []*bnStats
	opt    *adam
	epoch  int
	train  map[int]*aeGraph // by batch size: a graph is compiled for one
	infer  map[int]*aeGraph
	// fwd builds the network on x, returning the reconstruction.
	fwd func(gn *graphNet, x *G.Node) (*G.Node, error)
	// minSide is the side of the smallest feature map that BatchNorm
	// normalises, for the batch-size check.
	minSide int
}

// aeGraph is one compiled graph: inputs, reconstruction, loss and machine.
type aeGraph struct {
	net         *graphNet
	x, mask     *G.Node
	xT, maskT   *tensor.Dense
	recon, loss *G.Node
	vm          G.VM
}

func newCAE(cfg Config, dt tensor.Dtype) (*cae, error) {
	params, err := resolveParams(caeSpec, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Size < 32 || cfg.Size%32 != 0 {
		return nil, fmt.Errorf("cae: image size %d must be a positive multiple of 32 (five stride-2 stages)", cfg.Size)
	}
	topK, err := resolveTopK("cae", cfg.TopK)
	if err != nil {
		return nil, err
	}
	m := &cae{name: "cae", cfg: cfg, width: params["width"], topK: topK, dt: dt,
		layers: caeLayers(params["width"]), ps: newParamSet(dt),
		train: map[int]*aeGraph{}, infer: map[int]*aeGraph{}, minSide: cfg.Size / 32}
	m.cfg.Params = params
	m.fwd = m.forward
	for _, l := range m.layers {
		// PyTorch's fan-in for a ConvTranspose2d weight (Cin, Cout, k, k) is Cout·k·k.
		fanIn := l.cin * l.k * l.k
		shape := tensor.Shape{l.cout, l.cin, l.k, l.k}
		if l.transpose {
			fanIn = l.cout * l.k * l.k
			shape = tensor.Shape{l.cin, l.cout, l.k, l.k}
		}
		m.ps.add(l.name+".w", shape, uniformInit(cfg.Rand, fanIn))
		if l.bn {
			m.ps.add(l.name+".gamma", tensor.Shape{1, l.cout, 1, 1}, constInit(1))
			m.ps.add(l.name+".beta", tensor.Shape{1, l.cout, 1, 1}, constInit(0))
			m.stats = append(m.stats, newBNStats(dt, l.name, l.cout))
		}
	}
	m.opt = newAdam(m.ps, params["lr"], params["beta1"], params["beta2"])
	return m, nil
}

func (m *cae) Name() string         { return m.name }
func (m *cae) ScoreNames() []string { return ExpandScores([]string{"mse", "mse_topk"}, m.topK) }

// Epoch is the last epoch passed to EndEpoch (0 before any), restored by Load.
func (m *cae) Epoch() int { return m.epoch }

func (m *cae) EndEpoch(epoch int) error {
	m.epoch = epoch
	return nil
}

// forward builds encoder and decoder on x.
func (m *cae) forward(gn *graphNet, x *G.Node) (*G.Node, error) {
	h := x
	var err error
	for _, l := range m.layers {
		w := gn.p(l.name + ".w")
		if l.transpose {
			h, err = ConvTranspose2d(h, w, l.s, l.p)
		} else {
			h, err = Conv2d(h, w, l.s, l.p)
		}
		if err != nil {
			return nil, fmt.Errorf("cae %s: %w", l.name, err)
		}
		if l.bn {
			// BatchNorm and ReLU as one op
			if h, err = gn.batchNorm(h, l.name, true); err != nil {
				return nil, fmt.Errorf("cae %w", err)
			}
			continue
		}
		if h, err = G.Rectify(h); err != nil {
			return nil, fmt.Errorf("cae %s relu: %w", l.name, err)
		}
	}
	if h, err = G.Tanh(h); err != nil {
		return nil, fmt.Errorf("cae tanh: %w", err)
	}
	return h, nil
}

// graph builds (once per batch size and mode) a compiled graph. Training
// graphs also get the masked MSE loss and its gradients.
func (m *cae) graph(n int, training bool) (*aeGraph, error) {
	cache := m.infer
	if training {
		cache = m.train
	}
	if g, ok := cache[n]; ok {
		return g, nil
	}
	gn := newGraphNet(m.ps)
	ag := &aeGraph{net: gn}
	shape := tensor.Shape{n, 1, m.cfg.Size, m.cfg.Size}
	ag.xT = tensor.New(tensor.Of(m.dt), tensor.WithShape(shape...))
	ag.x = G.NewTensor(gn.g, m.dt, 4, G.WithShape(shape...), G.WithName("x"), G.WithValue(ag.xT))
	recon, err := m.fwd(gn, ag.x)
	if err != nil {
		return nil, err
	}
	ag.recon = recon
	if training {
		ag.maskT = tensor.New(tensor.Of(m.dt), tensor.WithShape(shape...))
		ag.mask = G.NewTensor(gn.g, m.dt, 4, G.WithShape(shape...), G.WithName("mask"), G.WithValue(ag.maskT))
		if ag.loss, err = maskedMSE(ag.x, recon, ag.mask); err != nil {
			return nil, fmt.Errorf("%s loss: %w", m.name, err)
		}
		if _, err := G.Grad(ag.loss, gn.nodes...); err != nil {
			return nil, fmt.Errorf("%s gradients: %w", m.name, err)
		}
		ag.vm = G.NewTapeMachine(gn.g, G.BindDualValues(gn.nodes...))
	} else {
		ag.vm = G.NewTapeMachine(gn.g, G.EvalMode())
	}
	cache[n] = ag
	return ag, nil
}

// maskedMSE is the paper's masked reconstruction loss as coded:
// Σ(m⊙(x−x̂))² / Σm.
func maskedMSE(x, recon, mask *G.Node) (*G.Node, error) {
	d, err := G.Sub(x, recon)
	if err != nil {
		return nil, err
	}
	if d, err = G.HadamardProd(mask, d); err != nil {
		return nil, err
	}
	if d, err = G.Square(d); err != nil {
		return nil, err
	}
	num, err := G.Sum(d)
	if err != nil {
		return nil, err
	}
	den, err := G.Sum(mask)
	if err != nil {
		return nil, err
	}
	return G.Div(num, den)
}

func (m *cae) checkBatch(b *Batch) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	if b.H != m.cfg.Size || b.W != m.cfg.Size {
		return fmt.Errorf("%s: batch images are %dx%d, model was built for %dx%d", m.name, b.H, b.W, m.cfg.Size, m.cfg.Size)
	}
	return nil
}

// setInput copies float32 batch data into a graph input tensor.
func setInput(t *tensor.Dense, src []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d, src)
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
	}
}

func scalarOf(v G.Value) float64 {
	switch s := v.Data().(type) {
	case float32:
		return float64(s)
	case float64:
		return s
	}
	return math.NaN()
}

// forwardBackward runs the training graph on b: loss and gradients, with
// BN statistics updated in the graph but not yet adopted by the model.
func (m *cae) forwardBackward(b *Batch) (*aeGraph, float64, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, 0, err
	}
	var msum float64
	for _, v := range b.Masks {
		msum += float64(v)
	}
	if msum == 0 {
		return nil, 0, fmt.Errorf("%s: the batch's masks are all zero, so the masked loss is undefined", m.name)
	}
	// BatchNorm's unbiased variance needs two values per channel; at the
	// bottleneck a channel has N·minSide² of them.
	if side := m.minSide; b.N*side*side < 2 {
		return nil, 0, fmt.Errorf("%s: a training batch of %d image(s) at %d px leaves one value per channel at the %dx%d bottleneck; BatchNorm needs at least 2", m.name, b.N, m.cfg.Size, side, side)
	}
	ag, err := m.graph(b.N, true)
	if err != nil {
		return nil, 0, err
	}
	if err := ag.net.loadStats(m.stats); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", m.name, err)
	}
	setInput(ag.xT, b.Images)
	setInput(ag.maskT, b.Masks)
	ag.net.zeroGrads()
	ag.vm.Reset()
	if err := ag.vm.RunAll(); err != nil {
		return nil, 0, fmt.Errorf("%s: training step: %w", m.name, err)
	}
	return ag, scalarOf(ag.loss.Value()), nil
}

// grads returns the parameter gradients of the last run of a training graph.
func (ag *aeGraph) grads() ([]G.Value, error) {
	out := make([]G.Value, len(ag.net.nodes))
	for i, n := range ag.net.nodes {
		g, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("gradient of %s: %w", n.Name(), err)
		}
		out[i] = g
	}
	return out, nil
}

// TrainStep runs one Adam step on the masked MSE. A NaN or infinite loss
// leaves weights, optimiser and statistics untouched and returns an error.
func (m *cae) TrainStep(b *Batch) (map[string]float64, error) {
	ag, loss, err := m.forwardBackward(b)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return nil, fmt.Errorf("%s: loss mse is %v", m.name, loss)
	}
	grads, err := ag.grads()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	ag.net.saveStats(m.stats)
	if err := m.opt.update(m.ps, grads); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	return map[string]float64{"mse": loss}, nil
}

// reconstruct runs the inference graph (running BN statistics) on b.
func (m *cae) reconstruct(b *Batch) ([]float64, error) {
	ag, err := m.graph(b.N, false)
	if err != nil {
		return nil, err
	}
	if err := ag.net.loadStats(m.stats); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	setInput(ag.xT, b.Images)
	ag.vm.Reset()
	if err := ag.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("%s: scoring: %w", m.name, err)
	}
	out := make([]float64, len(b.Images))
	switch d := ag.recon.Value().Data().(type) {
	case []float32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, d)
	}
	return out, nil
}

// Score gives "mse" and "mse_top<k>" per image and the smoothed error maps.
func (m *cae) Score(b *Batch) (*Scored, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	recon, err := m.reconstruct(b)
	if err != nil {
		return nil, err
	}
	out := &Scored{}
	if err := reconstructionScores(b, recon, "mse", m.topK, out); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	return out, nil
}

func (m *cae) Save(w io.Writer) error {
	return writeCheckpoint(w, m.checkpoint())
}

func (m *cae) Load(r io.Reader) error {
	ck, err := readCheckpoint(r)
	if err != nil {
		return err
	}
	return m.restore(ck)
}
