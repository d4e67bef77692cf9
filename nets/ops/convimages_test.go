package ops

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"gorgonia.org/tensor"
)

// eachTap calls f with the flat indices of input pixel, weight and output
// pixel for every term of a convolution of n images (cin, h, w) by a
// (cout, cin, k, k) kernel: the definition written out, independent of
// im2col and the products.
func eachTap(n, cin, cout, h, w, k, s, pad int, f func(xi, wi, yi int)) {
	oh, ow := (h+2*pad-k)/s+1, (w+2*pad-k)/s+1
	for b := 0; b < n; b++ {
		for co := 0; co < cout; co++ {
			for ci := 0; ci < cin; ci++ {
				for ki := 0; ki < k; ki++ {
					for kj := 0; kj < k; kj++ {
						for oy := 0; oy < oh; oy++ {
							iy := oy*s - pad + ki
							if iy < 0 || iy >= h {
								continue
							}
							for ox := 0; ox < ow; ox++ {
								ix := ox*s - pad + kj
								if ix < 0 || ix >= w {
									continue
								}
								f(((b*cin+ci)*h+iy)*w+ix, ((co*cin+ci)*k+ki)*k+kj, ((b*cout+co)*oh+oy)*ow+ox)
							}
						}
					}
				}
			}
		}
	}
}

// The per-image kernels of large maps (one of 2048 pixels or more and one
// of 420, batched on the other path) (forward, input and weight
// gradients of Conv2d and ConvTranspose2d) against the definition, with
// 2 and 3 goroutines (weight gradients summed from several partials) and
// with blocks of the whole map or of a few rows.
func TestConvImagesMatchDefinition(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(b int) { convBlockElems = b }(convBlockElems)
	r := rand.New(rand.NewSource(8))
	rnd := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return v
	}
	for _, g := range []struct{ h, w, k, s, pad int }{{46, 46, 3, 1, 1}, {93, 91, 4, 2, 1}, {95, 93, 3, 2, 0}, {20, 21, 3, 1, 1}} {
		n, cin, cout := 4, 2, 3
		oh, ow := (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		xs, ws, os := tensor.Shape{n, cin, g.h, g.w}, tensor.Shape{cout, cin, g.k, g.k}, tensor.Shape{n, cout, oh, ow}
		x, w, dy := rnd(xs.TotalSize()), rnd(ws.TotalSize()), rnd(os.TotalSize())
		// the transposed convolution maps (n, cout, oh, ow) to (n, cin, h, w)
		// with w as its (Cin, Cout, k, k) kernel; xt and dyt are its input and
		// output gradient
		xt, dyt := rnd(os.TotalSize()), rnd(xs.TotalSize())
		want := map[string][]float64{"y": make([]float64, len(dy)), "dx": make([]float64, len(x)), "dw": make([]float64, len(w)),
			"yT": make([]float64, len(x)), "dxT": make([]float64, len(dy)), "dwT": make([]float64, len(w))}
		eachTap(n, cin, cout, g.h, g.w, g.k, g.s, g.pad, func(xi, wi, yi int) {
			want["y"][yi] += x[xi] * w[wi]
			want["dx"][xi] += dy[yi] * w[wi]
			want["dw"][wi] += dy[yi] * x[xi]
			want["yT"][xi] += xt[yi] * w[wi]
			want["dxT"][yi] += dyt[xi] * w[wi]
			want["dwT"][wi] += xt[yi] * dyt[xi]
		})
		for _, procs := range []int{2, 3} {
			for _, block := range []int{1 << 17, 40 * g.k * g.k * cout} {
				runtime.GOMAXPROCS(procs)
				convBlockElems = block
				if !useImages(n, convChunk(n, oh*ow), oh*ow) {
					t.Fatalf("%+v: the per-image path is not taken", g)
				}
				cv := convOp{k: g.k, stride: g.s, pad: g.pad}
				ct := convTOp{k: g.k, stride: g.s, pad: g.pad}
				got := map[string][]float64{"y": make([]float64, len(dy)), "dx": make([]float64, len(x)), "dw": make([]float64, len(w)),
					"yT": make([]float64, len(x)), "dxT": make([]float64, len(dy)), "dwT": make([]float64, len(w))}
				convForward(cv, xs, ws, os, x, w, got["y"])
				convBackward(convGradOp{convOp: cv, wrtInput: true, shape: xs}, xs, ws, os, w, dy, got["dx"])
				convBackward(convGradOp{convOp: cv, wrtInput: false, shape: ws}, xs, ws, os, x, dy, got["dw"])
				convTForward(ct, os, ws, xs, xt, w, got["yT"])
				convTBackward(convTGradOp{convTOp: ct, wrtInput: true, shape: os}, os, ws, xs, w, dyt, got["dxT"])
				convTBackward(convTGradOp{convTOp: ct, wrtInput: false, shape: ws}, os, ws, xs, xt, dyt, got["dwT"])
				for name, wv := range want {
					for i, v := range got[name] {
						if math.Abs(v-wv[i]) > 1e-10*math.Max(1, math.Abs(wv[i])) {
							t.Fatalf("%+v, %d goroutines, blocks of %d: %s[%d] = %.15g, want %.15g", g, procs, block, name, i, v, wv[i])
						}
					}
				}
			}
		}
	}
}
