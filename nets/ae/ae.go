// Package ae is the trainer the deterministic autoencoders (cae, bae)
// share: both train on the masked MSE with Adam and score by their
// reconstruction, so only the network, the name and the smallest
// BatchNorm'd side differ. A model package builds its parameters into a
// Model and gives it the network as Forward.
package ae

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ops"
)

// Params are the hyperparameters every deterministic autoencoder takes,
// with the paper's defaults (supplement .4: Adam, lr 1e-4).
func Params() map[string]nets.ParamRange {
	return map[string]nets.ParamRange{
		"lr":    {Min: 1e-7, Max: 1e-1, Default: 1e-4},
		"width": {Min: 1.0 / 64, Max: 4, Default: 1},
		"beta1": {Min: 0, Max: 0.9999, Default: 0.9},
		"beta2": {Min: 0, Max: 0.99999, Default: 0.999},
	}
}

// Model is a deterministic autoencoder: a network, its parameters, Adam
// and BatchNorm statistics, with compiled graphs cached by batch size.
type Model struct {
	*nets.Base
	Dtype tensor.Dtype
	PS    *nets.ParamSet
	Stats []*nets.BNStats
	Opt   *nets.Adam
	// Forward builds the network on x, returning the reconstruction.
	Forward func(gn *nets.GraphNet, x *G.Node) (*G.Node, error)
	// minSide is the side of the smallest feature map that BatchNorm
	// normalises, for the batch-size check.
	minSide int
	train   map[int]*Graph // by batch size: a graph is compiled for one
	infer   map[int]*Graph
	// arena is the output memory all of the model's graphs share.
	arena ops.Arena
}

// New starts a model of the given spec name with resolved params and k
// values; the caller adds its parameters to PS and Stats, then calls
// Finish. minSide is the side of its smallest BatchNorm'd feature map.
func New(name string, cfg nets.Config, params map[string]float64, topK []int, dt tensor.Dtype, minSide int) *Model {
	return &Model{Base: nets.NewBase(name, cfg, params, topK), Dtype: dt, PS: nets.NewParamSet(dt),
		minSide: minSide, train: map[int]*Graph{}, infer: map[int]*Graph{}}
}

// BN adds a BatchNorm layer's scale, bias and statistics.
func (m *Model) BN(name string, ch int) {
	m.PS.Add(name+".gamma", tensor.Shape{1, ch, 1, 1}, nets.ConstInit(1))
	m.PS.Add(name+".beta", tensor.Shape{1, ch, 1, 1}, nets.ConstInit(0))
	m.Stats = append(m.Stats, nets.NewBNStats(m.Dtype, name, ch))
}

// Finish creates the optimiser once every parameter exists; a checkpoint
// must match the model's width.
func (m *Model) Finish(forward func(gn *nets.GraphNet, x *G.Node) (*G.Node, error)) {
	p := m.Cfg.Params
	m.Opt = nets.NewAdam(m.PS, p["lr"], p["beta1"], p["beta2"])
	m.Forward = forward
	m.Track([]string{"width"}, func() []nets.StateEntry { return nets.StateEntries(m.PS, m.Opt, m.Stats) }, m.Opt)
}

// ScoreNames are "mse" and "mse_top<k>".
func (m *Model) ScoreNames() []string { return m.ExpandScores([]string{"mse", "mse_topk"}) }

// Graph is one compiled graph: inputs, reconstruction, loss and machine.
type Graph struct {
	Net         *nets.GraphNet
	X, Mask     *G.Node
	XT, MaskT   *tensor.Dense
	Recon, Loss *G.Node
	VM          G.VM
}

// graph builds (once per batch size and mode) a compiled graph. Training
// graphs also get the masked MSE loss and its gradients.
func (m *Model) graph(n int, training bool) (*Graph, error) {
	cache := m.infer
	if training {
		cache = m.train
	}
	if g, ok := cache[n]; ok {
		return g, nil
	}
	gn := nets.NewGraphNet(m.PS)
	gn.Inference = !training
	ag := &Graph{Net: gn}
	shape := tensor.Shape{n, 1, m.Cfg.Size, m.Cfg.Size}
	ag.XT = tensor.New(tensor.Of(m.Dtype), tensor.WithShape(shape...))
	ag.X = G.NewTensor(gn.Graph, m.Dtype, 4, G.WithShape(shape...), G.WithName("x"), G.WithValue(ag.XT))
	recon, err := m.Forward(gn, ag.X)
	if err != nil {
		return nil, err
	}
	ag.Recon = recon
	if training {
		ag.MaskT = tensor.New(tensor.Of(m.Dtype), tensor.WithShape(shape...))
		ag.Mask = G.NewTensor(gn.Graph, m.Dtype, 4, G.WithShape(shape...), G.WithName("mask"), G.WithValue(ag.MaskT))
		if ag.Loss, err = nets.MaskedMSE(ag.X, recon, ag.Mask); err != nil {
			return nil, fmt.Errorf("%s loss: %w", m.Name(), err)
		}
		var g *G.ExprGraph
		if _, g, err = ops.Grad(ag.Loss, gn.Nodes...); err != nil {
			return nil, fmt.Errorf("%s gradients: %w", m.Name(), err)
		}
		ag.VM = G.NewTapeMachine(g, G.BindDualValues(gn.Nodes...))
		err = m.arena.Plan(ag.VM, g, ag.Recon, ag.Loss)
	} else {
		ag.VM = G.NewTapeMachine(gn.Graph, G.EvalMode())
		err = m.arena.Plan(ag.VM, gn.Graph, ag.Recon)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	cache[n] = ag
	return ag, nil
}

// ForwardBackward runs the training graph on b: loss and gradients, with
// BN statistics updated in the graph but not yet adopted by the model.
func (m *Model) ForwardBackward(b *nets.Batch) (*Graph, float64, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, 0, err
	}
	var msum float64
	for _, v := range b.Masks {
		msum += float64(v)
	}
	if msum == 0 {
		return nil, 0, fmt.Errorf("%s: the batch's masks are all zero, so the masked loss is undefined", m.Name())
	}
	// BatchNorm's unbiased variance needs two values per channel; at the
	// bottleneck a channel has N·minSide² of them.
	if side := m.minSide; b.N*side*side < 2 {
		return nil, 0, fmt.Errorf("%s: a training batch of %d image(s) at %d px leaves one value per channel at the %dx%d bottleneck; BatchNorm needs at least 2", m.Name(), b.N, m.Cfg.Size, side, side)
	}
	ag, err := m.graph(b.N, true)
	if err != nil {
		return nil, 0, err
	}
	if err := ag.Net.LoadStats(m.Stats); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", m.Name(), err)
	}
	nets.SetInput(ag.XT, b.Images)
	nets.SetInput(ag.MaskT, b.Masks)
	ag.Net.ZeroGrads()
	ag.VM.Reset()
	if err := ag.VM.RunAll(); err != nil {
		return nil, 0, fmt.Errorf("%s: training step: %w", m.Name(), err)
	}
	return ag, nets.ScalarOf(ag.Loss.Value()), nil
}

// Grads returns the parameter gradients of the last run of a training graph.
func (ag *Graph) Grads() ([]G.Value, error) {
	out := make([]G.Value, len(ag.Net.Nodes))
	for i, n := range ag.Net.Nodes {
		g, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("gradient of %s: %w", n.Name(), err)
		}
		out[i] = g
	}
	return out, nil
}

// TrainStep runs one Adam step on the masked MSE. A NaN or infinite loss
// leaves weights, optimiser and statistics untouched and returns an error.
func (m *Model) TrainStep(b *nets.Batch) (map[string]float64, error) {
	ag, loss, err := m.ForwardBackward(b)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return nil, fmt.Errorf("%s: loss mse is %v", m.Name(), loss)
	}
	grads, err := ag.Grads()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	ag.Net.SaveStats(m.Stats)
	if err := m.Opt.Update(m.PS, grads); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	return map[string]float64{"mse": loss}, nil
}

// Reconstruct runs the inference graph (running BN statistics) on b.
func (m *Model) Reconstruct(b *nets.Batch) ([]float64, error) {
	ag, err := m.run(b)
	if err != nil {
		return nil, err
	}
	return nets.Float64s(ag.Recon.Value()), nil
}

// run runs the inference graph on b; its Recon holds the reconstruction
// until the next run.
func (m *Model) run(b *nets.Batch) (*Graph, error) {
	ag, err := m.graph(b.N, false)
	if err != nil {
		return nil, err
	}
	if err := ag.Net.LoadStats(m.Stats); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	nets.SetInput(ag.XT, b.Images)
	ag.VM.Reset()
	if err := ag.VM.RunAll(); err != nil {
		return nil, fmt.Errorf("%s: scoring: %w", m.Name(), err)
	}
	return ag, nil
}

// Score gives "mse" and "mse_top<k>" per image and the smoothed error maps.
func (m *Model) Score(b *nets.Batch) (*nets.Scored, error) {
	if err := m.CheckBatch(b); err != nil {
		return nil, err
	}
	ag, err := m.run(b)
	if err != nil {
		return nil, err
	}
	out := &nets.Scored{}
	// the scores read the graph's output directly, before the next run
	switch recon := ag.Recon.Value().Data().(type) {
	case []float32:
		err = nets.ReconstructionScores(b, recon, "mse", m.TopKs(), out)
	case []float64:
		err = nets.ReconstructionScores(b, recon, "mse", m.TopKs(), out)
	default:
		err = fmt.Errorf("reconstruction of type %T", recon)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	return out, nil
}
