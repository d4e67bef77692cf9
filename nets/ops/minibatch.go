package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MinibatchDiscrimination is the layer of Salimans et al. 2016 ("Improved
// techniques for training GANs", §3.2): features f (N, A) are projected by
// T (A, B·C) to M (N, B, C); for every kernel b the closeness of image i to
// the rest of the batch is o_ib = Σ_{j≠i} exp(−‖M_ib − M_jb‖₁), and the
// layer returns [f, o] of shape (N, A+B). Excluding j = i drops the constant
// 1 of the paper's sum, which carries no gradient.
//
// Because o depends on the other images of the batch, a discriminator with
// this layer scores an image relative to its batch, as the paper's does.
func MinibatchDiscrimination(f, t *G.Node, kernels, dims int) (*G.Node, error) {
	fs, ts := f.Shape(), t.Shape()
	if fs.Dims() != 2 || ts.Dims() != 2 || fs[1] != ts[0] || ts[1] != kernels*dims {
		return nil, fmt.Errorf("minibatch discrimination: features %v and T %v do not fit %d kernels of %d dimensions (want (N, A) and (A, %d))",
			fs, ts, kernels, dims, kernels*dims)
	}
	m, err := projectKernels(f, t, kernels, dims, "f")
	if err != nil {
		return nil, err
	}
	o, err := G.ApplyOp(mbdOp{}, m)
	if err != nil {
		return nil, fmt.Errorf("minibatch discrimination: %w", err)
	}
	out, err := ConcatCols(f, o)
	if err != nil {
		return nil, fmt.Errorf("minibatch discrimination: concat: %w", err)
	}
	return out, nil
}

// projectKernels is M = x·T reshaped to (N, kernels, dims), the
// projection both minibatch layers start from.
func projectKernels(x, t *G.Node, kernels, dims int, name string) (*G.Node, error) {
	m, err := G.Mul(x, t)
	if err != nil {
		return nil, fmt.Errorf("minibatch discrimination: %s·T: %w", name, err)
	}
	if m, err = Reshape(m, tensor.Shape{x.Shape()[0], kernels, dims}); err != nil {
		return nil, fmt.Errorf("minibatch discrimination: %w", err)
	}
	return m, nil
}

// mbdOp maps M (N, B, C) to o (N, B), o_ib = Σ_{j≠i} exp(−Σ_c |M_ibc − M_jbc|).
type mbdOp struct{}

func (mbdOp) Arity() int { return 1 }
func (mbdOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 3, Of: a}, G.TensorType{Dims: 2, Of: a})
}
func (mbdOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("minibatch closeness: want 1 input, got %d", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok || s.Dims() != 3 {
		return nil, fmt.Errorf("minibatch closeness: input must be (N, B, C), got %v", ds[0])
	}
	return tensor.Shape{s[0], s[1]}, nil
}
func (mbdOp) ReturnsPtr() bool         { return false }
func (mbdOp) CallsExtern() bool        { return false }
func (mbdOp) OverwritesInput() int     { return -1 }
func (op mbdOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op mbdOp) Hashcode() uint32      { return hashOf(op) }
func (mbdOp) String() string           { return "MinibatchCloseness" }
func (mbdOp) DiffWRT(int) []bool       { return []bool{true} }

func (mbdOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("minibatch closeness: want 1 input, got %d", len(vs))
	}
	m, ok := vs[0].(*tensor.Dense)
	if !ok || m.Dims() != 3 {
		return nil, fmt.Errorf("minibatch closeness: input must be a dense (N, B, C) tensor, got %T", vs[0])
	}
	s := m.Shape()
	out := tensor.New(tensor.Of(m.Dtype()), tensor.WithShape(s[0], s[1]))
	switch d := m.Data().(type) {
	case []float32:
		mbdForward(d, s[0], s[1], s[2], out.Float32s())
	case []float64:
		mbdForward(d, s[0], s[1], s[2], out.Float64s())
	default:
		return nil, fmt.Errorf("minibatch closeness: unsupported dtype %v", m.Dtype())
	}
	return out, nil
}

// SymDiff: ∂L/∂M_ibc = −Σ_{j≠i} (g_ib + g_jb)·e_ijb·sign(M_ibc − M_jbc), since
// M_i enters both o_i and every o_j.
func (mbdOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("minibatch closeness: want 1 input, got %d", len(inputs))
	}
	d, err := G.ApplyOp(mbdGradOp{}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func mbdForward[T Float](m []T, n, b, c int, out []T) {
	clear(out)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for k := 0; k < b; k++ {
				mi := m[(i*b+k)*c : (i*b+k+1)*c]
				mj := m[(j*b+k)*c : (j*b+k+1)*c]
				var dist float64
				for q := range mi {
					dist += math.Abs(float64(mi[q]) - float64(mj[q]))
				}
				e := T(math.Exp(-dist))
				out[i*b+k] += e
				out[j*b+k] += e
			}
		}
	}
}

// mbdGradOp computes ∂L/∂M from (M, ∂L/∂o).
type mbdGradOp struct{}

func (mbdGradOp) Arity() int { return 2 }
func (mbdGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t3 := G.TensorType{Dims: 3, Of: a}
	return hm.NewFnType(t3, G.TensorType{Dims: 2, Of: a}, t3)
}
func (mbdGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 2 {
		return nil, fmt.Errorf("minibatch closeness gradient: want 2 inputs, got %d", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("minibatch closeness gradient: input must have a tensor shape, got %T", ds[0])
	}
	return s.Clone(), nil
}
func (mbdGradOp) ReturnsPtr() bool         { return false }
func (mbdGradOp) CallsExtern() bool        { return false }
func (mbdGradOp) OverwritesInput() int     { return -1 }
func (op mbdGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op mbdGradOp) Hashcode() uint32      { return hashOf(op) }
func (mbdGradOp) String() string           { return "MinibatchClosenessGrad" }
func (mbdGradOp) DiffWRT(int) []bool       { return []bool{false, false} }
func (op mbdGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}

func (op mbdGradOp) Do(vs ...G.Value) (G.Value, error) {
	m, g, err := twoDense(vs, op.String())
	if err != nil {
		return nil, err
	}
	s := m.Shape()
	if m.Dims() != 3 || !g.Shape().Eq(tensor.Shape{s[0], s[1]}) {
		return nil, fmt.Errorf("%v: shapes %v and %v do not fit", op, s, g.Shape())
	}
	out := tensor.New(tensor.Of(m.Dtype()), tensor.WithShape(s...))
	switch d := m.Data().(type) {
	case []float32:
		mbdBackward(d, g.Float32s(), s[0], s[1], s[2], out.Float32s())
	case []float64:
		mbdBackward(d, g.Float64s(), s[0], s[1], s[2], out.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, m.Dtype())
	}
	return out, nil
}

func mbdBackward[T Float](m, g []T, n, b, c int, out []T) {
	clear(out)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for k := 0; k < b; k++ {
				mi := m[(i*b+k)*c : (i*b+k+1)*c]
				mj := m[(j*b+k)*c : (j*b+k+1)*c]
				var dist float64
				for q := range mi {
					dist += math.Abs(float64(mi[q]) - float64(mj[q]))
				}
				coef := -(float64(g[i*b+k]) + float64(g[j*b+k])) * math.Exp(-dist)
				oi := out[(i*b+k)*c : (i*b+k+1)*c]
				oj := out[(j*b+k)*c : (j*b+k+1)*c]
				for q := range mi {
					switch {
					case mi[q] > mj[q]:
						oi[q] += T(coef)
						oj[q] -= T(coef)
					case mi[q] < mj[q]:
						oi[q] -= T(coef)
						oj[q] += T(coef)
					}
				}
			}
		}
	}
}
