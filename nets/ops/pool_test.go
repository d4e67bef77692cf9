package ops

import (
	"xraylab/nets/internal/gradtest"

	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestMaxPoolByHand(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name      string
		h, w      int
		k, stride int
		in        []float64
		want      []float64
		idx       []int32
	}{
		{"2x2", 4, 4, 2, 2, []float64{
			1, 5, 2, 0,
			3, 4, 9, 9, // a tie: the first maximum in scan order wins
			0, 0, 7, 1,
			-1, 0, 1, 8,
		}, []float64{5, 9, 0, 8}, []int32{1, 6, 8, 15}},
		{"odd side floors", 3, 3, 2, 2, []float64{
			1, 2, 9,
			4, 3, 9,
			9, 9, 9,
		}, []float64{4}, []int32{3}},
		{"overlapping", 3, 3, 2, 1, []float64{
			1, 2, 0,
			0, 9, 3,
			4, 0, 5,
		}, []float64{9, 9, 9, 9}, []int32{4, 4, 4, 4}},
		{"NaN wins", 2, 4, 2, 2, []float64{
			1, nan, 5, 6,
			7, 2, 0, 1,
		}, []float64{nan, 6}, []int32{1, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 1, c.h, c.w), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(1, 1, c.h, c.w), tensor.WithBacking(c.in))))
			y, p, err := MaxPool2d(x, c.k, c.stride)
			if err != nil {
				t.Fatal(err)
			}
			gradtest.RunGraph(t, g)
			got := y.Value().Data().([]float64)
			if len(got) != len(c.want) {
				t.Fatalf("output %v, want %v", got, c.want)
			}
			for i := range got {
				same := got[i] == c.want[i] || (math.IsNaN(got[i]) && math.IsNaN(c.want[i]))
				if !same || p.Indices()[i] != c.idx[i] {
					t.Fatalf("output %v indices %v, want %v %v", got, p.Indices(), c.want, c.idx)
				}
			}
		})
	}
}

// Unpooling puts values back at the stored maxima (per channel and image),
// adding where overlapping windows share one.
func TestMaxUnpoolByHand(t *testing.T) {
	g := G.NewGraph()
	in := []float64{
		// image 0, channel 0
		1, 5, 2, 0,
		3, 4, 9, 1,
		0, 0, 7, 1,
		-1, 0, 1, 8,
		// image 0, channel 1
		0, 0, 0, 1,
		0, 2, 0, 0,
		3, 0, 0, 0,
		0, 0, 4, 0,
	}
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 4, 4), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(1, 2, 4, 4), tensor.WithBacking(in))))
	y, p, err := MaxPool2d(x, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	scaled := G.Must(G.Mul(y, G.NewConstant(10.0)))
	u, err := MaxUnpool2d(scaled, p)
	if err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, g)
	want := []float64{
		0, 50, 0, 0,
		0, 0, 90, 0,
		0, 0, 0, 0,
		0, 0, 0, 80,

		0, 0, 0, 10,
		0, 20, 0, 0,
		30, 0, 0, 0,
		0, 0, 40, 0,
	}
	got := u.Value().Data().([]float64)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("unpooled %v, want %v", got, want)
		}
	}

	// Overlapping windows (k 2, stride 1) whose maxima coincide add up.
	g2 := G.NewGraph()
	x2 := G.NewTensor(g2, tensor.Float64, 4, G.WithShape(1, 1, 3, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(1, 1, 3, 3), tensor.WithBacking([]float64{1, 2, 0, 0, 9, 3, 4, 0, 5}))))
	y2, p2, err := MaxPool2d(x2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := MaxUnpool2d(y2, p2)
	if err != nil {
		t.Fatal(err)
	}
	vm2 := G.NewTapeMachine(g2)
	defer vm2.Close()
	if err := vm2.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := u2.Value().Data().([]float64); got[4] != 36 || dot(got, got) != 36*36 {
		t.Fatalf("overlapping unpool %v, want 36 at the centre only", got)
	}
}

func TestPoolErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 4, 4), G.WithName("x"), G.WithInit(G.Zeroes()))
	v := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 4), G.WithName("v"), G.WithInit(G.Zeroes()))
	_, p, err := MaxPool2d(x, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"rank", poolErr2(MaxPool2d(v, 2, 2)), "max pool: input (4, 4) must be 4-D (N, C, H, W)"},
		{"kernel", poolErr2(MaxPool2d(x, 0, 2)), "max pool: kernel 0 and stride 2 must be positive"},
		{"window", poolErr2(MaxPool2d(x, 5, 1)), "max pool: input (2, 3, 4, 4) is smaller than the 5x5 window"},
		{"unpool shape", poolErr1(MaxUnpool2d(x, p)), "max unpool: input (2, 3, 4, 4) does not have the pooled shape (2, 3, 2, 2)"},
		{"unpool nil", poolErr1(MaxUnpool2d(x, nil)), "max unpool: no pooling indices"},
	}
	for _, c := range cases {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, c.err, c.want)
		}
	}
	// An unpooling whose pooling never ran fails instead of reading garbage.
	y := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2, 3, 2, 2))
	if _, err := (scatterOp{p: p}).Do(y); err == nil || err.Error() != "MaxUnpool2d{k=2,s=2,"+poolPtr(p)+"}: the paired max pooling has not run" {
		t.Fatalf("error %v", err)
	}
}

func poolErr2[A, B any](_ A, _ B, err error) error { return err }
func poolErr1[A any](_ A, err error) error         { return err }
func poolPtr(p *PoolIndices) string {
	return (maxPoolOp{p: p}).String()[len("MaxPool2d{k=2,s=2,") : len((maxPoolOp{p: p}).String())-1]
}

// scatter and gather are adjoint: <scatter(y), x> = <y, gather(x)>.
func TestUnpoolIsAdjointOfGather(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 5, 6), G.WithName("x"), G.WithValue(gradtest.RandDense(r, 2, 3, 5, 6)))
	_, p, err := MaxPool2d(x, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	gradtest.RunGraph(t, g)
	y := gradtest.RandDense(r, p.out...)
	z := gradtest.RandDense(r, p.in...)
	su, err := scatterOp{p: p}.Do(y)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := gatherOp{p: p}.Do(z)
	if err != nil {
		t.Fatal(err)
	}
	lhs := dot(su.(*tensor.Dense).Float64s(), z.Float64s())
	rhs := dot(y.Float64s(), ga.(*tensor.Dense).Float64s())
	if math.Abs(lhs-rhs) > 1e-12 {
		t.Fatalf("<unpool(y), z> = %.15g, <y, gather(z)> = %.15g", lhs, rhs)
	}
}

// Gradients of pool → scale → unpool chains against central differences of
// the same graph's forward value. Random inputs have no ties, so a 1e-6
// step never moves a maximum.
func TestPoolNumericalGradient(t *testing.T) {
	cases := []struct {
		name      string
		shape     []int
		k, stride int
	}{
		{"k2s2", []int{2, 2, 4, 6}, 2, 2},
		{"k3s2 overlapping", []int{1, 2, 5, 5}, 3, 2},
		{"k2s1 overlapping", []int{2, 1, 3, 4}, 2, 1},
	}
	r := rand.New(rand.NewSource(9))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xT := gradtest.RandDense(r, c.shape...)
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.shape...), G.WithName("x"), G.WithValue(xT))
			y, p, err := MaxPool2d(x, c.k, c.stride)
			if err != nil {
				t.Fatal(err)
			}
			// a pooled-shaped parameter so the unpooling's own input gradient is checked too
			aT := gradtest.RandDense(r, p.out...)
			a := G.NewTensor(g, tensor.Float64, 4, G.WithShape(p.out...), G.WithName("a"), G.WithValue(aT))
			ya := G.Must(G.HadamardProd(y, a))
			u, err := MaxUnpool2d(G.Must(G.Square(ya)), p)
			if err != nil {
				t.Fatal(err)
			}
			rw := G.NodeFromAny(g, gradtest.RandDense(r, p.in...), G.WithName("r"))
			// Σ r ⊙ unpool((pool(x)·a)²) + Σ pool(x): both the pooled values and the indices matter
			cost := G.Must(G.Add(G.Must(G.Sum(G.Must(G.HadamardProd(u, rw)))), G.Must(G.Sum(y))))
			if _, err := G.Grad(cost, x, a); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g, G.BindDualValues(x, a))
			defer vm.Close()
			run := func() float64 {
				vm.Reset()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				return cost.Value().Data().(float64)
			}
			run()
			// read both gradients now: the machine adds into them on every run
			var analytics [][]float64
			for _, n := range []*G.Node{x, a} {
				gv, err := n.Grad()
				if err != nil {
					t.Fatal(err)
				}
				analytics = append(analytics, append([]float64(nil), gv.Data().([]float64)...))
			}
			for k, in := range []struct {
				n *G.Node
				t *tensor.Dense
			}{{x, xT}, {a, aT}} {
				analytic := analytics[k]
				data := in.t.Float64s()
				for i := range data {
					num := gradtest.CentralDiff(run, data, i)
					if math.Abs(num-analytic[i]) > 1e-7+1e-6*math.Abs(num) {
						t.Fatalf("d cost/d %s[%d]: analytic %.10g, numerical %.10g", in.n.Name(), i, analytic[i], num)
					}
				}
			}
		})
	}
}

// The unrolled 2×2/s2 pooling against the rule written out (first maximum
// in scan order, a NaN wins), on float32 values with ties and NaNs, on a
// tensor large enough to be split over goroutines; unpooling then puts
// every value back at its index.
func TestMaxPool2x2MatchesRule(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	n, c, h, w := 3, 5, 64, 62
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(r.Intn(7)) // many ties
		if r.Intn(500) == 0 {
			x[i] = float32(math.NaN())
		}
	}
	p := &PoolIndices{k: 2, stride: 2, in: tensor.Shape{n, c, h, w}, out: tensor.Shape{n, c, h / 2, w / 2}}
	p.idx = make([]int32, p.out.TotalSize())
	y := make([]float32, p.out.TotalSize())
	maxPoolForward(p, x, y)
	ho, wo := h/2, w/2
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				best := -1
				for _, at := range []int{2*oy*w + 2*ox, 2*oy*w + 2*ox + 1, (2*oy+1)*w + 2*ox, (2*oy+1)*w + 2*ox + 1} {
					v := x[pl*h*w+at]
					if best < 0 || v != v || (x[pl*h*w+best] == x[pl*h*w+best] && v > x[pl*h*w+best]) {
						if best >= 0 && x[pl*h*w+best] != x[pl*h*w+best] {
							break
						}
						best = at
					}
				}
				j := pl*ho*wo + oy*wo + ox
				if int(p.idx[j]) != best || math.Float32bits(y[j]) != math.Float32bits(x[pl*h*w+best]) {
					t.Fatalf("plane %d window (%d,%d): index %d value %v, want %d %v", pl, oy, ox, p.idx[j], y[j], best, x[pl*h*w+best])
				}
			}
		}
	}
	back := make([]float32, len(x))
	poolScatter(p, y, back)
	again := make([]float32, len(y))
	poolGather(p, back, again)
	for j := range y {
		if math.Float32bits(again[j]) != math.Float32bits(y[j]) {
			t.Fatalf("gather(scatter(y))[%d] = %v, want %v", j, again[j], y[j])
		}
	}
}
