package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"xraylab/nets/ops"
)

// ConvLayer is a convolution and what follows it in a layer: a
// per-channel bias, a BatchNorm2d and an activation, in that order.
type ConvLayer struct {
	Transposed  bool // ConvTranspose2d rather than Conv2d
	Stride, Pad int
	Bias        *G.Node // (1, C, 1, 1) bias added after the convolution, or nil
	BN          string  // prefix of the BatchNorm's parameters ("" for none)
	Act         ops.Act // a ReLU right after the BatchNorm is fused into it
}

// Conv builds a convolution layer on x with kernel w. A training graph
// gets the separate ops (convolution, AddBias, BatchNorm2d with its ReLU,
// the activation), which have gradients; an Inference graph gets one fused
// op that computes the same values (ops.ConvInfer, ops.ConvBNInfer).
// Either way the layer's BatchNorm is recorded in BNOps.
func (gn *GraphNet) Conv(x, w *G.Node, l ConvLayer) (*G.Node, error) {
	if gn.Inference {
		if l.BN == "" {
			return ops.ConvInfer(x, w, l.Transposed, l.Stride, l.Pad, l.Bias, l.Act)
		}
		y, bn, err := ops.ConvBNInfer(x, w, l.Transposed, l.Stride, l.Pad, gn.Param(l.BN+".gamma"), gn.Param(l.BN+".beta"), l.Act)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.BN, err)
		}
		gn.BNOps = append(gn.BNOps, bn)
		return y, nil
	}
	var h *G.Node
	var err error
	if l.Transposed {
		h, err = ops.ConvTranspose2d(x, w, l.Stride, l.Pad)
	} else {
		h, err = ops.Conv2d(x, w, l.Stride, l.Pad)
	}
	if err != nil {
		return nil, err
	}
	if l.Bias != nil {
		if h, err = ops.AddBias(h, l.Bias); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	act := l.Act
	if l.BN != "" {
		if h, err = gn.BatchNorm(h, l.BN, act.Kind == ops.ActReLU); err != nil {
			return nil, err
		}
		if act.Kind == ops.ActReLU {
			act.Kind = ops.ActNone
		}
	}
	return Activate(h, act)
}

// BNAct is BatchNorm2d (prefix's parameters) followed by act: the
// separate ops in a training graph, one fused op (ops.BNInfer) in an
// Inference graph.
func (gn *GraphNet) BNAct(x *G.Node, prefix string, act ops.Act) (*G.Node, error) {
	if gn.Inference {
		y, bn, err := ops.BNInfer(x, gn.Param(prefix+".gamma"), gn.Param(prefix+".beta"), act)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		gn.BNOps = append(gn.BNOps, bn)
		return y, nil
	}
	h, err := gn.BatchNorm(x, prefix, act.Kind == ops.ActReLU)
	if err != nil {
		return nil, err
	}
	if act.Kind == ops.ActReLU {
		return h, nil
	}
	return Activate(h, act)
}

// Activate applies an activation as separate, differentiable ops.
func Activate(h *G.Node, act ops.Act) (*G.Node, error) {
	var err error
	switch act.Kind {
	case ops.ActReLU:
		h, err = G.Rectify(h)
	case ops.ActLeaky:
		h, err = ops.LeakyReLU(h, act.Slope)
	case ops.ActTanh:
		h, err = ops.Tanh(h)
	case ops.ActSigmoid:
		h, err = G.Sigmoid(h)
	case ops.ActReLUTanh:
		if h, err = G.Rectify(h); err == nil {
			h, err = ops.Tanh(h)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", act, err)
	}
	return h, nil
}

// UnpoolBNAct is MaxUnpool2d with p's indices, then BNAct: the separate
// ops in a training graph, one fused op (ops.UnpoolBNInfer) in an
// Inference graph when the pooling windows do not overlap.
func (gn *GraphNet) UnpoolBNAct(x *G.Node, p *ops.PoolIndices, prefix string, act ops.Act) (*G.Node, error) {
	if gn.Inference && p.Kernel() == p.Stride() {
		y, bn, err := ops.UnpoolBNInfer(x, p, gn.Param(prefix+".gamma"), gn.Param(prefix+".beta"), act)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		gn.BNOps = append(gn.BNOps, bn)
		return y, nil
	}
	h, err := ops.MaxUnpool2d(x, p)
	if err != nil {
		return nil, err
	}
	return gn.BNAct(h, prefix, act)
}
