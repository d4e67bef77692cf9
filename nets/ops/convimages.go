package ops

// The convolutions' kernels for large feature maps (one image per product,
// convChunk = 1): each goroutine takes whole images of the batch and, per
// image, blocks of output rows whose im2col columns fit in the core's L2
// cache, so that the columns BLAS reads (and packs) are still in cache
// when it reads them, instead of a whole image's columns (several MB at
// 64×64 and 128×128) making a round trip through memory between im2col
// and the product. One fork and join per call instead of two per image
// (im2col, product), and no product split over goroutines. A weight
// gradient sums each goroutine's images into its own partial, and the
// partials are added in goroutine order: deterministic for a given
// GOMAXPROCS (as the products' split always was).

// convBlockElems is about how many im2col values one block holds: 512 KB
// of float32, within the L2 of the cores this runs on with room for BLAS's
// packed copies. A variable so that tests can make blocks of a few rows.
var convBlockElems = 1 << 17

// useImages says whether a convolution of n images, p output pixels each
// (chunk of them per product on the other path), takes the per-image path:
// maps of at least imagesMinPixels and at least an image per goroutine.
func useImages(n, chunk, p int) bool {
	return (chunk == 1 || p >= imagesMinPixels) && n >= workers()
}

// imagesMinPixels: from 16×16 maps on, products of one image each (N ≥ 256
// columns) ran as fast as the batched ones here, and the per-image path
// saves their regrouping copies and forks (CAE and VAE at 128 px, against
// 1024 and 2048).
const imagesMinPixels = 256

// rowBlock is how many output rows (ow wide) one block of kdim im2col rows
// covers.
func rowBlock(kdim, oh, ow int) int {
	return max(1, min(oh, convBlockElems/(kdim*ow)))
}

// unroller is one goroutine's im2col/col2im of whole images (c, h, w) for
// one geometry: load (or startAdd) an image, then im2col (or col2im) any
// blocks of output rows, then finishAdd. With a stride it keeps the
// image's phase planes, split once per image.
type unroller[T Float] struct {
	c, h, w, k, s, pad, oh, ow int
	taps                       []tapInfo
	im                         []T // the image (stride 1)
	bp                         *[]T
}

func newUnroller[T Float](c, h, w, k, s, pad int) *unroller[T] {
	u := &unroller[T]{c: c, h: h, w: w, k: k, s: s, pad: pad, oh: (h+2*pad-k)/s + 1, ow: (w+2*pad-k)/s + 1}
	u.taps = phasesIn[T](nil, h, w, s).tapTable(k, pad)
	if s > 1 {
		u.bp = borrow[T](c * phasesSize(h, w, s))
	}
	return u
}

func (u *unroller[T]) release() {
	if u.bp != nil {
		giveBack(u.bp)
	}
}

// channel is channel ci's planes.
func (u *unroller[T]) channel(ci int) phases[T] {
	if u.s == 1 {
		return phasesIn(u.im[ci*u.h*u.w:(ci+1)*u.h*u.w], u.h, u.w, 1)
	}
	size := phasesSize(u.h, u.w, u.s)
	return phasesIn((*u.bp)[ci*size:(ci+1)*size], u.h, u.w, u.s)
}

func (u *unroller[T]) load(im []T) {
	u.im = im
	if u.s > 1 {
		for ci := 0; ci < u.c; ci++ {
			u.channel(ci).split(im[ci*u.h*u.w : (ci+1)*u.h*u.w])
		}
	}
}

// im2col writes rows [y0, y1)'s columns, c·k·k rows ld apart.
func (u *unroller[T]) im2col(y0, y1 int, col []T, ld int) {
	for ci := 0; ci < u.c; ci++ {
		u.channel(ci).im2colRows(u.taps, y0, y1, u.ow, col[ci*u.k*u.k*ld:], ld)
	}
}

func (u *unroller[T]) startAdd(im []T) {
	u.im = im
	if u.s > 1 {
		clear(*u.bp)
		return
	}
	clear(im[:u.c*u.h*u.w])
}

func (u *unroller[T]) col2im(col []T, y0, y1, ld int) {
	for ci := 0; ci < u.c; ci++ {
		u.channel(ci).col2imRows(u.taps, col[ci*u.k*u.k*ld:], y0, y1, u.ow, ld)
	}
}

func (u *unroller[T]) finishAdd() {
	if u.s > 1 {
		for ci := 0; ci < u.c; ci++ {
			u.channel(ci).join(u.im[ci*u.h*u.w : (ci+1)*u.h*u.w])
		}
	}
}

// byImages runs f over the n images split over goroutines, each with its
// own unroller for the geometry (c, h, w, k, s, pad) and a block buffer of
// kdim × rows·ow values; it returns how many goroutines ran.
func byImages[T Float](n, c, h, w, k, s, pad int, f func(i, lo, hi int, u *unroller[T], rows int, col []T)) int {
	kdim := c * k * k
	return parallelN(n, 1, 0, func(i, lo, hi int) {
		u := newUnroller[T](c, h, w, k, s, pad)
		defer u.release()
		rows := rowBlock(kdim, u.oh, u.ow)
		cp := borrow[T](kdim * rows * u.ow)
		defer giveBack(cp)
		f(i, lo, hi, u, rows, *cp)
	})
}

// partials hands each goroutine of a weight gradient its own sum (the
// first writes into out itself) and adds them into out in order.
type partials[T Float] struct {
	out  []T
	bufs []*[]T
}

func newPartials[T Float](out []T) *partials[T] {
	return &partials[T]{out: out, bufs: make([]*[]T, workers())}
}

func (ps *partials[T]) get(i int) []T {
	if i == 0 {
		return ps.out
	}
	ps.bufs[i] = borrow[T](len(ps.out))
	return *ps.bufs[i]
}

func (ps *partials[T]) sum(ran int) {
	for i := 1; i < ran; i++ {
		addTo(ps.out, *ps.bufs[i])
		giveBack(ps.bufs[i])
	}
}

// convForwardImages: Y_j[:, block] = W · im2col(X_j)[:, block]. post, when
// not nil, is called on each block right after its product, with the
// image and the block's pixel range in each output plane, while the block
// is still in cache (the fused inference ops' epilogue, infer.go).
func convForwardImages[T Float](op convOp, c convWork[T], x, w, y []T, post func(j, lo, hi int)) {
	cout, p, kdim, chw := c.cout, c.p, c.kdim, c.chw
	byImages(c.n, c.cin, c.h, c.w, op.k, op.stride, op.pad, func(_, lo, hi int, u *unroller[T], rows int, col []T) {
		for j := lo; j < hi; j++ {
			u.load(x[j*chw : (j+1)*chw])
			for y0 := 0; y0 < u.oh; y0 += rows {
				y1 := min(u.oh, y0+rows)
				nb := (y1 - y0) * u.ow
				u.im2col(y0, y1, col, nb)
				gemmSerial(false, false, cout, nb, kdim, 1, w, kdim, col, nb, 0, y[j*cout*p+y0*u.ow:], p)
				if post != nil {
					post(j, y0*u.ow, y1*u.ow)
				}
			}
		}
	})
}

// convBackwardImages: dX_j = col2im(Wᵀ · dY_j) block by block, or
// dW = Σ_j dY_j · im2col(X_j)ᵀ.
func convBackwardImages[T Float](op convGradOp, c convWork[T], a, dy, out []T) {
	cout, p, kdim, chw := c.cout, c.p, c.kdim, c.chw
	if op.wrtInput {
		byImages(c.n, c.cin, c.h, c.w, op.k, op.stride, op.pad, func(_, lo, hi int, u *unroller[T], rows int, col []T) {
			for j := lo; j < hi; j++ {
				u.startAdd(out[j*chw : (j+1)*chw])
				for y0 := 0; y0 < u.oh; y0 += rows {
					y1 := min(u.oh, y0+rows)
					nb := (y1 - y0) * u.ow
					gemmSerial(true, false, kdim, nb, cout, 1, a, kdim, dy[j*cout*p+y0*u.ow:], p, 0, col, nb)
					u.col2im(col, y0, y1, nb)
				}
				u.finishAdd()
			}
		})
		return
	}
	ps := newPartials(out)
	ran := byImages(c.n, c.cin, c.h, c.w, op.k, op.stride, op.pad, func(i, lo, hi int, u *unroller[T], rows int, col []T) {
		dw := ps.get(i)
		beta := T(0)
		for j := lo; j < hi; j++ {
			u.load(a[j*chw : (j+1)*chw])
			for y0 := 0; y0 < u.oh; y0 += rows {
				y1 := min(u.oh, y0+rows)
				nb := (y1 - y0) * u.ow
				u.im2col(y0, y1, col, nb)
				gemmSerial(false, true, cout, kdim, nb, 1, dy[j*cout*p+y0*u.ow:], p, col, nb, beta, dw, kdim)
				beta = 1
			}
		}
	})
	ps.sum(ran)
}

// convTForwardImages: Y_j = col2im(Wᵀ · X_j) block by block (blocks of
// the input's rows, the unrolled geometry's output rows). post, when not
// nil, is called on each finished image (j, 0, Ho·Wo) while it is in cache.
func convTForwardImages[T Float](op convTOp, c convTWork[T], x, w, y []T, post func(j, lo, hi int)) {
	cin, cout, kk, hw := c.cin, c.cout, c.kk, c.hw
	ohw := c.ho * c.wo
	byImages(c.n, cout, c.ho, c.wo, op.k, op.stride, op.pad, func(_, lo, hi int, u *unroller[T], rows int, col []T) {
		for j := lo; j < hi; j++ {
			u.startAdd(y[j*cout*ohw : (j+1)*cout*ohw])
			for y0 := 0; y0 < u.oh; y0 += rows {
				y1 := min(u.oh, y0+rows)
				nb := (y1 - y0) * u.ow
				gemmSerial(true, false, cout*kk, nb, cin, 1, w, cout*kk, x[j*cin*hw+y0*u.ow:], hw, 0, col, nb)
				u.col2im(col, y0, y1, nb)
			}
			u.finishAdd()
			if post != nil {
				post(j, 0, ohw)
			}
		}
	})
}

// convTBackwardImages: dX_j = W · im2col(dY_j), or dW = Σ_j X_j · im2col(dY_j)ᵀ.
func convTBackwardImages[T Float](op convTGradOp, c convTWork[T], a, dy, out []T) {
	cin, cout, kk, hw := c.cin, c.cout, c.kk, c.hw
	ohw := c.ho * c.wo
	var ps *partials[T]
	if !op.wrtInput {
		ps = newPartials(out)
	}
	ran := byImages(c.n, cout, c.ho, c.wo, op.k, op.stride, op.pad, func(i, lo, hi int, u *unroller[T], rows int, col []T) {
		var dw []T
		if ps != nil {
			dw = ps.get(i)
		}
		beta := T(0)
		for j := lo; j < hi; j++ {
			u.load(dy[j*cout*ohw : (j+1)*cout*ohw])
			for y0 := 0; y0 < u.oh; y0 += rows {
				y1 := min(u.oh, y0+rows)
				nb := (y1 - y0) * u.ow
				u.im2col(y0, y1, col, nb)
				if op.wrtInput {
					gemmSerial(false, false, cin, nb, cout*kk, 1, a, cout*kk, col, nb, 0, out[j*cin*hw+y0*u.ow:], hw)
					continue
				}
				gemmSerial(false, true, cin, cout*kk, nb, 1, a[j*cin*hw+y0*u.ow:], hw, col, nb, beta, dw, cout*kk)
				beta = 1
			}
		}
	})
	if ps != nil {
		ps.sum(ran)
	}
}
