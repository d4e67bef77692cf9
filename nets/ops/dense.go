package ops

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm settings of PyTorch's BatchNorm2d, which the paper's code uses.
const (
	BNMomentum = 0.1
	BNEpsilon  = 1e-5
)

// Fill sets every element of a float tensor to v.
func Fill(t *tensor.Dense, v float64) {
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

// CopyDense copies src into dst (same dtype and size).
func CopyDense(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d, src.Data().([]float32))
	case []float64:
		copy(d, src.Data().([]float64))
	}
}

// ZeroGrads clears the derivatives bound to nodes. Gorgonia's tape machine
// adds each run's gradients into them (Reset does not clear them), and
// some of its ops (MatMul among them) add rather than set, so every
// training run must start from zero.
//
// Large gradients are cleared on every core (a GAN's weights run to tens
// of millions of values).
func ZeroGrads(nodes G.Nodes) {
	for _, n := range nodes {
		g, err := n.Grad()
		if err != nil || g == nil {
			continue
		}
		switch d := g.Data().(type) {
		case []float32:
			parallel(len(d), 1, elementwiseMin, func(lo, hi int) { clear(d[lo:hi]) })
		case []float64:
			parallel(len(d), 1, elementwiseMin, func(lo, hi int) { clear(d[lo:hi]) })
		default:
			if t, ok := g.(tensor.Tensor); ok {
				t.Zero()
			}
		}
	}
}
