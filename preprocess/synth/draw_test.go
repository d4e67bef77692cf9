package synth

import (
	"math"
	"math/rand"
	"testing"
)

// naiveBlur is the separable Gaussian written plainly: per output pixel,
// taps summed in kernel order with edge pixels replicated, rows first.
func naiveBlur(pix []float32, w, h int, k []float32) []float32 {
	r := len(k) / 2
	tmp := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float32
			for i, kv := range k {
				s += kv * pix[y*w+min(max(x+i-r, 0), w-1)]
			}
			tmp[y*w+x] = s
		}
	}
	out := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s float32
			for i, kv := range k {
				s += kv * tmp[min(max(y+i-r, 0), h-1)*w+x]
			}
			out[y*w+x] = s
		}
	}
	return out
}

// The unrolled blur must give the plain sums bit for bit, for images
// narrower than the kernel and widths that leave every remainder of the
// four-wide loop.
func TestBlurMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, c := range []struct {
		w, h  int
		sigma float64
	}{{1, 1, 0.7}, {3, 2, 1.2}, {5, 7, 0.9}, {9, 4, 2.3}, {10, 3, 0.4}, {33, 17, 1.1}, {64, 64, 2.6}} {
		l := layer{}
		l.resize(c.w, c.h)
		for i := range l.Pix {
			l.Pix[i] = float32(r.NormFloat64() * 50)
		}
		k := gaussKernel(c.sigma)
		want := naiveBlur(l.Pix, c.w, c.h, k)
		var tmp layer
		blurRows(&l, &tmp, k)
		row := make([]float32, c.w)
		for y := 0; y < c.h; y++ {
			blurColumn(&tmp, k, y, row)
			for x, v := range row {
				if math.Float32bits(v) != math.Float32bits(want[y*c.w+x]) {
					t.Fatalf("%dx%d sigma %g: pixel (%d,%d) = %v, want %v", c.w, c.h, c.sigma, x, y, v, want[y*c.w+x])
				}
			}
		}
	}
}

// norm sums its four 16-bit parts as integers; the float32 sum it
// replaces must give the same bits.
func TestFastRandNormMatchesFloatSum(t *testing.T) {
	a, b := newFastRand(42), newFastRand(42)
	for i := 0; i < 100000; i++ {
		v := b.next()
		s := float32(v&0xffff) + float32((v>>16)&0xffff) + float32((v>>32)&0xffff) + float32(v>>48)
		want := (s/65536 - 2) * 1.7320508
		if got := a.norm(); got != want {
			t.Fatalf("draw %d: %v, want %v", i, got, want)
		}
	}
	// Extremes of the parts.
	for _, v := range []uint64{0, math.MaxUint64, 0xffff0000ffff0000, 0x0000ffff0000ffff} {
		t2 := v&0x0000ffff0000ffff + v>>16&0x0000ffff0000ffff
		if got, want := t2&0xffffffff+t2>>32, v&0xffff+v>>16&0xffff+v>>32&0xffff+v>>48; got != want {
			t.Errorf("%#x: lane sum %d, want %d", v, got, want)
		}
	}
}

// refPolygonSDF: even-odd ray casting for the sign, nearest point on each
// segment for the distance.
func refPolygonSDF(p vec, v []vec) float64 {
	d := math.Inf(1)
	in := false
	for i := range v {
		a, b := v[i], v[(i+1)%len(v)]
		ab := b.sub(a)
		t := math.Max(0, math.Min(1, p.sub(a).dot(ab)/ab.dot(ab)))
		d = math.Min(d, p.sub(a.add(ab.mul(t))).len())
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < a.X+(p.Y-a.Y)*(b.X-a.X)/(b.Y-a.Y) {
			in = !in
		}
	}
	if in {
		return -d
	}
	return d
}

func TestPolygonSDF(t *testing.T) {
	concave := []vec{{0, 0}, {10, 0}, {10, 10}, {5, 4}, {0, 10}} // a notch from the top
	cases := []struct {
		p    vec
		want float64
	}{
		{vec{5, 1}, -1},                    // inside, 1 from the bottom edge
		{vec{5, -2}, 2},                    // below
		{vec{5, 6}, 2 * 5 / math.Sqrt(61)}, // in the notch, outside: distance to edge (5,4)-(10,10)
		{vec{13, 14}, 5},                   // off the corner (10,10)
	}
	e := polygonEdges(concave)
	for _, c := range cases {
		got := polygonSDF(c.p, concave[0], e)
		if math.Abs(got-c.want) > 1e-12 || math.Abs(got-refPolygonSDF(c.p, concave)) > 1e-12 {
			t.Errorf("sdf%v = %v, want %v (reference %v)", c.p, got, c.want, refPolygonSDF(c.p, concave))
		}
	}
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 2000; i++ {
		p := vec{r.Float64()*16 - 3, r.Float64()*16 - 3}
		if got, want := polygonSDF(p, concave[0], e), refPolygonSDF(p, concave); math.Abs(got-want) > 1e-9 {
			t.Fatalf("sdf%v = %v, reference %v", p, got, want)
		}
	}
}
