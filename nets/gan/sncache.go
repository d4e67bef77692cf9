package gan

import (
	"fmt"
	"io"

	G "gorgonia.org/gorgonia"

	"xraylab/nets/ops"
)

// Scoring graphs take each spectrally normalised weight W/σ as an input
// rather than computing it in the graph: it depends only on the weight and
// its u and v, which do not change from one scored batch to the next, and
// computing it is a pass over the weight (σ's product) and a division of
// every element (measured: 9–10 % of a BiGAN scoring pass). A Net keeps
// the value with the state it was computed from, its generation (bumped by
// every power iteration, which every training step starts with, and by
// every checkpoint load) and the optimiser's step count (bumped by every
// update), and a graph recomputes it before a run when either moved. The
// value is what the graph's SpectralNorm op would give, bit for bit
// (ops.SNValue runs that op's kernel).

// snCached is one weight's W/σ and the state it was computed from.
type snCached struct {
	val       *ops.SNValue
	gen, step int
	valid     bool
}

// snInput is the input node of an inference graph for a normalised weight.
func (b *Bind) snInput(name string, s *ops.SNState) (*G.Node, error) {
	c := b.net.normalised(name)
	t, err := c.val.Compute(b.net.PS.Get(name), s.U, s.V) // the kept tensor the node binds
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.gen, c.step, c.valid = b.net.gen, b.net.optStep(), true
	b.snIn = append(b.snIn, name)
	return G.NewTensor(b.gn.Graph, b.net.PS.Dtype, t.Dims(), G.WithShape(t.Shape()...), G.WithName("sn/"+name), G.WithValue(t)), nil
}

func (n *Net) normalised(name string) *snCached {
	if n.snVal == nil {
		n.snVal = map[string]*snCached{}
	}
	c, ok := n.snVal[name]
	if !ok {
		c = &snCached{val: ops.NewSNValue(n.PS.Get(name).Dims())}
		n.snVal[name] = c
	}
	return c
}

func (n *Net) optStep() int {
	if n.Opt == nil {
		return 0
	}
	return n.Opt.Step
}

// refreshSN recomputes the normalised weights a graph reads whose weight
// or u, v changed since they were computed.
func (b *Bind) refreshSN() error {
	for _, name := range b.snIn {
		c := b.net.snVal[name]
		if c.valid && c.gen == b.net.gen && c.step == b.net.optStep() {
			continue
		}
		s := b.net.snIdx[name]
		if _, err := c.val.Compute(b.net.PS.Get(name), s.U, s.V); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c.gen, c.step, c.valid = b.net.gen, b.net.optStep(), true
	}
	return nil
}

// Load restores a checkpoint; the networks' normalised weights are then
// recomputed before they are next used.
func (m *Base) Load(r io.Reader) error {
	for _, n := range m.all {
		n.gen++
	}
	err := m.Base.Load(r)
	for _, n := range m.all {
		n.gen++ // also after a refused load, which may have restored state
	}
	return err
}
