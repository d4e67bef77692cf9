package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AddBias is x + b for a per-channel bias: x is (N, C, H, W) with b
// (1, C, 1, 1), or (N, C) with b (1, C). It replaces Gorgonia's
// BroadcastAdd, which first materialises b repeated to x's shape (three
// repeat ops, each a copy of the whole tensor, then an add): at 128 px
// those copies were 9 % of a BiGAN scoring pass. The output is kept
// between runs (opBufs).
//
// Its gradient is built from the very nodes BroadcastAdd's gradient is
// (dx = dy; db = dy summed over W, then H, then N, the repeats' reverse
// order, then reshaped), so training computes the same bits as before.
func AddBias(x, b *G.Node) (*G.Node, error) {
	xs, bs := x.Shape(), b.Shape()
	ok := xs.Dims() == bs.Dims() && (xs.Dims() == 4 || xs.Dims() == 2) && bs[0] == 1 && bs[1] == xs[1]
	for d := 2; ok && d < bs.Dims(); d++ {
		ok = bs[d] == 1
	}
	if !ok {
		return nil, fmt.Errorf("bias: %v does not broadcast over %v per channel", bs, xs)
	}
	return G.ApplyOp(biasOp{x: xs.Clone(), bufs: &opBufs{}}, x, b)
}

type biasOp struct {
	x    tensor.Shape
	bufs *opBufs
}

func (op biasOp) buffers() *opBufs { return op.bufs }
func (op biasOp) Arity() int       { return 2 }
func (op biasOp) Type() hm.Type {
	t := G.TensorType{Dims: op.x.Dims(), Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op biasOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.x.Clone(), nil }
func (op biasOp) ReturnsPtr() bool                               { return false }
func (op biasOp) CallsExtern() bool                              { return false }
func (op biasOp) OverwritesInput() int                           { return -1 }
func (op biasOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op biasOp) Hashcode() uint32                               { return hashOf(op) }
func (op biasOp) String() string                                 { return fmt.Sprintf("AddBias%v", op.x) }
func (op biasOp) DiffWRT(int) []bool                             { return []bool{true, true} }

func (op biasOp) Do(vs ...G.Value) (G.Value, error) {
	x, b, err := twoDense(vs, op.String())
	if err != nil {
		return nil, err
	}
	if !x.Shape().Eq(op.x) || b.Shape().TotalSize() != op.x[1] || b.Dtype() != x.Dtype() {
		return nil, fmt.Errorf("%v: inputs %v and %v do not fit", op, x.Shape(), b.Shape())
	}
	n, c := op.x[0], op.x[1]
	p := op.x.TotalSize() / (n * c)
	out := op.bufs.output(x.Dtype(), op.x)
	switch xd := x.Data().(type) {
	case []float32:
		biasForward(xd, b.Float32s(), n, c, p, out.Float32s())
	case []float64:
		biasForward(xd, b.Float64s(), n, c, p, out.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

// biasForward adds b to every plane of x, the planes spread over the
// workers (each written by one goroutine).
func biasForward[T Float](x, b []T, n, c, p int, y []T) {
	parallel(n*c, p, elementwiseMin, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			bv, off := b[t%c], t*p
			ys := y[off : off+p]
			for j, v := range x[off : off+p] {
				ys[j] = v + bv
			}
		}
	})
}

func (op biasOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	db := grad
	var err error
	for d := op.x.Dims() - 1; d >= 0; d-- {
		if d == 1 {
			continue // the channel axis is not broadcast
		}
		if db, err = G.Sum(db, d); err != nil {
			return nil, fmt.Errorf("%v gradient: %w", op, err)
		}
	}
	if db, err = G.Reshape(db, inputs[1].Shape().Clone()); err != nil {
		return nil, fmt.Errorf("%v gradient: %w", op, err)
	}
	return G.Nodes{grad, db}, nil
}
