package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MinibatchDiscriminationRef is MinibatchDiscrimination with the closeness
// taken to a fixed reference batch rather than to the rest of the batch:
// for features f (N, A) and reference features fr (R, A), M = f·T and
// Mr = fr·T, o_ib = Σ_j exp(−‖M_ib − Mr_jb‖₁) over the R reference rows,
// and the layer returns [f, o] (N, A+B). Image i's output depends on
// image i and the reference alone, so a score built on it does not
// change with the other images of its batch, their number or order.
// Scoring with R = n − 1 training images gives the same sum of n − 1
// terms an image of a training batch of n got.
func MinibatchDiscriminationRef(f, fr, t *G.Node, kernels, dims int) (*G.Node, error) {
	fs, rs, ts := f.Shape(), fr.Shape(), t.Shape()
	if fs.Dims() != 2 || rs.Dims() != 2 || ts.Dims() != 2 || fs[1] != ts[0] || rs[1] != ts[0] || ts[1] != kernels*dims {
		return nil, fmt.Errorf("minibatch discrimination: features %v, reference %v and T %v do not fit %d kernels of %d dimensions (want (N, A), (R, A) and (A, %d))",
			fs, rs, ts, kernels, dims, kernels*dims)
	}
	m, err := projectKernels(f, t, kernels, dims, "f")
	if err != nil {
		return nil, err
	}
	mr, err := projectKernels(fr, t, kernels, dims, "reference")
	if err != nil {
		return nil, err
	}
	o, err := G.ApplyOp(mbdRefOp{}, m, mr)
	if err != nil {
		return nil, fmt.Errorf("minibatch discrimination: %w", err)
	}
	out, err := ConcatCols(f, o)
	if err != nil {
		return nil, fmt.Errorf("minibatch discrimination: concat: %w", err)
	}
	return out, nil
}

// mbdRefOp maps M (N, B, C) and Mr (R, B, C) to o (N, B),
// o_ib = Σ_j exp(−Σ_c |M_ibc − Mr_jbc|).
type mbdRefOp struct{}

func (mbdRefOp) Arity() int { return 2 }
func (mbdRefOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t3 := G.TensorType{Dims: 3, Of: a}
	return hm.NewFnType(t3, t3, G.TensorType{Dims: 2, Of: a})
}
func (mbdRefOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 2 {
		return nil, fmt.Errorf("reference closeness: want 2 inputs, got %d", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	r, ok2 := ds[1].(tensor.Shape)
	if !ok || !ok2 || s.Dims() != 3 || r.Dims() != 3 || s[1] != r[1] || s[2] != r[2] {
		return nil, fmt.Errorf("reference closeness: inputs must be (N, B, C) and (R, B, C), got %v and %v", ds[0], ds[1])
	}
	return tensor.Shape{s[0], s[1]}, nil
}
func (mbdRefOp) ReturnsPtr() bool         { return false }
func (mbdRefOp) CallsExtern() bool        { return false }
func (mbdRefOp) OverwritesInput() int     { return -1 }
func (op mbdRefOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op mbdRefOp) Hashcode() uint32      { return hashOf(op) }
func (mbdRefOp) String() string           { return "ReferenceCloseness" }
func (mbdRefOp) DiffWRT(int) []bool       { return []bool{true, true} }

func (op mbdRefOp) Do(vs ...G.Value) (G.Value, error) {
	m, r, err := twoDense(vs, op.String())
	if err != nil {
		return nil, err
	}
	s, rs := m.Shape(), r.Shape()
	if m.Dims() != 3 || r.Dims() != 3 || s[1] != rs[1] || s[2] != rs[2] {
		return nil, fmt.Errorf("%v: shapes %v and %v do not fit", op, s, rs)
	}
	out := tensor.New(tensor.Of(m.Dtype()), tensor.WithShape(s[0], s[1]))
	switch d := m.Data().(type) {
	case []float32:
		mbdRefForward(d, r.Float32s(), s[0], rs[0], s[1], s[2], out.Float32s())
	case []float64:
		mbdRefForward(d, r.Float64s(), s[0], rs[0], s[1], s[2], out.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, m.Dtype())
	}
	return out, nil
}

// SymDiff: ∂L/∂M_ibc = −Σ_j g_ib·e_ijb·sign(M_ibc − Mr_jbc) and
// ∂L/∂Mr_jbc = +Σ_i g_ib·e_ijb·sign(M_ibc − Mr_jbc).
func (mbdRefOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("reference closeness: want 2 inputs, got %d", len(inputs))
	}
	dm, err := G.ApplyOp(mbdRefGradOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	dr, err := G.ApplyOp(mbdRefGradOp{ref: true}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dm, dr}, nil
}

func mbdRefForward[T Float](m, r []T, n, nr, b, c int, out []T) {
	clear(out)
	for i := 0; i < n; i++ {
		for j := 0; j < nr; j++ {
			for k := 0; k < b; k++ {
				out[i*b+k] += T(math.Exp(-l1(m[(i*b+k)*c:(i*b+k+1)*c], r[(j*b+k)*c:(j*b+k+1)*c])))
			}
		}
	}
}

func l1[T Float](a, b []T) float64 {
	var d float64
	for q := range a {
		d += math.Abs(float64(a[q]) - float64(b[q]))
	}
	return d
}

// mbdRefGradOp computes ∂L/∂M (or, with ref, ∂L/∂Mr) from (M, Mr, ∂L/∂o).
type mbdRefGradOp struct{ ref bool }

func (mbdRefGradOp) Arity() int { return 3 }
func (mbdRefGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t3 := G.TensorType{Dims: 3, Of: a}
	return hm.NewFnType(t3, t3, G.TensorType{Dims: 2, Of: a}, t3)
}
func (op mbdRefGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 3 {
		return nil, fmt.Errorf("%v: want 3 inputs, got %d", op, len(ds))
	}
	i := 0
	if op.ref {
		i = 1
	}
	s, ok := ds[i].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input must have a tensor shape, got %T", op, ds[i])
	}
	return s.Clone(), nil
}
func (mbdRefGradOp) ReturnsPtr() bool         { return false }
func (mbdRefGradOp) CallsExtern() bool        { return false }
func (mbdRefGradOp) OverwritesInput() int     { return -1 }
func (op mbdRefGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op mbdRefGradOp) Hashcode() uint32      { return hashOf(op) }
func (op mbdRefGradOp) String() string {
	if op.ref {
		return "ReferenceClosenessGradRef"
	}
	return "ReferenceClosenessGrad"
}
func (mbdRefGradOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op mbdRefGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}

func (op mbdRefGradOp) Do(vs ...G.Value) (G.Value, error) {
	if len(vs) != 3 {
		return nil, fmt.Errorf("%v: want 3 inputs, got %d", op, len(vs))
	}
	m, r, err := twoDense(vs[:2], op.String())
	if err != nil {
		return nil, err
	}
	g, ok := vs[2].(*tensor.Dense)
	if !ok || g.Dtype() != m.Dtype() {
		return nil, fmt.Errorf("%v: the gradient must be a dense tensor of %v, got %T", op, m.Dtype(), vs[2])
	}
	s, rs := m.Shape(), r.Shape()
	if m.Dims() != 3 || r.Dims() != 3 || s[1] != rs[1] || s[2] != rs[2] || !g.Shape().Eq(tensor.Shape{s[0], s[1]}) {
		return nil, fmt.Errorf("%v: shapes %v, %v and %v do not fit", op, s, rs, g.Shape())
	}
	shape := s
	if op.ref {
		shape = rs
	}
	out := tensor.New(tensor.Of(m.Dtype()), tensor.WithShape(shape...))
	switch d := m.Data().(type) {
	case []float32:
		mbdRefBackward(d, r.Float32s(), g.Float32s(), s[0], rs[0], s[1], s[2], op.ref, out.Float32s())
	case []float64:
		mbdRefBackward(d, r.Float64s(), g.Float64s(), s[0], rs[0], s[1], s[2], op.ref, out.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, m.Dtype())
	}
	return out, nil
}

func mbdRefBackward[T Float](m, r, g []T, n, nr, b, c int, ref bool, out []T) {
	clear(out)
	for i := 0; i < n; i++ {
		for j := 0; j < nr; j++ {
			for k := 0; k < b; k++ {
				mi := m[(i*b+k)*c : (i*b+k+1)*c]
				rj := r[(j*b+k)*c : (j*b+k+1)*c]
				coef := -float64(g[i*b+k]) * math.Exp(-l1(mi, rj))
				var o []T
				if ref {
					o, coef = out[(j*b+k)*c:(j*b+k+1)*c], -coef
				} else {
					o = out[(i*b+k)*c : (i*b+k+1)*c]
				}
				for q := range mi {
					switch {
					case mi[q] > rj[q]:
						o[q] += T(coef)
					case mi[q] < rj[q]:
						o[q] -= T(coef)
					}
				}
			}
		}
	}
}
