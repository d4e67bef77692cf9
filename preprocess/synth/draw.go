package synth

import "math"

// Rasterising helpers for the synthetic generator. Every shape is a signed
// distance function evaluated only inside its bounding box, on float32
// buffers of one image, so an image costs a few passes over its pixels.

type vec struct{ X, Y float64 }

func (a vec) add(b vec) vec             { return vec{a.X + b.X, a.Y + b.Y} }
func (a vec) sub(b vec) vec             { return vec{a.X - b.X, a.Y - b.Y} }
func (a vec) mul(s float64) vec         { return vec{a.X * s, a.Y * s} }
func (a vec) dot(b vec) float64         { return a.X*b.X + a.Y*b.Y }
func (a vec) len() float64              { return math.Sqrt(a.X*a.X + a.Y*a.Y) }
func (a vec) perp() vec                 { return vec{-a.Y, a.X} }
func (a vec) lerp(b vec, t float64) vec { return a.add(b.sub(a).mul(t)) }
func (a vec) unit() vec {
	l := a.len()
	if l == 0 {
		return vec{0, 1}
	}
	return a.mul(1 / l)
}
func rot(a vec, ang float64) vec {
	s, c := math.Sincos(ang)
	return vec{c*a.X - s*a.Y, s*a.X + c*a.Y}
}

// box is a pixel bounding box, Max exclusive.
type box struct{ X0, Y0, X1, Y1 int }

func (b box) empty() bool { return b.X0 >= b.X1 || b.Y0 >= b.Y1 }

func (b box) union(o box) box {
	if b.empty() {
		return o
	}
	if o.empty() {
		return b
	}
	return box{min(b.X0, o.X0), min(b.Y0, o.Y0), max(b.X1, o.X1), max(b.Y1, o.Y1)}
}

func (b box) overlaps(o box) bool {
	return b.X0 < o.X1 && o.X0 < b.X1 && b.Y0 < o.Y1 && o.Y0 < b.Y1
}

// layer is one float32 image plane.
type layer struct {
	W, H int
	Pix  []float32
}

// reset sizes the layer to w×h and fills it with v.
func (l *layer) reset(w, h int, v float32) {
	l.resize(w, h)
	if v == 0 {
		clear(l.Pix)
		return
	}
	for i := range l.Pix {
		l.Pix[i] = v
	}
}

// resize sizes the layer to w×h, leaving whatever it held, for a layer
// that is about to be written in full.
func (l *layer) resize(w, h int) {
	l.W, l.H = w, h
	l.Pix = growF32(l.Pix, w*h)
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func growF64(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

func growU8(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

// clip returns the pixel box covering [x0,x1]×[y0,y1] inside the layer.
func (l *layer) clip(x0, y0, x1, y1 float64) box {
	b := box{int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)) + 1, int(math.Ceil(y1)) + 1}
	b.X0, b.Y0 = max(b.X0, 0), max(b.Y0, 0)
	b.X1, b.Y1 = min(b.X1, l.W), min(b.Y1, l.H)
	return b
}

func segBox(l *layer, a, b vec, r float64) box {
	return l.clip(math.Min(a.X, b.X)-r, math.Min(a.Y, b.Y)-r, math.Max(a.X, b.X)+r, math.Max(a.Y, b.Y)+r)
}

// segParam is the clamped projection parameter of p on segment a→b.
func segParam(p, a, ab vec, inv float64) float64 {
	t := p.sub(a).dot(ab) * inv
	if t < 0 {
		return 0
	}
	if t > 1 {
		return 1
	}
	return t
}

// smin is the polynomial smooth minimum: a union of two distance fields
// that blends within k, which gives finger webs and a swelling's bulge.
func smin(a, b, k float32) float32 {
	if k <= 0 {
		return min(a, b)
	}
	h := k - abs32(a-b)
	if h <= 0 {
		return min(a, b)
	}
	h /= k
	return min(a, b) - h*h*k*0.25
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func clamp01(v float64) float64 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// unionCapsule merges a capsule whose radius goes linearly from ra to rb
// into the distance field l (smooth union within k). It returns the box of
// pixels inside the capsule.
func unionCapsule(l *layer, a, b vec, ra, rb, k float64) box {
	ab := b.sub(a)
	inv := 1 / math.Max(ab.dot(ab), 1e-9)
	bb := segBox(l, a, b, math.Max(ra, rb)+k)
	inside := box{}
	for y := bb.Y0; y < bb.Y1; y++ {
		row := l.Pix[y*l.W:]
		for x := bb.X0; x < bb.X1; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}
			t := segParam(p, a, ab, inv)
			d := p.sub(a.add(ab.mul(t))).len() - (ra + (rb-ra)*t)
			row[x] = smin(row[x], float32(d), float32(k))
			if d < 0 {
				inside = inside.union(box{x, y, x + 1, y + 1})
			}
		}
	}
	return inside
}

// unionPolygon merges a convex or concave polygon, its edges rounded by r,
// into the distance field l. The winding of pts does not matter.
func unionPolygon(l *layer, pts []vec, r, k float64) box {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x0, y0 = math.Min(x0, p.X), math.Min(y0, p.Y)
		x1, y1 = math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	edges := polygonEdges(pts)
	bb := l.clip(x0-r-k, y0-r-k, x1+r+k, y1+r+k)
	inside := box{}
	for y := bb.Y0; y < bb.Y1; y++ {
		row := l.Pix[y*l.W:]
		for x := bb.X0; x < bb.X1; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}
			d := polygonSDF(p, pts[0], edges) - r
			row[x] = smin(row[x], float32(d), float32(k))
			if d < 0 {
				inside = inside.union(box{x, y, x + 1, y + 1})
			}
		}
	}
	return inside
}

// polyEdge is edge i of a polygon, from vertex i to vertex j = i−1 (the
// last vertex for i = 0), with what polygonSDF needs of it per pixel.
type polyEdge struct {
	X, Y   float64 // vertex i
	YJ     float64 // vertex j's Y
	EX, EY float64 // vertex j − vertex i
	EE     float64 // EX² + EY²
}

func polygonEdges(v []vec) []polyEdge {
	e := make([]polyEdge, len(v))
	for i, j := 0, len(v)-1; i < len(v); j, i = i, i+1 {
		ex, ey := v[j].X-v[i].X, v[j].Y-v[i].Y
		e[i] = polyEdge{X: v[i].X, Y: v[i].Y, YJ: v[j].Y, EX: ex, EY: ey, EE: ex*ex + ey*ey}
	}
	return e
}

// polygonSDF is the exact signed distance from p to a simple polygon
// (negative inside) with first vertex v0 and edges from polygonEdges,
// after Inigo Quilez's formulation.
func polygonSDF(p, v0 vec, edges []polyEdge) float64 {
	d := p.sub(v0).dot(p.sub(v0))
	inside := false
	for _, e := range edges {
		wx, wy := p.X-e.X, p.Y-e.Y
		t := (wx*e.EX + wy*e.EY) / e.EE
		if t < 0 {
			t = 0
		} else if t > 1 {
			t = 1
		}
		bx, by := wx-e.EX*t, wy-e.EY*t
		if dd := bx*bx + by*by; dd < d {
			d = dd
		}
		c1 := p.Y >= e.Y
		c2 := p.Y < e.YJ
		c3 := e.EX*wy > e.EY*wx
		if (c1 && c2 && c3) || (!c1 && !c2 && !c3) {
			inside = !inside
		}
	}
	if inside {
		return -math.Sqrt(d)
	}
	return math.Sqrt(d)
}

// ellipseSDF approximates the signed distance to an ellipse centred at c
// with semi-axes ax (along dir u) and ay; exact on the axes, close enough
// elsewhere for shading and masks.
func ellipseSDF(p, c, u vec, ax, ay float64) float64 {
	q := p.sub(c)
	lx, ly := q.dot(u)/ax, q.dot(u.perp())/ay
	return (math.Sqrt(lx*lx+ly*ly) - 1) * math.Min(ax, ay)
}

// rectSDF is the signed distance to a rectangle centred at c with half
// sizes hx (along unit u) and hy.
func rectSDF(p, c, u vec, hx, hy float64) float64 {
	q := p.sub(c)
	lx, ly := math.Abs(q.dot(u))-hx, math.Abs(q.dot(u.perp()))-hy
	out := math.Hypot(math.Max(lx, 0), math.Max(ly, 0))
	return out + math.Min(math.Max(lx, ly), 0)
}

// over composites a shape of grey level v and coverage a onto the
// premultiplied overlay (val, alpha) — Porter-Duff "over".
func over(val, alpha []float32, i int, v, a float32) {
	val[i] = v*a + val[i]*(1-a)
	alpha[i] = a + alpha[i]*(1-a)
}

// gaussKernel returns a normalised 1-D Gaussian of the given sigma.
func gaussKernel(sigma float64) []float32 {
	r := int(math.Ceil(2.5 * sigma))
	if r < 1 {
		r = 1
	}
	k := make([]float32, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		v := math.Exp(-float64(i*i) / (2 * sigma * sigma))
		k[i+r] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] = float32(float64(k[i]) / sum)
	}
	return k
}

// blurRows is the horizontal pass of a separable Gaussian with kernel k
// (odd length), from l into tmp, replicating edge pixels. blurColumn then
// gives the vertical pass one row at a time. Each output sums its taps in
// kernel order; four outputs at a time keep four sums in flight.
func blurRows(l *layer, tmp *layer, k []float32) {
	r := len(k) / 2
	w, h := l.W, l.H
	tmp.resize(w, h)
	for y := 0; y < h; y++ {
		src := l.Pix[y*w : (y+1)*w]
		dst := tmp.Pix[y*w : (y+1)*w]
		edge := func(x int) {
			var s float32
			for i, kv := range k {
				xx := min(max(x+i-r, 0), w-1)
				s += kv * src[xx]
			}
			dst[x] = s
		}
		x := 0
		for ; x < min(r, w); x++ {
			edge(x)
		}
		for ; x+4 <= w-r; x += 4 {
			win := src[x-r : x+r+4]
			var s0, s1, s2, s3 float32
			for i, kv := range k {
				t := win[i : i+4 : i+4]
				s0 += kv * t[0]
				s1 += kv * t[1]
				s2 += kv * t[2]
				s3 += kv * t[3]
			}
			d := dst[x : x+4 : x+4]
			d[0], d[1], d[2], d[3] = s0, s1, s2, s3
		}
		for ; x < w; x++ {
			edge(x)
		}
	}
}

// blurColumn writes row y of the vertical pass over tmp (the output of
// blurRows) into dst, replicating edge rows.
func blurColumn(tmp *layer, k []float32, y int, dst []float32) {
	r := len(k) / 2
	w, h := tmp.W, tmp.H
	dst = dst[:w]
	clear(dst)
	for i, kv := range k {
		yy := min(max(y+i-r, 0), h-1)
		src := tmp.Pix[yy*w : (yy+1)*w]
		src = src[:len(dst)]
		for x := range dst {
			dst[x] += kv * src[x]
		}
	}
}

// fastRand is xorshift64*: pixel noise needs hundreds of thousands of draws
// per image, which math/rand makes a noticeable share of the cost.
type fastRand struct{ s uint64 }

func newFastRand(seed int64) fastRand {
	s := uint64(seed)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	if s == 0 {
		s = 1
	}
	return fastRand{s}
}

func (r *fastRand) next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// norm returns an approximately standard normal value (Irwin–Hall with four
// 16-bit uniforms from one draw).
func (r *fastRand) norm() float32 {
	v := r.next()
	// The four 16-bit parts summed as integers in two 32-bit lanes: the
	// sum is below 2^24, so it equals the float32 sum of the parts.
	t := v&0x0000ffff0000ffff + v>>16&0x0000ffff0000ffff
	s := float32(t&0xffffffff + t>>32)
	return (s/65536 - 2) * 1.7320508
}

// mix64 derives independent seeds (splitmix64 finaliser), so image i's
// content depends only on the generator seed and i.
func mix64(seed int64, i uint64) int64 {
	z := uint64(seed) + (i+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return int64(z ^ (z >> 31))
}
