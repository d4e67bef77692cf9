package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveConvT is the textbook scatter definition of a transposed
// convolution, written independently of the im2col/col2im path.
func naiveConvT(x, w *tensor.Dense, stride, pad int) *tensor.Dense {
	xs, ws := x.Shape(), w.Shape()
	n, cin, h, wd := xs[0], xs[1], xs[2], xs[3]
	cout, k := ws[1], ws[2]
	ho, wo := (h-1)*stride-2*pad+k, (wd-1)*stride-2*pad+k
	y := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(n, cout, ho, wo))
	xd, wdt, yd := x.Float64s(), w.Float64s(), y.Float64s()
	for b := 0; b < n; b++ {
		for ci := 0; ci < cin; ci++ {
			for i := 0; i < h; i++ {
				for j := 0; j < wd; j++ {
					v := xd[((b*cin+ci)*h+i)*wd+j]
					for co := 0; co < cout; co++ {
						for ki := 0; ki < k; ki++ {
							for kj := 0; kj < k; kj++ {
								oy, ox := i*stride+ki-pad, j*stride+kj-pad
								if oy < 0 || oy >= ho || ox < 0 || ox >= wo {
									continue
								}
								yd[((b*cout+co)*ho+oy)*wo+ox] += v * wdt[((ci*cout+co)*k+ki)*k+kj]
							}
						}
					}
				}
			}
		}
	}
	return y
}

func TestConvTransposeForwardByHand(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 1, 2, 2), tensor.WithBacking([]float64{1, 2, 3, 4}))
	w := tensor.New(tensor.WithShape(1, 1, 3, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	// Scatter each input pixel times the kernel onto a 5×5 grid with
	// stride 2, then crop one pixel of padding on every side.
	want := []float64{5, 14, 10, 14, 36, 24, 15, 34, 20}
	out, err := convTOp{k: 3, stride: 2, pad: 1}.Do(x, w)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*tensor.Dense)
	if !got.Shape().Eq(tensor.Shape{1, 1, 3, 3}) {
		t.Fatalf("shape %v, want (1,1,3,3)", got.Shape())
	}
	for i, v := range got.Float64s() {
		if v != want[i] {
			t.Fatalf("output %v, want %v", got.Float64s(), want)
		}
	}
}

func TestConvTransposeMatchesNaive(t *testing.T) {
	cases := []convCase{
		{"k4s2p1", 2, 3, 2, 3, 4, 4, 2, 1},
		{"k3s1p1", 2, 2, 3, 4, 3, 3, 1, 1},
		{"k2s2p0", 1, 2, 2, 2, 3, 2, 2, 0},
		{"k3s2p0", 2, 1, 2, 3, 2, 3, 2, 0},
		// more than convChunkCols input pixels: one image per product
		{"oneImageAtATime", 2, 2, 1, 46, 46, 3, 1, 1},
	}
	r := rand.New(rand.NewSource(1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := gradtest.RandDense(r, c.n, c.cin, c.h, c.w)
			w := gradtest.RandDense(r, c.cin, c.cout, c.k, c.k)
			out, err := convTOp{k: c.k, stride: c.stride, pad: c.pad}.Do(x, w)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveConvT(x, w, c.stride, c.pad)
			got := out.(*tensor.Dense)
			if !got.Shape().Eq(want.Shape()) {
				t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
			}
			for i, v := range got.Float64s() {
				if math.Abs(v-want.Float64s()[i]) > 1e-12 {
					t.Fatalf("element %d: %g, want %g", i, v, want.Float64s()[i])
				}
			}
		})
	}
}

// The transposed convolution is the adjoint of Gorgonia's own Conv2d with
// the same kernel: <convT(x), y> = <x, conv(y)>.
func TestConvTransposeIsAdjointOfConv2d(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	const n, cin, cout, h, k, s, p = 2, 3, 2, 4, 4, 2, 1
	x := gradtest.RandDense(r, n, cin, h, h)
	w := gradtest.RandDense(r, cin, cout, k, k)
	ho := (h-1)*s - 2*p + k
	y := gradtest.RandDense(r, n, cout, ho, ho)

	g := G.NewGraph()
	yn := G.NodeFromAny(g, y, G.WithName("y"))
	wn := G.NodeFromAny(g, w, G.WithName("w"))
	conv, err := G.Conv2d(yn, wn, tensor.Shape{k, k}, []int{p, p}, []int{s, s}, []int{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, g)
	ct, err := convTOp{k: k, stride: s, pad: p}.Do(x, w)
	if err != nil {
		t.Fatal(err)
	}
	lhs := dot(ct.(*tensor.Dense).Float64s(), y.Float64s())
	rhs := dot(x.Float64s(), conv.Value().(*tensor.Dense).Float64s())
	if math.Abs(lhs-rhs) > 1e-10*math.Max(1, math.Abs(lhs)) {
		t.Fatalf("<convT(x), y> = %.12g but <x, conv(y)> = %.12g", lhs, rhs)
	}
}

// Gradients from the graph against central differences of the op itself.
func TestConvTransposeNumericalGradient(t *testing.T) {
	cases := []convCase{
		{"k4s2p1", 2, 2, 3, 3, 3, 4, 2, 1},
		{"k3s1p1", 1, 3, 2, 4, 3, 3, 1, 1},
		{"k3s2p0", 2, 2, 1, 2, 3, 3, 2, 0},
		{"oneImageAtATime", 2, 1, 1, 46, 46, 3, 1, 1},
	}
	r := rand.New(rand.NewSource(3))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op := convTOp{k: c.k, stride: c.stride, pad: c.pad}
			x := gradtest.RandDense(r, c.n, c.cin, c.h, c.w)
			w := gradtest.RandDense(r, c.cin, c.cout, c.k, c.k)
			os, err := op.outShape(x.Shape(), w.Shape())
			if err != nil {
				t.Fatal(err)
			}
			rw := gradtest.RandDense(r, os...)
			checkOpGradients(t, x, w, rw, func(x, w *G.Node) (*G.Node, error) { return ConvTranspose2d(x, w, c.stride, c.pad) },
				opLoss(t, op, x, w, rw), func(float64) float64 { return 1e-10 }, 0)
		})
	}
}

func TestConvTransposeShapeErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 3, 3), G.WithName("x"))
	cases := []struct {
		name string
		w    tensor.Shape
		s, p int
		want string
	}{
		{"channels", tensor.Shape{3, 1, 3, 3}, 1, 1, "conv transpose: input has 2 channels, kernel (3, 1, 3, 3) expects 3"},
		{"stride", tensor.Shape{2, 1, 3, 3}, 0, 1, "conv transpose: kernel 3, stride 0, pad 1: kernel and stride must be positive, pad non-negative"},
		{"empty", tensor.Shape{2, 1, 1, 1}, 1, 2, "conv transpose: input (1, 2, 3, 3) with kernel 1, stride 1, pad 2 gives an empty output"},
		{"nonsquare", tensor.Shape{2, 1, 3, 2}, 1, 1, "conv transpose: kernel (2, 1, 3, 2) must be square"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.w...), G.WithName("w_"+c.name))
			_, err := ConvTranspose2d(x, w, c.s, c.p)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}
