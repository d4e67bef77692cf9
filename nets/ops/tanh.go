package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/chewxy/math32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Tanh is tanh(x) elementwise, with its gradient dy·(1 − y²) as one op.
// Gorgonia's Tanh allocates its output on every run, runs on one core, and
// builds its gradient from three nodes (y², 1 − y², times dy), each a pass
// with a fresh tensor; this op keeps its output and its gradient's between
// runs (opBufs) and splits both passes over GOMAXPROCS goroutines (disjoint
// ranges, so the split does not change a bit). float32 values are those of
// Gorgonia's Tanh (chewxy/math32's, Cephes' tanhf: measured here, Go's
// float64 math.Tanh took three times as long), float64 ones math.Tanh's.
func Tanh(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(tanhOp{dims: x.Shape().Dims(), bufs: &opBufs{}}, x)
}

// tanhOp is the forward op (x → y) or, with grad, its gradient
// ((y, dy) → dx).
type tanhOp struct {
	dims int
	grad bool
	bufs *opBufs
}

func (op tanhOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op tanhOp) Type() hm.Type {
	t := G.TensorType{Dims: op.dims, Of: hm.TypeVariable('a')}
	if op.grad {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (op tanhOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOfFirst(op, op.Arity(), ds)
}
func (op tanhOp) ReturnsPtr() bool      { return false }
func (op tanhOp) CallsExtern() bool     { return false }
func (op tanhOp) OverwritesInput() int  { return -1 }
func (op tanhOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op tanhOp) Hashcode() uint32      { return hashOf(op) }
func (op tanhOp) String() string {
	if op.grad {
		return fmt.Sprintf("TanhGrad{%d}", op.dims)
	}
	return fmt.Sprintf("Tanh{%d}", op.dims)
}
func (op tanhOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = !op.grad
	}
	return out
}

func (op tanhOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
	}
	d, err := G.ApplyOp(tanhOp{dims: op.dims, grad: true, bufs: &opBufs{}}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// tanhParallelMin is the size from which the passes are split.
const tanhParallelMin = 1 << 14

func (op tanhOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := denseArgs(vs, op.Arity(), op)
	if err != nil {
		return nil, err
	}
	x := a[0]
	if op.grad && !a[1].Shape().Eq(x.Shape()) {
		return nil, fmt.Errorf("%v: output gradient has shape %v, want %v", op, a[1].Shape(), x.Shape())
	}
	out := op.bufs.output(x.Dtype(), x.Shape())
	switch d := x.Data().(type) {
	case []float32:
		tanhKernel(op.grad, d, a, out.Float32s(), (*tensor.Dense).Float32s)
	case []float64:
		tanhKernel(op.grad, d, a, out.Float64s(), (*tensor.Dense).Float64s)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

// tanhKernel: y = tanh(x), or with grad (x is then y) dx = dy·(1 − y²).
func tanhKernel[T Float](grad bool, x []T, a []*tensor.Dense, out []T, data func(*tensor.Dense) []T) {
	if grad {
		dy := data(a[1])
		parallel(len(x), 1, tanhParallelMin, func(lo, hi int) {
			ys, gs, o := x[lo:hi], dy[lo:hi], out[lo:hi]
			gs, o = gs[:len(ys)], o[:len(ys)]
			for i, y := range ys {
				o[i] = gs[i] * (1 - y*y)
			}
		})
		return
	}
	parallel(len(x), 1, tanhParallelMin, func(lo, hi int) {
		switch xs := any(x[lo:hi]).(type) {
		case []float32:
			o := any(out[lo:hi]).([]float32)[:len(xs)]
			for i, v := range xs {
				o[i] = math32.Tanh(v)
			}
		case []float64:
			o := any(out[lo:hi]).([]float64)
			for i, v := range xs {
				o[i] = math.Tanh(v)
			}
		}
	})
}
