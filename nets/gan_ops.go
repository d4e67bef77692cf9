package nets

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LeakyReLU is max(x, 0) + slope·min(x, 0) as one elementwise op with its
// own gradient (Gorgonia's LeakyRelu builds six nodes per call).
func LeakyReLU(x *G.Node, slope float64) (*G.Node, error) {
	if slope < 0 || slope >= 1 || math.IsNaN(slope) {
		return nil, fmt.Errorf("leaky relu: slope %g must be in [0, 1)", slope)
	}
	return G.ApplyOp(leakyOp{slope: slope, dims: x.Shape().Dims()}, x)
}

type leakyOp struct {
	slope float64
	dims  int
	grad  bool // the gradient op: inputs (x, dy), output dx
}

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
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape()...))
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
	d, err := G.ApplyOp(leakyOp{slope: op.slope, dims: op.dims, grad: true}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func leakyForward[T float](x []T, slope T, y []T) {
	for i, v := range x {
		if v < 0 {
			v *= slope
		}
		y[i] = v
	}
}

// leakyBackward: the derivative at 0 is taken as slope, as PyTorch does.
func leakyBackward[T float](x, dy []T, slope T, dx []T) {
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = slope * dy[i]
		}
	}
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
	copyDense(out, x)
	return out, nil
}

func (op reshapeOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(reshapeOp{from: op.to, to: op.from}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
