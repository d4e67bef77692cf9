package ops

import (
	"fmt"
	"hash"

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
// call) keeps its output between runs, as convOp's do.
type convTOp struct {
	binary4DOp
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

func (op convTOp) buffers() *opBufs { return op.bufs }
func (op convTOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return inferConvShape(op, "conv transpose", ds)
}
func (op convTOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convTOp) Hashcode() uint32      { return hashOf(op) }
func (op convTOp) String() string {
	return fmt.Sprintf("ConvTranspose2d{k=%d,s=%d,p=%d}", op.k, op.stride, op.pad)
}

func (op convTOp) Do(vs ...G.Value) (G.Value, error) {
	return doForward(op, vs, "conv transpose", convTForward[float32], convTForward[float64])
}

func (op convTOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: for y = col2im(Wᵀ·X), dX = W·im2col(dY) and dW = Σₙ Xₙ·im2col(dYₙ)ᵀ.
func (op convTOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return convSymDiff("conv transpose", inputs, grad, func(wrtInput bool, shape tensor.Shape) G.Op {
		return convTGradOp{convTOp: convTOp{k: op.k, stride: op.stride, pad: op.pad, bufs: &opBufs{}},
			wrtInput: wrtInput, shape: shape}
	})
}

// convTGradOp computes one gradient of convTOp: with wrtInput, dX from
// (W, dY); otherwise dW from (X, dY). shape is the gradient's shape.
type convTGradOp struct {
	convTOp
	wrtInput bool
	shape    tensor.Shape
}

func (op convTGradOp) grad() (bool, tensor.Shape) { return op.wrtInput, op.shape }
func (op convTGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op convTGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convTGradOp) Hashcode() uint32      { return hashOf(op) }
func (op convTGradOp) String() string {
	return fmt.Sprintf("ConvTranspose2dGrad%s{k=%d,s=%d,p=%d,%v}", gradWhich(op.wrtInput), op.k, op.stride, op.pad, op.shape)
}
func (op convTGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op convTGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}

func (op convTGradOp) Do(vs ...G.Value) (G.Value, error) {
	return doGrad(op, vs, convTBackward[float32], convTBackward[float64])
}

// convTWork is what convTForward and convTBackward set up alike: the sizes
// (hw input pixels per image, chunk images per product, kk = k·k) and the
// scratch, cols (Cout·k·k × chunk·HW) and tmp (Cin × chunk·HW).
type convTWork[T Float] struct {
	n, cin, h, w, cout, ho, wo, kk, hw, chunk int
	images                                    bool // the per-image path (convimages.go), no scratch here
	convScratch[T]
}

func startConvT[T Float](k int, xs, os tensor.Shape) convTWork[T] {
	c := convTWork[T]{n: xs[0], cin: xs[1], h: xs[2], w: xs[3], cout: os[1], ho: os[2], wo: os[3], kk: k * k}
	c.hw = c.h * c.w
	c.chunk = convChunk(c.n, c.hw)
	if c.images = useImages(c.n, c.chunk, c.hw); c.images {
		return c
	}
	c.convScratch = borrowConvScratch[T](c.chunk, c.cout*c.kk*c.chunk*c.hw, c.cin*c.chunk*c.hw)
	return c
}

// convTForward: per chunk of images (convChunk), cols (Cout·k·k × nc·H·W)
// = Wᵀ · X, then col2im scatters each image's columns onto its (Ho, Wo)
// output grid.
func convTForward[T Float](op convTOp, xs, _, os tensor.Shape, x, w, y []T) {
	c := startConvT[T](op.k, xs, os)
	if c.images {
		convTForwardImages(op, c, x, w, y, nil)
		return
	}
	defer c.release()
	cin, cout, ho, wo, kk, hw := c.cin, c.cout, c.ho, c.wo, c.kk, c.hw
	for n0 := 0; n0 < c.n; n0 += c.chunk {
		nc := min(c.chunk, c.n-n0)
		ld := nc * hw
		xm := x[n0*cin*hw : (n0+1)*cin*hw]
		if nc > 1 {
			gatherChunk(x, cin, hw, n0, nc, c.tmp)
			xm = c.tmp
		}
		gemm(true, false, cout*kk, ld, cin, 1, w, cout*kk, xm, ld, 0, c.cols, ld)
		col2imPar(c.cols, nc, cout, ho, wo, op.k, op.stride, op.pad, y[n0*cout*ho*wo:(n0+nc)*cout*ho*wo], hw, ld)
	}
}

// convTBackward computes dX (op.wrtInput, a = W) or dW (a = X) from dY,
// a chunk of images at a time.
func convTBackward[T Float](op convTGradOp, xs, _, os tensor.Shape, a, dy, out []T) {
	c := startConvT[T](op.k, xs, os)
	if c.images {
		convTBackwardImages(op, c, a, dy, out)
		return
	}
	defer c.release()
	cin, cout, ho, wo, kk, hw := c.cin, c.cout, c.ho, c.wo, c.kk, c.hw
	for n0 := 0; n0 < c.n; n0 += c.chunk {
		nc := min(c.chunk, c.n-n0)
		ld := nc * hw
		im2colPar(dy[n0*cout*ho*wo:(n0+nc)*cout*ho*wo], nc, cout, ho, wo, op.k, op.stride, op.pad, c.cols, hw, ld)
		if op.wrtInput {
			// dX (Cin × nc·HW) = W (Cin × Cout·k·k) · cols
			if nc == 1 {
				gemm(false, false, cin, hw, cout*kk, 1, a, cout*kk, c.cols, hw, 0, out[n0*cin*hw:(n0+1)*cin*hw], hw)
				continue
			}
			gemm(false, false, cin, ld, cout*kk, 1, a, cout*kk, c.cols, ld, 0, c.tmp, ld)
			scatterChunk(c.tmp, cin, hw, n0, nc, out)
			continue
		}
		// dW (Cin × Cout·k·k) += X (Cin × nc·HW) · colsᵀ
		xm := a[n0*cin*hw : (n0+1)*cin*hw]
		if nc > 1 {
			gatherChunk(a, cin, hw, n0, nc, c.tmp)
			xm = c.tmp
		}
		beta := T(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(false, true, cin, cout*kk, ld, 1, xm, ld, c.cols, ld, beta, out, cout*kk)
	}
}
