package ops

import (
	"fmt"
	"hash"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opBufs keeps an op's output tensor from one run of a machine to the
// next. Gorgonia's tape machine drops every value on Reset and allocates it
// again on the next run, which for a CNN is hundreds of MB of garbage per
// step; an op that owns its output spares the allocator and the collector
// that work. Safe because an op instance belongs to one graph, whose machine
// runs its instructions one at a time, and every kernel overwrites the
// whole output. A nil *opBufs allocates afresh on each call. Arena.Plan
// may point it at a slot shared with ops whose values are never live at
// the same time (share.go).
type opBufs struct {
	out  *tensor.Dense
	slot *slot
	gen  int // the slot's gen that out was built over
}

// output returns a tensor of the given dtype and shape, the kept one when it
// fits. Its contents are stale: callers overwrite all of it.
func (b *opBufs) output(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if b == nil {
		return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	if b.slot != nil {
		return b.slot.view(b, dt, shape)
	}
	if b.out == nil || b.out.Dtype() != dt || !b.out.Shape().Eq(shape) {
		b.out = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return b.out
}

// Scratch (im2col columns, regrouped images) is only needed during one
// kernel call, so it is borrowed from a pool shared by every op instead of
// being kept per op: a network then holds a couple of scratch matrices, not
// one per layer and direction.
var scratchPools = [2]sync.Pool{} // float32, float64

// borrow returns a scratch slice of n elements (contents stale); giveBack
// returns it to the pool.
func borrow[T Float](n int) *[]T {
	var z T
	pool := &scratchPools[0]
	if _, ok := any(z).(float64); ok {
		pool = &scratchPools[1]
	}
	if p, ok := pool.Get().(*[]T); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]T, n)
	return &s
}

func giveBack[T Float](p *[]T) {
	var z T
	if _, ok := any(z).(float64); ok {
		scratchPools[1].Put(p)
		return
	}
	scratchPools[0].Put(p)
}

// convChunkCols is about how many output columns one matrix product covers:
// at small feature maps (2×2 at a 64 px CAE's bottleneck) the images of a
// batch are unrolled side by side so BLAS gets a useful matrix, while at
// large maps one image at a time keeps the im2col scratch small.
const convChunkCols = 2048

// Conv2d is a 2D convolution without bias or dilation, square kernel,
// PyTorch's Conv2d semantics (cross-correlation):
//
//	x: (N, Cin, H, W), w: (Cout, Cin, k, k) → (N, Cout, (H + 2·pad − k)/stride + 1, …)
//
// It computes what gorgonia.Conv2d does, but in NCHW throughout (no
// transposes) with im2col + one BLAS product per chunk of images, and it
// keeps its output and scratch buffers between runs (opBufs).
func Conv2d(x, w *G.Node, stride, pad int) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("conv: input %v and kernel %v must both be 4-D", xs, ws)
	}
	if ws[2] != ws[3] {
		return nil, fmt.Errorf("conv: kernel %v must be square", ws)
	}
	op := convOp{k: ws[2], stride: stride, pad: pad, bufs: &opBufs{}}
	if _, err := op.outShape(xs, ws); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, x, w)
}

// convOp is the forward convolution.
type convOp struct {
	binary4DOp
	k, stride, pad int
	bufs           *opBufs
}

func (op convOp) outShape(xs, ws tensor.Shape) (tensor.Shape, error) {
	if op.stride <= 0 || op.pad < 0 || op.k <= 0 {
		return nil, fmt.Errorf("conv: kernel %d, stride %d, pad %d: kernel and stride must be positive, pad non-negative", op.k, op.stride, op.pad)
	}
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("conv: input %v and kernel %v must both be 4-D", xs, ws)
	}
	if xs[1] != ws[1] {
		return nil, fmt.Errorf("conv: input has %d channels, kernel %v expects %d", xs[1], ws, ws[1])
	}
	if ws[2] != op.k || ws[3] != op.k {
		return nil, fmt.Errorf("conv: kernel %v is not %dx%d", ws, op.k, op.k)
	}
	ph, pw := xs[2]+2*op.pad-op.k, xs[3]+2*op.pad-op.k
	if ph < 0 || pw < 0 {
		return nil, fmt.Errorf("conv: input %v with kernel %d and pad %d gives an empty output", xs, op.k, op.pad)
	}
	return tensor.Shape{xs[0], ws[0], ph/op.stride + 1, pw/op.stride + 1}, nil
}

func (op convOp) buffers() *opBufs { return op.bufs }
func (op convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return inferConvShape(op, "conv", ds)
}
func (op convOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convOp) Hashcode() uint32      { return hashOf(op) }
func (op convOp) String() string {
	return fmt.Sprintf("Conv2d{k=%d,s=%d,p=%d}", op.k, op.stride, op.pad)
}

func (op convOp) Do(vs ...G.Value) (G.Value, error) {
	return doForward(op, vs, "conv", convForward[float32], convForward[float64])
}

func (op convOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff: with cols = im2col(X), Y = W·cols, so dW = dY·colsᵀ and
// dX = col2im(Wᵀ·dY).
func (op convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return convSymDiff("conv", inputs, grad, func(wrtInput bool, shape tensor.Shape) G.Op {
		return convGradOp{convOp: convOp{k: op.k, stride: op.stride, pad: op.pad, bufs: &opBufs{}},
			wrtInput: wrtInput, shape: shape}
	})
}

// convGradOp computes one gradient of convOp: with wrtInput, dX from
// (W, dY); otherwise dW from (X, dY). shape is the gradient's shape.
type convGradOp struct {
	convOp
	wrtInput bool
	shape    tensor.Shape
}

func (op convGradOp) grad() (bool, tensor.Shape) { return op.wrtInput, op.shape }
func (op convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op convGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convGradOp) Hashcode() uint32      { return hashOf(op) }
func (op convGradOp) String() string {
	return fmt.Sprintf("Conv2dGrad%s{k=%d,s=%d,p=%d,%v}", gradWhich(op.wrtInput), op.k, op.stride, op.pad, op.shape)
}
func (op convGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op convGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: second derivatives are not implemented", op)
}

func (op convGradOp) Do(vs ...G.Value) (G.Value, error) {
	return doGrad(op, vs, convBackward[float32], convBackward[float64])
}

// convChunk is how many images one product covers for p output pixels each.
func convChunk(n, p int) int {
	return max(1, min(n, (convChunkCols+p-1)/p))
}

// gatherChunk copies images [n0, n0+nc) of t (N, C, P) into m (C × nc·P);
// scatterChunk is its inverse.
func gatherChunk[T Float](t []T, c, p, n0, nc int, m []T) {
	ld := nc * p
	for j := 0; j < nc; j++ {
		img := t[(n0+j)*c*p:]
		for ci := 0; ci < c; ci++ {
			copy(m[ci*ld+j*p:][:p], img[ci*p:][:p])
		}
	}
}

func scatterChunk[T Float](m []T, c, p, n0, nc int, t []T) {
	ld := nc * p
	for j := 0; j < nc; j++ {
		img := t[(n0+j)*c*p:]
		for ci := 0; ci < c; ci++ {
			copy(img[ci*p:][:p], m[ci*ld+j*p:][:p])
		}
	}
}

// convWork is what convForward and convBackward set up alike: the sizes
// (p output pixels and kdim = Cin·k·k column rows per image, chunk images
// per product) and the scratch, cols (kdim × chunk·P) and tmp
// (Cout × chunk·P).
type convWork[T Float] struct {
	n, cin, h, w, cout, p, kdim, chw, chunk int
	images                                  bool // the per-image path (convimages.go), no scratch here
	convScratch[T]
}

func startConv[T Float](k int, xs, os tensor.Shape) convWork[T] {
	c := convWork[T]{n: xs[0], cin: xs[1], h: xs[2], w: xs[3], cout: os[1], p: os[2] * os[3]}
	c.kdim, c.chw = c.cin*k*k, c.cin*c.h*c.w
	c.chunk = convChunk(c.n, c.p)
	if c.images = useImages(c.n, c.chunk, c.p); c.images {
		return c
	}
	c.convScratch = borrowConvScratch[T](c.chunk, c.kdim*c.chunk*c.p, c.cout*c.chunk*c.p)
	return c
}

// convForward: per chunk of images, cols (Cin·k·k × nc·P) = im2col, then
// Y (Cout × nc·P) = W · cols, written straight into y for a single image.
func convForward[T Float](op convOp, xs, _, os tensor.Shape, x, w, y []T) {
	c := startConv[T](op.k, xs, os)
	if c.images {
		convForwardImages(op, c, x, w, y, nil)
		return
	}
	defer c.release()
	cout, p, kdim, chw := c.cout, c.p, c.kdim, c.chw
	for n0 := 0; n0 < c.n; n0 += c.chunk {
		nc := min(c.chunk, c.n-n0)
		ld := nc * p
		im2colPar(x[n0*chw:(n0+nc)*chw], nc, c.cin, c.h, c.w, op.k, op.stride, op.pad, c.cols, p, ld)
		if nc == 1 {
			gemm(false, false, cout, p, kdim, 1, w, kdim, c.cols, p, 0, y[n0*cout*p:(n0+1)*cout*p], p)
			continue
		}
		gemm(false, false, cout, ld, kdim, 1, w, kdim, c.cols, ld, 0, c.tmp, ld)
		scatterChunk(c.tmp, cout, p, n0, nc, y)
	}
}

// convBackward computes dX (op.wrtInput, a = W) or dW (a = X) from dY.
func convBackward[T Float](op convGradOp, xs, _, os tensor.Shape, a, dy, out []T) {
	c := startConv[T](op.k, xs, os)
	if c.images {
		convBackwardImages(op, c, a, dy, out)
		return
	}
	defer c.release()
	cout, p, kdim, chw := c.cout, c.p, c.kdim, c.chw
	for n0 := 0; n0 < c.n; n0 += c.chunk {
		nc := min(c.chunk, c.n-n0)
		ld := nc * p
		g := dy[n0*cout*p : (n0+1)*cout*p] // (Cout × P) for one image
		if nc > 1 {
			gatherChunk(dy, cout, p, n0, nc, c.tmp)
			g = c.tmp
		}
		if op.wrtInput {
			// dcols (Cin·k·k × nc·P) = Wᵀ · dY, folded back onto each image
			gemm(true, false, kdim, ld, cout, 1, a, kdim, g, ld, 0, c.cols, ld)
			col2imPar(c.cols, nc, c.cin, c.h, c.w, op.k, op.stride, op.pad, out[n0*chw:(n0+nc)*chw], p, ld)
			continue
		}
		// dW (Cout × Cin·k·k) += dY · colsᵀ
		im2colPar(a[n0*chw:(n0+nc)*chw], nc, c.cin, c.h, c.w, op.k, op.stride, op.pad, c.cols, p, ld)
		beta := T(1)
		if n0 == 0 {
			beta = 0
		}
		gemm(false, true, cout, kdim, ld, 1, g, ld, c.cols, ld, beta, out, kdim)
	}
}
