package nets

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvTranspose2d applies a transposed 2D convolution (the adjoint of a
// convolution with the same kernel, stride and padding), as PyTorch's
// ConvTranspose2d with output_padding 0 and dilation 1:
//
//	x: (N, Cin, H, W), w: (Cin, Cout, k, k) → (N, Cout, (H−1)·stride − 2·pad + k, …)
//
// Gorgonia has none; it is computed as a matrix product followed by col2im,
// and its gradients through im2col.
func ConvTranspose2d(x, w *G.Node, stride, pad int) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("conv transpose: input %v and kernel %v must both be 4-D", xs, ws)
	}
	if ws[2] != ws[3] {
		return nil, fmt.Errorf("conv transpose: kernel %v must be square", ws)
	}
	op := convTOp{k: ws[2], stride: stride, pad: pad, bufs: &opBufs{}}
	if _, err := op.outShape(xs, ws); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, x, w)
}

// convTOp is the forward transposed convolution. bufs (nil: allocate per
// call) keeps its output and scratch between runs, as convOp's do.
type convTOp struct {
	k, stride, pad int
	bufs           *opBufs
}

func (op convTOp) outShape(xs, ws tensor.Shape) (tensor.Shape, error) {
	if op.stride <= 0 || op.pad < 0 || op.k <= 0 {
		return nil, fmt.Errorf("conv transpose: kernel %d, stride %d, pad %d: kernel and stride must be positive, pad non-negative", op.k, op.stride, op.pad)
	}
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("conv transpose: input %v and kernel %v must both be 4-D", xs, ws)
	}
	if xs[1] != ws[0] {
		return nil, fmt.Errorf("conv transpose: input has %d channels, kernel %v expects %d", xs[1], ws, ws[0])
	}
	if ws[2] != op.k || ws[3] != op.k {
		return nil, fmt.Errorf("conv transpose: kernel %v is not %dx%d", ws, op.k, op.k)
	}
	ho := (xs[2]-1)*op.stride - 2*op.pad + op.k
	wo := (xs[3]-1)*op.stride - 2*op.pad + op.k
	if ho <= 0 || wo <= 0 {
		return nil, fmt.Errorf("conv transpose: input %v with kernel %d, stride %d, pad %d gives an empty output", xs, op.k, op.stride, op.pad)
	}
	return tensor.Shape{xs[0], ws[1], ho, wo}, nil
}

func (op convTOp) Arity() int { return 2 }
func (op convTOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op convTOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != 2 {
		return nil, fmt.Errorf("conv transpose: want 2 inputs, got %d", len(ds))
	}
	xs, ok1 := ds[0].(tensor.Shape)
	ws, ok2 := ds[1].(tensor.Shape)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("conv transpose: inputs must have tensor shapes, got %T and %T", ds[0], ds[1])
	}
	return op.outShape(xs, ws)
}
func (op convTOp) ReturnsPtr() bool      { return false }
func (op convTOp) CallsExtern() bool     { return false }
func (op convTOp) OverwritesInput() int  { return -1 }
func (op convTOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convTOp) Hashcode() uint32      { return hashOf(op) }
func (op convTOp) String() string {
	return fmt.Sprintf("ConvTranspose2d{k=%d,s=%d,p=%d}", op.k, op.stride, op.pad)
}

func (op convTOp) Do(vs ...G.Value) (G.Value, error) {
	x, w, err := twoDense(vs, "conv transpose")
	if err != nil {
		return nil, err
	}
	os, err := op.outShape(x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	out := op.bufs.output(x.Dtype(), os)
	switch xd := x.Data().(type) {
	case []float32:
		convTForward(op, x.Shape(), xd, w.Data().([]float32), os, out.Data().([]float32))
	case []float64:
		convTForward(op, x.Shape(), xd, w.Data().([]float64), os, out.Data().([]float64))
	default:
		return nil, fmt.Errorf("conv transpose: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func (op convTOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: for y = col2im(Wᵀ·X), dX = W·im2col(dY) and dW = Σₙ Xₙ·im2col(dYₙ)ᵀ.
func (op convTOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("conv transpose: want 2 inputs, got %d", len(inputs))
	}
	x, w := inputs[0], inputs[1]
	dx, err := G.ApplyOp(convTGradOp{convTOp: convTOp{k: op.k, stride: op.stride, pad: op.pad, bufs: &opBufs{}},
		wrtInput: true, shape: x.Shape().Clone()}, w, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(convTGradOp{convTOp: convTOp{k: op.k, stride: op.stride, pad: op.pad, bufs: &opBufs{}},
		wrtInput: false, shape: w.Shape().Clone()}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convTGradOp computes one gradient of convTOp: with wrtInput, dX from
// (W, dY); otherwise dW from (X, dY). shape is the gradient's shape.
type convTGradOp struct {
	convTOp
	wrtInput bool
	shape    tensor.Shape
}

func (op convTGradOp) Arity() int { return 2 }
func (op convTGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op convTGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convTGradOp) Hashcode() uint32      { return hashOf(op) }
func (op convTGradOp) String() string {
	which := "W"
	if op.wrtInput {
		which = "X"
	}
	return fmt.Sprintf("ConvTranspose2dGrad%s{k=%d,s=%d,p=%d,%v}", which, op.k, op.stride, op.pad, op.shape)
}
func (op convTGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op convTGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}

func (op convTGradOp) Do(vs ...G.Value) (G.Value, error) {
	a, dy, err := twoDense(vs, op.String())
	if err != nil {
		return nil, err
	}
	out := op.bufs.output(a.Dtype(), op.shape)
	var xs, ws tensor.Shape
	if op.wrtInput {
		xs, ws = op.shape, a.Shape()
	} else {
		xs, ws = a.Shape(), op.shape
	}
	os, err := op.outShape(xs, ws)
	if err != nil {
		return nil, err
	}
	if !os.Eq(dy.Shape()) {
		return nil, fmt.Errorf("%v: output gradient has shape %v, want %v", op, dy.Shape(), os)
	}
	switch ad := a.Data().(type) {
	case []float32:
		convTBackward(op, xs, os, ad, dy.Data().([]float32), out.Data().([]float32))
	case []float64:
		convTBackward(op, xs, os, ad, dy.Data().([]float64), out.Data().([]float64))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, a.Dtype())
	}
	return out, nil
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

// convTForward: per chunk of images (convChunk), cols (Cout·k·k × nc·H·W)
// = Wᵀ · X, then col2im scatters each image's columns onto its (Ho, Wo)
// output grid.
func convTForward[T float](op convTOp, xs tensor.Shape, x, w []T, os tensor.Shape, y []T) {
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, ho, wo := os[1], os[2], os[3]
	kk := op.k * op.k
	hw := h * wd
	chunk := convChunk(n, hw)
	cp := borrow[T](cout * kk * chunk * hw)
	defer giveBack(cp)
	cols := *cp
	var tmp []T
	if chunk > 1 {
		tp := borrow[T](cin * chunk * hw)
		defer giveBack(tp)
		tmp = *tp
	}
	for n0 := 0; n0 < n; n0 += chunk {
		nc := min(chunk, n-n0)
		ld := nc * hw
		xm := x[n0*cin*hw : (n0+1)*cin*hw]
		if nc > 1 {
			gatherChunk(x, cin, hw, n0, nc, tmp)
			xm = tmp
		}
		gemm(true, false, cout*kk, ld, cin, 1, w, cout*kk, xm, ld, 0, cols, ld)
		for j := 0; j < nc; j++ {
			col2imLD(cols[j*hw:], cout, ho, wo, op.k, op.stride, op.pad, y[(n0+j)*cout*ho*wo:(n0+j+1)*cout*ho*wo], ld)
		}
	}
}

// convTBackward computes dX (op.wrtInput, a = W) or dW (a = X) from dY,
// a chunk of images at a time.
func convTBackward[T float](op convTGradOp, xs, os tensor.Shape, a, dy, out []T) {
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, ho, wo := os[1], os[2], os[3]
	kk := op.k * op.k
	hw := h * wd
	chunk := convChunk(n, hw)
	cp := borrow[T](cout * kk * chunk * hw)
	defer giveBack(cp)
	cols := *cp
	var tmp []T
	if chunk > 1 {
		tp := borrow[T](cin * chunk * hw)
		defer giveBack(tp)
		tmp = *tp
	}
	for n0 := 0; n0 < n; n0 += chunk {
		nc := min(chunk, n-n0)
		ld := nc * hw
		for j := 0; j < nc; j++ {
			im2colLD(dy[(n0+j)*cout*ho*wo:(n0+j+1)*cout*ho*wo], cout, ho, wo, op.k, op.stride, op.pad, cols[j*hw:], ld)
		}
		if op.wrtInput {
			// dX (Cin × nc·HW) = W (Cin × Cout·k·k) · cols
			if nc == 1 {
				gemm(false, false, cin, hw, cout*kk, 1, a, cout*kk, cols, hw, 0, out[n0*cin*hw:(n0+1)*cin*hw], hw)
				continue
			}
			gemm(false, false, cin, ld, cout*kk, 1, a, cout*kk, cols, ld, 0, tmp, ld)
			scatterChunk(tmp, cin, hw, n0, nc, out)
			continue
		}
		// dW (Cin × Cout·k·k) += X (Cin × nc·HW) · colsᵀ
		xm := a[n0*cin*hw : (n0+1)*cin*hw]
		if nc > 1 {
			gatherChunk(a, cin, hw, n0, nc, tmp)
			xm = tmp
		}
		beta := T(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(false, true, cin, cout*kk, ld, 1, xm, ld, cols, ld, beta, out, cout*kk)
	}
}
