package nets

import (
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm settings of PyTorch's BatchNorm2d, which the paper's code uses.
const (
	bnMomentum = 0.1
	bnEpsilon  = 1e-5
)

// paramSet owns a network's learnable tensors. Every graph built for the
// network (one per batch size, for training and inference) binds its
// parameter nodes to these same tensors, so an optimiser step updates all
// of them at once.
type paramSet struct {
	dt    tensor.Dtype
	names []string
	vals  []*tensor.Dense
	index map[string]int
}

func newParamSet(dt tensor.Dtype) *paramSet {
	return &paramSet{dt: dt, index: map[string]int{}}
}

// add creates a parameter whose values are drawn by init (called once per
// element, in order, so initialisation follows the seed exactly).
func (p *paramSet) add(name string, shape tensor.Shape, init func() float64) {
	t := tensor.New(tensor.Of(p.dt), tensor.WithShape(shape...))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(init())
		}
	case []float64:
		for i := range d {
			d[i] = init()
		}
	}
	p.index[name] = len(p.names)
	p.names = append(p.names, name)
	p.vals = append(p.vals, t)
}

func (p *paramSet) get(name string) *tensor.Dense { return p.vals[p.index[name]] }

// uniformInit is PyTorch's default for convolution kernels
// (kaiming_uniform with a=√5): U(−1/√fanIn, 1/√fanIn).
func uniformInit(r *rand.Rand, fanIn int) func() float64 {
	b := 1 / math.Sqrt(float64(fanIn))
	return func() float64 { return (r.Float64()*2 - 1) * b }
}

func constInit(v float64) func() float64 { return func() float64 { return v } }

// bnStats are the running statistics of one BatchNorm layer. The model
// keeps them, not the op: every graph has its own BatchNorm per layer, so
// they are copied into it before each run and back out after a training
// run whose step is adopted (a NaN step leaves them untouched).
type bnStats struct {
	name           string
	mean, variance *tensor.Dense
}

func newBNStats(dt tensor.Dtype, name string, ch int) *bnStats {
	s := &bnStats{name: name,
		mean:     tensor.New(tensor.Of(dt), tensor.WithShape(ch)),
		variance: tensor.New(tensor.Of(dt), tensor.WithShape(ch))}
	fill(s.variance, 1)
	return s
}

func fill(t *tensor.Dense, v float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	}
}

// graphNet is the per-graph binding of a paramSet: its parameter nodes and
// the BatchNorm layers created while building, in creation order.
type graphNet struct {
	g      *G.ExprGraph
	ps     *paramSet
	nodes  []*G.Node
	bnOps  []*BatchNorm
	params map[string]*G.Node
}

func newGraphNet(ps *paramSet) *graphNet { return bindGraphNet(G.NewGraph(), ps) }

// bindGraphNet adds a paramSet's nodes to an existing graph, so several
// networks (a GAN's generator and discriminator) can share one graph.
func bindGraphNet(g *G.ExprGraph, ps *paramSet) *graphNet {
	gn := &graphNet{g: g, ps: ps, params: map[string]*G.Node{}}
	for i, name := range ps.names {
		t := ps.vals[i]
		n := G.NewTensor(gn.g, ps.dt, t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
		gn.nodes = append(gn.nodes, n)
		gn.params[name] = n
	}
	return gn
}

// zeroGrads clears the parameters' bound derivatives. Gorgonia's tape
// machine adds each run's gradients into them (Reset does not clear them),
// so without this a step would use the sum of every step's gradients so
// far, and one NaN step would poison all later ones. Call before each run.
func (gn *graphNet) zeroGrads() {
	for _, n := range gn.nodes {
		if g, err := n.Grad(); err == nil {
			if t, ok := g.(*tensor.Dense); ok {
				t.Zero()
			}
		}
	}
}

func (gn *graphNet) p(name string) *G.Node {
	n, ok := gn.params[name]
	if !ok {
		panic("nets: no parameter " + name) // a bug in a model's builder, never input-dependent
	}
	return n
}

// batchNorm applies BatchNorm2d (then ReLU, with relu) with per-channel
// (1,C,1,1) scale and bias named prefix.gamma / prefix.beta, and records
// the layer.
func (gn *graphNet) batchNorm(x *G.Node, prefix string, relu bool) (*G.Node, error) {
	y, bn, err := BatchNorm2d(x, gn.p(prefix+".gamma"), gn.p(prefix+".beta"), relu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	gn.bnOps = append(gn.bnOps, bn)
	return y, nil
}

// loadStats copies the model's running statistics into this graph's ops.
func (gn *graphNet) loadStats(stats []*bnStats) error {
	if len(stats) != len(gn.bnOps) {
		return fmt.Errorf("graph has %d BatchNorm layers, model %d", len(gn.bnOps), len(stats))
	}
	for i, s := range stats {
		if err := gn.bnOps[i].SetStats(s.mean, s.variance); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// saveStats copies the ops' updated running statistics back to the model.
func (gn *graphNet) saveStats(stats []*bnStats) {
	for i, s := range stats {
		m, v := gn.bnOps[i].Stats()
		copyDense(s.mean, m.(*tensor.Dense))
		copyDense(s.variance, v.(*tensor.Dense))
	}
}

func copyDense(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src.Data().([]float32))
	case []float64:
		copy(d, src.Data().([]float64))
	}
}

// adam is PyTorch's Adam (no weight decay, no amsgrad), kept here rather
// than Gorgonia's AdamSolver because checkpoints need its moments.
type adam struct {
	lr, beta1, beta2, eps float64
	step                  int
	m, v                  []*tensor.Dense
}

func newAdam(ps *paramSet, lr, beta1, beta2 float64) *adam {
	a := &adam{lr: lr, beta1: beta1, beta2: beta2, eps: 1e-8}
	for _, t := range ps.vals {
		a.m = append(a.m, tensor.New(tensor.Of(ps.dt), tensor.WithShape(t.Shape()...)))
		a.v = append(a.v, tensor.New(tensor.Of(ps.dt), tensor.WithShape(t.Shape()...)))
	}
	return a
}

// update applies one step given the gradients of every parameter.
func (a *adam) update(ps *paramSet, grads []G.Value) error {
	if len(grads) != len(ps.vals) {
		return fmt.Errorf("adam: %d gradients for %d parameters", len(grads), len(ps.vals))
	}
	a.step++
	bc1 := 1 - math.Pow(a.beta1, float64(a.step))
	bc2 := 1 - math.Pow(a.beta2, float64(a.step))
	stepSize := a.lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	for i, p := range ps.vals {
		switch pd := p.Data().(type) {
		case []float32:
			adamStep(pd, grads[i].Data().([]float32), a.m[i].Float32s(), a.v[i].Float32s(),
				float32(a.beta1), float32(a.beta2), float32(stepSize), float32(sqrtBC2), float32(a.eps))
		case []float64:
			adamStep(pd, grads[i].Data().([]float64), a.m[i].Float64s(), a.v[i].Float64s(),
				a.beta1, a.beta2, stepSize, sqrtBC2, a.eps)
		}
	}
	return nil
}

func adamStep[T float](p, g, m, v []T, b1, b2, stepSize, sqrtBC2, eps T) {
	for j, gj := range g {
		m[j] = b1*m[j] + (1-b1)*gj
		v[j] = b2*v[j] + (1-b2)*gj*gj
		p[j] -= stepSize * m[j] / (T(math.Sqrt(float64(v[j])))/sqrtBC2 + eps)
	}
}

// scaled is a channel count times the width factor, at least 1.
func scaled(ch int, width float64) int {
	c := int(math.Round(float64(ch) * width))
	if c < 1 {
		c = 1
	}
	return c
}
