package ops

import G "gorgonia.org/gorgonia"

// Grad is gorgonia.Grad followed by pruning: it returns the gradients of
// cost with respect to wrt and the graph to compile a machine from, which
// is the graph as it was before differentiation plus only the gradient
// nodes that the wrt gradients need.
//
// Why: Gorgonia's backpropagation calls every active op's SymDiff, which
// returns the gradients of all its inputs, and keeps those nodes in the
// graph even when nothing uses them; its tape machine then runs every node.
// A GAN phase that trains one network through another (the generator
// through the discriminator) thus also computed the discriminator's weight
// gradients, and every network its input image's gradient: measured on
// BiGAN at 64 px, a third of a step's convolution FLOPs went to such
// unused gradients. Pruning changes no value that is kept.
func Grad(cost *G.Node, wrt ...*G.Node) (G.Nodes, *G.ExprGraph, error) {
	g := cost.Graph()
	before := append(G.Nodes(nil), g.AllNodes()...)
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		return nil, nil, err
	}
	// Everything a gradient depends on; the forward graph's nodes are all
	// kept, and their inputs are forward nodes too, so the walk stops there.
	keep := make(map[*G.Node]bool, len(g.AllNodes()))
	for _, n := range before {
		keep[n] = true
	}
	stack := append(G.Nodes(nil), grads...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if keep[n] {
			continue
		}
		keep[n] = true
		stack = append(stack, children(g, n)...)
	}
	var ns G.Nodes
	for _, n := range g.AllNodes() {
		if keep[n] {
			ns = append(ns, n)
		}
	}
	if len(ns) == len(g.AllNodes()) {
		return grads, g, nil
	}
	return grads, g.Subgraph(ns...), nil
}

func children(g *G.ExprGraph, n *G.Node) G.Nodes {
	var out G.Nodes
	for it := g.From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}
