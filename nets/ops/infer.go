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

// Inference-only fused layers. A scoring pass runs conv → bias or
// BatchNorm (running statistics) → activation as three ops, each a full
// pass over the activation into a buffer of its own; for a batch of 16
// that buffer is megabytes and has left the cache by the time the next op
// reads it. The fused op runs the convolution a chunk of images at a time
// (the chunks the convolution kernel itself uses, so the products are the
// same) and applies the per-channel affine map and the activation to that
// chunk's output while it is still in cache, in place. Every value is
// computed by the same expression, in the same precision, as the separate
// ops compute it (bnForward, biasForward, leakyForward, Gorgonia's Rectify,
// Tanh and Sigmoid), so scores and maps are bit for bit those of the
// unfused graph (TestFusedMatchesUnfused). The ops have no gradient: a
// graph that is differentiated (training, saliency) uses the separate ops.

// ActKind is the activation a fused op applies last.
type ActKind int

const (
	ActNone  ActKind = iota
	ActReLU          // max(0, v) after a BatchNorm (its fused ReLU), else Gorgonia's Rectify v·[v ≥ 0]
	ActLeaky         // LeakyReLU with Act.Slope
	ActTanh
	ActSigmoid
	ActReLUTanh // Rectify then Tanh (the CAE's output layer)
)

// Act is an activation with its parameter.
type Act struct {
	Kind  ActKind
	Slope float64 // ActLeaky's negative slope
}

func (a Act) String() string {
	return [...]string{"none", "relu", fmt.Sprintf("lrelu(%g)", a.Slope), "tanh", "sigmoid", "relu+tanh"}[a.Kind]
}

// affKind is the per-channel affine map before the activation.
type affKind int

const (
	affNone affKind = iota
	affBias         // v + b (AddBias)
	affBN           // a·v + b from BatchNorm's scale, shift and running statistics
)

// fusedOp: [conv or transposed conv] → [bias | BatchNorm] → activation.
// Inputs: x, then w when conv, then the bias, or BatchNorm's scale and
// shift. All are 4-D.
type fusedOp struct {
	conv           int // 0 none, 1 Conv2d, 2 ConvTranspose2d
	k, stride, pad int
	aff            affKind
	bn             *BatchNorm // affBN: its running statistics
	act            Act
	bufs           *opBufs
}

// ConvInfer is Conv2d (transposed: ConvTranspose2d) followed, when bias is
// not nil, by AddBias and then by act, as one inference op.
func ConvInfer(x, w *G.Node, transposed bool, stride, pad int, bias *G.Node, act Act) (*G.Node, error) {
	op, err := newFusedConv(x, w, transposed, stride, pad, act)
	if err != nil {
		return nil, err
	}
	in := G.Nodes{x, w}
	if bias != nil {
		op.aff = affBias
		in = append(in, bias)
	}
	return applyFused(op, in)
}

// ConvBNInfer is Conv2d (transposed: ConvTranspose2d), BatchNorm2d with
// its running statistics (the returned *BatchNorm holds them: SetStats)
// and act, as one inference op.
func ConvBNInfer(x, w *G.Node, transposed bool, stride, pad int, scale, shift *G.Node, act Act) (*G.Node, *BatchNorm, error) {
	op, err := newFusedConv(x, w, transposed, stride, pad, act)
	if err != nil {
		return nil, nil, err
	}
	os, _ := op.outShape(x.Shape(), w.Shape())
	return fusedBN(op, G.Nodes{x, w}, os, scale, shift)
}

// BNInfer is BatchNorm2d with its running statistics followed by act, as
// one inference op (the BAE's BatchNorm → Tanh after pooling).
func BNInfer(x, scale, shift *G.Node, act Act) (*G.Node, *BatchNorm, error) {
	if x.Shape().Dims() != 4 {
		return nil, nil, fmt.Errorf("batchnorm: input %v must be 4-D (N, C, H, W)", x.Shape())
	}
	return fusedBN(&fusedOp{act: act, bufs: &opBufs{}}, G.Nodes{x}, x.Shape(), scale, shift)
}

func fusedBN(op *fusedOp, in G.Nodes, os tensor.Shape, scale, shift *G.Node) (*G.Node, *BatchNorm, error) {
	want := tensor.Shape{1, os[1], 1, 1}
	if !scale.Shape().Eq(want) || !shift.Shape().Eq(want) {
		return nil, nil, fmt.Errorf("batchnorm: scale %v and shift %v must be %v for output %v", scale.Shape(), shift.Shape(), want, os)
	}
	dt, err := nodeDtype(in[0])
	if err != nil {
		return nil, nil, err
	}
	op.aff, op.bn = affBN, newBatchNorm(dt, os[1], false)
	op.bn.training = false
	y, err := applyFused(op, append(in, scale, shift))
	if err != nil {
		return nil, nil, err
	}
	return y, op.bn, nil
}

func newFusedConv(x, w *G.Node, transposed bool, stride, pad int, act Act) (*fusedOp, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[2] != ws[3] {
		return nil, fmt.Errorf("conv: input %v and kernel %v must both be 4-D, the kernel square", xs, ws)
	}
	op := &fusedOp{conv: 1, k: ws[2], stride: stride, pad: pad, act: act, bufs: &opBufs{}}
	if transposed {
		op.conv = 2
	}
	if _, err := op.outShape(xs, ws); err != nil {
		return nil, err
	}
	return op, nil
}

func applyFused(op *fusedOp, in G.Nodes) (*G.Node, error) {
	if op.act.Kind == ActLeaky && (op.act.Slope < 0 || op.act.Slope >= 1 || math.IsNaN(op.act.Slope)) {
		return nil, fmt.Errorf("leaky relu: slope %g must be in [0, 1)", op.act.Slope)
	}
	if op.aff == affBias {
		os := in[0].Shape()
		if op.conv != 0 {
			os, _ = op.outShape(in[0].Shape(), in[1].Shape())
		}
		if bs := in[len(in)-1].Shape(); !bs.Eq(tensor.Shape{1, os[1], 1, 1}) {
			return nil, fmt.Errorf("bias: %v does not broadcast over %v per channel", bs, os)
		}
	}
	return G.ApplyOp(*op, in...)
}

func (op fusedOp) outShape(xs, ws tensor.Shape) (tensor.Shape, error) {
	switch op.conv {
	case 1:
		return convOp{k: op.k, stride: op.stride, pad: op.pad}.outShape(xs, ws)
	case 2:
		return convTOp{k: op.k, stride: op.stride, pad: op.pad}.outShape(xs, ws)
	}
	return xs.Clone(), nil
}

func (op fusedOp) Arity() int {
	n := 1
	if op.conv != 0 {
		n++
	}
	return n + int(op.aff) // bias: 1 input, BatchNorm: 2
}

func (op fusedOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}

func (op fusedOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	if len(ds) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(ds))
	}
	xs, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input must have a tensor shape, got %T", op, ds[0])
	}
	if op.conv == 0 {
		return xs.Clone(), nil
	}
	ws, ok := ds[1].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: kernel must have a tensor shape, got %T", op, ds[1])
	}
	return op.outShape(xs, ws)
}

func (op fusedOp) ReturnsPtr() bool      { return false }
func (op fusedOp) CallsExtern() bool     { return false }
func (op fusedOp) OverwritesInput() int  { return -1 }
func (op fusedOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op fusedOp) Hashcode() uint32      { return hashOf(op) }

// The BatchNorm's address is part of the name so that two layers never
// merge into one node.
func (op fusedOp) String() string {
	return fmt.Sprintf("Fused{conv=%d,k=%d,s=%d,p=%d,aff=%d,%p,%v}", op.conv, op.k, op.stride, op.pad, op.aff, op.bn, op.act)
}
func (op fusedOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op fusedOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: inference only: a differentiated graph uses the separate ops", op)
}

func (op fusedOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := denseArgs(vs, op.Arity(), op)
	if err != nil {
		return nil, err
	}
	x := a[0]
	if x.Dims() != 4 {
		return nil, fmt.Errorf("%v: input %v must be 4-D", op, x.Shape())
	}
	var w *tensor.Dense
	os := x.Shape()
	if op.conv != 0 {
		w = a[1]
		if os, err = op.outShape(x.Shape(), w.Shape()); err != nil {
			return nil, err
		}
	}
	if op.aff == affBN && os[1] != len(op.bn.useMean) {
		return nil, fmt.Errorf("%v: output %v has %d channels, the layer %d", op, os, os[1], len(op.bn.useMean))
	}
	params := a[len(a)-int(op.aff):]
	for _, p := range params {
		if p.Shape().TotalSize() != os[1] {
			return nil, fmt.Errorf("%v: per-channel parameter %v does not fit output %v", op, p.Shape(), os)
		}
	}
	y := op.bufs.output(x.Dtype(), os)
	switch xd := x.Data().(type) {
	case []float32:
		fusedForward(op, x.Shape(), os, xd, dataOf[float32](w), dataOfAll[float32](params), y.Float32s())
	case []float64:
		fusedForward(op, x.Shape(), os, xd, dataOf[float64](w), dataOfAll[float64](params), y.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}

func dataOf[T Float](t *tensor.Dense) []T {
	if t == nil {
		return nil
	}
	return t.Data().([]T)
}

func dataOfAll[T Float](ts []*tensor.Dense) [][]T {
	out := make([][]T, len(ts))
	for i, t := range ts {
		out[i] = dataOf[T](t)
	}
	return out
}

// fusedForward runs the convolution (if any) a chunk of images at a time,
// each chunk through the unfused kernel with a batch of just those images
// (it forms the same chunk, so the same products), and the epilogue on
// each chunk's output right after. Where the unfused kernel takes the
// per-image path (large maps, convimages.go), the whole batch goes through
// it, as in the unfused graph, and each block of output rows (each image,
// transposed) gets its epilogue in the goroutine that computed it: one fork
// per layer instead of three or four per image (im2col, product, col2im,
// epilogue, each split over the cores for a single image).
func fusedForward[T Float](op fusedOp, xs, os tensor.Shape, x, w []T, params [][]T, y []T) {
	c := os[1]
	mul, add := epilogueConsts(op, c, params)
	p := os[2] * os[3]
	if op.conv == 0 {
		epilogue(op.act, x, y, xs[0], c, p, mul, add)
		return
	}
	n, xImg, yImg := xs[0], xs[1]*xs[2]*xs[3], c*p
	post := func(j, lo, hi int) {
		d := y[j*yImg : (j+1)*yImg]
		for ci := 0; ci < c; ci++ {
			seg := d[ci*p+lo : ci*p+hi]
			epiloguePlane(op.act, seg, seg, ci, mul, add)
		}
	}
	pix := p // pixels per image the kernel's product covers
	if op.conv == 2 {
		pix = xs[2] * xs[3]
	}
	chunk := convChunk(n, pix)
	if useImages(n, chunk, pix) {
		if op.conv == 1 {
			convForwardImages(convOp{k: op.k, stride: op.stride, pad: op.pad}, startConv[T](op.k, xs, os), x, w, y, post)
		} else {
			convTForwardImages(convTOp{k: op.k, stride: op.stride, pad: op.pad}, startConvT[T](op.k, xs, os), x, w, y, post)
		}
		return
	}
	ws := tensor.Shape{}
	for n0 := 0; n0 < n; n0 += chunk {
		nc := min(chunk, n-n0)
		sx := tensor.Shape{nc, xs[1], xs[2], xs[3]}
		so := tensor.Shape{nc, os[1], os[2], os[3]}
		xc, yc := x[n0*xImg:(n0+nc)*xImg], y[n0*yImg:(n0+nc)*yImg]
		if op.conv == 1 {
			convForward(convOp{k: op.k, stride: op.stride, pad: op.pad}, sx, ws, so, xc, w, yc)
		} else {
			convTForward(convTOp{k: op.k, stride: op.stride, pad: op.pad}, sx, ws, so, xc, w, yc)
		}
		epilogue(op.act, yc, yc, nc, c, p, mul, add)
	}
}

// epilogueConsts are the per-channel multiplier and addend: for BatchNorm
// with running statistics a = scale/σ and b = shift − a·mean, computed as
// bnForward computes them; for a bias, b alone (mul nil).
func epilogueConsts[T Float](op fusedOp, c int, params [][]T) (mul, add []T) {
	switch op.aff {
	case affBias:
		return nil, params[0][:c]
	case affBN:
		mul, add = make([]T, c), make([]T, c)
		runMean, runVar := dataOf[T](op.bn.mean), dataOf[T](op.bn.variance)
		scale, shift := params[0], params[1]
		for ci := 0; ci < c; ci++ {
			mean := float64(runMean[ci])
			invStd := 1 / math.Sqrt(float64(runVar[ci])+BNEpsilon)
			op.bn.useMean[ci], op.bn.invStd[ci] = mean, invStd
			a := float64(scale[ci]) * invStd
			add[ci] = T(float64(shift[ci]) - a*mean)
			mul[ci] = T(a)
		}
	}
	return mul, add
}

// epilogue writes act(affine(src)) to dst (which may be src) for n images
// of c channels of p values, split over the (image, channel) planes.
func epilogue[T Float](act Act, src, dst []T, n, c, p int, mul, add []T) {
	parallel(n*c, p, 1<<15, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			epiloguePlane(act, src[t*p:(t+1)*p], dst[t*p:(t+1)*p], t%c, mul, add)
		}
	})
}

// epiloguePlane is the epilogue of (part of) one plane of channel ci: the
// affine map, then the activation, in two tight loops.
func epiloguePlane[T Float](act Act, s, d []T, ci int, mul, add []T) {
	slope := T(act.Slope)
	// the common layers in one loop: BatchNorm + ReLU (CAE, VAE,
	// generators), bias + LeakyReLU (the GANs' trunks)
	switch {
	case mul != nil && act.Kind == ActReLU:
		bnReLU(s, d, mul[ci], add[ci])
		return
	case mul == nil && add != nil && act.Kind == ActLeaky && slope > 0:
		biasLeaky(s, d, add[ci], slope)
		return
	}
	switch {
	case mul != nil:
		m, b := mul[ci], add[ci]
		for j, v := range s {
			d[j] = m*v + b
		}
	case add != nil:
		b := add[ci]
		for j, v := range s {
			d[j] = v + b
		}
	default:
		copy(d, s)
	}
	activate(act.Kind, mul != nil, d, slope)
}

// bnReLU is d = max(m·s + b, 0), BatchNorm's fused ReLU, eight values a
// step (Go does not unroll; measured 30 % faster than the plain loop).
func bnReLU[T Float](s, d []T, m, b T) {
	d = d[:len(s)]
	for len(s) >= 8 && len(d) >= 8 {
		d[0] = max(m*s[0]+b, 0)
		d[1] = max(m*s[1]+b, 0)
		d[2] = max(m*s[2]+b, 0)
		d[3] = max(m*s[3]+b, 0)
		d[4] = max(m*s[4]+b, 0)
		d[5] = max(m*s[5]+b, 0)
		d[6] = max(m*s[6]+b, 0)
		d[7] = max(m*s[7]+b, 0)
		s, d = s[8:], d[8:]
	}
	for j, v := range s {
		d[j] = max(m*v+b, 0)
	}
}

// biasLeaky is AddBias then LeakyReLU, d = s + b, times the slope where
// negative, for 0 < slope < 1. It is written max(v, v·slope), which is the
// same value (|v·slope| ≤ |v| after rounding, and −0, NaN and ±∞ come out
// as leakyForward gives them) without leakyForward's branch, which
// mispredicts on activations of random sign (measured: 4× faster).
func biasLeaky[T Float](s, d []T, b, slope T) {
	d = d[:len(s)]
	for len(s) >= 4 && len(d) >= 4 {
		v0, v1, v2, v3 := s[0]+b, s[1]+b, s[2]+b, s[3]+b
		d[0], d[1], d[2], d[3] = max(v0, v0*slope), max(v1, v1*slope), max(v2, v2*slope), max(v3, v3*slope)
		s, d = s[4:], d[4:]
	}
	for j, v := range s {
		v += b
		d[j] = max(v, v*slope)
	}
}

// activate applies one activation in place as the unfused ops do:
// BatchNorm's ReLU is max(·, 0), Gorgonia's Rectify multiplies by [v ≥ 0]
// (keeping −0 and NaN), Tanh and Sigmoid are Gorgonia's float32 and
// float64 functions.
func activate[T Float](k ActKind, afterBN bool, d []T, slope T) {
	switch k {
	case ActReLU:
		if afterBN {
			for j, v := range d {
				d[j] = max(v, 0)
			}
			return
		}
		for j, v := range d {
			d[j] = rectify(v)
		}
	case ActLeaky:
		if slope > 0 {
			for j, v := range d {
				d[j] = max(v, v*slope)
			}
			return
		}
		for j, v := range d {
			if v < 0 {
				d[j] = v * slope
			}
		}
	case ActTanh:
		for j, v := range d {
			d[j] = tanh(v)
		}
	case ActSigmoid:
		for j, v := range d {
			d[j] = sigmoid(v)
		}
	case ActReLUTanh:
		for j, v := range d {
			d[j] = tanh(rectify(v))
		}
	}
}

func rectify[T Float](v T) T {
	if v >= 0 {
		return v
	}
	return v * 0
}

func tanh[T Float](v T) T {
	if f, ok := any(v).(float32); ok {
		return T(math32.Tanh(f))
	}
	return T(math.Tanh(float64(v)))
}

// sigmoid is Gorgonia's (math_nooptim.go): exact 0 and 1 outside
// (−88, 15) for float32, otherwise 1/(1+e^−x) in float64.
func sigmoid[T Float](v T) T {
	if f, ok := any(v).(float32); ok {
		if f < -88 {
			return 0
		}
		if f > 15 {
			return 1
		}
		return T(float32(1.0 / (1.0 + math.Exp(float64(-f)))))
	}
	x := float64(v)
	if x < -709 {
		return 0
	}
	if x > 19 {
		return 1
	}
	return T(1.0 / (1.0 + math.Exp(-x)))
}

// UnpoolBNInfer is MaxUnpool2d of y with p's indices, then BatchNorm2d
// with running statistics and act, as one inference op (the BAE's
// decoder). Unpooling leaves most of its output zero, and a zero maps to
// the same act(a·0 + b) in every position of a channel, so that value is
// computed once per channel and only the pooled values go through the
// activation; each output is still the same bits as the separate ops'.
// Only non-overlapping windows (k = stride) are fused, where each output
// position receives at most one pooled value.
func UnpoolBNInfer(y *G.Node, p *PoolIndices, scale, shift *G.Node, act Act) (*G.Node, *BatchNorm, error) {
	if p == nil {
		return nil, nil, fmt.Errorf("max unpool: no pooling indices")
	}
	if p.k != p.stride {
		return nil, nil, fmt.Errorf("max unpool: fused only for non-overlapping windows, got %dx%d at stride %d", p.k, p.k, p.stride)
	}
	if !y.Shape().Eq(p.out) {
		return nil, nil, fmt.Errorf("max unpool: input %v does not have the pooled shape %v", y.Shape(), p.out)
	}
	want := tensor.Shape{1, p.in[1], 1, 1}
	if !scale.Shape().Eq(want) || !shift.Shape().Eq(want) {
		return nil, nil, fmt.Errorf("batchnorm: scale %v and shift %v must be %v for output %v", scale.Shape(), shift.Shape(), want, p.in)
	}
	if act.Kind == ActLeaky && (act.Slope < 0 || act.Slope >= 1 || math.IsNaN(act.Slope)) {
		return nil, nil, fmt.Errorf("leaky relu: slope %g must be in [0, 1)", act.Slope)
	}
	dt, err := nodeDtype(y)
	if err != nil {
		return nil, nil, err
	}
	op := unpoolBNOp{fusedOp: fusedOp{aff: affBN, bn: newBatchNorm(dt, p.in[1], false), act: act, bufs: &opBufs{}}, p: p}
	op.bn.training = false
	out, err := G.ApplyOp(op, y, scale, shift)
	if err != nil {
		return nil, nil, err
	}
	return out, op.bn, nil
}

// unpoolBNOp: (y pooled, scale, shift) → act(BN(unpool(y))).
type unpoolBNOp struct {
	fusedOp
	p *PoolIndices
}

func (op unpoolBNOp) Arity() int { return 3 }
func (op unpoolBNOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t, t)
}
func (op unpoolBNOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.p.in.Clone(), nil }
func (op unpoolBNOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op unpoolBNOp) Hashcode() uint32                               { return hashOf(op) }
func (op unpoolBNOp) String() string {
	return fmt.Sprintf("UnpoolBN{k=%d,%p,%p,%v}", op.p.k, op.p, op.bn, op.act)
}

func (op unpoolBNOp) Do(vs ...G.Value) (G.Value, error) {
	a, err := denseArgs(vs, 3, op)
	if err != nil {
		return nil, err
	}
	if !a[0].Shape().Eq(op.p.out) {
		return nil, fmt.Errorf("%v: input has shape %v, want %v", op, a[0].Shape(), op.p.out)
	}
	if op.p.idx == nil {
		return nil, fmt.Errorf("%v: the paired max pooling has not run", op)
	}
	out := op.bufs.output(a[0].Dtype(), op.p.in)
	switch yd := a[0].Data().(type) {
	case []float32:
		unpoolBNForward(op, yd, dataOfAll[float32](a[1:]), out.Float32s())
	case []float64:
		unpoolBNForward(op, yd, dataOfAll[float64](a[1:]), out.Float64s())
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, a[0].Dtype())
	}
	return out, nil
}

func unpoolBNForward[T Float](op unpoolBNOp, y []T, params [][]T, dst []T) {
	n, c := op.p.in[0], op.p.in[1]
	hw, ohw := op.p.in[2]*op.p.in[3], op.p.out[2]*op.p.out[3]
	mul, add := epilogueConsts(op.fusedOp, c, params)
	slope := T(op.act.Slope)
	parallel(n*c, hw, 1<<15, func(lo, hi int) {
		vals := make([]T, ohw+1)
		for t := lo; t < hi; t++ {
			m, b := mul[t%c], add[t%c]
			var zero T
			// vals[:ohw]: the pooled values, to which unpooling adds a cleared
			// output's 0 (−0 becomes +0); vals[ohw]: the unpooled zeros
			for j, v := range y[t*ohw : (t+1)*ohw] {
				vals[j] = m*(zero+v) + b
			}
			vals[ohw] = m*zero + b
			activate(op.act.Kind, true, vals, slope)
			d := dst[t*hw : (t+1)*hw]
			fill := vals[ohw]
			for j := range d {
				d[j] = fill
			}
			for j, i := range op.p.idx[t*ohw : (t+1)*ohw] {
				d[i] = vals[j]
			}
		}
	})
}

// SNValue computes W/σ exactly as SpectralNorm's node does, for an
// inference graph that takes the normalised weight as an input: while the
// weights and the power-iteration vectors stay as they are (scoring batch
// after batch), it is computed once instead of on every run.
type SNValue struct{ op snOp }

// NewSNValue is a W/σ computation for a weight of dims dimensions; its
// output tensor is kept, so every Compute writes the same tensor.
func NewSNValue(dims int) *SNValue { return &SNValue{op: snOp{dims: dims, bufs: &opBufs{}}} }

// Compute writes W/σ of (w, u, v) into the kept tensor and returns it.
func (s *SNValue) Compute(w, u, v *tensor.Dense) (*tensor.Dense, error) {
	out, err := s.op.Do(w, u, v)
	if err != nil {
		return nil, err
	}
	return out.(*tensor.Dense), nil
}
