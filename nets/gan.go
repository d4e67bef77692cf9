package nets

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds what the three GANs share: sub-networks with their own
// optimiser, spectral-norm state and BatchNorm statistics; layer stacks
// declared as data; graphs that bind several sub-networks; and the
// checkpoint of a multi-network model.

// ganNet is one sub-network of a GAN (generator, encoder, discriminator,
// code discriminator). Its parameter names carry the network's prefix
// ("g.", "d.", ...) so every name is unique within the model.
type ganNet struct {
	name  string
	ps    *paramSet
	opt   *adam
	stats []*bnStats
	sn    []*snState
	snIdx map[string]*snState
}

func newGANNet(name string, dt tensor.Dtype) *ganNet {
	return &ganNet{name: name, ps: newParamSet(dt), snIdx: map[string]*snState{}}
}

type layerKind int

const (
	kConv   layerKind = iota // Conv2d, weight (cout, cin, k, k)
	kConvT                   // ConvTranspose2d, weight (cin, cout, k, k)
	kLinear                  // x·W, weight (cin, cout)
)

type actKind int

const (
	aNone actKind = iota
	aReLU
	aLReLU
	aTanh
)

// gLayer is one layer of a GAN network.
type gLayer struct {
	name               string
	kind               layerKind
	cin, cout, k, s, p int
	sn, bias, bn       bool
	act                actKind
}

// weightInit chooses how a layer's weight is drawn: PyTorch's default
// (U(±1/√fanIn)) or N(0, std) as in the authors' DCGAN weights_init.
type weightInit struct{ normalStd float64 }

// addLayers creates the parameters of layers in order, so initialisation
// follows the seed exactly.
func (n *ganNet) addLayers(ls []gLayer, wi weightInit, r *rand.Rand) {
	for _, l := range ls {
		var shape tensor.Shape
		var fanIn int
		switch l.kind {
		case kConv:
			shape, fanIn = tensor.Shape{l.cout, l.cin, l.k, l.k}, l.cin*l.k*l.k
		case kConvT:
			shape, fanIn = tensor.Shape{l.cin, l.cout, l.k, l.k}, l.cout*l.k*l.k
		case kLinear:
			shape, fanIn = tensor.Shape{l.cin, l.cout}, l.cin
		}
		init := uniformInit(r, fanIn)
		if wi.normalStd > 0 {
			std := wi.normalStd
			init = func() float64 { return r.NormFloat64() * std }
		}
		n.ps.add(l.name+".w", shape, init)
		if l.bias {
			bs := tensor.Shape{1, l.cout, 1, 1}
			if l.kind == kLinear {
				bs = tensor.Shape{1, l.cout}
			}
			n.ps.add(l.name+".b", bs, uniformInit(r, fanIn))
		}
		if l.bn {
			n.ps.add(l.name+".gamma", tensor.Shape{1, l.cout, 1, 1}, constInit(1))
			n.ps.add(l.name+".beta", tensor.Shape{1, l.cout, 1, 1}, constInit(0))
			n.stats = append(n.stats, newBNStats(n.ps.dt, l.name, l.cout))
		}
		if l.sn {
			s := newSNState(n.ps.dt, l.name+".w", shape, r)
			// start from a converged estimate of σ, as PyTorch's spectral_norm
			// parametrisation does (15 iterations), so an untrained model's
			// normalised weights are already bounded
			for i := 0; i < 15; i++ {
				powerIterate(n.ps.get(l.name+".w"), s)
			}
			n.sn = append(n.sn, s)
			n.snIdx[s.weight] = s
		}
	}
}

// addMBD adds the minibatch-discrimination tensor T (features × kernels·dims),
// drawn from N(0, 0.05²) as in Salimans et al.'s code.
func (n *ganNet) addMBD(name string, features, kernels, dims int, r *rand.Rand) {
	n.ps.add(name, tensor.Shape{features, kernels * dims}, func() float64 { return r.NormFloat64() * 0.05 })
}

// powerIterate advances every spectral-norm state by one step.
func (n *ganNet) powerIterate() {
	for _, s := range n.sn {
		powerIterate(n.ps.get(s.weight), s)
	}
}

// stateEntries: parameters, Adam moments, BN statistics, then u and v of
// every spectrally normalised weight.
func (n *ganNet) stateEntries() []stateEntry {
	es := stateEntries(n.ps, n.opt, n.stats)
	for _, s := range n.sn {
		es = append(es, stateEntry{"sn.u/" + s.weight, s.u}, stateEntry{"sn.v/" + s.weight, s.v})
	}
	return es
}

// netBind is a ganNet's presence in one graph: parameter nodes, the u and v
// nodes of its spectral norms, the normalised weights (built once per graph
// and shared by every forward pass), and the BatchNorm ops of each forward
// pass in order.
type netBind struct {
	net  *ganNet
	gn   *graphNet
	snW  map[string]*G.Node
	runs [][]*BatchNorm
}

func (b *netBind) weight(name string) (*G.Node, error) {
	w := b.gn.p(name)
	s, ok := b.net.snIdx[name]
	if !ok {
		return w, nil
	}
	if n, ok := b.snW[name]; ok {
		return n, nil
	}
	g, dt := b.gn.g, b.net.ps.dt
	u := G.NewTensor(g, dt, 1, G.WithShape(s.u.Shape()...), G.WithName("sn.u/"+name), G.WithValue(s.u))
	v := G.NewTensor(g, dt, 1, G.WithShape(s.v.Shape()...), G.WithName("sn.v/"+name), G.WithValue(s.v))
	n, err := SpectralNorm(w, u, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.snW[name] = n
	return n, nil
}

// forward applies layers to h as one forward pass (its BN ops are recorded
// as a run).
func (b *netBind) forward(h *G.Node, ls []gLayer, slope float64) (*G.Node, error) {
	start := len(b.gn.bnOps)
	var err error
	for _, l := range ls {
		if h, err = b.apply(h, l, slope); err != nil {
			return nil, err
		}
	}
	if len(b.gn.bnOps) > start {
		b.runs = append(b.runs, b.gn.bnOps[start:len(b.gn.bnOps):len(b.gn.bnOps)])
	}
	return h, nil
}

func (b *netBind) apply(h *G.Node, l gLayer, slope float64) (*G.Node, error) {
	w, err := b.weight(l.name + ".w")
	if err != nil {
		return nil, err
	}
	switch l.kind {
	case kConv:
		h, err = Conv2d(h, w, l.s, l.p)
	case kConvT:
		h, err = ConvTranspose2d(h, w, l.s, l.p)
	case kLinear:
		h, err = G.Mul(h, w)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	if l.bias {
		pattern := []byte{0, 2, 3}
		if l.kind == kLinear {
			pattern = []byte{0}
		}
		if h, err = G.BroadcastAdd(h, b.gn.p(l.name+".b"), nil, pattern); err != nil {
			return nil, fmt.Errorf("%s bias: %w", l.name, err)
		}
	}
	act := l.act
	if l.bn {
		// a following ReLU is fused into the BatchNorm op
		if h, err = b.gn.batchNorm(h, l.name, act == aReLU); err != nil {
			return nil, err
		}
		if act == aReLU {
			act = aNone
		}
	}
	switch act {
	case aReLU:
		h, err = G.Rectify(h)
	case aLReLU:
		h, err = LeakyReLU(h, slope)
	case aTanh:
		h, err = G.Tanh(h)
	}
	if err != nil {
		return nil, fmt.Errorf("%s activation: %w", l.name, err)
	}
	return h, nil
}

// flatten reshapes (N, C, 1, 1) or (N, C, H, W) to (N, C·H·W).
func flatten(h *G.Node) (*G.Node, error) {
	s := h.Shape()
	return Reshape(h, tensor.Shape{s[0], s.TotalSize() / s[0]})
}

// ganGraph is one compiled graph: named inputs bound to tensors the model
// fills, named outputs, the cost whose gradient it computes for the wrt
// networks (none for an inference graph), and its machine.
type ganGraph struct {
	g      *G.ExprGraph
	dt     tensor.Dtype
	binds  map[*ganNet]*netBind
	order  []*ganNet
	inputs map[string]*tensor.Dense
	out    map[string]*G.Node
	cost   *G.Node
	wrt    []*ganNet
	vm     G.VM
}

func newGANGraph(dt tensor.Dtype) *ganGraph {
	return &ganGraph{g: G.NewGraph(), dt: dt, binds: map[*ganNet]*netBind{},
		inputs: map[string]*tensor.Dense{}, out: map[string]*G.Node{}}
}

func (gg *ganGraph) bind(n *ganNet) *netBind {
	if b, ok := gg.binds[n]; ok {
		return b
	}
	b := &netBind{net: n, gn: bindGraphNet(gg.g, n.ps), snW: map[string]*G.Node{}}
	gg.binds[n] = b
	gg.order = append(gg.order, n)
	return b
}

func (gg *ganGraph) input(name string, shape ...int) *G.Node {
	t := tensor.New(tensor.Of(gg.dt), tensor.WithShape(shape...))
	gg.inputs[name] = t
	return G.NewTensor(gg.g, gg.dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}

// compile finishes a graph: with a cost, its gradients for the wrt
// networks and a training machine; without, an inference machine.
func (gg *ganGraph) compile(cost *G.Node, wrt ...*ganNet) error {
	gg.cost, gg.wrt = cost, wrt
	if cost == nil {
		gg.vm = G.NewTapeMachine(gg.g, G.EvalMode())
		return nil
	}
	var nodes []*G.Node
	for _, n := range wrt {
		nodes = append(nodes, gg.bind(n).gn.nodes...)
	}
	if _, err := G.Grad(cost, nodes...); err != nil {
		return fmt.Errorf("gradients: %w", err)
	}
	gg.vm = G.NewTapeMachine(gg.g, G.BindDualValues(nodes...))
	return nil
}

// set copies values into a named input.
func (gg *ganGraph) set(name string, v []float64) {
	switch d := gg.inputs[name].Data().(type) {
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []float64:
		copy(d, v)
	}
}

// setFrom copies a node's value of another graph into a named input (a
// detached tensor: no gradient flows back to where it was computed).
func (gg *ganGraph) setFrom(name string, o *outVal) {
	copyDense(gg.inputs[name], o.v.(*tensor.Dense))
}

// run loads every network's BN statistics into each forward pass and runs
// the graph.
func (gg *ganGraph) run() error {
	for _, n := range gg.order {
		b := gg.binds[n]
		for _, ops := range b.runs {
			if len(ops) != len(n.stats) {
				return fmt.Errorf("%s: a forward pass has %d BatchNorm layers, the network %d", n.name, len(ops), len(n.stats))
			}
			for i, s := range n.stats {
				if err := ops[i].SetStats(s.mean, s.variance); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
		}
	}
	// Some of Gorgonia's ops (MatMul among them) add their gradient to the
	// bound dual value instead of setting it, as its solvers zero gradients
	// after each update; start every run from zero.
	for _, n := range gg.wrt {
		for _, p := range gg.binds[n].gn.nodes {
			if g, err := p.Grad(); err == nil {
				if t, ok := g.(tensor.Tensor); ok {
					t.Zero()
				}
			}
		}
	}
	gg.vm.Reset()
	return gg.vm.RunAll()
}

// grads returns the gradients of a wrt network's parameters from the last run.
func (gg *ganGraph) grads(n *ganNet) ([]G.Value, error) {
	nodes := gg.binds[n].gn.nodes
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

// adoptStats makes the network's running statistics what PyTorch would
// hold after this graph's forward passes ran one after another. Each of
// graph's BatchNorm layers started from the same statistics s and holds
// sᵢ = (1−m)·s + m·bᵢ, so the sequential result is
// cᵢ = (1−m)·cᵢ₋₁ + (sᵢ − (1−m)·s), starting from c₀ = s.
func (gg *ganGraph) adoptStats(n *ganNet) {
	b := gg.binds[n]
	for li, s := range n.stats {
		for _, pair := range []struct {
			dst *tensor.Dense
			get func(*BatchNorm) *tensor.Dense
		}{
			{s.mean, func(bn *BatchNorm) *tensor.Dense { return bn.mean }},
			{s.variance, func(bn *BatchNorm) *tensor.Dense { return bn.variance }},
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

func chainStats[T float](s []T, runs int, run func(int) []T) {
	const keep = 1 - bnMomentum
	start := append([]T(nil), s...)
	for r := 0; r < runs; r++ {
		sr := run(r)
		for i := range s {
			s[i] = T(keep)*s[i] + (sr[i] - T(keep)*start[i])
		}
	}
}

// scalar reads a scalar output.
func (gg *ganGraph) scalar(n *G.Node) float64 { return scalarOf(n.Value()) }

// values reads an output as float64s.
func values(n *G.Node) []float64 {
	switch d := n.Value().Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}

// ganStages is the number of stride-2 stages that take a size×size image
// to the 4×4 maps every GAN here works on at its deep end.
func ganStages(model string, size int) (int, error) {
	if size < 16 || bits.OnesCount(uint(size)) != 1 {
		return 0, fmt.Errorf("%s: image size %d must be a power of two of at least 16 (stride-2 stages down to 4x4)", model, size)
	}
	return bits.TrailingZeros(uint(size)) - 2, nil
}

// trunkLayers are stride-2 4×4 convolutions from the image to 4×4 maps,
// channels base·2^i scaled by width, with spectral norm, bias and
// LeakyReLU (the image end keeps the paper's channels; a smaller image
// drops stages at the deep end, as the authors' code does for 64 px).
func trunkLayers(prefix string, stages, base int, width float64) []gLayer {
	var ls []gLayer
	cin := 1
	for i := 0; i < stages; i++ {
		cout := scaled(base<<i, width)
		ls = append(ls, gLayer{name: fmt.Sprintf("%s.conv%d", prefix, i), kind: kConv, cin: cin, cout: cout,
			k: 4, s: 2, p: 1, sn: true, bias: true, act: aLReLU})
		cin = cout
	}
	return ls
}

// generatorLayers map z (as N×z×1×1) to a 1×size×size image: a 4×4
// transposed convolution to 4×4 maps, stride-2 stages halving the channels
// down to base (scaled by width), and a last stride-2 transposed
// convolution to one channel with Tanh.
func generatorLayers(prefix string, z, stages, base int, width float64, bn, snLast bool, act actKind) []gLayer {
	var ls []gLayer
	cin := z
	for i := 0; i < stages; i++ {
		cout := scaled(base<<(stages-1-i), width)
		l := gLayer{name: fmt.Sprintf("%s.convt%d", prefix, i), kind: kConvT, cin: cin, cout: cout,
			k: 4, s: 2, p: 1, sn: true, bias: !bn, bn: bn, act: act}
		if i == 0 {
			l.s, l.p = 1, 0
		}
		ls = append(ls, l)
		cin = cout
	}
	return append(ls, gLayer{name: fmt.Sprintf("%s.convt%d", prefix, stages), kind: kConvT, cin: cin, cout: 1,
		k: 4, s: 2, p: 1, sn: snLast, bias: true, act: aTanh})
}

// discHead ends an image discriminator: a 4×4 valid convolution keeping
// the channels (to 1×1), minibatch discrimination, and a linear layer to
// one logit.
type discHead struct {
	conv, out     gLayer
	mbd           string
	kernels, dims int
	features      int
}

func newDiscHead(prefix string, ch, kernels, dims int) discHead {
	return discHead{
		conv: gLayer{name: prefix + ".head", kind: kConv, cin: ch, cout: ch, k: 4, s: 1, p: 0, sn: true, bias: true, act: aLReLU},
		out:  gLayer{name: prefix + ".out", kind: kLinear, cin: ch + kernels, cout: 1, bias: true},
		mbd:  prefix + ".mbd.T", kernels: kernels, dims: dims, features: ch,
	}
}

func (h discHead) add(n *ganNet, wi weightInit, r *rand.Rand) {
	n.addLayers([]gLayer{h.conv}, wi, r)
	n.addMBD(h.mbd, h.features, h.kernels, h.dims, r)
	n.addLayers([]gLayer{h.out}, wi, r)
}

// imageDisc runs trunk and head on x and returns the logits (N).
func imageDisc(b *netBind, x *G.Node, trunk []gLayer, head discHead, slope float64) (*G.Node, error) {
	h, err := b.forward(x, append(trunk[:len(trunk):len(trunk)], head.conv), slope)
	if err != nil {
		return nil, err
	}
	if h, err = flatten(h); err != nil {
		return nil, err
	}
	if h, err = MinibatchDiscrimination(h, b.gn.p(head.mbd), head.kernels, head.dims); err != nil {
		return nil, fmt.Errorf("%s: %w", head.mbd, err)
	}
	if h, err = b.forward(h, []gLayer{head.out}, slope); err != nil {
		return nil, err
	}
	return Reshape(h, tensor.Shape{h.Shape()[0]})
}

// zImage reshapes codes (N, z) to (N, z, 1, 1) for a generator.
func zImage(z *G.Node) (*G.Node, error) {
	s := z.Shape()
	return Reshape(z, tensor.Shape{s[0], s[1], 1, 1})
}

// normals draws n standard normal values.
func normals(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64()
	}
	return out
}

// imagesOf converts a batch's images for a graph input.
func imagesOf(b *Batch) []float64 {
	out := make([]float64, len(b.Images))
	for i, v := range b.Images {
		out[i] = float64(v)
	}
	return out
}

// sigmoid and oneMinusSigmoid evaluated without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func oneMinusSigmoid(x float64) float64 { return sigmoid(-x) }

// checkFinite names the first loss that is NaN or infinite.
func checkFinite(model string, losses map[string]float64) error {
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

// update applies each network's Adam step with its gradients.
func updateNets(model string, nets []*ganNet, grads [][]G.Value) error {
	for i, n := range nets {
		if err := n.opt.update(n.ps, grads[i]); err != nil {
			return fmt.Errorf("%s %s: %w", model, n.name, err)
		}
	}
	return nil
}

// ganBase is what every GAN model keeps: config, networks and epoch.
type ganBase struct {
	name  string
	cfg   Config
	dt    tensor.Dtype
	topK  []int
	nets  []*ganNet
	epoch int
	rnd   *rand.Rand
}

func (m *ganBase) Name() string { return m.name }

// Epoch is the last epoch passed to EndEpoch (0 before any), restored by Load.
func (m *ganBase) Epoch() int { return m.epoch }

func (m *ganBase) EndEpoch(epoch int) error {
	m.epoch = epoch
	return nil
}

func (m *ganBase) checkBatch(b *Batch) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	if b.H != m.cfg.Size || b.W != m.cfg.Size {
		return fmt.Errorf("%s: batch images are %dx%d, model was built for %dx%d", m.name, b.H, b.W, m.cfg.Size, m.cfg.Size)
	}
	return nil
}

func (m *ganBase) powerIterate() {
	for _, n := range m.nets {
		n.powerIterate()
	}
}

func (m *ganBase) checkpoint() *checkpoint {
	var es []stateEntry
	for _, n := range m.nets {
		es = append(es, n.stateEntries()...)
	}
	return &checkpoint{Model: m.name, Size: m.cfg.Size, TopK: m.topK, Params: m.cfg.Params,
		Epoch: m.epoch, Step: m.nets[0].opt.step, Tensors: entryTensors(es)}
}

// restore checks that the checkpoint was written by the same model with the
// same architecture parameters, then restores every network (all
// optimisers step together, so one step count serves them all).
func (m *ganBase) restore(c *checkpoint) error {
	if c.Model != m.name {
		return fmt.Errorf("checkpoint: holds model %q, not %q", c.Model, m.name)
	}
	if c.Size != m.cfg.Size {
		return fmt.Errorf("checkpoint: image size %d, the model has %d", c.Size, m.cfg.Size)
	}
	names := make([]string, 0, len(m.cfg.Params))
	for n := range m.cfg.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v, ok := c.Params[n]; !ok || v != m.cfg.Params[n] {
			return fmt.Errorf("checkpoint: %s %g, the model has %g", n, c.Params[n], m.cfg.Params[n])
		}
	}
	var es []stateEntry
	for _, n := range m.nets {
		es = append(es, n.stateEntries()...)
	}
	if err := restoreEntries(c, es); err != nil {
		return err
	}
	for _, n := range m.nets {
		n.opt.step = c.Step
	}
	m.epoch = c.Epoch
	return nil
}

// newGANBase resolves the spec's parameters and the size.
func newGANBase(s Spec, cfg Config, dt tensor.Dtype) (*ganBase, map[string]float64, int, error) {
	params, err := resolveParams(s, cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	stages, err := ganStages(s.Name, cfg.Size)
	if err != nil {
		return nil, nil, 0, err
	}
	topK, err := resolveTopK(s.Name, cfg.TopK)
	if err != nil {
		return nil, nil, 0, err
	}
	m := &ganBase{name: s.Name, cfg: cfg, dt: dt, topK: topK, rnd: cfg.Rand}
	m.cfg.Params = params
	return m, params, stages, nil
}

// ganAdamParams are the Adam settings every GAN accepts; β = (0.5, 0.999)
// as in all three of the authors' GANs.
var ganAdamParams = map[string]ParamRange{
	"beta1": {Min: 0, Max: 0.9999, Default: 0.5},
	"beta2": {Min: 0, Max: 0.99999, Default: 0.999},
}

func withParams(base map[string]ParamRange, more map[string]ParamRange) map[string]ParamRange {
	out := map[string]ParamRange{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// allParams lists every network's parameter tensors.
func (m *ganBase) allParams() []*tensor.Dense {
	var out []*tensor.Dense
	for _, n := range m.nets {
		out = append(out, n.ps.vals...)
	}
	return out
}

// outVal is a value read out of a graph run.
type outVal struct{ v G.Value }

// output makes a copy of n that only a read op consumes and returns where
// the read lands. Gorgonia's tape machine may compute later ops in place
// in a node's value buffer, so a value read from n itself after the run is
// not reliable (measured here: the generator's output, read after its
// graph ran, had been overwritten by the discriminator's ops).
func output(n *G.Node) (*outVal, error) {
	var c *G.Node
	var err error
	if n.IsScalar() {
		c, err = G.Add(n, scalarNode(n.Dtype(), 0))
	} else {
		c, err = Reshape(n, n.Shape())
	}
	if err != nil {
		return nil, err
	}
	o := &outVal{}
	G.Read(c, &o.v)
	return o, nil
}

func (o *outVal) scalar() float64 { return scalarOf(o.v) }

// SeedEpoch replaces the source of training noise (latent samples, soft
// labels) at the start of an epoch, so a resumed run draws exactly what an
// uninterrupted one would.
func (m *ganBase) SeedEpoch(r *rand.Rand) { m.rnd = r }
