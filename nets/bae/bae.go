// Package bae is the authors' bottleneck autoencoder, registered as "bae":
// max pooling with indices down to a 1×1 bottleneck and unpooling back,
// trained and scored by the shared deterministic-autoencoder trainer
// (xraylab/nets/ae).
package bae

import (
	"fmt"
	"math/bits"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/ops"
)

// baeSpec: the paper's training details for the bottleneck autoencoder
// (supplement .4: Adam, lr 1e-4, batch 32, BatchNorm).
var baeSpec = nets.Spec{
	Name:   "bae",
	Scores: []string{"mse", "mse_topk"},
	Params: ae.Params(),
}

func init() {
	baeSpec.New = func(cfg nets.Config) (nets.Model, error) { return newBAE(cfg, tensor.Float32) }
	nets.Register(baeSpec)
}

// baeStage is one encoder stage: a convolution (padding 1, no bias: BN
// follows) then 2×2 max pooling that keeps its indices, BN and Tanh.
type baeStage struct {
	k, s, cout int
}

// baeStages lays out the encoder for a size×size input. The authors' BAE
// (512 px) has five stages: a 3×3/s1 convolution, then four 4×4/s2 ones,
// each followed by 2×2 pooling (÷2, then ÷4 four times: 512 → 1), with
// 16, 32, 64, 128, 256 channels. Other powers of two keep the first 3×3
// stage and as many 4×4 stages as fit, adding one more 3×3 stage last when
// an odd halving remains (64 px: 3×3, 4×4, 4×4, 3×3), and keep the deepest
// channel counts, so the bottleneck stays 256·width channels at 1×1.
func baeStages(size int, width float64) ([]baeStage, error) {
	if size < 8 || size > 512 || size&(size-1) != 0 {
		return nil, fmt.Errorf("bae: image size %d must be a power of two from 8 to 512 (pooling halves it down to a 1x1 bottleneck)", size)
	}
	n := bits.TrailingZeros(uint(size)) // halvings to reach 1×1
	stages := []baeStage{{k: 3, s: 1}}
	for i := 0; i < (n-1)/2; i++ {
		stages = append(stages, baeStage{k: 4, s: 2})
	}
	if (n-1)%2 == 1 {
		stages = append(stages, baeStage{k: 3, s: 1})
	}
	chans := []int{16, 32, 64, 128, 256}
	chans = chans[len(chans)-len(stages):]
	for i := range stages {
		stages[i].cout = nets.Scaled(chans[i], width)
	}
	return stages, nil
}

// baeBottleneck is the channel count of the 1×1 bottleneck at width 1.
const baeBottleneck = 256

// newBAE builds the bottleneck autoencoder of the authors' code
// (README "Models as coded", rows "BAE" and "masked reconstruction
// loss"): per stage conv → maxpool(2, indices) → BN →
// Tanh; a 1×1 convolution with BN and Tanh at the 1×1 bottleneck; the
// decoder mirrors it: a 1×1 transposed convolution, then per stage in
// reverse unpool with that stage's indices → BN → Tanh → the transposed
// convolution mirroring the stage's, and Sigmoid on the output. It trains
// and scores exactly like the CAE (masked MSE, Adam), so it is an ae.Model
// with another network.
//
// One deliberate difference: the authors' 1×1 bottleneck convolutions use
// padding 1 (1×1 → 3×3 → 1×1, so BatchNorm there also averages the zero
// border); here they use none.
func newBAE(cfg nets.Config, dt tensor.Dtype) (*ae.Model, error) {
	params, err := nets.ResolveParams(baeSpec, cfg)
	if err != nil {
		return nil, err
	}
	width := params["width"]
	stages, err := baeStages(cfg.Size, width)
	if err != nil {
		return nil, err
	}
	topK, err := nets.ResolveTopK("bae", cfg.TopK)
	if err != nil {
		return nil, err
	}
	m := ae.New("bae", cfg, params, topK, dt, 1)
	// Parameters in forward order; BN statistics in the order the graph
	// creates its BatchNorm ops (encoder, bottleneck, decoder).
	cin := 1
	for i, st := range stages {
		name := fmt.Sprintf("enc%d", i)
		m.PS.Add(name+".w", tensor.Shape{st.cout, cin, st.k, st.k}, nets.UniformInit(cfg.Rand, cin*st.k*st.k))
		m.BN(name, st.cout)
		cin = st.cout
	}
	last := stages[len(stages)-1].cout
	bott := nets.Scaled(baeBottleneck, width)
	m.PS.Add("bottleneck.w", tensor.Shape{bott, last, 1, 1}, nets.UniformInit(cfg.Rand, last))
	m.BN("bottleneck", bott)
	// ConvTranspose2d weights are (Cin, Cout, k, k), PyTorch's fan-in Cout·k·k.
	m.PS.Add("dec_in.w", tensor.Shape{bott, last, 1, 1}, nets.UniformInit(cfg.Rand, last))
	m.BN("dec_in", last)
	for i := len(stages) - 1; i >= 0; i-- {
		st := stages[i]
		name := fmt.Sprintf("dec%d", i)
		cout := 1
		if i > 0 {
			cout = stages[i-1].cout
		}
		m.PS.Add(name+".w", tensor.Shape{st.cout, cout, st.k, st.k}, nets.UniformInit(cfg.Rand, cout*st.k*st.k))
		if i > 0 {
			m.BN(name, cout)
		}
	}
	m.Finish(func(gn *nets.GraphNet, x *G.Node) (*G.Node, error) { return baeForward(gn, x, stages) })
	return m, nil
}

// baeForward builds the BAE on x; each graph has its own pooling indices.
func baeForward(gn *nets.GraphNet, x *G.Node, stages []baeStage) (*G.Node, error) {
	wrap := func(name string, err error) error { return fmt.Errorf("bae %s: %w", name, err) }
	bnTanh := func(h *G.Node, name string) (*G.Node, error) {
		h, err := gn.BatchNorm(h, name, false)
		if err != nil {
			return nil, fmt.Errorf("bae %w", err)
		}
		if h, err = ops.Tanh(h); err != nil {
			return nil, wrap(name+" tanh", err)
		}
		return h, nil
	}
	h := x
	var err error
	idx := make([]*ops.PoolIndices, len(stages))
	for i, st := range stages {
		name := fmt.Sprintf("enc%d", i)
		if h, err = ops.Conv2d(h, gn.Param(name+".w"), st.s, 1); err != nil {
			return nil, wrap(name, err)
		}
		if h, idx[i], err = ops.MaxPool2d(h, 2, 2); err != nil {
			return nil, wrap(name, err)
		}
		if h, err = bnTanh(h, name); err != nil {
			return nil, err
		}
	}
	if h, err = ops.Conv2d(h, gn.Param("bottleneck.w"), 1, 0); err != nil {
		return nil, wrap("bottleneck", err)
	}
	if h, err = bnTanh(h, "bottleneck"); err != nil {
		return nil, err
	}
	if h, err = ops.ConvTranspose2d(h, gn.Param("dec_in.w"), 1, 0); err != nil {
		return nil, wrap("dec_in", err)
	}
	unpoolBN := func(h *G.Node, i int, name string) (*G.Node, error) {
		if h, err = ops.MaxUnpool2d(h, idx[i]); err != nil {
			return nil, wrap(name, err)
		}
		return bnTanh(h, name)
	}
	if h, err = unpoolBN(h, len(stages)-1, "dec_in"); err != nil {
		return nil, err
	}
	for i := len(stages) - 1; i >= 0; i-- {
		name := fmt.Sprintf("dec%d", i)
		if h, err = ops.ConvTranspose2d(h, gn.Param(name+".w"), stages[i].s, 1); err != nil {
			return nil, wrap(name, err)
		}
		if i > 0 {
			if h, err = unpoolBN(h, i-1, name); err != nil {
				return nil, err
			}
		}
	}
	if h, err = G.Sigmoid(h); err != nil {
		return nil, wrap("sigmoid", err)
	}
	return h, nil
}
