package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LeakyReLU is max(x, 0) + slope·min(x, 0) as one elementwise op with its
// own gradient (Gorgonia's LeakyRelu builds six nodes per call). Its
// output, and its gradient's, are kept between runs (opBufs) and computed
// on every core: in a BiGAN step at 128 px the activations of the encoder
// and discriminator trunks are the largest tensors no convolution keeps,
// and writing them into fresh memory each step (page faults) on one core
// took a sixth of the step's wall time.
func LeakyReLU(x *G.Node, slope float64) (*G.Node, error) {
	if slope < 0 || slope >= 1 || math.IsNaN(slope) {
		return nil, fmt.Errorf("leaky relu: slope %g must be in [0, 1)", slope)
	}
	return G.ApplyOp(leakyOp{slope: slope, dims: x.Shape().Dims(), bufs: &opBufs{}}, x)
}

type leakyOp struct {
	slope float64
	dims  int
	grad  bool // the gradient op: inputs (x, dy), output dx
	bufs  *opBufs
}

func (op leakyOp) buffers() *opBufs { return op.bufs }

func (op leakyOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op leakyOp) Type() hm.Type {
	t := G.TensorType{Dims: op.dims, Of: hm.TypeVariable('a')}
	if op.grad {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (op leakyOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input must have a tensor shape, got %T", op, ds[0])
	}
	return s.Clone(), nil
}
func (op leakyOp) ReturnsPtr() bool      { return false }
func (op leakyOp) CallsExtern() bool     { return false }
func (op leakyOp) OverwritesInput() int  { return -1 }
func (op leakyOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op leakyOp) Hashcode() uint32      { return hashOf(op) }
func (op leakyOp) String() string {
	if op.grad {
		return fmt.Sprintf("LeakyReLUGrad{%g,%d}", op.slope, op.dims)
	}
	return fmt.Sprintf("LeakyReLU{%g,%d}", op.slope, op.dims)
}
func (op leakyOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = !op.grad
	}
	return out
}

func (op leakyOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(vs))
	}
	x, ok := vs[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v: input must be a dense tensor, got %T", op, vs[0])
	}
	out := op.bufs.output(x.Dtype(), x.Shape())
	var dy *tensor.Dense
	if op.grad {
		if dy, ok = vs[1].(*tensor.Dense); !ok || !dy.Shape().Eq(x.Shape()) || dy.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("%v: output gradient does not match the input %v", op, x.Shape())
		}
	}
	switch d := x.Data().(type) {
	case []float32:
		if op.grad {
			leakyBackward(d, dy.Float32s(), float32(op.slope), out.Float32s())
		} else {
			leakyForward(d, float32(op.slope), out.Float32s())
		}
	case []float64:
		if op.grad {
			leakyBackward(d, dy.Float64s(), op.slope, out.Float64s())
		} else {
			leakyForward(d, op.slope, out.Float64s())
		}
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

func (op leakyOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
	}
	d, err := G.ApplyOp(leakyOp{slope: op.slope, dims: op.dims, grad: true, bufs: &opBufs{}}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// elementwiseMin is the smallest elementwise op worth spreading over goroutines.
const elementwiseMin = 1 << 15

func leakyForward[T Float](x []T, slope T, y []T) {
	if x32, ok := any(x).([]float32); ok {
		leakyForward32(x32, float32(slope), any(y).([]float32))
		return
	}
	parallel(len(x), 1, elementwiseMin, func(lo, hi int) {
		y := y[lo:hi]
		for i, v := range x[lo:hi] {
			if v < 0 {
				v *= slope
			}
			y[i] = v
		}
	})
}

// leakyBackward: the derivative at 0 is taken as slope, as PyTorch does.
func leakyBackward[T Float](x, dy []T, slope T, dx []T) {
	if x32, ok := any(x).([]float32); ok {
		leakyBackward32(x32, any(dy).([]float32), float32(slope), any(dx).([]float32))
		return
	}
	parallel(len(x), 1, elementwiseMin, func(lo, hi int) {
		dy, dx := dy[lo:hi], dx[lo:hi]
		for i, v := range x[lo:hi] {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = slope * dy[i]
			}
		}
	})
}

// leakyForward32 and leakyBackward32 are the float32 loops without a
// branch on the sign: a pre-activation's sign is close to random, so the
// branch of the generic loops is mispredicted about every other element
// (measured on BiGAN at 64 px: LeakyReLU and its gradient took 4 % of a
// training step). Each multiplies by a factor chosen as bits, 1 or the
// slope, which the compiler selects with a conditional move; v·1 = v, so
// the results are bit for bit those of the branches.
func leakyForward32(x []float32, slope float32, y []float32) {
	one, sl := math.Float32bits(1), math.Float32bits(slope)
	parallel(len(x), 1, elementwiseMin, func(lo, hi int) {
		y := y[lo:hi]
		for i, v := range x[lo:hi] {
			f := one
			if v < 0 {
				f = sl
			}
			y[i] = v * math.Float32frombits(f)
		}
	})
}

func leakyBackward32(x, dy []float32, slope float32, dx []float32) {
	one, sl := math.Float32bits(1), math.Float32bits(slope)
	parallel(len(x), 1, elementwiseMin, func(lo, hi int) {
		dy, dx := dy[lo:hi], dx[lo:hi]
		for i, v := range x[lo:hi] {
			f := sl
			if v > 0 {
				f = one
			}
			dx[i] = dy[i] * math.Float32frombits(f)
		}
	})
}

// Reshape is a copying reshape. Gorgonia's own Reshape shares memory with
// its input, and its gradient with the incoming gradient; when two
// reshaped branches meet again (μ + s·ε in α-GAN) the shared gradient
// buffer is overwritten and the gradient comes out wrong (measured here:
// up to a few percent against central differences). Copying costs little.
func Reshape(x *G.Node, to tensor.Shape) (*G.Node, error) {
	if x.Shape().TotalSize() != to.TotalSize() {
		return nil, fmt.Errorf("reshape: %v and %v differ in size", x.Shape(), to)
	}
	return G.ApplyOp(reshapeOp{from: x.Shape().Clone(), to: to.Clone()}, x)
}

type reshapeOp struct{ from, to tensor.Shape }

func (op reshapeOp) Arity() int { return 1 }
func (op reshapeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.from.Dims(), Of: a}, G.TensorType{Dims: op.to.Dims(), Of: a})
}
func (op reshapeOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }
func (op reshapeOp) ReturnsPtr() bool                               { return false }
func (op reshapeOp) CallsExtern() bool                              { return false }
func (op reshapeOp) OverwritesInput() int                           { return -1 }
func (op reshapeOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op reshapeOp) Hashcode() uint32                               { return hashOf(op) }
func (op reshapeOp) String() string                                 { return fmt.Sprintf("CopyReshape%v→%v", op.from, op.to) }
func (op reshapeOp) DiffWRT(int) []bool                             { return []bool{true} }

func (op reshapeOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(vs))
	}
	x, ok := vs[0].(*tensor.Dense)
	if !ok || x.Shape().TotalSize() != op.to.TotalSize() {
		return nil, fmt.Errorf("%v: input %T does not fit", op, vs[0])
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(op.to...))
	CopyDense(out, x)
	return out, nil
}

func (op reshapeOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(reshapeOp{from: op.to, to: op.from}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// ConcatCols joins (N, A) and (N, B) into (N, A+B) by copying; its
// gradient slices are copies too (Gorgonia's Concat hands views of one
// gradient buffer to both inputs, with the same hazard as its Reshape).
func ConcatCols(a, b *G.Node) (*G.Node, error) {
	as, bs := a.Shape(), b.Shape()
	if as.Dims() != 2 || bs.Dims() != 2 || as[0] != bs[0] {
		return nil, fmt.Errorf("concat: %v and %v must be matrices with the same number of rows", as, bs)
	}
	return G.ApplyOp(concatOp{n: as[0], a: as[1], b: bs[1]}, a, b)
}

// concatOp joins columns; with part 1 or 2 it is instead the gradient
// slice for that input (arity 1).
type concatOp struct{ n, a, b, part int }

func (op concatOp) Arity() int {
	if op.part == 0 {
		return 2
	}
	return 1
}
func (op concatOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	if op.part == 0 {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (op concatOp) shape() tensor.Shape {
	switch op.part {
	case 1:
		return tensor.Shape{op.n, op.a}
	case 2:
		return tensor.Shape{op.n, op.b}
	}
	return tensor.Shape{op.n, op.a + op.b}
}
func (op concatOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op concatOp) ReturnsPtr() bool                               { return false }
func (op concatOp) CallsExtern() bool                              { return false }
func (op concatOp) OverwritesInput() int                           { return -1 }
func (op concatOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op concatOp) Hashcode() uint32                               { return hashOf(op) }
func (op concatOp) String() string {
	return fmt.Sprintf("ConcatCols{%d,%d,%d,%d}", op.n, op.a, op.b, op.part)
}
func (op concatOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = op.part == 0
	}
	return out
}

func (op concatOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(vs))
	}
	x, ok := vs[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v: input must be dense, got %T", op, vs[0])
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(op.shape()...))
	w := op.a + op.b
	switch op.part {
	case 0:
		y, ok := vs[1].(*tensor.Dense)
		if !ok || y.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("%v: inputs must be dense of one dtype", op)
		}
		switch d := out.Data().(type) {
		case []float32:
			joinCols(d, x.Float32s(), y.Float32s(), op.n, op.a, op.b)
		case []float64:
			joinCols(d, x.Float64s(), y.Float64s(), op.n, op.a, op.b)
		}
	default:
		from, width := 0, op.a
		if op.part == 2 {
			from, width = op.a, op.b
		}
		switch d := out.Data().(type) {
		case []float32:
			cutCols(d, x.Float32s(), op.n, w, from, width)
		case []float64:
			cutCols(d, x.Float64s(), op.n, w, from, width)
		}
	}
	return out, nil
}

func (op concatOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.part != 0 {
		return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
	}
	da, err := G.ApplyOp(concatOp{n: op.n, a: op.a, b: op.b, part: 1}, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(concatOp{n: op.n, a: op.a, b: op.b, part: 2}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, db}, nil
}

func joinCols[T Float](out, x, y []T, n, a, b int) {
	for i := 0; i < n; i++ {
		copy(out[i*(a+b):], x[i*a:(i+1)*a])
		copy(out[i*(a+b)+a:], y[i*b:(i+1)*b])
	}
}

func cutCols[T Float](out, x []T, n, w, from, width int) {
	for i := 0; i < n; i++ {
		copy(out[i*width:(i+1)*width], x[i*w+from:i*w+from+width])
	}
}
