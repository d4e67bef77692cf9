package ops

import (
	"fmt"
	"hash"
	"math"
	"math/rand"
	"unsafe"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// snEps keeps the power iteration's normalisation finite for a zero
// weight, as in the authors' l2normalize.
const snEps = 1e-12

// SNState is the power-iteration state of one spectrally normalised
// weight: u (the weight's first dimension) and v (the product of the
// others). It lives in the model, is updated once per training step and is
// checkpointed, so a resumed run continues the same iteration.
type SNState struct {
	Weight string // the parameter it normalises
	U, V   *tensor.Dense
}

// NewSNState draws u and v from N(0,1) and normalises them, as the
// authors' SpectralNorm does.
func NewSNState(dt tensor.Dtype, weight string, shape tensor.Shape, r *rand.Rand) *SNState {
	h := shape[0]
	w := shape.TotalSize() / h
	s := &SNState{Weight: weight,
		U: tensor.New(tensor.Of(dt), tensor.WithShape(h)),
		V: tensor.New(tensor.Of(dt), tensor.WithShape(w))}
	for _, t := range []*tensor.Dense{s.U, s.V} {
		switch d := t.Data().(type) {
		case []float32:
			for i := range d {
				d[i] = float32(r.NormFloat64())
			}
			normalize(d)
		case []float64:
			for i := range d {
				d[i] = r.NormFloat64()
			}
			normalize(d)
		}
	}
	return s
}

// PowerIterate runs one step of the power iteration on w viewed as a
// (shape[0] × rest) matrix: v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖.
func PowerIterate(w *tensor.Dense, s *SNState) {
	switch wd := w.Data().(type) {
	case []float32:
		powerStep(wd, s.U.Float32s(), s.V.Float32s())
	case []float64:
		powerStep(wd, s.U.Float64s(), s.V.Float64s())
	}
}

func powerStep[T Float](w, u, v []T) {
	h, n := len(u), len(v)
	// accumulate in float64 so float32 weights do not lose the iteration;
	// each goroutine takes whole columns (then whole rows), so every sum
	// runs in the same order however the work is split
	acc := make([]float64, n)
	parallel(n, h, elementwiseMin, func(lo, hi int) {
		a := acc[lo:hi]
		for i := 0; i < h; i++ {
			ui := float64(u[i])
			for j, x := range w[i*n+lo : i*n+hi] {
				a[j] += float64(x) * ui
			}
		}
	})
	for j := range v {
		v[j] = T(acc[j])
	}
	normalize(v)
	parallel(h, n, elementwiseMin, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			u[i] = T(dotF64(w[i*n:(i+1)*n], v))
		}
	})
	normalize(u)
}

// dot64 is x·y summed in float64 in four partial sums by index mod 4
// (one chain of additions would wait on each addition's latency).
func dot64[T Float](x, y []T) float64 {
	y = y[:len(x)]
	var s [4]float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s[0] += float64(x[i]) * float64(y[i])
		s[1] += float64(x[i+1]) * float64(y[i+1])
		s[2] += float64(x[i+2]) * float64(y[i+2])
		s[3] += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		s[i&3] += float64(x[i]) * float64(y[i])
	}
	return (s[0] + s[1]) + (s[2] + s[3])
}

// dotF64 is x·y with float64 products and sums: for float32, gonum's
// assembly Dsdot (two float64 lanes, partial sums by index mod 4), where
// dot64's scalar loop, converting every element, made these dot products
// most of the spectral norm's time (measured on BiGAN at 64 px, 8 % of a
// training step). That kernel first sums elements one by one up to y's
// 16-byte boundary, which would make the grouping depend on where y lies;
// the callers pass as y a tensor's own data (u, v, a weight) at an offset
// of whole 16-byte units, and Go's allocator places every heap object of
// 32 bytes or more on a 16-byte boundary, so the kernel sums in an order
// fixed by the length. Anything else (short or unaligned) takes dot64.
func dotF64[T Float](x, y []T) float64 {
	if x32, ok := any(x).([]float32); ok && len(x32) >= 8 {
		y32 := any(y).([]float32)[:len(x32)]
		if uintptr(unsafe.Pointer(&y32[0]))&15 == 0 {
			return level1.Dsdot(len(x32), x32, 1, y32, 1)
		}
	}
	return dot64(x, y)
}

func normalize[T Float](x []T) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	d := math.Sqrt(s) + snEps
	for i := range x {
		x[i] = T(float64(x[i]) / d)
	}
}

// SpectralNorm returns w/σ with σ = uᵀ·W·v, W being w viewed as a
// (shape[0] × rest) matrix and u, v the power-iteration vectors (Miyato et
// al. 2018). u and v are constants of the graph (the iteration runs outside
// it, once per update), but σ is computed from w in the graph, so the
// gradient includes the −(g·W)/σ²·u·vᵀ term through σ, as in the authors'
// PyTorch code.
//
// One op with its own gradient op, keeping its output between runs, rather
// than Gorgonia's reshape, two products and a broadcast division (and their
// seven gradient nodes): measured on BiGAN at 64 px, those took 15 % of a
// training step, copying and dividing every normalised weight several times.
func SpectralNorm(w, u, v *G.Node) (*G.Node, error) {
	ws := w.Shape()
	if ws.Dims() < 2 {
		return nil, fmt.Errorf("spectral norm: weight %v must have at least 2 dimensions", ws)
	}
	h := ws[0]
	n := ws.TotalSize() / h
	if !u.Shape().Eq(tensor.Shape{h}) || !v.Shape().Eq(tensor.Shape{n}) {
		return nil, fmt.Errorf("spectral norm: weight %v needs u of shape (%d) and v of shape (%d), got %v and %v", ws, h, n, u.Shape(), v.Shape())
	}
	return G.ApplyOp(snOp{dims: ws.Dims(), bufs: &opBufs{}, memo: &snMemo{}}, w, u, v)
}

// snOp is W/σ from (w, u, v); with grad, it is the gradient with respect
// to w from (w, u, v, dY).
type snOp struct {
	dims int
	grad bool
	bufs *opBufs
	memo *snMemo // shared by a graph's forward op and its gradient op; nil outside graphs
}

// snMemo is the σ a graph's forward op computed, which its gradient op
// takes instead of computing uᵀ·W·v again: in a run the gradient always
// follows the forward op, on the same w, u and v, so the value is the one
// it would compute (one pass over every normalised weight less per
// training step).
type snMemo struct {
	sigma float64
	ok    bool
}

func (op snOp) buffers() *opBufs { return op.bufs }

func (op snOp) Arity() int {
	if op.grad {
		return 4
	}
	return 3
}
func (op snOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t, vec := G.TensorType{Dims: op.dims, Of: a}, G.TensorType{Dims: 1, Of: a}
	if op.grad {
		return hm.NewFnType(t, vec, vec, t, t)
	}
	return hm.NewFnType(t, vec, vec, t)
}
func (op snOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: weight must have a tensor shape, got %T", op, ds[0])
	}
	return s.Clone(), nil
}
func (op snOp) ReturnsPtr() bool      { return false }
func (op snOp) CallsExtern() bool     { return false }
func (op snOp) OverwritesInput() int  { return -1 }
func (op snOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op snOp) Hashcode() uint32      { return hashOf(op) }
func (op snOp) String() string {
	if op.grad {
		return fmt.Sprintf("SpectralNormGrad{%d}", op.dims)
	}
	return fmt.Sprintf("SpectralNorm{%d}", op.dims)
}
func (op snOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	out[0] = !op.grad // u and v are constants
	return out
}

func (op snOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
	}
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: want 3 inputs, got %d", op, len(inputs))
	}
	d, err := G.ApplyOp(snOp{dims: op.dims, grad: true, bufs: &opBufs{}, memo: op.memo}, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil, nil}, nil
}

func (op snOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(vs))
	}
	ds := make([]*tensor.Dense, len(vs))
	for i, v := range vs {
		d, ok := v.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%v: input %d must be a dense tensor, got %T", op, i, v)
		}
		if d.Dtype() != ds0(ds, d).Dtype() {
			return nil, fmt.Errorf("%v: mixed dtypes %v and %v", op, ds[0].Dtype(), d.Dtype())
		}
		ds[i] = d
	}
	w, u, v := ds[0], ds[1], ds[2]
	h := w.Shape()[0]
	n := w.Shape().TotalSize() / h
	if u.Shape().TotalSize() != h || v.Shape().TotalSize() != n {
		return nil, fmt.Errorf("%v: weight %v with u %v and v %v", op, w.Shape(), u.Shape(), v.Shape())
	}
	if op.grad && !ds[3].Shape().Eq(w.Shape()) {
		return nil, fmt.Errorf("%v: output gradient %v, weight %v", op, ds[3].Shape(), w.Shape())
	}
	out := op.bufs.output(w.Dtype(), w.Shape())
	switch wd := w.Data().(type) {
	case []float32:
		sigma := op.sigma32(wd, u.Float32s(), v.Float32s(), h, n, out.Float32s())
		if op.grad {
			snBackward(wd, u.Float32s(), v.Float32s(), ds[3].Float32s(), sigma, out.Float32s())
		} else {
			snForward(wd, sigma, out.Float32s())
		}
	case []float64:
		sigma := op.sigma64(wd, u.Float64s(), v.Float64s(), h, n, out.Float64s())
		if op.grad {
			snBackward(wd, u.Float64s(), v.Float64s(), ds[3].Float64s(), sigma, out.Float64s())
		} else {
			snForward(wd, sigma, out.Float64s())
		}
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, w.Dtype())
	}
	return out, nil
}

// sigma32 and sigma64 are snSigma, recorded by a forward op in its memo
// and taken from there by the gradient op.
func (op snOp) sigma32(w, u, v []float32, h, n int, scratch []float32) float32 {
	if op.grad && op.memo != nil && op.memo.ok {
		return float32(op.memo.sigma)
	}
	s := snSigma(w, u, v, h, n, scratch)
	if !op.grad && op.memo != nil {
		op.memo.sigma, op.memo.ok = float64(s), true
	}
	return s
}

func (op snOp) sigma64(w, u, v []float64, h, n int, scratch []float64) float64 {
	if op.grad && op.memo != nil && op.memo.ok {
		return op.memo.sigma
	}
	s := snSigma(w, u, v, h, n, scratch)
	if !op.grad && op.memo != nil {
		op.memo.sigma, op.memo.ok = s, true
	}
	return s
}

func ds0(ds []*tensor.Dense, d *tensor.Dense) *tensor.Dense {
	if ds[0] != nil {
		return ds[0]
	}
	return d
}

// snSigma is uᵀ·W·v, computed as the graph of products did: W·v by the
// BLAS's gemv into scratch (the first h elements of out, overwritten
// afterwards), then its dot product with u, so that the forward value is
// the one the earlier graph gave, bit for bit.
func snSigma[T Float](w, u, v []T, h, n int, scratch []T) T {
	wv := scratch[:h]
	switch wf := any(w).(type) {
	case []float32:
		blasImpl.Sgemv(blas.NoTrans, h, n, 1, wf, n, any(v).([]float32), 1, 0, any(wv).([]float32), 1)
		return T(blasImpl.Sdot(h, any(u).([]float32), 1, any(wv).([]float32), 1))
	case []float64:
		blasImpl.Dgemv(blas.NoTrans, h, n, 1, wf, n, any(v).([]float64), 1, 0, any(wv).([]float64), 1)
		return T(blasImpl.Ddot(h, any(u).([]float64), 1, any(wv).([]float64), 1))
	}
	return 0
}

// snForward is W·(1/σ): a product per weight rather than a division,
// which Go does not vectorise and which made this loop several times
// slower than memory allows (the product can differ from W/σ in the last
// bit).
func snForward[T Float](w []T, sigma T, out []T) {
	inv := T(1 / float64(sigma))
	parallel(len(w), 1, elementwiseMin, func(lo, hi int) {
		o := out[lo:hi]
		for i, x := range w[lo:hi] {
			o[i] = x * inv
		}
	})
}

// snChunk is the length of the pieces snBackward sums dY⊙W in: fixed, so
// that the sum's order does not depend on the number of goroutines.
const snChunk = 1 << 14

// snBackward: for Y = W/σ, dW = dY/σ − (Σ dY⊙W)/σ² · u·vᵀ (the sum in
// float64, by pieces of snChunk added in order; dY/σ as dY·(1/σ), as in
// snForward).
func snBackward[T Float](w, u, v, dy []T, sigma T, out []T) {
	parts := make([]float64, (len(w)+snChunk-1)/snChunk)
	parallel(len(parts), snChunk, elementwiseMin, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			end := min((c+1)*snChunk, len(w))
			parts[c] = dotF64(dy[c*snChunk:end], w[c*snChunk:end])
		}
	})
	var s float64
	for _, p := range parts {
		s += p
	}
	c := T(-s / (float64(sigma) * float64(sigma)))
	inv := T(1 / float64(sigma))
	n := len(v)
	parallel(len(u), n, elementwiseMin, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			cu := c * u[i]
			row, drow := out[i*n:(i+1)*n], dy[i*n:(i+1)*n]
			for j, vj := range v {
				row[j] = drow[j]*inv + cu*vj
			}
		}
	})
}
