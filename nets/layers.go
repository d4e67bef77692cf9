package nets

import (
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets/ops"
)

// ParamSet owns a network's learnable tensors. Every graph built for the
// network (one per batch size, for training and inference) binds its
// parameter nodes to these same tensors, so an optimiser step updates all
// of them at once.
type ParamSet struct {
	Dtype tensor.Dtype
	Names []string
	Vals  []*tensor.Dense
	index map[string]int
}

// NewParamSet is an empty set of parameters of dtype dt.
func NewParamSet(dt tensor.Dtype) *ParamSet {
	return &ParamSet{Dtype: dt, index: map[string]int{}}
}

// Add creates a parameter whose values are drawn by init (called once per
// element, in order, so initialisation follows the seed exactly).
func (p *ParamSet) Add(name string, shape tensor.Shape, init func() float64) {
	t := tensor.New(tensor.Of(p.Dtype), tensor.WithShape(shape...))
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
	p.index[name] = len(p.Names)
	p.Names = append(p.Names, name)
	p.Vals = append(p.Vals, t)
}

// Get is a parameter's tensor.
func (p *ParamSet) Get(name string) *tensor.Dense { return p.Vals[p.index[name]] }

// UniformInit is PyTorch's default for convolution kernels
// (kaiming_uniform with a=√5): U(−1/√fanIn, 1/√fanIn).
func UniformInit(r *rand.Rand, fanIn int) func() float64 {
	b := 1 / math.Sqrt(float64(fanIn))
	return func() float64 { return (r.Float64()*2 - 1) * b }
}

// ConstInit draws v every time.
func ConstInit(v float64) func() float64 { return func() float64 { return v } }

// BNStats are the running statistics of one BatchNorm layer. The model
// keeps them, not the op: every graph has its own BatchNorm per layer, so
// they are copied into it before each run and back out after a training
// run whose step is adopted (a NaN step leaves them untouched).
type BNStats struct {
	Name           string
	Mean, Variance *tensor.Dense
}

// NewBNStats are a layer's initial statistics: mean 0, variance 1.
func NewBNStats(dt tensor.Dtype, name string, ch int) *BNStats {
	s := &BNStats{Name: name,
		Mean:     tensor.New(tensor.Of(dt), tensor.WithShape(ch)),
		Variance: tensor.New(tensor.Of(dt), tensor.WithShape(ch))}
	ops.Fill(s.Variance, 1)
	return s
}

// GraphNet is the per-graph binding of a ParamSet: its parameter nodes and
// the BatchNorm layers created while building, in creation order.
type GraphNet struct {
	Graph  *G.ExprGraph
	Nodes  []*G.Node // one per parameter, in the ParamSet's order
	BNOps  []*ops.BatchNorm
	params map[string]*G.Node
	// Inference marks a graph that is never differentiated (scoring):
	// Conv and BNAct then build fused inference ops (nets/infer.go).
	Inference bool
}

// NewGraphNet binds ps in a new graph.
func NewGraphNet(ps *ParamSet) *GraphNet { return BindGraphNet(G.NewGraph(), ps) }

// BindGraphNet adds a ParamSet's nodes to an existing graph, so several
// networks (a GAN's generator and discriminator) can share one graph.
func BindGraphNet(g *G.ExprGraph, ps *ParamSet) *GraphNet {
	gn := &GraphNet{Graph: g, params: map[string]*G.Node{}}
	for i, name := range ps.Names {
		t := ps.Vals[i]
		n := G.NewTensor(gn.Graph, ps.Dtype, t.Dims(), G.WithShape(t.Shape()...), G.WithName(name), G.WithValue(t))
		gn.Nodes = append(gn.Nodes, n)
		gn.params[name] = n
	}
	return gn
}

// ZeroGrads clears the parameters' bound derivatives. Gorgonia's tape
// machine adds each run's gradients into them (Reset does not clear them),
// so without this a step would use the sum of every step's gradients so
// far, and one NaN step would poison all later ones. Call before each run.
func (gn *GraphNet) ZeroGrads() { ops.ZeroGrads(gn.Nodes) }

// Param is the node of a parameter.
func (gn *GraphNet) Param(name string) *G.Node {
	n, ok := gn.params[name]
	if !ok {
		panic("nets: no parameter " + name) // a bug in a model's builder, never input-dependent
	}
	return n
}

// BatchNorm applies BatchNorm2d (then ReLU, with relu) with per-channel
// (1,C,1,1) scale and bias named prefix.gamma / prefix.beta, and records
// the layer.
func (gn *GraphNet) BatchNorm(x *G.Node, prefix string, relu bool) (*G.Node, error) {
	y, bn, err := ops.BatchNorm2d(x, gn.Param(prefix+".gamma"), gn.Param(prefix+".beta"), relu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	gn.BNOps = append(gn.BNOps, bn)
	return y, nil
}

// LoadStats copies the model's running statistics into this graph's ops.
func (gn *GraphNet) LoadStats(stats []*BNStats) error {
	if len(stats) != len(gn.BNOps) {
		return fmt.Errorf("graph has %d BatchNorm layers, model %d", len(gn.BNOps), len(stats))
	}
	for i, s := range stats {
		if err := gn.BNOps[i].SetStats(s.Mean, s.Variance); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}

// SaveStats copies the ops' updated running statistics back to the model.
func (gn *GraphNet) SaveStats(stats []*BNStats) {
	for i, s := range stats {
		m, v := gn.BNOps[i].Stats()
		ops.CopyDense(s.Mean, m.(*tensor.Dense))
		ops.CopyDense(s.Variance, v.(*tensor.Dense))
	}
}

// Adam is PyTorch's Adam (no weight decay, no amsgrad), kept here rather
// than Gorgonia's AdamSolver because checkpoints need its moments.
type Adam struct {
	lr, beta1, beta2, eps float64
	Step                  int // updates so far
	M, V                  []*tensor.Dense
}

// NewAdam is an optimiser for ps with zero moments.
func NewAdam(ps *ParamSet, lr, beta1, beta2 float64) *Adam {
	a := &Adam{lr: lr, beta1: beta1, beta2: beta2, eps: 1e-8}
	for _, t := range ps.Vals {
		a.M = append(a.M, tensor.New(tensor.Of(ps.Dtype), tensor.WithShape(t.Shape()...)))
		a.V = append(a.V, tensor.New(tensor.Of(ps.Dtype), tensor.WithShape(t.Shape()...)))
	}
	return a
}

// Update applies one step given the gradients of every parameter.
func (a *Adam) Update(ps *ParamSet, grads []G.Value) error {
	if len(grads) != len(ps.Vals) {
		return fmt.Errorf("Adam: %d gradients for %d parameters", len(grads), len(ps.Vals))
	}
	a.Step++
	bc1 := 1 - math.Pow(a.beta1, float64(a.Step))
	bc2 := 1 - math.Pow(a.beta2, float64(a.Step))
	stepSize := a.lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	for i, p := range ps.Vals {
		switch pd := p.Data().(type) {
		case []float32:
			adamStep(pd, grads[i].Data().([]float32), a.M[i].Float32s(), a.V[i].Float32s(),
				float32(a.beta1), float32(a.beta2), float32(stepSize), float32(sqrtBC2), float32(a.eps))
		case []float64:
			adamStep(pd, grads[i].Data().([]float64), a.M[i].Float64s(), a.V[i].Float64s(),
				a.beta1, a.beta2, stepSize, sqrtBC2, a.eps)
		}
	}
	return nil
}

func adamStep[T ops.Float](p, g, m, v []T, b1, b2, stepSize, sqrtBC2, eps T) {
	ops.Elementwise(len(g), func(lo, hi int) {
		adamRange(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], b1, b2, stepSize, sqrtBC2, eps)
	})
}

// adamRange is one goroutine's share of adamStep. A function of its own,
// not the closure's body: inside the closure the loop ran about twice as
// slowly (VAE 64 px profile: 0.31 → 0.70 s of Adam per 10 steps).
func adamRange[T ops.Float](p, g, m, v []T, b1, b2, stepSize, sqrtBC2, eps T) {
	p, m, v = p[:len(g)], m[:len(g)], v[:len(g)]
	for j, gj := range g {
		m[j] = b1*m[j] + (1-b1)*gj
		v[j] = b2*v[j] + (1-b2)*gj*gj
		p[j] -= stepSize * m[j] / (T(math.Sqrt(float64(v[j])))/sqrtBC2 + eps)
	}
}

// Scaled is a channel count times the width factor, at least 1.
func Scaled(ch int, width float64) int {
	c := int(math.Round(float64(ch) * width))
	if c < 1 {
		c = 1
	}
	return c
}

// SetInput copies float32 batch data into a graph input tensor.
func SetInput(t *tensor.Dense, src []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d, src)
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
	}
}

// ScalarOf reads a scalar value as a float64 (NaN for a non-scalar).
func ScalarOf(v G.Value) float64 {
	switch s := v.Data().(type) {
	case float32:
		return float64(s)
	case float64:
		return s
	}
	return math.NaN()
}

// Float64s copies a tensor value's data as float64s.
func Float64s(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}
