package ops

import (
	"fmt"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// What Conv2d and ConvTranspose2d have in common as Gorgonia ops. Each
// keeps its own output shape, kernels and error prefix; this file holds the
// plumbing around them, which was the same line for line.

// binary4DOp supplies the Op methods that the convolutions and their
// gradient ops answer alike: two 4-D operands of one dtype giving a 4-D
// value that the op writes itself (no view of an input, no input
// overwritten), on the CPU.
type binary4DOp struct{}

func (binary4DOp) Arity() int { return 2 }
func (binary4DOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (binary4DOp) ReturnsPtr() bool     { return false }
func (binary4DOp) CallsExtern() bool    { return false }
func (binary4DOp) OverwritesInput() int { return -1 }

// convLike is what the shared Do needs of a forward op: its output shape
// for an input and kernel shape, and where it keeps its output.
type convLike interface {
	outShape(xs, ws tensor.Shape) (tensor.Shape, error)
	buffers() *opBufs
}

// convGradLike is a gradient op: with wrtInput it computes dX from
// (W, dY), otherwise dW from (X, dY); gradShape is the gradient's shape.
type convGradLike interface {
	convLike
	fmt.Stringer
	grad() (wrtInput bool, gradShape tensor.Shape)
}

// convKernel fills out from a and b, given the forward's input, kernel and
// output shapes; it is one dtype's instance of a generic kernel.
type convKernel[O any, T Float] func(op O, xs, ws, os tensor.Shape, a, b, out []T)

// inferConvShape is InferShape of a forward op.
func inferConvShape(op convLike, what string, ds []G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(ds))
	}
	xs, ok1 := ds[0].(tensor.Shape)
	ws, ok2 := ds[1].(tensor.Shape)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: inputs must have tensor shapes, got %T and %T", what, ds[0], ds[1])
	}
	return op.outShape(xs, ws)
}

// gradWhich is the letter of the input a gradient op differentiates by.
func gradWhich(wrtInput bool) string {
	if wrtInput {
		return "X"
	}
	return "W"
}

// doForward is Do of a forward op: (X, W) → Y, written into the op's kept
// output by the kernel for the dtype.
func doForward[O convLike](op O, vs []G.Value, what string, k32 convKernel[O, float32], k64 convKernel[O, float64]) (G.Value, error) {
	x, w, err := twoDense(vs, what)
	if err != nil {
		return nil, err
	}
	os, err := op.outShape(x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	out := op.buffers().output(x.Dtype(), os)
	if !runKernel(op, x.Shape(), w.Shape(), os, x, w, out, k32, k64) {
		return nil, fmt.Errorf("%s: unsupported dtype %v", what, x.Dtype())
	}
	return out, nil
}

// doGrad is Do of a gradient op: (W or X, dY) → dX or dW, after checking
// dY against the forward's output shape.
func doGrad[O convGradLike](op O, vs []G.Value, k32 convKernel[O, float32], k64 convKernel[O, float64]) (G.Value, error) {
	name := op.String()
	a, dy, err := twoDense(vs, name)
	if err != nil {
		return nil, err
	}
	wrtInput, shape := op.grad()
	xs, ws := a.Shape(), shape
	if wrtInput {
		xs, ws = shape, a.Shape()
	}
	os, err := op.outShape(xs, ws)
	if err != nil {
		return nil, err
	}
	if !os.Eq(dy.Shape()) {
		return nil, fmt.Errorf("%s: output gradient has shape %v, want %v", name, dy.Shape(), os)
	}
	out := op.buffers().output(a.Dtype(), shape)
	if !runKernel(op, xs, ws, os, a, dy, out, k32, k64) {
		return nil, fmt.Errorf("%s: unsupported dtype %v", name, a.Dtype())
	}
	return out, nil
}

// runKernel runs k32 or k64 by a's dtype (b and out share it); false for
// any other dtype.
func runKernel[O any](op O, xs, ws, os tensor.Shape, a, b, out *tensor.Dense, k32 convKernel[O, float32], k64 convKernel[O, float64]) bool {
	switch ad := a.Data().(type) {
	case []float32:
		k32(op, xs, ws, os, ad, b.Data().([]float32), out.Data().([]float32))
	case []float64:
		k64(op, xs, ws, os, ad, b.Data().([]float64), out.Data().([]float64))
	default:
		return false
	}
	return true
}

// convSymDiff is SymDiff of a forward op with inputs (X, W): dX from
// (W, dY) and dW from (X, dY), each by its own gradient op (gradOp gives
// it fresh buffers).
func convSymDiff(what string, inputs G.Nodes, grad *G.Node, gradOp func(wrtInput bool, shape tensor.Shape) G.Op) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(inputs))
	}
	x, w := inputs[0], inputs[1]
	dx, err := G.ApplyOp(gradOp(true, x.Shape().Clone()), w, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(gradOp(false, w.Shape().Clone()), x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convScratch is one kernel call's borrowed scratch: im2col columns and,
// when a chunk unrolls several images side by side, a buffer to regroup
// them in.
type convScratch[T Float] struct {
	cols, tmp []T
	cp, tp    *[]T
}

func borrowConvScratch[T Float](chunk, nCols, nTmp int) convScratch[T] {
	s := convScratch[T]{cp: borrow[T](nCols)}
	s.cols = *s.cp
	if chunk > 1 {
		s.tp = borrow[T](nTmp)
		s.tmp = *s.tp
	}
	return s
}

// release gives the regrouping buffer back first, then the columns (the
// order the pool then hands them out in is part of what allocates).
func (s convScratch[T]) release() {
	if s.tp != nil {
		giveBack(s.tp)
	}
	giveBack(s.cp)
}

func twoDense(vs []G.Value, what string) (*tensor.Dense, *tensor.Dense, error) {
	if len(vs) != 2 {
		return nil, nil, fmt.Errorf("%s: want 2 inputs, got %d", what, len(vs))
	}
	a, ok1 := vs[0].(*tensor.Dense)
	b, ok2 := vs[1].(*tensor.Dense)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%s: inputs must be dense tensors, got %T and %T", what, vs[0], vs[1])
	}
	if a.Dtype() != b.Dtype() {
		return nil, nil, fmt.Errorf("%s: mixed dtypes %v and %v", what, a.Dtype(), b.Dtype())
	}
	return a, b, nil
}

func hashOf(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, op.String())
	return h.Sum32()
}
