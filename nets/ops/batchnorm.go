package ops

import (
	"fmt"
	"hash"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm2d is PyTorch's BatchNorm2d (affine, with running statistics)
// followed, with relu, by ReLU, as one op:
//
//	x: (N, C, H, W), scale, bias: (1, C, 1, 1) → max(0?)(scale·x̂ + bias)
//
// In training x̂ uses the batch's mean and biased variance and the running
// statistics move by BNMomentum towards the batch's mean and unbiased
// variance; in inference (a machine made with G.EvalMode) it uses the
// running statistics. Gorgonia's BatchNorm builds four nodes (normalise,
// broadcast scale, broadcast bias, then three more for ReLU), each with a
// fresh output per step and its own backward nodes; this op keeps its
// output, its input gradient and its per-channel workspace between runs
// (as the convolutions do) and accumulates statistics in float64.
//
// The returned *BatchNorm holds the op's running statistics: a model copies
// its own into it before a run (SetStats) and back out after a training
// run it adopts (Stats).
func BatchNorm2d(x, scale, bias *G.Node, relu bool) (*G.Node, *BatchNorm, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, nil, fmt.Errorf("batchnorm: input %v must be 4-D (N, C, H, W)", xs)
	}
	want := tensor.Shape{1, xs[1], 1, 1}
	for _, p := range []struct {
		what string
		n    *G.Node
	}{{"scale", scale}, {"bias", bias}} {
		if !p.n.Shape().Eq(want) {
			return nil, nil, fmt.Errorf("batchnorm: %s has shape %v, want %v for input %v", p.what, p.n.Shape(), want, xs)
		}
	}
	dt, err := nodeDtype(x)
	if err != nil {
		return nil, nil, err
	}
	bn := newBatchNorm(dt, xs[1], relu)
	y, err := G.ApplyOp(bnOp{bn: bn, bufs: &opBufs{}}, x, scale, bias)
	if err != nil {
		return nil, nil, err
	}
	// Gorgonia merges a node identical to one already in the graph (same
	// op hash, same inputs): the op that runs is then the existing one.
	if op, ok := y.Op().(bnOp); ok {
		bn = op.bn
	}
	return y, bn, nil
}

func nodeDtype(n *G.Node) (tensor.Dtype, error) {
	if tt, ok := n.Type().(G.TensorType); ok {
		if dt, ok := tt.Of.(tensor.Dtype); ok {
			return dt, nil
		}
	}
	return tensor.Dtype{}, fmt.Errorf("batchnorm: input %s has type %v, want a float tensor", n.Name(), n.Type())
}

// BatchNorm is one BatchNorm2d layer's state in one graph: running
// statistics, the mode, and what the forward pass leaves for the backward
// one (the mean and 1/σ it normalised with, float64 per channel) and the
// backward pass for the scale and bias gradient ops.
type BatchNorm struct {
	relu     bool
	training bool
	mean     *tensor.Dense // running statistics, shape (C)
	variance *tensor.Dense
	useMean  []float64 // per channel, set by each forward run
	invStd   []float64
	shift    []float64     // b of y = a·x + b, as the forward rounded it
	ones     []float32     // p ones: Σx as a dot product (planeSums)
	dScale   *tensor.Dense // (1, C, 1, 1), set by each backward run
	dBias    *tensor.Dense
}

func newBatchNorm(dt tensor.Dtype, ch int, relu bool) *BatchNorm {
	bn := &BatchNorm{relu: relu, training: true,
		mean:     tensor.New(tensor.Of(dt), tensor.WithShape(ch)),
		variance: tensor.New(tensor.Of(dt), tensor.WithShape(ch)),
		useMean:  make([]float64, ch), invStd: make([]float64, ch), shift: make([]float64, ch),
		dScale: tensor.New(tensor.Of(dt), tensor.WithShape(1, ch, 1, 1)),
		dBias:  tensor.New(tensor.Of(dt), tensor.WithShape(1, ch, 1, 1))}
	Fill(bn.variance, 1)
	return bn
}

// Stats returns the running mean and variance (the op's own tensors).
func (bn *BatchNorm) Stats() (mean, variance tensor.Tensor) { return bn.mean, bn.variance }

// SetStats copies mean and variance into the running statistics.
func (bn *BatchNorm) SetStats(mean, variance tensor.Tensor) error {
	for _, p := range []struct {
		what     string
		dst, src tensor.Tensor
	}{{"mean", bn.mean, mean}, {"variance", bn.variance, variance}} {
		if !p.src.Shape().Eq(p.dst.Shape()) || p.src.Dtype() != p.dst.Dtype() {
			return fmt.Errorf("batchnorm: running %s is %v %v, want %v %v", p.what, p.src.Dtype(), p.src.Shape(), p.dst.Dtype(), p.dst.Shape())
		}
		src, ok := p.src.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("batchnorm: running %s must be a dense tensor, got %T", p.what, p.src)
		}
		CopyDense(p.dst.(*tensor.Dense), src)
	}
	return nil
}

// bnOp is the forward op: (x, scale, bias) → y.
type bnOp struct {
	bn   *BatchNorm
	bufs *opBufs
}

func bnType(arity int) hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	ts := make([]hm.Type, arity+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}

func (op bnOp) buffers() *opBufs     { return op.bufs }
func (op bnOp) Arity() int           { return 3 }
func (op bnOp) Type() hm.Type        { return bnType(3) }
func (op bnOp) ReturnsPtr() bool     { return false }
func (op bnOp) CallsExtern() bool    { return false }
func (op bnOp) OverwritesInput() int { return -1 }
func (op bnOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, op.String())
}
func (op bnOp) Hashcode() uint32 { return hashOf(op) }
func (op bnOp) String() string   { return fmt.Sprintf("BatchNorm2d{relu=%v}", op.bn.relu) }

// SetTraining is how a tape machine made with G.EvalMode switches the op to
// the running statistics (G.TrainModeOp). Unlike Gorgonia's BatchNormOp it
// leaves the statistics alone.
func (op bnOp) SetTraining(training bool) error {
	op.bn.training = training
	return nil
}

func (op bnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOfFirst(op, 3, ds)
}

// shapeOfFirst is the output shape of both BatchNorm ops: that of their
// first input, of which there must be n.
func shapeOfFirst(op fmt.Stringer, n int, ds []G.DimSizer) (tensor.Shape, error) {
	if len(ds) != n {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, n, len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input must have a tensor shape, got %T", op, ds[0])
	}
	return s.Clone(), nil
}

// denseArgs checks that vs are n dense tensors of one dtype.
func denseArgs(vs []G.Value, n int, what fmt.Stringer) ([]*tensor.Dense, error) {
	if len(vs) != n {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", what, n, len(vs))
	}
	out := make([]*tensor.Dense, n)
	for i, v := range vs {
		d, ok := v.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%v: inputs must be dense tensors, got %T", what, v)
		}
		if i > 0 && d.Dtype() != out[0].Dtype() {
			return nil, fmt.Errorf("%v: mixed dtypes %v and %v", what, out[0].Dtype(), d.Dtype())
		}
		out[i] = d
	}
	return out, nil
}

// bnGeom is (N, C, P = H·W) of an input; it checks the statistics' size.
func (bn *BatchNorm) geom(what fmt.Stringer, xs tensor.Shape) (n, c, p int, err error) {
	if xs.Dims() != 4 {
		return 0, 0, 0, fmt.Errorf("%v: input %v must be 4-D", what, xs)
	}
	n, c, p = xs[0], xs[1], xs[2]*xs[3]
	if c != len(bn.useMean) {
		return 0, 0, 0, fmt.Errorf("%v: input %v has %d channels, the layer %d", what, xs, c, len(bn.useMean))
	}
	if bn.training && n*p < 2 {
		return 0, 0, 0, fmt.Errorf("%v: input %v has %d value(s) per channel; training needs at least 2", what, xs, n*p)
	}
	return n, c, p, nil
}

func (op bnOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := denseArgs(vs, 3, op)
	if err != nil {
		return nil, err
	}
	x := a[0]
	n, c, p, err := op.bn.geom(op, x.Shape())
	if err != nil {
		return nil, err
	}
	y := op.bufs.output(x.Dtype(), x.Shape())
	switch xd := x.Data().(type) {
	case []float32:
		bnForward(op.bn, n, c, p, xd, a[1].Float32s(), a[2].Float32s(), op.bn.mean.Float32s(), op.bn.variance.Float32s(), y.Float32s())
	case []float64:
		bnForward(op.bn, n, c, p, xd, a[1].Float64s(), a[2].Float64s(), op.bn.mean.Float64s(), op.bn.variance.Float64s(), y.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}

// bnParallelMin is the tensor size from which the per-channel loops are
// shared among GOMAXPROCS goroutines; below it the goroutines cost more
// than they save.
const bnParallelMin = 1 << 15

// perChannel runs f(c) for every channel, in parallel for large tensors.
// Each channel's work touches only its own values, so the result does not
// depend on the split.
func perChannel(c, size int, f func(c int)) {
	workers := min(runtime.GOMAXPROCS(0), c)
	if size < bnParallelMin || workers < 2 {
		for ci := 0; ci < c; ci++ {
			f(ci)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ci := w; ci < c; ci += workers {
				f(ci)
			}
		}(w)
	}
	wg.Wait()
}

// bnForward normalises x (N, C, P) into y. In training it takes each
// channel's mean and biased variance and moves the running statistics
// (unbiased variance, as PyTorch); otherwise it uses the running ones.
// y = a·x + b with a = scale/σ, b = bias − a·mean.
//
// The statistics come from one pass (shiftedSums: sums of x − k and its
// square in float64, k the channel's first value, so the variance does not
// cancel away when the mean is large against σ) instead of a pass for the
// mean and one for the variance.
func bnForward[T Float](bn *BatchNorm, n, c, p int, x, scale, bias, runMean, runVar, y []T) {
	m := n * p
	if len(bn.ones) != p {
		bn.ones = make([]float32, p)
		for i := range bn.ones {
			bn.ones[i] = 1
		}
	}
	perChannel(c, len(x), func(ci int) {
		var mean, invStd float64
		if bn.training {
			var s, ss, k float64
			for i := 0; i < n; i++ {
				var a, b float64
				a, b, k = planeSums(x[(i*c+ci)*p:][:p], x[ci*p], bn.ones)
				s, ss = s+a, ss+b
			}
			d := s / float64(m)
			mean = k + d
			v := max(0, ss/float64(m)-d*d) // biased variance
			invStd = 1 / math.Sqrt(v+BNEpsilon)
			runMean[ci] = T((1-BNMomentum)*float64(runMean[ci]) + BNMomentum*mean)
			runVar[ci] = T((1-BNMomentum)*float64(runVar[ci]) + BNMomentum*v*float64(m)/float64(m-1))
		} else {
			mean = float64(runMean[ci])
			invStd = 1 / math.Sqrt(float64(runVar[ci])+BNEpsilon)
		}
		bn.useMean[ci], bn.invStd[ci] = mean, invStd
		a := float64(scale[ci]) * invStd
		b := T(float64(bias[ci]) - a*mean)
		at := T(a)
		bn.shift[ci] = float64(b)
		for i := 0; i < n; i++ {
			off := (i*c + ci) * p
			xs, ys := x[off:off+p], y[off:off+p]
			if bn.relu {
				for j, v := range xs {
					ys[j] = max(at*v+b, 0)
				}
			} else {
				for j, v := range xs {
					ys[j] = at*v + b
				}
			}
		}
	})
}

// planeSums is Σ(x − k) and Σ(x − k)² in float64 and the k it used.
// float32 planes take k = 0 and gonum's assembly Dsdot (x·1 and x·x):
// their products are exact in float64 and summed in float64, so the
// variance E[x²] − mean² loses only about log10(mean²/σ²) of float64's 16
// digits; float64 planes shift by first, the channel's first value.
func planeSums[T Float](xs []T, first T, ones []float32) (s, ss, k float64) {
	if x32, ok := any(xs).([]float32); ok && len(x32) >= 16 {
		n := len(x32)
		return level1.Dsdot(n, x32, 1, ones, 1), level1.Dsdot(n, x32, 1, x32, 1), 0
	}
	k = float64(first)
	s, ss = shiftedSums(xs, k)
	return s, ss, k
}

// shiftedSums is Σ(x − k) and Σ(x − k)² in float64. Four accumulators
// each, so the additions do not wait on one another (Go does not
// vectorise; one chain is bound by the adder's latency).
func shiftedSums[T Float](xs []T, k float64) (s, ss float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	j := 0
	for ; j+4 <= len(xs); j += 4 {
		v := xs[j : j+4 : j+4]
		d0, d1, d2, d3 := float64(v[0])-k, float64(v[1])-k, float64(v[2])-k, float64(v[3])-k
		s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
		q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
	}
	for ; j < len(xs); j++ {
		d := float64(xs[j]) - k
		s0, q0 = s0+d, q0+d*d
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

func (op bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff: one op computes dx and, on the side, d scale and d bias; two
// small ops hand those out, reading them after it ran (they take dx as
// input for the order).
func (op bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: want 3 inputs, got %d", op, len(inputs))
	}
	dx, err := G.ApplyOp(bnGradOp{bn: op.bn, bufs: &opBufs{}}, inputs[0], output, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	ds, err := G.ApplyOp(bnParamGradOp{bn: op.bn, bias: false}, dx)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(bnParamGradOp{bn: op.bn, bias: true}, dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, ds, db}, nil
}

// bnGradOp: (x, y, dy, scale) → dx, and the layer's dScale and dBias.
type bnGradOp struct {
	bn   *BatchNorm
	bufs *opBufs
}

func (op bnGradOp) buffers() *opBufs      { return op.bufs }
func (op bnGradOp) Arity() int            { return 4 }
func (op bnGradOp) Type() hm.Type         { return bnType(4) }
func (op bnGradOp) ReturnsPtr() bool      { return false }
func (op bnGradOp) CallsExtern() bool     { return false }
func (op bnGradOp) OverwritesInput() int  { return -1 }
func (op bnGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op bnGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bnGradOp) String() string        { return fmt.Sprintf("BatchNorm2dGrad{relu=%v}", op.bn.relu) }
func (op bnGradOp) DiffWRT(int) []bool    { return []bool{false, false, false, false} }
func (op bnGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}
func (op bnGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOfFirst(op, 4, ds)
}

func (op bnGradOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := denseArgs(vs, 4, op)
	if err != nil {
		return nil, err
	}
	x := a[0]
	n, c, p, err := op.bn.geom(op, x.Shape())
	if err != nil {
		return nil, err
	}
	for _, t := range a[1:3] {
		if !t.Shape().Eq(x.Shape()) {
			return nil, fmt.Errorf("%v: output or its gradient has shape %v, want %v", op, t.Shape(), x.Shape())
		}
	}
	dx := op.bufs.output(x.Dtype(), x.Shape())
	switch xd := x.Data().(type) {
	case []float32:
		bnBackward(op.bn, n, c, p, xd, a[1].Float32s(), a[2].Float32s(), a[3].Float32s(), dx.Float32s(), op.bn.dScale.Float32s(), op.bn.dBias.Float32s())
	case []float64:
		bnBackward(op.bn, n, c, p, xd, a[1].Float64s(), a[2].Float64s(), a[3].Float64s(), dx.Float64s(), op.bn.dScale.Float64s(), op.bn.dBias.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return dx, nil
}

// bnBackward: with dz = dy (times [y > 0] after ReLU) and x̂ = (x − μ)/σ,
// d bias = Σdz, d scale = Σdz·x̂, and in training
// dx = scale/σ · (dz − d bias/M − x̂ · d scale/M) (μ and σ depend on x);
// with running statistics dx = scale/σ · dz.
//
// After ReLU the first pass writes dz into dx (reluGrad, without a branch
// per element: which values ReLU cut is data, so a branch mispredicts
// about half the time) and the second pass turns it into dx in place. The
// mask is recomputed from x as the forward computed y, bit for bit, rather
// than read from y: the layers are larger than the caches, so a stream
// less to read saves more than the arithmetic costs.
func bnBackward[T Float](bn *BatchNorm, n, c, p int, x, y, dy, scale, dx, dScale, dBias []T) {
	m := float64(n * p)
	perChannel(c, len(x), func(ci int) {
		mean, invStd := bn.useMean[ci], bn.invStd[ci]
		var sdz, sdzx float64
		for i := 0; i < n; i++ {
			off := (i*c + ci) * p
			gs := dy[off : off+p]
			if bn.relu {
				reluGrad(x[off:off+p], gs, dx[off:off+p], T(float64(scale[ci])*invStd), T(bn.shift[ci]))
				gs = dx[off : off+p]
			}
			a, b := planeGradSums(gs, x[off:off+p], mean, bn.ones)
			sdz, sdzx = sdz+a, sdzx+b
		}
		dScale[ci], dBias[ci] = T(sdzx*invStd), T(sdz)
		k := float64(scale[ci]) * invStd
		// dx = k·dz + k1·x + k0, the training terms folded into k1 and k0
		var k1, k0 float64
		if bn.training {
			k1 = -k * sdzx * invStd * invStd / m
			k0 = -k*sdz/m - k1*mean
		}
		kt, k1t, k0t := T(k), T(k1), T(k0)
		for i := 0; i < n; i++ {
			off := (i*c + ci) * p
			xs, gs, out := x[off:off+p], dy[off:off+p], dx[off:off+p]
			if bn.relu {
				gs = out // dz, from the first pass
			}
			xs = xs[:len(out)]
			gs = gs[:len(out)]
			for j := range out {
				out[j] = kt*gs[j] + k1t*xs[j] + k0t
			}
		}
	})
}

// planeGradSums is gradSums, for float32 planes as Σg·1 and Σg·x − mean·Σg
// by gonum's assembly Dsdot (exact products, float64 sums).
func planeGradSums[T Float](gs, xs []T, mean float64, ones []float32) (s, sx float64) {
	if g32, ok := any(gs).([]float32); ok && len(g32) >= 16 {
		n := len(g32)
		s = level1.Dsdot(n, g32, 1, ones, 1)
		return s, level1.Dsdot(n, g32, 1, any(xs).([]float32), 1) - mean*s
	}
	return gradSums(gs, xs, mean)
}

// gradSums is Σg and Σg·(x − mean) in float64, four accumulators each.
func gradSums[T Float](gs, xs []T, mean float64) (s, sx float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	xs = xs[:len(gs)]
	j := 0
	for ; j+4 <= len(gs); j += 4 {
		g, v := gs[j:j+4:j+4], xs[j:j+4:j+4]
		g0, g1, g2, g3 := float64(g[0]), float64(g[1]), float64(g[2]), float64(g[3])
		s0, s1, s2, s3 = s0+g0, s1+g1, s2+g2, s3+g3
		q0 += g0 * (float64(v[0]) - mean)
		q1 += g1 * (float64(v[1]) - mean)
		q2 += g2 * (float64(v[2]) - mean)
		q3 += g3 * (float64(v[3]) - mean)
	}
	for ; j < len(gs); j++ {
		g := float64(gs[j])
		s0, q0 = s0+g, q0+g*(float64(xs[j])-mean)
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// reluGrad sets dz = dy where y = max(a·x + b, 0) ≠ 0 and 0 where y = 0
// (NaN passes its gradient on, as y ≤ 0 is false for it). It masks the bits
// rather than branching.
func reluGrad[T Float](x, dy, dz []T, a, b T) {
	switch xs := any(x).(type) {
	case []float32:
		gs, zs := any(dy).([]float32), any(dz).([]float32)
		a, b := float32(a), float32(b)
		gs, zs = gs[:len(xs)], zs[:len(xs)]
		for j, v := range xs {
			u := math.Float32bits(max(a*v+b, 0))
			// all ones unless u == 0: u | −u has the sign bit of any u ≠ 0
			mask := uint32(int32(u|-u) >> 31)
			zs[j] = math.Float32frombits(math.Float32bits(gs[j]) & mask)
		}
	case []float64:
		gs, zs := any(dy).([]float64), any(dz).([]float64)
		a, b := float64(a), float64(b)
		gs, zs = gs[:len(xs)], zs[:len(xs)]
		for j, v := range xs {
			u := math.Float64bits(max(a*v+b, 0))
			mask := uint64(int64(u|-u) >> 63)
			zs[j] = math.Float64frombits(math.Float64bits(gs[j]) & mask)
		}
	}
}

// bnParamGradOp hands out the d scale (or, with bias, d bias) that the
// layer's bnGradOp computed; its input is that op's output, for the order.
type bnParamGradOp struct {
	bn   *BatchNorm
	bias bool
}

func (op bnParamGradOp) Arity() int            { return 1 }
func (op bnParamGradOp) Type() hm.Type         { return bnType(1) }
func (op bnParamGradOp) ReturnsPtr() bool      { return false }
func (op bnParamGradOp) CallsExtern() bool     { return false }
func (op bnParamGradOp) OverwritesInput() int  { return -1 }
func (op bnParamGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op bnParamGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bnParamGradOp) String() string {
	if op.bias {
		return "BatchNorm2dGradBias"
	}
	return "BatchNorm2dGradScale"
}
func (op bnParamGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op bnParamGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}
func (op bnParamGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.out().Shape().Clone(), nil
}
func (op bnParamGradOp) out() *tensor.Dense {
	if op.bias {
		return op.bn.dBias
	}
	return op.bn.dScale
}
func (op bnParamGradOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(vs))
	}
	return op.out(), nil
}
