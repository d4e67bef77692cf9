package synth

import (
	"math"
	"math/rand"
)

// The hand model. Coordinates are in hand lengths: the wrist joint is at
// y = 0, the middle fingertip near y = 1, +x points to the thumb. The
// proportions follow adult hand anatomy (metacarpals about a third of the
// hand length, phalanges shrinking distally, eight carpal bones in two rows,
// the distal radius wider than the ulna).

// boneDef is one bone: a capsule from A (proximal) to B (distal) whose
// radius flares from the shaft radius Rs to Ra and Rb at the ends.
type boneDef struct {
	Name   string
	A, B   vec
	Rs     float64
	Ra, Rb float64
	Cortex float64 // cortical share of the shaft radius
	Long   bool    // a tubular bone (candidate for fractures, hardware)
}

type softDef struct {
	A, B   vec
	Ra, Rb float64
}

type jointDef struct {
	Name string
	P    vec
	Dir  vec     // along the limb
	R    float64 // soft-tissue radius there
}

type handModel struct {
	Bones   []boneDef
	Soft    []softDef
	Palm    []vec
	Joints  []jointDef
	FingerR float64 // typical finger soft-tissue radius
}

// anatomy is what stays the same for a patient across studies.
type anatomy struct {
	FingerLen [6]float64 // scale per finger, 1 = thumb … 5 = little
	BoneW     float64
	SoftW     float64
	PalmW     float64
	Density   float64 // bone density (brightness of bone relative to soft tissue)
}

func newAnatomy(r *rand.Rand) anatomy {
	a := anatomy{
		BoneW:   0.9 + 0.22*r.Float64(),
		SoftW:   0.88 + 0.3*r.Float64(),
		PalmW:   0.92 + 0.16*r.Float64(),
		Density: 0.8 + 0.35*r.Float64(),
	}
	base := 0.95 + 0.1*r.Float64()
	for i := range a.FingerLen {
		a.FingerLen[i] = base * (0.96 + 0.08*r.Float64())
	}
	return a
}

// pose is what changes between views.
type pose struct {
	Spread     float64 // finger spread, 0 closed … 1.4 wide
	ThumbAngle float64 // radians from the hand axis
	Flex       [6]float64
	Jitter     [6][3]float64 // per finger and joint, radians
}

func newPose(r *rand.Rand) pose {
	p := pose{
		Spread:     0.25 + 1.1*r.Float64(),
		ThumbAngle: 0.45 + 0.5*r.Float64(),
	}
	for i := range p.Flex {
		// A flexed finger looks shorter in a PA view.
		p.Flex[i] = 1
		if r.Float64() < 0.3 {
			p.Flex[i] = 0.78 + 0.2*r.Float64()
		}
		for j := range p.Jitter[i] {
			p.Jitter[i][j] = (r.Float64() - 0.5) * 0.12
		}
	}
	return p
}

func dirOf(angle float64) vec { return vec{math.Sin(angle), math.Cos(angle)} }

func buildHand(an anatomy, po pose) handModel {
	h := handModel{}
	// The tables below were drawn slim; these widen bones and soft tissue
	// to the proportions of the real radiographs.
	bw, sw := an.BoneW*1.22, an.SoftW*1.2

	// Forearm bones run far below the image; their distal ends show.
	h.Bones = append(h.Bones,
		boneDef{Name: "radius", A: vec{0.065, -1.4}, B: vec{0.045, -0.035}, Rs: 0.031 * bw, Ra: 0.031 * bw, Rb: 0.052 * bw, Cortex: 0.4, Long: true},
		boneDef{Name: "ulna", A: vec{-0.075, -1.4}, B: vec{-0.062, -0.06}, Rs: 0.022 * bw, Ra: 0.022 * bw, Rb: 0.032 * bw, Cortex: 0.4, Long: true},
	)
	carpals := []struct {
		name    string
		x, y    float64
		ang     float64
		half, r float64
	}{
		{"scaphoid", 0.07, 0.07, 0.9, 0.02, 0.02},
		{"lunate", 0.018, 0.062, 0, 0.006, 0.022},
		{"triquetrum", -0.036, 0.078, -0.5, 0.01, 0.018},
		{"pisiform", -0.055, 0.068, 0, 0.001, 0.013},
		{"trapezium", 0.097, 0.152, 0.6, 0.01, 0.019},
		{"trapezoid", 0.058, 0.162, 0, 0.004, 0.016},
		{"capitate", 0.021, 0.138, 0.05, 0.02, 0.02},
		{"hamate", -0.029, 0.146, -0.2, 0.012, 0.02},
	}
	for _, c := range carpals {
		d := dirOf(c.ang).mul(c.half)
		ctr := vec{c.x * an.PalmW, c.y}
		r := c.r * bw
		h.Bones = append(h.Bones, boneDef{Name: c.name, A: ctr.sub(d), B: ctr.add(d), Rs: r, Ra: r, Rb: r, Cortex: 0.22})
	}

	// chain lays bones end to end from start along dir, with joint gaps.
	gap := 0.011
	chain := func(names []string, start, dir vec, lens, rs, ra, rb []float64, jit []float64, flex float64) (vec, vec) {
		cur := start
		for i := range lens {
			dir = rot(dir, jit[i])
			l := lens[i] * flex
			a := cur.add(dir.mul(ra[i]))
			b := cur.add(dir.mul(math.Max(l-rb[i], ra[i]+0.001)))
			h.Bones = append(h.Bones, boneDef{Name: names[i], A: a, B: b, Rs: rs[i] * bw, Ra: ra[i], Rb: rb[i], Cortex: 0.38, Long: true})
			if i < len(lens)-1 {
				h.Joints = append(h.Joints, jointDef{Name: names[i] + "-joint", P: cur.add(dir.mul(l + gap/2)), Dir: dir})
			}
			cur = cur.add(dir.mul(l + gap))
		}
		return cur, dir
	}

	// Thumb: metacarpal from the trapezium, then two phalanges.
	{
		f := an.FingerLen[1]
		base := vec{0.1 * an.PalmW, 0.165}
		dir := dirOf(po.ThumbAngle)
		lens := []float64{0.19 * f, 0.145 * f, 0.115 * f}
		rs := []float64{0.019, 0.018, 0.013}
		ra := []float64{0.026 * bw, 0.025 * bw, 0.019 * bw}
		rb := []float64{0.027 * bw, 0.023 * bw, 0.014 * bw}
		tip, tdir := chain([]string{"thumb-metacarpal", "thumb-proximal", "thumb-distal"}, base, dir, lens, rs, ra, rb, po.Jitter[1][:], po.Flex[1])
		mcp := base.add(dir.mul(lens[0] + gap/2))
		rt := 0.056 * sw
		h.Soft = append(h.Soft,
			softDef{A: vec{0.03, 0.12}, B: mcp, Ra: 0.07 * sw, Rb: 0.052 * sw}, // thenar eminence
			softDef{A: mcp, B: tip.add(tdir.mul(0.005)), Ra: rt, Rb: 0.82 * rt},
		)
		// Sesamoids at the thumb's metacarpophalangeal joint.
		side := dir.perp().mul(0.014)
		for _, s := range []float64{-1, 1} {
			c := mcp.sub(dir.mul(0.02)).add(side.mul(s))
			h.Bones = append(h.Bones, boneDef{Name: "sesamoid", A: c, B: c.add(dir.mul(0.001)), Rs: 0.008 * bw, Ra: 0.008 * bw, Rb: 0.008 * bw, Cortex: 0.3})
		}
		h.Joints = append(h.Joints, jointDef{Name: "thumb-mcp", P: mcp, Dir: dir, R: rt})
	}

	// Fingers 2–5: metacarpal from the carpal row to the MCP joint, then
	// proximal, middle and distal phalanges fanned out by the spread.
	fingers := []struct {
		name         string
		baseX, baseY float64
		mcpX, mcpY   float64
		spread       float64
		pp, mp, dp   float64
		soft         float64
		mcR, phR     float64
	}{
		{"index", 0.072, 0.196, 0.108, 0.49, 0.1, 0.205, 0.122, 0.088, 0.046, 0.019, 0.02},
		{"middle", 0.025, 0.192, 0.032, 0.505, 0.02, 0.228, 0.142, 0.097, 0.048, 0.019, 0.021},
		{"ring", -0.024, 0.186, -0.044, 0.487, -0.08, 0.214, 0.134, 0.092, 0.045, 0.017, 0.019},
		{"little", -0.066, 0.182, -0.113, 0.447, -0.18, 0.168, 0.1, 0.08, 0.04, 0.016, 0.017},
	}
	for i, fd := range fingers {
		fi := i + 2
		f := an.FingerLen[fi]
		base := vec{fd.baseX * an.PalmW, fd.baseY}
		mcp := vec{fd.mcpX * an.PalmW, fd.mcpY * (0.97 + 0.03*f)}
		mcDir := mcp.sub(base).unit()
		mcRa, mcRb := 0.024*bw, 0.027*bw
		h.Bones = append(h.Bones, boneDef{Name: fd.name + "-metacarpal", A: base.add(mcDir.mul(mcRa)), B: mcp.sub(mcDir.mul(mcRb)),
			Rs: fd.mcR * bw, Ra: mcRa, Rb: mcRb, Cortex: 0.42, Long: true})
		dir := dirOf(fd.spread * po.Spread)
		start := mcp.add(dir.mul(gap))
		r := fd.phR * bw
		lens := []float64{fd.pp * f, fd.mp * f, fd.dp * f}
		rs := []float64{fd.phR, fd.phR * 0.8, fd.phR * 0.6}
		ra := []float64{r * 1.45, r * 1.1, r * 0.85}
		rb := []float64{r * 1.2, r * 0.95, r * 0.7}
		tip, tdir := chain([]string{fd.name + "-proximal", fd.name + "-middle", fd.name + "-distal"}, start, dir, lens, rs, ra, rb, po.Jitter[fi][:], po.Flex[fi])
		rf := fd.soft * sw
		h.Soft = append(h.Soft, softDef{A: mcp.sub(dir.mul(0.03)), B: tip.sub(tdir.mul(0.012)), Ra: rf * 1.05, Rb: rf * 0.78})
		h.Joints = append(h.Joints, jointDef{Name: fd.name + "-mcp", P: mcp, Dir: dir, R: rf})
	}
	// Finger joints got no radius in chain; give them their finger's.
	for i := range h.Joints {
		if h.Joints[i].R == 0 {
			h.Joints[i].R = 0.038 * sw
		}
	}
	h.FingerR = 0.046 * sw

	pw := an.PalmW
	h.Palm = []vec{
		{-0.1 * pw, 0.0}, {0.095 * pw, 0.0}, {0.14 * pw, 0.2}, {0.145 * pw, 0.47},
		{0.1 * pw, 0.56}, {0.0, 0.585}, {-0.09 * pw, 0.565}, {-0.145 * pw, 0.5}, {-0.155 * pw, 0.28},
	}
	h.Soft = append(h.Soft, softDef{A: vec{0, 0.06}, B: vec{-0.005, -1.6}, Ra: 0.115 * sw * pw, Rb: 0.1 * sw * pw})
	h.Joints = append(h.Joints,
		jointDef{Name: "wrist-radial", P: vec{0.105 * pw, -0.01}, Dir: vec{0, 1}, R: 0.06 * sw},
		jointDef{Name: "wrist-ulnar", P: vec{-0.115 * pw, -0.01}, Dir: vec{0, 1}, R: 0.06 * sw},
	)
	// Spread everything across the hand axis: palm breadth is about 0.45
	// of the hand length.
	const xs = 1.32
	for i := range h.Bones {
		h.Bones[i].A.X *= xs
		h.Bones[i].B.X *= xs
	}
	for i := range h.Soft {
		h.Soft[i].A.X *= xs
		h.Soft[i].B.X *= xs
	}
	for i := range h.Palm {
		h.Palm[i].X *= xs
	}
	for i := range h.Joints {
		h.Joints[i].P.X *= xs
	}
	return h
}

// extent is the box of the hand in hand coordinates, the forearm cut at
// y = cut (what must fit into the image; the forearm may leave it).
func (h *handModel) extent(cut float64) (lo, hi vec) {
	lo, hi = vec{math.Inf(1), math.Inf(1)}, vec{math.Inf(-1), math.Inf(-1)}
	add := func(p vec, r float64) {
		if p.Y < cut {
			p.Y = cut
		}
		lo = vec{math.Min(lo.X, p.X-r), math.Min(lo.Y, p.Y-r)}
		hi = vec{math.Max(hi.X, p.X+r), math.Max(hi.Y, p.Y+r)}
	}
	for _, s := range h.Soft {
		add(s.A, s.Ra)
		add(s.B, s.Rb)
	}
	for _, p := range h.Palm {
		add(p, 0)
	}
	return lo, hi
}

// xform maps hand coordinates to pixels: mirror (left/right), squeeze
// across the hand (oblique views), flip y (image rows go down), scale,
// rotate, translate.
type xform struct {
	Origin  vec
	Angle   float64
	Scale   float64
	Mirror  float64 // +1 thumb to the image right when Angle is 0, −1 left
	Squeeze float64
}

func (t xform) pt(p vec) vec {
	q := vec{p.X * t.Mirror * t.Squeeze, -p.Y}.mul(t.Scale)
	return t.Origin.add(rot(q, t.Angle))
}

func (t xform) r(r float64) float64 { return r * t.Scale * (0.4 + 0.6*t.Squeeze) }
