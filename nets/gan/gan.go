// Package gan is what the three GANs (dcgan, bigan, alphagan) share and
// the other models do not: sub-networks with their own optimiser,
// spectral-norm state and BatchNorm statistics; layer stacks declared as
// data; graphs that bind several sub-networks; and their bookkeeping (Base
// adds the networks, the noise source and spectral norms to the core's
// nets.Base, which writes their checkpoint). It is a package of its own
// rather than part of the core because only GANs train several networks
// against each other: the core stays what every model needs.
package gan

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ops"
)

// Net is one sub-network of a GAN (generator, encoder, discriminator,
// code discriminator). Its parameter names carry the network's prefix
// ("g.", "d.", ...) so every name is unique within the model.
type Net struct {
	Name  string
	PS    *nets.ParamSet
	Opt   *nets.Adam // set by the model once its layers are added
	Stats []*nets.BNStats
	SN    []*ops.SNState
	snIdx map[string]*ops.SNState
	// gen counts power iterations and checkpoint loads; snVal are the
	// scoring graphs' normalised weights (sncache.go)
	gen   int
	snVal map[string]*snCached
	// arena is the output memory the graphs of the net's model share
	// (Base.SetNets gives all of a model's nets one).
	arena *ops.Arena
}

// NewNet is an empty network whose parameter names start with name + ".".
func NewNet(name string, dt tensor.Dtype) *Net {
	return &Net{Name: name, PS: nets.NewParamSet(dt), snIdx: map[string]*ops.SNState{}}
}

// LayerKind is what a Layer computes.
type LayerKind int

const (
	Conv   LayerKind = iota // Conv2d, weight (cout, cin, k, k)
	ConvT                   // ConvTranspose2d, weight (cin, cout, k, k)
	Linear                  // x·W, weight (cin, cout)
)

// Activation follows a layer (after its BatchNorm, if any).
type Activation int

const (
	NoAct Activation = iota
	ReLU
	LReLU
	Tanh
)

// Layer is one layer of a GAN network.
type Layer struct {
	Name               string
	Kind               LayerKind
	Cin, Cout, K, S, P int
	SN, Bias, BN       bool // spectral norm on the weight, a bias, BatchNorm
	Act                Activation
}

// WeightInit chooses how a layer's weight is drawn: PyTorch's default
// (U(±1/√fanIn)) or N(0, std) as in the authors' DCGAN weights_init.
type WeightInit struct{ NormalStd float64 }

// AddLayers creates the parameters of layers in order, so initialisation
// follows the seed exactly.
func (n *Net) AddLayers(ls []Layer, wi WeightInit, r *rand.Rand) {
	for _, l := range ls {
		var shape tensor.Shape
		var fanIn int
		switch l.Kind {
		case Conv:
			shape, fanIn = tensor.Shape{l.Cout, l.Cin, l.K, l.K}, l.Cin*l.K*l.K
		case ConvT:
			shape, fanIn = tensor.Shape{l.Cin, l.Cout, l.K, l.K}, l.Cout*l.K*l.K
		case Linear:
			shape, fanIn = tensor.Shape{l.Cin, l.Cout}, l.Cin
		}
		init := nets.UniformInit(r, fanIn)
		if wi.NormalStd > 0 {
			std := wi.NormalStd
			init = func() float64 { return r.NormFloat64() * std }
		}
		n.PS.Add(l.Name+".w", shape, init)
		if l.Bias {
			bs := tensor.Shape{1, l.Cout, 1, 1}
			if l.Kind == Linear {
				bs = tensor.Shape{1, l.Cout}
			}
			n.PS.Add(l.Name+".b", bs, nets.UniformInit(r, fanIn))
		}
		if l.BN {
			n.PS.Add(l.Name+".gamma", tensor.Shape{1, l.Cout, 1, 1}, nets.ConstInit(1))
			n.PS.Add(l.Name+".beta", tensor.Shape{1, l.Cout, 1, 1}, nets.ConstInit(0))
			n.Stats = append(n.Stats, nets.NewBNStats(n.PS.Dtype, l.Name, l.Cout))
		}
		if l.SN {
			s := ops.NewSNState(n.PS.Dtype, l.Name+".w", shape, r)
			// start from a converged estimate of σ, as PyTorch's spectral_norm
			// parametrisation does (15 iterations), so an untrained model's
			// normalised weights are already bounded
			for i := 0; i < 15; i++ {
				ops.PowerIterate(n.PS.Get(l.Name+".w"), s)
			}
			n.SN = append(n.SN, s)
			n.snIdx[s.Weight] = s
		}
	}
}

// AddMBD adds the minibatch-discrimination tensor T (features × kernels·dims),
// drawn from N(0, 0.05²) as in Salimans et al.'s code.
func (n *Net) AddMBD(name string, features, kernels, dims int, r *rand.Rand) {
	n.PS.Add(name, tensor.Shape{features, kernels * dims}, func() float64 { return r.NormFloat64() * 0.05 })
}

// PowerIterate advances every spectral-norm state by one step.
func (n *Net) PowerIterate() {
	n.gen++
	for _, s := range n.SN {
		ops.PowerIterate(n.PS.Get(s.Weight), s)
	}
}

// StateEntries are the network's checkpoint state: parameters, Adam
// moments, BN statistics, then u and v of every spectrally normalised
// weight.
func (n *Net) StateEntries() []nets.StateEntry {
	es := nets.StateEntries(n.PS, n.Opt, n.Stats)
	for _, s := range n.SN {
		es = append(es, nets.StateEntry{Name: "sn.u/" + s.Weight, T: s.U}, nets.StateEntry{Name: "sn.v/" + s.Weight, T: s.V})
	}
	return es
}

// Bind is a Net's presence in one graph: parameter nodes, the u and v
// nodes of its spectral norms, the normalised weights (built once per graph
// and shared by every forward pass), and the BatchNorm ops of each forward
// pass in order.
type Bind struct {
	net  *Net
	gn   *nets.GraphNet
	snW  map[string]*G.Node
	runs [][]*ops.BatchNorm
	snIn []string // an inference graph's normalised-weight inputs (sncache.go)
}

func (b *Bind) weight(name string) (*G.Node, error) {
	w := b.gn.Param(name)
	s, ok := b.net.snIdx[name]
	if !ok {
		return w, nil
	}
	if n, ok := b.snW[name]; ok {
		return n, nil
	}
	if b.gn.Inference {
		n, err := b.snInput(name, s)
		if err != nil {
			return nil, err
		}
		b.snW[name] = n
		return n, nil
	}
	g, dt := b.gn.Graph, b.net.PS.Dtype
	u := G.NewTensor(g, dt, 1, G.WithShape(s.U.Shape()...), G.WithName("sn.u/"+name), G.WithValue(s.U))
	v := G.NewTensor(g, dt, 1, G.WithShape(s.V.Shape()...), G.WithName("sn.v/"+name), G.WithValue(s.V))
	n, err := ops.SpectralNorm(w, u, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.snW[name] = n
	return n, nil
}

// Forward applies layers to h as one forward pass (its BN ops are recorded
// as a run).
func (b *Bind) Forward(h *G.Node, ls []Layer, slope float64) (*G.Node, error) {
	start := len(b.gn.BNOps)
	var err error
	for _, l := range ls {
		if h, err = b.apply(h, l, slope); err != nil {
			return nil, err
		}
	}
	if len(b.gn.BNOps) > start {
		b.runs = append(b.runs, b.gn.BNOps[start:len(b.gn.BNOps):len(b.gn.BNOps)])
	}
	return h, nil
}

func (b *Bind) apply(h *G.Node, l Layer, slope float64) (*G.Node, error) {
	w, err := b.weight(l.Name + ".w")
	if err != nil {
		return nil, err
	}
	act := ops.Act{Kind: [...]ops.ActKind{NoAct: ops.ActNone, ReLU: ops.ActReLU, LReLU: ops.ActLeaky, Tanh: ops.ActTanh}[l.Act], Slope: slope}
	if l.Kind != Linear {
		// convolution, bias, BatchNorm (with a following ReLU fused into
		// it) and activation; one fused op in an inference graph
		c := nets.ConvLayer{Transposed: l.Kind == ConvT, Stride: l.S, Pad: l.P, Act: act}
		if l.Bias {
			c.Bias = b.gn.Param(l.Name + ".b")
		}
		if l.BN {
			c.BN = l.Name
		}
		if h, err = b.gn.Conv(h, w, c); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name, err)
		}
		return h, nil
	}
	if h, err = G.Mul(h, w); err != nil {
		return nil, fmt.Errorf("%s: %w", l.Name, err)
	}
	if l.Bias {
		if h, err = ops.AddBias(h, b.gn.Param(l.Name+".b")); err != nil {
			return nil, fmt.Errorf("%s bias: %w", l.Name, err)
		}
	}
	if l.BN {
		// a following ReLU is fused into the BatchNorm op
		if h, err = b.gn.BatchNorm(h, l.Name, act.Kind == ops.ActReLU); err != nil {
			return nil, err
		}
		if act.Kind == ops.ActReLU {
			act.Kind = ops.ActNone
		}
	}
	if h, err = nets.Activate(h, act); err != nil {
		return nil, fmt.Errorf("%s activation: %w", l.Name, err)
	}
	return h, nil
}

// Flatten reshapes (N, C, 1, 1) or (N, C, H, W) to (N, C·H·W).
func Flatten(h *G.Node) (*G.Node, error) {
	s := h.Shape()
	return ops.Reshape(h, tensor.Shape{s[0], s.TotalSize() / s[0]})
}

// Graph is one compiled graph: named inputs bound to tensors the model
// fills, the networks whose gradients it computes (none for an inference
// graph), and its machine.
type Graph struct {
	g      *G.ExprGraph
	dt     tensor.Dtype
	binds  map[*Net]*Bind
	order  []*Net
	inputs map[string]*tensor.Dense
	wrt    []*Net
	vm     G.VM
	// infer: no gradient is ever taken (NewInferenceGraph), so its layers
	// are fused inference ops
	infer bool
	keep  []*G.Node // nodes whose values are read after a run
}

// NewGraph is an empty graph of networks of dtype dt.
func NewGraph(dt tensor.Dtype) *Graph {
	return &Graph{g: G.NewGraph(), dt: dt, binds: map[*Net]*Bind{},
		inputs: map[string]*tensor.Dense{}}
}

// NewInferenceGraph is an empty graph that will be compiled without a
// cost (Compile(nil)): its convolution layers are fused inference ops.
func NewInferenceGraph(dt tensor.Dtype) *Graph {
	gg := NewGraph(dt)
	gg.infer = true
	return gg
}

// Bind adds n's parameters to the graph (once).
func (gg *Graph) Bind(n *Net) *Bind {
	if b, ok := gg.binds[n]; ok {
		return b
	}
	b := &Bind{net: n, gn: nets.BindGraphNet(gg.g, n.PS), snW: map[string]*G.Node{}}
	b.gn.Inference = gg.infer
	gg.binds[n] = b
	gg.order = append(gg.order, n)
	return b
}

// Input adds a named input of the given shape, filled by Set or SetFrom.
func (gg *Graph) Input(name string, shape ...int) *G.Node {
	t := tensor.New(tensor.Of(gg.dt), tensor.WithShape(shape...))
	gg.inputs[name] = t
	return G.NewTensor(gg.g, gg.dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}

// Compile finishes a graph: with a cost, its gradients for the wrt
// networks and a training machine; without, an inference machine.
func (gg *Graph) Compile(cost *G.Node, wrt ...*Net) error {
	gg.wrt = wrt
	if cost == nil {
		gg.vm = G.NewTapeMachine(gg.g, G.EvalMode())
		return gg.share(gg.g)
	}
	var nodes []*G.Node
	for _, n := range wrt {
		nodes = append(nodes, gg.Bind(n).gn.Nodes...)
	}
	_, g, err := ops.Grad(cost, nodes...)
	if err != nil {
		return fmt.Errorf("gradients: %w", err)
	}
	gg.vm = G.NewTapeMachine(g, G.BindDualValues(nodes...))
	gg.keep = append(gg.keep, cost)
	return gg.share(g)
}

// share plans the machine's output memory into the model's arena (the
// arena of the first network bound; all of a model's networks have the
// same one), keeping what is read after a run.
func (gg *Graph) share(g *G.ExprGraph) error {
	if len(gg.order) == 0 || gg.order[0].arena == nil {
		return nil
	}
	if err := gg.order[0].arena.Plan(gg.vm, g, gg.keep...); err != nil {
		return err
	}
	return nil
}

// Set copies values into a named input.
func (gg *Graph) Set(name string, v []float64) { gg.SetAt(name, 0, v) }

// SetAt copies values into a named input from its element off on.
func (gg *Graph) SetAt(name string, off int, v []float64) {
	switch d := gg.inputs[name].Data().(type) {
	case []float32:
		d = d[off:]
		for i, x := range v {
			d[i] = float32(x)
		}
	case []float64:
		copy(d[off:], v)
	}
}

// SetFrom copies a node's value of another graph into a named input (a
// detached tensor: no gradient flows back to where it was computed).
func (gg *Graph) SetFrom(name string, o *Out) {
	ops.CopyDense(gg.inputs[name], o.v.(*tensor.Dense))
}

// SetFromAt is SetFrom into a named input from its element off on.
func (gg *Graph) SetFromAt(name string, off int, o *Out) {
	switch d := gg.inputs[name].Data().(type) {
	case []float32:
		copy(d[off:], o.v.Data().([]float32))
	case []float64:
		copy(d[off:], o.v.Data().([]float64))
	}
}

// Run loads every network's BN statistics into each forward pass (and, in
// an inference graph, brings its normalised weights up to date) and runs
// the graph.
func (gg *Graph) Run() error {
	for _, n := range gg.order {
		b := gg.binds[n]
		if err := b.refreshSN(); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		for _, run := range b.runs {
			if len(run) != len(n.Stats) {
				return fmt.Errorf("%s: a forward pass has %d BatchNorm layers, the network %d", n.Name, len(run), len(n.Stats))
			}
			for i, s := range n.Stats {
				if err := run[i].SetStats(s.Mean, s.Variance); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
		}
	}
	for _, n := range gg.wrt {
		ops.ZeroGrads(gg.binds[n].gn.Nodes)
	}
	gg.vm.Reset()
	return gg.vm.RunAll()
}

// Grads returns the gradients of a wrt network's parameters from the last run.
func (gg *Graph) Grads(n *Net) ([]G.Value, error) {
	nodes := gg.binds[n].gn.Nodes
	out := make([]G.Value, len(nodes))
	for i, p := range nodes {
		g, err := p.Grad()
		if err != nil {
			return nil, fmt.Errorf("gradient of %s: %w", p.Name(), err)
		}
		out[i] = g
	}
	return out, nil
}

// AdoptStats makes the network's running statistics what PyTorch would
// hold after this graph's forward passes ran one after another. Each of
// graph's BatchNorm layers started from the same statistics s and holds
// sᵢ = (1−m)·s + m·bᵢ, so the sequential result is
// cᵢ = (1−m)·cᵢ₋₁ + (sᵢ − (1−m)·s), starting from c₀ = s.
func (gg *Graph) AdoptStats(n *Net) {
	b := gg.binds[n]
	for li, s := range n.Stats {
		for _, pair := range []struct {
			dst *tensor.Dense
			get func(*ops.BatchNorm) *tensor.Dense
		}{
			{s.Mean, func(bn *ops.BatchNorm) *tensor.Dense { m, _ := bn.Stats(); return m.(*tensor.Dense) }},
			{s.Variance, func(bn *ops.BatchNorm) *tensor.Dense { _, v := bn.Stats(); return v.(*tensor.Dense) }},
		} {
			switch d := pair.dst.Data().(type) {
			case []float32:
				chainStats(d, len(b.runs), func(r int) []float32 { return pair.get(b.runs[r][li]).Float32s() })
			case []float64:
				chainStats(d, len(b.runs), func(r int) []float64 { return pair.get(b.runs[r][li]).Float64s() })
			}
		}
	}
}

func chainStats[T ops.Float](s []T, runs int, run func(int) []T) {
	const keep = 1 - ops.BNMomentum
	start := append([]T(nil), s...)
	for r := 0; r < runs; r++ {
		sr := run(r)
		for i := range s {
			s[i] = T(keep)*s[i] + (sr[i] - T(keep)*start[i])
		}
	}
}

// Scalar reads a scalar output.
func (gg *Graph) Scalar(n *G.Node) float64 { return nets.ScalarOf(n.Value()) }

// Values reads an output as float64s.
func Values(n *G.Node) []float64 { return nets.Float64s(n.Value()) }

// Stages is the number of stride-2 stages that take a size×size image
// to the 4×4 maps every GAN here works on at its deep end.
func Stages(model string, size int) (int, error) {
	if size < 16 || bits.OnesCount(uint(size)) != 1 {
		return 0, fmt.Errorf("%s: image size %d must be a power of two of at least 16 (stride-2 stages down to 4x4)", model, size)
	}
	return bits.TrailingZeros(uint(size)) - 2, nil
}

// TrunkLayers are stride-2 4×4 convolutions from the image to 4×4 maps,
// channels base·2^i scaled by width, with spectral norm, bias and
// LeakyReLU (the image end keeps the paper's channels; a smaller image
// drops stages at the deep end, as the authors' code does for 64 px).
func TrunkLayers(prefix string, stages, base int, width float64) []Layer {
	var ls []Layer
	cin := 1
	for i := 0; i < stages; i++ {
		cout := nets.Scaled(base<<i, width)
		ls = append(ls, Layer{Name: fmt.Sprintf("%s.conv%d", prefix, i), Kind: Conv, Cin: cin, Cout: cout,
			K: 4, S: 2, P: 1, SN: true, Bias: true, Act: LReLU})
		cin = cout
	}
	return ls
}

// GeneratorLayers map z (as N×z×1×1) to a 1×size×size image: a 4×4
// transposed convolution to 4×4 maps, stride-2 stages halving the channels
// down to base (scaled by width), and a last stride-2 transposed
// convolution to one channel with Tanh.
func GeneratorLayers(prefix string, z, stages, base int, width float64, bn, snLast bool, act Activation) []Layer {
	var ls []Layer
	cin := z
	for i := 0; i < stages; i++ {
		cout := nets.Scaled(base<<(stages-1-i), width)
		l := Layer{Name: fmt.Sprintf("%s.convt%d", prefix, i), Kind: ConvT, Cin: cin, Cout: cout,
			K: 4, S: 2, P: 1, SN: true, Bias: !bn, BN: bn, Act: act}
		if i == 0 {
			l.S, l.P = 1, 0
		}
		ls = append(ls, l)
		cin = cout
	}
	return append(ls, Layer{Name: fmt.Sprintf("%s.convt%d", prefix, stages), Kind: ConvT, Cin: cin, Cout: 1,
		K: 4, S: 2, P: 1, SN: snLast, Bias: true, Act: Tanh})
}

// DiscHead ends an image discriminator: a 4×4 valid convolution keeping
// the channels (to 1×1), minibatch discrimination, and a linear layer to
// one logit.
type DiscHead struct {
	conv, out     Layer
	mbd           string
	kernels, dims int
	features      int
}

// NewDiscHead is the head of a discriminator with ch channels at 4×4.
func NewDiscHead(prefix string, ch, kernels, dims int) DiscHead {
	return DiscHead{
		conv: Layer{Name: prefix + ".head", Kind: Conv, Cin: ch, Cout: ch, K: 4, S: 1, P: 0, SN: true, Bias: true, Act: LReLU},
		out:  Layer{Name: prefix + ".out", Kind: Linear, Cin: ch + kernels, Cout: 1, Bias: true},
		mbd:  prefix + ".mbd.T", kernels: kernels, dims: dims, features: ch,
	}
}

// Features is the number of features minibatch discrimination takes.
func (h DiscHead) Features() int { return h.features }

// Add creates the head's parameters in n.
func (h DiscHead) Add(n *Net, wi WeightInit, r *rand.Rand) {
	n.AddLayers([]Layer{h.conv}, wi, r)
	n.AddMBD(h.mbd, h.features, h.kernels, h.dims, r)
	n.AddLayers([]Layer{h.out}, wi, r)
}

// ImageDisc runs trunk and head on x and returns the logits (N).
func ImageDisc(b *Bind, x *G.Node, trunk []Layer, head DiscHead, slope float64) (*G.Node, error) {
	h, err := b.Forward(x, append(trunk[:len(trunk):len(trunk)], head.conv), slope)
	if err != nil {
		return nil, err
	}
	if h, err = Flatten(h); err != nil {
		return nil, err
	}
	if h, err = ops.MinibatchDiscrimination(h, b.gn.Param(head.mbd), head.kernels, head.dims); err != nil {
		return nil, fmt.Errorf("%s: %w", head.mbd, err)
	}
	if h, err = b.Forward(h, []Layer{head.out}, slope); err != nil {
		return nil, err
	}
	return ops.Reshape(h, tensor.Shape{h.Shape()[0]})
}

// ZImage reshapes codes (N, z) to (N, z, 1, 1) for a generator.
func ZImage(z *G.Node) (*G.Node, error) {
	s := z.Shape()
	return ops.Reshape(z, tensor.Shape{s[0], s[1], 1, 1})
}

// Normals draws n standard normal values.
func Normals(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64()
	}
	return out
}

// ImagesOf converts a batch's images for a graph input.
func ImagesOf(b *nets.Batch) []float64 {
	out := make([]float64, len(b.Images))
	for i, v := range b.Images {
		out[i] = float64(v)
	}
	return out
}

// Sigmoid is σ(x), evaluated without overflow.
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// OneMinusSigmoid is 1 − σ(x).
func OneMinusSigmoid(x float64) float64 { return Sigmoid(-x) }

// CheckFinite names the first loss that is NaN or infinite.
func CheckFinite(model string, losses map[string]float64) error {
	names := make([]string, 0, len(losses))
	for n := range losses {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := losses[n]; math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: loss %s is %v", model, n, v)
		}
	}
	return nil
}

// Trained is a network with the graph whose cost it was compiled
// against (Graph.Compile's wrt) and last run.
type Trained struct {
	Graph *Graph
	Net   *Net
}

// Step applies a training step's updates: it reads every network's
// gradients from its graph first, so that no update moves parameters a
// later gradient belongs to; then, when stats is not nil, adopts the
// BatchNorm statistics stats.Graph ran stats.Net with (AdoptStats); then
// applies each network's Adam step, in the order given.
func Step(model string, stats *Trained, ts ...Trained) error {
	grads := make([][]G.Value, len(ts))
	for i, t := range ts {
		gr, err := t.Graph.Grads(t.Net)
		if err != nil {
			return fmt.Errorf("%s: %w", model, err)
		}
		grads[i] = gr
	}
	if stats != nil {
		stats.Graph.AdoptStats(stats.Net)
	}
	for i, t := range ts {
		if err := t.Net.Opt.Update(t.Net.PS, grads[i]); err != nil {
			return fmt.Errorf("%s %s: %w", model, t.Net.Name, err)
		}
	}
	return nil
}

// Base is what every GAN model keeps besides its layer stacks: the core
// bookkeeping (name, config, epoch, checkpoint), its networks, dtype and
// the source of training noise.
type Base struct {
	*nets.Base
	dt    tensor.Dtype
	all   []*Net
	rnd   *rand.Rand
	infer map[int]*inference // by batch size
	ref   *Reference         // the scoring reference of minibatch discrimination, if used
	// saliency turns on the discriminator's saliency maps (SetSaliency);
	// sal holds their gradient graphs by batch size.
	saliency bool
	sal      map[int]*saliencyGraph
}

// inference is a compiled inference graph and its named outputs.
type inference struct {
	gg  *Graph
	out map[string]*G.Node
}

// Infer scores b in inference mode: on the first batch of its size it
// builds the graph (build adds the networks to gg, reading the images
// from x, and names its outputs), then it runs it and returns the
// outputs' values.
func (m *Base) Infer(b *nets.Batch, build func(gg *Graph, x *G.Node) (map[string]*G.Node, error)) (map[string][]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	p, ok := m.infer[b.N]
	if !ok {
		gg := NewInferenceGraph(m.dt)
		out, err := build(gg, gg.Input("x", b.N, 1, m.Cfg.Size, m.Cfg.Size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		for _, n := range out {
			gg.keep = append(gg.keep, n)
		}
		if err := gg.Compile(nil); err != nil {
			return nil, err
		}
		p = &inference{gg: gg, out: out}
		m.infer[b.N] = p
	}
	if err := m.setInputs(p.gg, b); err != nil {
		return nil, err
	}
	if err := p.gg.Run(); err != nil {
		return nil, fmt.Errorf("%s: scoring: %w", m.Name(), err)
	}
	vals := make(map[string][]float64, len(p.out))
	for name, n := range p.out {
		vals[name] = Values(n)
	}
	return vals, nil
}

// ReconScores are "mse", "mse_top<k>" and the maps of a reconstruction.
func (m *Base) ReconScores(b *nets.Batch, recon []float64) (*nets.Scored, error) {
	out := &nets.Scored{}
	if err := nets.ReconstructionScores(b, recon, "mse", m.TopKs(), out); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	return out, nil
}

// NewBase resolves the spec's parameters, the size (as stride-2 stages
// down to 4×4) and the k values.
func NewBase(s nets.Spec, cfg nets.Config, dt tensor.Dtype) (*Base, map[string]float64, int, error) {
	params, err := nets.ResolveParams(s, cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	stages, err := Stages(s.Name, cfg.Size)
	if err != nil {
		return nil, nil, 0, err
	}
	topK, err := nets.ResolveTopK(s.Name, cfg.TopK)
	if err != nil {
		return nil, nil, 0, err
	}
	return &Base{Base: nets.NewBase(s.Name, cfg, params, topK), dt: dt, rnd: cfg.Rand, infer: map[int]*inference{}}, params, stages, nil
}

// SetNets records the model's networks once they have their optimisers.
// Their state is the checkpoint's, in this order; a checkpoint must match
// every parameter of the model (all optimisers step together, so one step
// count serves them all).
func (m *Base) SetNets(ns ...*Net) {
	m.all = ns
	arena := &ops.Arena{}
	for _, n := range ns {
		n.arena = arena
	}
	names := make([]string, 0, len(m.Cfg.Params))
	for n := range m.Cfg.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	opts := make([]*nets.Adam, len(ns))
	for i, n := range ns {
		opts[i] = n.Opt
	}
	m.Track(names, func() []nets.StateEntry {
		var es []nets.StateEntry
		for _, n := range m.all {
			es = append(es, n.StateEntries()...)
		}
		return append(es, m.ref.entries()...)
	}, opts...)
}

// Save writes the model's checkpoint, with the scoring reference's
// features under the weights it saves.
func (m *Base) Save(w io.Writer) error {
	if m.ref != nil {
		if err := m.ref.refresh(); err != nil {
			return err
		}
	}
	return m.Base.Save(w)
}

// Nets are the model's networks in checkpoint order.
func (m *Base) Nets() []*Net { return m.all }

// Dtype is the dtype of every network.
func (m *Base) Dtype() tensor.Dtype { return m.dt }

// Rand is the current source of training noise.
func (m *Base) Rand() *rand.Rand { return m.rnd }

// PowerIterate advances every spectral norm by one step, once per training
// step.
func (m *Base) PowerIterate() {
	if m.ref != nil {
		m.ref.fresh = false // the step changes the weights its features came from
	}
	for _, n := range m.all {
		n.PowerIterate()
	}
}

// AdamParams are the Adam settings every GAN accepts; β = (0.5, 0.999)
// as in all three of the authors' GANs.
var AdamParams = map[string]nets.ParamRange{
	"beta1": {Min: 0, Max: 0.9999, Default: 0.5},
	"beta2": {Min: 0, Max: 0.99999, Default: 0.999},
}

// WithParams is base plus more.
func WithParams(base map[string]nets.ParamRange, more map[string]nets.ParamRange) map[string]nets.ParamRange {
	out := map[string]nets.ParamRange{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// Out is a value read out of a graph run.
type Out struct{ v G.Value }

// Output makes a copy of n that only a read op consumes and returns where
// the read lands. Gorgonia's tape machine may compute later ops in place
// in a node's value buffer, so a value read from n itself after the run is
// not reliable (measured here: the generator's output, read after its
// graph ran, had been overwritten by the discriminator's ops).
func Output(n *G.Node) (*Out, error) {
	var c *G.Node
	var err error
	if n.IsScalar() {
		c, err = G.Add(n, nets.ScalarNode(n.Dtype(), 0))
	} else {
		c, err = ops.Reshape(n, n.Shape())
	}
	if err != nil {
		return nil, err
	}
	o := &Out{}
	G.Read(c, &o.v)
	return o, nil
}

// Scalar reads a scalar output.
func (o *Out) Scalar() float64 { return nets.ScalarOf(o.v) }

// OutValue is the value an Output read in the graph's last run.
func OutValue(o *Out) G.Value { return o.v }

// SeedEpoch replaces the source of training noise (latent samples, soft
// labels) at the start of an epoch, so a resumed run draws exactly what an
// uninterrupted one would.
func (m *Base) SeedEpoch(r *rand.Rand) { m.rnd = r }
