package gan

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"xraylab/nets"
	"xraylab/nets/ops"
)

// saliencyGraph is a compiled graph of the gradient of a batch's summed
// anomaly score with respect to its images.
type saliencyGraph struct {
	gg *Graph
	x  *G.Node
}

// SetSaliency turns the discriminator's saliency maps on or off
// (nets.SaliencyMapper); a model calls Saliency in Score when on.
func (m *Base) SetSaliency(on bool) { m.saliency = on }

// SaliencyOn reports whether Score should add the saliency maps.
func (m *Base) SaliencyOn() bool { return m.saliency }

// Saliency returns g = ∂(Σᵢ sᵢ)/∂x for b's images (N×H×W), where build
// adds the networks to gg reading x and returns the anomaly scores s (N).
// Each image's score depends on its own image alone (minibatch
// discrimination scores against the fixed reference), so g's image i is
// ∂sᵢ/∂xᵢ. Computed by Gorgonia's reverse mode through the same ops as
// training.
func (m *Base) Saliency(b *nets.Batch, build func(gg *Graph, x *G.Node) (*G.Node, error)) ([]float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	p, ok := m.sal[b.N]
	if !ok {
		gg := NewGraph(m.dt)
		x := gg.Input("x", b.N, 1, m.Cfg.Size, m.Cfg.Size)
		s, err := build(gg, x)
		if err != nil {
			return nil, fmt.Errorf("%s: saliency: %w", m.Name(), err)
		}
		cost, err := G.Sum(s)
		if err != nil {
			return nil, fmt.Errorf("%s: saliency: %w", m.Name(), err)
		}
		if _, err := G.Grad(cost, x); err != nil {
			return nil, fmt.Errorf("%s: saliency gradient: %w", m.Name(), err)
		}
		gg.vm = G.NewTapeMachine(gg.g, G.BindDualValues(x))
		if err := gg.share(gg.g); err != nil {
			return nil, fmt.Errorf("%s: saliency: %w", m.Name(), err)
		}
		p = &saliencyGraph{gg: gg, x: x}
		if m.sal == nil {
			m.sal = map[int]*saliencyGraph{}
		}
		m.sal[b.N] = p
	}
	if err := m.setInputs(p.gg, b); err != nil {
		return nil, err
	}
	ops.ZeroGrads(G.Nodes{p.x}) // gradients accumulate over runs
	if err := p.gg.Run(); err != nil {
		return nil, fmt.Errorf("%s: saliency: %w", m.Name(), err)
	}
	g, err := p.x.Grad()
	if err != nil {
		return nil, fmt.Errorf("%s: saliency gradient: %w", m.Name(), err)
	}
	return nets.Float64s(g), nil
}

// AddSaliency adds the saliency maps of score to out when they are on.
func (m *Base) AddSaliency(b *nets.Batch, out *nets.Scored, score func(gg *Graph, x *G.Node) (*G.Node, error)) error {
	if !m.saliency {
		return nil
	}
	g, err := m.Saliency(b, score)
	if err != nil {
		return err
	}
	maps, err := nets.SaliencyMaps(b, g)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name(), err)
	}
	if out.Extra == nil {
		out.Extra = map[string][]float32{}
	}
	for k, v := range maps {
		out.Extra[k] = v
	}
	return nil
}

// ProbFake is σ(l), the probability a logit gives the "fake" label (DCGAN's d).
func ProbFake(l *G.Node) (*G.Node, error) { return G.Sigmoid(l) }

// ProbNotReal is 1 − σ(l) = σ(−l) (BiGAN's and α-GAN's d).
func ProbNotReal(l *G.Node) (*G.Node, error) {
	n, err := G.Neg(l)
	if err != nil {
		return nil, err
	}
	return G.Sigmoid(n)
}
