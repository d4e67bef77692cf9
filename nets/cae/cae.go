// Package cae is the paper's convolutional autoencoder, registered as
// "cae": the network as the authors coded it, trained and scored by the
// shared deterministic-autoencoder trainer (xraylab/nets/ae).
package cae

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/ops"
)

// caeSpec: the paper's hyperparameters for the convolutional autoencoder.
var caeSpec = nets.Spec{
	Name:   "cae",
	Scores: []string{"mse", "mse_topk"},
	Params: ae.Params(),
}

func init() {
	caeSpec.New = func(cfg nets.Config) (nets.Model, error) { return newCAE(cfg, tensor.Float32) }
	nets.Register(caeSpec)
}

// layer is one convolution (or transposed convolution) of a network.
type layer struct {
	name               string
	transpose          bool
	cin, cout, k, s, p int
	bn                 bool
}

// caeLayers is the paper's CAE (README "Models as coded", row "masked
// reconstruction loss"): ten
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
		cout := nets.Scaled(c, width)
		ls = append(ls, layer{name: fmt.Sprintf("enc%d", i), cin: cin, cout: cout, k: k, s: s, p: 1, bn: true})
		cin = cout
	}
	for i, c := range []int{256, 128, 64, 32, 16} {
		cout := nets.Scaled(c, width)
		ls = append(ls, layer{name: fmt.Sprintf("dec%d", i), transpose: true, cin: cin, cout: cout, k: 4, s: 2, p: 1, bn: true})
		cin = cout
	}
	return append(ls, layer{name: "dec5", transpose: true, cin: cin, cout: 1, k: 3, s: 1, p: 1})
}

// newCAE builds the convolutional autoencoder. The output is
// Tanh(ReLU(convT(·))) as in the authors' code (its decoder applies ReLU
// after every layer, the last included, then Tanh): the reconstruction
// lies in [0,1) like the [0,1] input, which is compared with it unscaled.
func newCAE(cfg nets.Config, dt tensor.Dtype) (*ae.Model, error) {
	params, err := nets.ResolveParams(caeSpec, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Size < 32 || cfg.Size%32 != 0 {
		return nil, fmt.Errorf("cae: image size %d must be a positive multiple of 32 (five stride-2 stages)", cfg.Size)
	}
	topK, err := nets.ResolveTopK("cae", cfg.TopK)
	if err != nil {
		return nil, err
	}
	m := ae.New("cae", cfg, params, topK, dt, cfg.Size/32)
	layers := caeLayers(params["width"])
	for _, l := range layers {
		// PyTorch's fan-in for a ConvTranspose2d weight (Cin, Cout, k, k) is Cout·k·k.
		fanIn := l.cin * l.k * l.k
		shape := tensor.Shape{l.cout, l.cin, l.k, l.k}
		if l.transpose {
			fanIn = l.cout * l.k * l.k
			shape = tensor.Shape{l.cin, l.cout, l.k, l.k}
		}
		m.PS.Add(l.name+".w", shape, nets.UniformInit(cfg.Rand, fanIn))
		if l.bn {
			m.BN(l.name, l.cout)
		}
	}
	m.Finish(func(gn *nets.GraphNet, x *G.Node) (*G.Node, error) { return forward(gn, x, layers) })
	return m, nil
}

// forward builds encoder and decoder on x: every layer is its convolution,
// BN + ReLU (one op), or for the output layer ReLU then Tanh.
func forward(gn *nets.GraphNet, x *G.Node, layers []layer) (*G.Node, error) {
	h := x
	var err error
	for i, l := range layers {
		cl := nets.ConvLayer{Transposed: l.transpose, Stride: l.s, Pad: l.p, Act: ops.Act{Kind: ops.ActReLU}}
		last := i == len(layers)-1
		if l.bn {
			cl.BN = l.name
		} else if last {
			cl.Act.Kind = ops.ActReLUTanh
		}
		if h, err = gn.Conv(h, gn.Param(l.name+".w"), cl); err != nil {
			return nil, fmt.Errorf("cae %s: %w", l.name, err)
		}
		if last && l.bn {
			if h, err = ops.Tanh(h); err != nil {
				return nil, fmt.Errorf("cae tanh: %w", err)
			}
		}
	}
	return h, nil
}
