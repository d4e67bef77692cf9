package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PoolIndices links a max pooling to the unpoolings that reuse its argmax,
// as PyTorch's MaxPool2d(return_indices=True) and MaxUnpool2d do. The
// pooling fills it each time its graph runs; the unpooling and both
// gradients read it later in the same run (they depend on the pooling's
// output, so the tape orders them after it).
type PoolIndices struct {
	k, stride int
	in        tensor.Shape // (N, C, H, W) of the pooled input
	out       tensor.Shape // (N, C, Ho, Wo) of the pooled output
	// idx[j] is, for output element j, the offset y·W+x of its maximum
	// within its (n, c) input plane (PyTorch's layout); nil until run.
	idx []int32
}

// InputShape is the shape of the pooled input, which unpooling restores.
func (p *PoolIndices) InputShape() tensor.Shape { return p.in.Clone() }

// Kernel is the window's side.
func (p *PoolIndices) Kernel() int { return p.k }

// Stride is the windows' stride.
func (p *PoolIndices) Stride() int { return p.stride }

// OutputShape is the shape of the pooled output.
func (p *PoolIndices) OutputShape() tensor.Shape { return p.out.Clone() }

// Indices returns the argmax of the last run (nil before any), for tests
// and debugging.
func (p *PoolIndices) Indices() []int32 { return p.idx }

// MaxPool2d takes the maximum of every k×k window at the given stride
// (no padding; a partial window at the border is dropped, as PyTorch
// floors) and records where each maximum came from.
func MaxPool2d(x *G.Node, k, stride int) (*G.Node, *PoolIndices, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, nil, fmt.Errorf("max pool: input %v must be 4-D (N, C, H, W)", xs)
	}
	if k <= 0 || stride <= 0 {
		return nil, nil, fmt.Errorf("max pool: kernel %d and stride %d must be positive", k, stride)
	}
	if xs[2] < k || xs[3] < k {
		return nil, nil, fmt.Errorf("max pool: input %v is smaller than the %dx%d window", xs, k, k)
	}
	p := &PoolIndices{k: k, stride: stride, in: xs.Clone(),
		out: tensor.Shape{xs[0], xs[1], (xs[2]-k)/stride + 1, (xs[3]-k)/stride + 1}}
	y, err := G.ApplyOp(maxPoolOp{p: p, bufs: &opBufs{}}, x)
	if err != nil {
		return nil, nil, err
	}
	return y, p, nil
}

// MaxUnpool2d is the inverse placement of a MaxPool2d: each value of y goes
// back to where its window's maximum was, everything else is zero (where
// windows overlap and share a maximum, their values add). y has the
// pooled shape; the result has the pooled input's shape.
func MaxUnpool2d(y *G.Node, p *PoolIndices) (*G.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("max unpool: no pooling indices")
	}
	if !y.Shape().Eq(p.out) {
		return nil, fmt.Errorf("max unpool: input %v does not have the pooled shape %v", y.Shape(), p.out)
	}
	return G.ApplyOp(scatterOp{p: p, bufs: &opBufs{}}, y)
}

// The three ops below share one PoolIndices:
//
//	maxPoolOp  x → y  (records idx)     gradient: scatter
//	scatterOp  y → x-shaped (unpool)    gradient: gather
//	gatherOp   x-shaped → y             gradient: scatter
//
// scatter and gather are linear and adjoint to each other, so every
// derivative is exact.
type maxPoolOp struct {
	p    *PoolIndices
	bufs *opBufs
}
type scatterOp struct {
	p    *PoolIndices
	bufs *opBufs
}
type gatherOp struct {
	p    *PoolIndices
	bufs *opBufs
}

func (op maxPoolOp) buffers() *opBufs { return op.bufs }
func (op scatterOp) buffers() *opBufs { return op.bufs }
func (op gatherOp) buffers() *opBufs  { return op.bufs }

func poolType() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op maxPoolOp) Arity() int                                     { return 1 }
func (op maxPoolOp) Type() hm.Type                                  { return poolType() }
func (op maxPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.p.out.Clone(), nil }
func (op maxPoolOp) ReturnsPtr() bool                               { return false }
func (op maxPoolOp) CallsExtern() bool                              { return false }
func (op maxPoolOp) OverwritesInput() int                           { return -1 }
func (op maxPoolOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op maxPoolOp) Hashcode() uint32                               { return hashOf(op) }

// The indices' address is part of the name so that two poolings of one
// input stay two nodes (Gorgonia merges nodes with equal hashes).
func (op maxPoolOp) String() string {
	return fmt.Sprintf("MaxPool2d{k=%d,s=%d,%p}", op.p.k, op.p.stride, op.p)
}
func (op maxPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op maxPoolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(scatterOp{p: op.p, bufs: &opBufs{}}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (op maxPoolOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := poolInput(vs, op.String(), op.p.in)
	if err != nil {
		return nil, err
	}
	p := op.p
	out := op.bufs.output(x.Dtype(), p.out)
	if len(p.idx) != p.out.TotalSize() {
		p.idx = make([]int32, p.out.TotalSize())
	}
	switch xd := x.Data().(type) {
	case []float32:
		maxPoolForward(p, xd, out.Data().([]float32))
	case []float64:
		maxPoolForward(p, xd, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

func (op scatterOp) Arity() int                                     { return 1 }
func (op scatterOp) Type() hm.Type                                  { return poolType() }
func (op scatterOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.p.in.Clone(), nil }
func (op scatterOp) ReturnsPtr() bool                               { return false }
func (op scatterOp) CallsExtern() bool                              { return false }
func (op scatterOp) OverwritesInput() int                           { return -1 }
func (op scatterOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op scatterOp) Hashcode() uint32                               { return hashOf(op) }

// PoolIndices are the indices the unpooling reads, so a test can find
// them from the graph.
func (op scatterOp) PoolIndices() *PoolIndices { return op.p }

func (op scatterOp) String() string {
	return fmt.Sprintf("MaxUnpool2d{k=%d,s=%d,%p}", op.p.k, op.p.stride, op.p)
}
func (op scatterOp) DiffWRT(int) []bool { return []bool{true} }
func (op scatterOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dy, err := G.ApplyOp(gatherOp{p: op.p, bufs: &opBufs{}}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dy}, nil
}

func (op scatterOp) Do(vs ...G.Value) (G.Value, error) {
	y, err := poolInput(vs, op.String(), op.p.out)
	if err != nil {
		return nil, err
	}
	if op.p.idx == nil {
		return nil, fmt.Errorf("%v: the paired max pooling has not run", op)
	}
	out := op.bufs.output(y.Dtype(), op.p.in)
	switch yd := y.Data().(type) {
	case []float32:
		poolScatter(op.p, yd, out.Data().([]float32))
	case []float64:
		poolScatter(op.p, yd, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, y.Dtype())
	}
	return out, nil
}

func (op gatherOp) Arity() int                                     { return 1 }
func (op gatherOp) Type() hm.Type                                  { return poolType() }
func (op gatherOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.p.out.Clone(), nil }
func (op gatherOp) ReturnsPtr() bool                               { return false }
func (op gatherOp) CallsExtern() bool                              { return false }
func (op gatherOp) OverwritesInput() int                           { return -1 }
func (op gatherOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op gatherOp) Hashcode() uint32                               { return hashOf(op) }
func (op gatherOp) String() string {
	return fmt.Sprintf("MaxPoolGather{k=%d,s=%d,%p}", op.p.k, op.p.stride, op.p)
}
func (op gatherOp) DiffWRT(int) []bool { return []bool{true} }
func (op gatherOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(scatterOp{p: op.p, bufs: &opBufs{}}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (op gatherOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := poolInput(vs, op.String(), op.p.in)
	if err != nil {
		return nil, err
	}
	if op.p.idx == nil {
		return nil, fmt.Errorf("%v: the paired max pooling has not run", op)
	}
	out := op.bufs.output(x.Dtype(), op.p.out)
	switch xd := x.Data().(type) {
	case []float32:
		poolGather(op.p, xd, out.Data().([]float32))
	case []float64:
		poolGather(op.p, xd, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

func poolInput(vs []G.Value, what string, want tensor.Shape) (*tensor.Dense, error) {
	if len(vs) != 1 {
		return nil, fmt.Errorf("%s: want 1 input, got %d", what, len(vs))
	}
	d, ok := vs[0].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: input must be a dense tensor, got %T", what, vs[0])
	}
	if !d.Shape().Eq(want) {
		return nil, fmt.Errorf("%s: input has shape %v, want %v", what, d.Shape(), want)
	}
	return d, nil
}

// maxPoolForward keeps the first maximum of each window in scan order, and
// a NaN wins over any number, as PyTorch does, so a diverging value is not
// silently dropped. Planes are split over goroutines (each writes its own).
func maxPoolForward[T Float](p *PoolIndices, x, y []T) {
	h, w := p.in[2], p.in[3]
	ho, wo := p.out[2], p.out[3]
	planes := p.in[0] * p.in[1]
	parallel(planes, h*w, poolParallelMin, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*h*w : (pl+1)*h*w]
			dst := y[pl*ho*wo : (pl+1)*ho*wo]
			idx := p.idx[pl*ho*wo : (pl+1)*ho*wo]
			if p.k == 2 && p.stride == 2 {
				maxPool2x2(src, w, ho, wo, dst, idx)
				continue
			}
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					best := (oy*p.stride)*w + ox*p.stride
					bv := src[best]
					for ky := 0; ky < p.k && !poolIsNaN(bv); ky++ {
						row := (oy*p.stride + ky) * w
						for kx := 0; kx < p.k; kx++ {
							at := row + ox*p.stride + kx
							if v := src[at]; v > bv || poolIsNaN(v) {
								best, bv = at, v
								if poolIsNaN(v) {
									break
								}
							}
						}
					}
					dst[oy*wo+ox] = bv
					idx[oy*wo+ox] = int32(best)
				}
			}
		}
	})
}

// poolParallelMin is the input size from which pooling is split over
// goroutines.
const poolParallelMin = 1 << 15

// maxPool2x2 is maxPoolForward's loop for 2×2 windows at stride 2 (the
// BAE's): the same maximum and index, scan order and NaN rule. float32
// windows take the maximum without branches and its index from bit
// equality (conditional moves: which value wins is data, so branches
// mispredicted about half the time); a window whose maximum is NaN or
// zero (where −0 and +0 tie) goes the general way.
func maxPool2x2[T Float](src []T, w, ho, wo int, dst []T, idx []int32) {
	s32, fast := any(src).([]float32)
	d32, _ := any(dst).([]float32)
	for oy := 0; oy < ho; oy++ {
		r0 := src[2*oy*w : (2*oy+1)*w]
		r1 := src[(2*oy+1)*w : (2*oy+2)*w]
		d, ix := dst[oy*wo:(oy+1)*wo], idx[oy*wo:(oy+1)*wo]
		for ox := range d {
			at := 2*oy*w + 2*ox
			if fast {
				p0 := s32[at : at+2 : at+2]
				p1 := s32[at+w : at+w+2 : at+w+2]
				m := max(max(p0[0], p0[1]), max(p1[0], p1[1]))
				if m == m && m != 0 {
					mb := math.Float32bits(m)
					i := at + w + 1
					if math.Float32bits(p1[0]) == mb {
						i = at + w
					}
					if math.Float32bits(p0[1]) == mb {
						i = at + 1
					}
					if math.Float32bits(p0[0]) == mb {
						i = at
					}
					d32[oy*wo+ox], ix[ox] = m, int32(i)
					continue
				}
			}
			best, bv := at, r0[2*ox]
			if v := r0[2*ox+1]; bv == bv && (v > bv || v != v) {
				best, bv = at+1, v
			}
			if v := r1[2*ox]; bv == bv && (v > bv || v != v) {
				best, bv = at+w, v
			}
			if v := r1[2*ox+1]; bv == bv && (v > bv || v != v) {
				best, bv = at+w+1, v
			}
			d[ox], ix[ox] = bv, int32(best)
		}
	}
}

func poolIsNaN[T Float](v T) bool { return v != v }

// poolScatter zeroes dst (input-shaped) and adds each pooled value at its
// argmax, plane by plane (no division per value), planes split over
// goroutines (each adds into its own plane only).
func poolScatter[T Float](p *PoolIndices, y, dst []T) {
	hw, ohw := p.in[2]*p.in[3], p.out[2]*p.out[3]
	parallel(len(y)/ohw, hw, poolParallelMin, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d := dst[pl*hw : (pl+1)*hw]
			clear(d)
			idx := p.idx[pl*ohw : (pl+1)*ohw]
			for j, v := range y[pl*ohw : (pl+1)*ohw] {
				d[idx[j]] += v
			}
		}
	})
}

// poolGather reads, for each pooled position, the input-shaped src at its
// argmax, plane by plane.
func poolGather[T Float](p *PoolIndices, src, y []T) {
	hw, ohw := p.in[2]*p.in[3], p.out[2]*p.out[3]
	parallel(len(y)/ohw, hw, poolParallelMin, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			s := src[pl*hw : (pl+1)*hw]
			idx := p.idx[pl*ohw : (pl+1)*ohw]
			out := y[pl*ohw : (pl+1)*ohw]
			for j := range out {
				out[j] = s[idx[j]]
			}
		}
	})
}
