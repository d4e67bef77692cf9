package ops

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randTensor fills a tensor of dtype dt with U(lo, hi) values.
func randTensor(r *rand.Rand, dt tensor.Dtype, lo, hi float64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(lo + (hi-lo)*r.Float64())
		}
	case []float64:
		for i := range d {
			d[i] = lo + (hi-lo)*r.Float64()
		}
	}
	return t
}

// bitsOf are a tensor's values as bit patterns, for exact comparison.
func bitsOf(v G.Value) []uint64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = uint64(math.Float32bits(x))
		}
		return out
	case []float64:
		out := make([]uint64, len(d))
		for i, x := range d {
			out[i] = math.Float64bits(x)
		}
		return out
	}
	return nil
}

// TestFusedMatchesUnfused: every fused inference op gives, bit for bit,
// what the separate ops (convolution, AddBias, BatchNorm2d with running
// statistics and its ReLU, the activation) give in an eval-mode graph, in
// both dtypes, with the convolution's chunks of several images and of
// one, and with values that reach Sigmoid's saturated branches and
// Rectify's negative zeros.
func TestFusedMatchesUnfused(t *testing.T) {
	type geom struct {
		n, cin, h, cout, k, s, p int
		transposed               bool
	}
	geoms := []geom{
		{3, 2, 9, 3, 3, 1, 1, false},  // 81 pixels: all three images in one product
		{2, 2, 48, 2, 3, 1, 1, false}, // 2304 pixels: one image per product
		{3, 2, 5, 3, 4, 2, 1, true},
		{2, 2, 48, 2, 4, 2, 1, true},
		{2, 3, 6, 2, 0, 0, 0, false}, // no convolution: BNInfer
	}
	acts := []Act{{Kind: ActNone}, {Kind: ActReLU}, {Kind: ActLeaky, Slope: 0.2}, {Kind: ActTanh}, {Kind: ActSigmoid}, {Kind: ActReLUTanh}}
	// two goroutines, so that the 2304-pixel maps take the per-image path
	// (fused: the whole batch with the epilogue per block), with whole
	// images per block and blocks of four rows
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	defer func(v int) { convBlockElems = v }(convBlockElems)
	r := rand.New(rand.NewSource(5))
	for _, block := range []int{convBlockElems, 18 * 48 * 4} {
		convBlockElems = block
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			for _, gm := range geoms {
				for aff := affNone; aff <= affBN; aff++ {
					if gm.k == 0 && aff != affBN {
						continue
					}
					for _, act := range acts {
						name := fmt.Sprintf("block%d/%v/%+v/aff%d/%v", block, dt, gm, aff, act)
						x := randTensor(r, dt, -3, 3, gm.n, gm.cin, gm.h, gm.h)
						if gm.k == 0 {
							// the activations' edge cases: ±0, ±∞, NaN
							for i, v := range []float64{math.Copysign(0, -1), 0, math.Inf(1), math.Inf(-1), math.NaN()} {
								switch d := x.Data().(type) {
								case []float32:
									d[7*i] = float32(v)
								case []float64:
									d[7*i] = v
								}
							}
						}
						var w *tensor.Dense
						cout := gm.cin
						if gm.k > 0 {
							cout = gm.cout
							ws := []int{gm.cout, gm.cin, gm.k, gm.k}
							if gm.transposed {
								ws = []int{gm.cin, gm.cout, gm.k, gm.k}
							}
							w = randTensor(r, dt, -2, 2, ws...)
						}
						scale := randTensor(r, dt, -8, 8, 1, cout, 1, 1)
						shift := randTensor(r, dt, -20, 20, 1, cout, 1, 1)
						mean := randTensor(r, dt, -1, 1, cout)
						variance := randTensor(r, dt, 0.5, 2, cout)
						run := func(fused bool) G.Value {
							g := G.NewGraph()
							in := func(name string, v *tensor.Dense) *G.Node {
								return G.NewTensor(g, dt, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
							}
							h := in("x", x)
							var wn *G.Node
							if w != nil {
								wn = in("w", w)
							}
							sn, bn := in("scale", scale), in("shift", shift)
							var y *G.Node
							var layer *BatchNorm
							var err error
							switch {
							case fused && gm.k == 0:
								y, layer, err = BNInfer(h, sn, bn, act)
							case fused && aff == affBN:
								y, layer, err = ConvBNInfer(h, wn, gm.transposed, gm.s, gm.p, sn, bn, act)
							case fused && aff == affBias:
								y, err = ConvInfer(h, wn, gm.transposed, gm.s, gm.p, bn, act)
							case fused:
								y, err = ConvInfer(h, wn, gm.transposed, gm.s, gm.p, nil, act)
							default:
								y, layer, err = unfused(h, wn, gm.transposed, gm.s, gm.p, aff, sn, bn, act)
							}
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if layer != nil {
								if err := layer.SetStats(mean, variance); err != nil {
									t.Fatal(err)
								}
							}
							var out G.Value
							G.Read(y, &out)
							vm := G.NewTapeMachine(g, G.EvalMode())
							defer vm.Close()
							if err := vm.RunAll(); err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							return out
						}
						want, got := run(false), run(true)
						if !want.Shape().Eq(got.Shape()) {
							t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
						}
						wb, gb := bitsOf(want), bitsOf(got)
						for i := range wb {
							if wb[i] != gb[i] {
								t.Fatalf("%s: value %d is %v, the separate ops give %v", name, i, got.Data(), want.Data())
							}
						}
					}
				}
			}
		}
	}
}

// unfused is the layer as separate ops, as nets.GraphNet.Conv builds it
// for a training graph.
func unfused(x, w *G.Node, transposed bool, stride, pad int, aff affKind, scale, shift *G.Node, act Act) (*G.Node, *BatchNorm, error) {
	h := x
	var err error
	if w != nil {
		if transposed {
			h, err = ConvTranspose2d(h, w, stride, pad)
		} else {
			h, err = Conv2d(h, w, stride, pad)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if aff == affBias {
		if h, err = AddBias(h, shift); err != nil {
			return nil, nil, err
		}
	}
	var layer *BatchNorm
	if aff == affBN {
		if h, layer, err = BatchNorm2d(h, scale, shift, act.Kind == ActReLU); err != nil {
			return nil, nil, err
		}
		if act.Kind == ActReLU {
			return h, layer, nil
		}
	}
	switch act.Kind {
	case ActReLU:
		h, err = G.Rectify(h)
	case ActLeaky:
		h, err = LeakyReLU(h, act.Slope)
	case ActTanh:
		h, err = G.Tanh(h)
	case ActSigmoid:
		h, err = G.Sigmoid(h)
	case ActReLUTanh:
		if h, err = G.Rectify(h); err == nil {
			h, err = G.Tanh(h)
		}
	}
	return h, layer, err
}

// TestFusedErrors: bad layers are refused with what is wrong, and a fused
// op cannot be differentiated.
func TestFusedErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 8, 8), G.WithName("x"), G.WithInit(G.Zeroes()))
	w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(4, 3, 3, 3), G.WithName("w"), G.WithInit(G.Zeroes()))
	b3 := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 3, 1, 1), G.WithName("b3"), G.WithInit(G.Zeroes()))
	b4 := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 4, 1, 1), G.WithName("b4"), G.WithInit(G.Zeroes()))
	for _, c := range []struct {
		want string
		f    func() error
	}{
		{"leaky relu: slope 1 must be in [0, 1)", func() error {
			_, err := ConvInfer(x, w, false, 1, 1, nil, Act{Kind: ActLeaky, Slope: 1})
			return err
		}},
		{"bias: (1, 3, 1, 1) does not broadcast over (2, 4, 8, 8) per channel", func() error {
			_, err := ConvInfer(x, w, false, 1, 1, b3, Act{})
			return err
		}},
		{"batchnorm: scale (1, 3, 1, 1) and shift (1, 4, 1, 1) must be (1, 4, 1, 1) for output (2, 4, 8, 8)", func() error {
			_, _, err := ConvBNInfer(x, w, false, 1, 1, b3, b4, Act{})
			return err
		}},
		{"conv: input has 3 channels, kernel (3, 4, 3, 3) expects 4", func() error {
			_, err := ConvInfer(x, G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 4, 3, 3), G.WithName("w2"), G.WithInit(G.Zeroes())), false, 1, 1, nil, Act{})
			return err
		}},
	} {
		if err := c.f(); err == nil || err.Error() != c.want {
			t.Errorf("got error %v, want %q", err, c.want)
		}
	}
	y, err := ConvInfer(x, w, false, 1, 1, b4, Act{Kind: ActReLU})
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(y))
	if _, err := G.Grad(cost, w); err == nil {
		t.Fatal("the gradient of a fused op was built; want an error")
	}
}

// TestUnpoolBNMatchesUnfused: UnpoolBNInfer gives, bit for bit, what
// MaxUnpool2d, BatchNorm2d (running statistics, its ReLU) and the
// activation give as separate ops, negative zeros among the pooled values
// included; overlapping windows are refused.
func TestUnpoolBNMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	acts := []Act{{Kind: ActNone}, {Kind: ActReLU}, {Kind: ActLeaky, Slope: 0.1}, {Kind: ActTanh}, {Kind: ActSigmoid}}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, act := range acts {
			x := randTensor(r, dt, -3, 3, 2, 3, 8, 6)
			// whole windows of negative zeros: their maximum is −0
			for _, i := range []int{0, 1, 6, 7} {
				switch d := x.Data().(type) {
				case []float32:
					d[i] = float32(math.Copysign(0, -1))
				case []float64:
					d[i] = math.Copysign(0, -1)
				}
			}
			scale := randTensor(r, dt, -8, 8, 1, 3, 1, 1)
			shift := randTensor(r, dt, -20, 20, 1, 3, 1, 1)
			mean := randTensor(r, dt, -1, 1, 3)
			variance := randTensor(r, dt, 0.5, 2, 3)
			run := func(fused bool) G.Value {
				g := G.NewGraph()
				in := func(name string, v *tensor.Dense) *G.Node {
					return G.NewTensor(g, dt, v.Dims(), G.WithShape(v.Shape()...), G.WithName(name), G.WithValue(v))
				}
				y, p, err := MaxPool2d(in("x", x), 2, 2)
				if err != nil {
					t.Fatal(err)
				}
				sn, bn := in("scale", scale), in("shift", shift)
				var out *G.Node
				var layer *BatchNorm
				if fused {
					out, layer, err = UnpoolBNInfer(y, p, sn, bn, act)
				} else {
					var u *G.Node
					if u, err = MaxUnpool2d(y, p); err == nil {
						out, layer, err = unfused(u, nil, false, 0, 0, affBN, sn, bn, act)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := layer.SetStats(mean, variance); err != nil {
					t.Fatal(err)
				}
				var v G.Value
				G.Read(out, &v)
				vm := G.NewTapeMachine(g, G.EvalMode())
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				return v
			}
			want, got := run(false), run(true)
			wb, gb := bitsOf(want), bitsOf(got)
			if len(wb) != len(gb) {
				t.Fatalf("%v %v: %d values, want %d", dt, act, len(gb), len(wb))
			}
			for i := range wb {
				if wb[i] != gb[i] {
					t.Fatalf("%v %v: value %d is %v, the separate ops give %v", dt, act, i, got.Data(), want.Data())
				}
			}
		}
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 2, 7, 7), G.WithName("x"), G.WithInit(G.Zeroes()))
	s := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 2, 1, 1), G.WithName("s"), G.WithInit(G.Zeroes()))
	y, p, err := MaxPool2d(x, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := "max unpool: fused only for non-overlapping windows, got 3x3 at stride 2"
	if _, _, err := UnpoolBNInfer(y, p, s, s, Act{}); err == nil || err.Error() != want {
		t.Fatalf("got error %v, want %q", err, want)
	}
}

// TestBiasLeakyMatchesLeakyForward: the branch-free bias + LeakyReLU is
// biasForward then leakyForward bit for bit, on random values and on ±0,
// ±∞ and NaN, for every length (the unrolled part and the tail).
func TestBiasLeakyMatchesLeakyForward(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	specials := []float32{float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-45, -1e-45}
	for _, slope := range []float32{0.01, 0.1, 0.2} {
		for n := 0; n < 12; n++ {
			s := make([]float32, n+len(specials))
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
			copy(s[n:], specials)
			for _, b := range []float32{0, -0.5, 0.25} {
				want, got, tmp := make([]float32, len(s)), make([]float32, len(s)), make([]float32, len(s))
				biasForward(s, []float32{b}, 1, 1, len(s), tmp)
				leakyForward(tmp, slope, want)
				biasLeaky(s, got, b, slope)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("slope %g, bias %g: value %d (%g) gives %g, leakyForward %g", slope, b, i, s[i], got[i], want[i])
					}
				}
			}
		}
	}
}
