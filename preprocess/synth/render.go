package synth

import (
	"math"
	"math/rand"
	"strings"
)

// Rendering one synthetic radiograph. Grey levels follow the real hands in
// shared/data/real-hands: carrier background about 45–110, soft tissue some
// 60–95 above it, bone another 45–75 above that with a brighter cortical
// rim, metal near white; outside the carrier the image is dark.

// Anomaly kinds, as written into the truth JSON.
const (
	KindHardware = "hardware"
	KindFracture = "fracture"
	KindLesion   = "lesion"
	KindSwelling = "swelling"
)

// AnomalyKinds lists the kinds the generator draws.
var AnomalyKinds = []string{KindHardware, KindFracture, KindLesion, KindSwelling}

// Subtler kinds that film-like datasets (Options.Film) draw as well: a
// thin undisplaced fracture line, a lesion a fraction of the bone's width.
const (
	KindHairline    = "hairline-fracture"
	KindSmallLesion = "small-lesion"
)

// FilmAnomalyKinds lists the kinds only film-like datasets draw.
var FilmAnomalyKinds = []string{KindHairline, KindSmallLesion}

// difficulty sets how conspicuous anomalies are. Size and Contrast scale
// every kind; the other fields add what makes a pathology obvious in real
// films: more hardware, displaced fractures, and the soft-tissue swelling
// that comes with an acute fracture or a growing lesion. The levels are
// calibrated with the pixelgauss baseline at 64 px (see the README).
type difficulty struct {
	Size, Contrast float64
	Show           float64 // chance that a view of a positive study shows its anomaly
	Pieces         [2]int  // screws or wires in one study, fewest and most
	Displaced      float64 // share of fractures with displaced fragments
	Swell          float64 // swelling around fractures and lucent lesions, relative to a joint swelling; 0 none
	Support        float64 // share of fracture and hardware studies filmed in a cast or splint
}

var difficulties = map[string]difficulty{
	"easy":   {Size: 2.2, Contrast: 1.6, Show: 0.95, Pieces: [2]int{2, 3}, Displaced: 0.9, Swell: 1, Support: 1},
	"medium": {Size: 1.5, Contrast: 1.3, Show: 0.85, Pieces: [2]int{1, 2}, Displaced: 0.6, Swell: 0.5, Support: 0.4},
	"hard":   {Size: 0.8, Contrast: 0.6, Show: 0.8, Pieces: [2]int{1, 1}, Displaced: 0.3},
}

// anomalySpec is a study's pathology; every view of the study that shows it
// draws the same kind at the same site.
type anomalySpec struct {
	Kind     string
	Sub      string  // hardware: pin, screw, plate; lesion: lucent, sclerotic
	Site     string  // bone or joint name
	T        float64 // position along the bone, 0 proximal … 1 distal
	Angle    float64 // fracture line tilt from the bone's normal, radians
	Displace float64 // fracture displacement, in bone radii
	Side     float64 // ±1: which side a swelling bulges to, a screw enters from
	Pieces   int     // hardware: screws or wires (a plate brings its own screws)
	Support  bool    // fracture, hardware: filmed in a cast (a splint for a finger)
	Diff     difficulty
}

var siteCandidates = map[string][]string{
	KindHardware + "/pin":   {"index-proximal", "middle-proximal", "ring-proximal", "little-proximal", "little-metacarpal", "ring-metacarpal", "index-middle", "middle-middle", "thumb-proximal"},
	KindHardware + "/screw": {"index-metacarpal", "middle-metacarpal", "ring-metacarpal", "little-metacarpal", "scaphoid", "radius", "thumb-metacarpal", "middle-proximal"},
	KindHardware + "/plate": {"index-metacarpal", "middle-metacarpal", "ring-metacarpal", "little-metacarpal", "radius"},
	KindFracture:            {"radius", "little-metacarpal", "ring-metacarpal", "index-metacarpal", "middle-metacarpal", "thumb-metacarpal", "index-proximal", "middle-proximal", "ring-proximal", "little-proximal", "middle-middle", "ring-middle", "index-distal", "ulna", "thumb-proximal"},
	KindLesion:              {"index-proximal", "middle-proximal", "ring-proximal", "little-proximal", "index-middle", "middle-middle", "ring-metacarpal", "middle-metacarpal", "index-metacarpal", "capitate", "lunate", "radius"},
	KindHairline:            {"radius", "little-metacarpal", "ring-metacarpal", "index-metacarpal", "middle-metacarpal", "thumb-metacarpal", "index-proximal", "middle-proximal", "ring-proximal", "little-proximal", "middle-middle", "ring-middle", "ulna", "thumb-proximal"},
	KindSmallLesion:         {"index-proximal", "middle-proximal", "ring-proximal", "little-proximal", "index-middle", "middle-middle", "ring-metacarpal", "middle-metacarpal", "index-metacarpal", "capitate", "lunate", "radius"},
	KindSwelling:            {"index-mcp", "middle-mcp", "ring-mcp", "index-proximal-joint", "middle-proximal-joint", "ring-proximal-joint", "little-proximal-joint", "thumb-mcp", "wrist-radial", "wrist-ulnar"},
}

func newAnomalySpec(r *rand.Rand, kind string, d difficulty) *anomalySpec {
	a := &anomalySpec{Kind: kind, Diff: d, T: 0.25 + 0.5*r.Float64(), Side: 1}
	if r.Intn(2) == 0 {
		a.Side = -1
	}
	key := kind
	switch kind {
	case KindHardware:
		a.Sub = []string{"pin", "screw", "plate"}[r.Intn(3)]
		key = kind + "/" + a.Sub
	case KindLesion:
		a.Sub = "lucent"
		if r.Float64() < 0.35 {
			a.Sub = "sclerotic"
		}
	case KindFracture:
		a.Angle = (r.Float64() - 0.5) * 1.1
		if r.Float64() < d.Displaced {
			a.Displace = 0.15 + 0.35*r.Float64()
		}
	case KindHairline:
		a.Angle = (r.Float64() - 0.5) * 1.1
	case KindSmallLesion:
		a.Sub = "lucent"
	}
	a.Pieces = d.Pieces[0] + r.Intn(d.Pieces[1]-d.Pieces[0]+1)
	a.Support = (kind == KindFracture || kind == KindHardware) && r.Float64() < d.Support
	c := siteCandidates[key]
	a.Site = c[r.Intn(len(c))]
	return a
}

// imageJob is everything one image depends on.
type imageJob struct {
	Seed        int64 // the image's own seed: pose, exposure, noise
	PatientSeed int64 // anatomy
	Size        int
	Label       int
	Anomaly     *anomalySpec // nil: the image shows no anomaly
	Film        bool         // film-like: see Options.Film
}

type handTruth struct {
	Side     string  `json:"side"` // "left" or "right" (PA view)
	BBox     [4]int  `json:"bbox"` // x0, y0, x1, y1 (x1, y1 exclusive)
	AngleDeg float64 `json:"angle_deg"`
}

type anomalyTruth struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	Site   string `json:"site"`
	BBox   [4]int `json:"bbox"`
	Pixels int    `json:"pixels"`
	// Support is "cast" or "splint" when the view shows the limb
	// immobilised. It is treatment, not pathology: not in the mask.
	Support string `json:"support,omitempty"`
}

type distractorTruth struct {
	Kind string `json:"kind"`
	BBox [4]int `json:"bbox"`
}

// imageTruth is the ground truth written as imageM.json.
type imageTruth struct {
	Width       int               `json:"width"`
	Height      int               `json:"height"`
	Channels    int               `json:"channels"`
	Label       int               `json:"label"`
	Carrier     [4][2]float64     `json:"carrier"` // corners, clockwise from top-left, may lie outside the image
	NumHands    int               `json:"num_hands"`
	Hands       []handTruth       `json:"hands"`
	Anomalies   []anomalyTruth    `json:"anomalies"`
	Distractors []distractorTruth `json:"distractors"`
}

type rendered struct {
	W, H     int
	Channels int
	Gray     []uint8 // the radiograph
	Hand     []uint8 // 255 inside the hand silhouette
	Anom     []uint8 // 255 on anomalous pixels
	Truth    imageTruth
}

// synthScratch holds one worker's buffers, reused between images.
type synthScratch struct {
	sdf, bone, ext, ovV, ovA, cov, img, tmp layer
	mark                                    []uint8
	bgX                                     []float64 // compose: 1 + the horizontal background gradient at each column
	row                                     []float32 // one blurred row
}

type pxBone struct {
	A, B           vec
	Rs, Ra, Rb     float64
	Cortex, Norm   float64
	FlareA, FlareB float64
}

type fracMod struct {
	On       bool
	C, N     vec
	HW       float64
	Contrast float64
	Disp     vec
}

type lesionMod struct {
	On        bool
	C         vec
	R         float64
	Contrast  float64
	Sclerotic bool
	Shell     float64 // lucent: density of the thin bony shell of a lesion that expands the bone
}

func (b *pxBone) at(q vec) float64 {
	ab := b.B.sub(b.A)
	l2 := ab.dot(ab)
	t := 0.0
	if l2 > 1e-9 {
		t = segParam(q, b.A, ab, 1/l2)
	}
	fa, fb := 0.0, 0.0
	if v := 1 - t/b.FlareA; v > 0 {
		fa = v * v
	}
	if v := 1 - (1-t)/b.FlareB; v > 0 {
		fb = v * v
	}
	R := b.Rs + (b.Ra-b.Rs)*fa + (b.Rb-b.Rs)*fb
	rho2 := q.sub(b.A.add(ab.mul(t))).dot(q.sub(b.A.add(ab.mul(t))))
	if rho2 >= R*R {
		return 0
	}
	// A hollow cylinder seen from the side: the X-ray path through the
	// cortex is longest at the rim, which makes the rim brighter.
	cf := b.Cortex * (1 - 0.65*math.Max(fa, fb))
	Ri := R * (1 - cf)
	outer := 2 * math.Sqrt(R*R-rho2)
	inner := 0.0
	if rho2 < Ri*Ri {
		inner = 2 * math.Sqrt(Ri*Ri-rho2)
	}
	return (outer - 0.6*inner) / b.Norm
}

func (sc *synthScratch) drawBone(b pxBone, fr fracMod, le lesionMod, density float64) {
	l := &sc.bone
	pad := math.Max(b.Ra, math.Max(b.Rb, b.Rs)) + fr.Disp.len() + 1
	bb := segBox(l, b.A, b.B, pad)
	if le.On {
		bb = bb.union(l.clip(le.C.X-le.R-1, le.C.Y-le.R-1, le.C.X+le.R+1, le.C.Y+le.R+1))
	}
	for y := bb.Y0; y < bb.Y1; y++ {
		for x := bb.X0; x < bb.X1; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}
			q := p
			s := 0.0
			if fr.On {
				s = p.sub(fr.C).dot(fr.N)
				if s > 0 {
					q = p.sub(fr.Disp)
				}
			}
			v := b.at(q)
			inLesion := le.On && q.sub(le.C).len() < le.R
			if v <= 0 && !inLesion {
				continue
			}
			i := y*l.W + x
			if fr.On {
				as := math.Abs(s)
				if as < fr.HW {
					v *= 1 - fr.Contrast*(1-0.5*as/fr.HW)
				}
				if as < fr.HW+1+fr.Disp.len() {
					sc.mark[i] = 1
				}
			}
			if inLesion {
				dq := q.sub(le.C).len()
				prof := 1 - (dq/le.R)*(dq/le.R)
				if le.Sclerotic {
					v += le.Contrast * prof * 0.9
				} else {
					v *= 1 - le.Contrast*math.Sqrt(prof)
					// A lesion wider than the bone has pushed the cortex
					// out: a thin shell, brightest where seen edge-on.
					v = math.Max(v, le.Shell*(math.Sqrt(prof)-math.Sqrt(math.Max(0, 1-(dq/(0.8*le.R))*(dq/(0.8*le.R))))))
				}
				sc.mark[i] = 1
			}
			if v <= 0 {
				continue
			}
			l.Pix[i] += float32(v * density)
		}
	}
}

// drawMetal paints a metal shape given by its distance function inside the
// box, over everything else, and marks it as anomalous.
func (sc *synthScratch) drawMetal(bb box, level, alpha float64, sdf func(p vec) float64) {
	w := sc.ovV.W
	for y := bb.Y0; y < bb.Y1; y++ {
		for x := bb.X0; x < bb.X1; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}
			d := sdf(p)
			if d >= 0.5 {
				continue
			}
			i := y*w + x
			over(sc.ovV.Pix, sc.ovA.Pix, i, float32(level), float32(clamp01(0.5-d)*alpha))
			if d < 0 {
				sc.mark[i] = 1
			}
		}
	}
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// render draws one image into new buffers. The anomaly has its own random
// stream so that an image with and without its anomaly is otherwise
// pixel-identical.
func (sc *synthScratch) render(j imageJob) *rendered {
	out := &rendered{}
	sc.renderTo(j, out)
	return out
}

// renderTo is render drawing into out's buffers, grown as needed, so that
// a worker that writes each image before drawing the next allocates
// nothing per image.
func (sc *synthScratch) renderTo(j imageJob, out *rendered) {
	r := rand.New(rand.NewSource(j.Seed))
	an := newAnatomy(rand.New(rand.NewSource(j.PatientSeed)))

	long := j.Size
	nHands := 1
	if r.Float64() < 0.12 {
		nHands = 2
	}
	portrait := r.Float64() < 0.85
	if nHands == 2 {
		portrait = r.Float64() < 0.25
	}
	shortF := uniform(r, 0.55, 1)
	if r.Float64() < 0.1 {
		shortF = uniform(r, 160.0/512, 0.55)
	}
	short := max(int(math.Round(shortF*float64(long))), 1)
	W, H := short, long
	if !portrait {
		W, H = long, short
	}
	fw, fh := float64(W), float64(H)

	// The image carrier: a tilted rectangle, sometimes reaching past the
	// image border.
	car := struct {
		C, U   vec
		HX, HY float64
		Ang    float64
	}{C: vec{fw/2 + uniform(r, -0.05, 0.05)*fw, fh/2 + uniform(r, -0.05, 0.05)*fh}}
	car.HX, car.HY = fw/2*uniform(r, 0.8, 1.08), fh/2*uniform(r, 0.8, 1.08)
	car.Ang = uniform(r, -0.03, 0.03)
	if r.Float64() < 0.6 {
		car.Ang = uniform(r, -0.18, 0.18)
	}
	car.U = vec{math.Cos(car.Ang), math.Sin(car.Ang)}
	bgLevel := uniform(r, 45, 110)
	darkLevel := uniform(r, 0, 22)
	gx, gy := uniform(r, -0.15, 0.15), uniform(r, -0.15, 0.15)
	softGain := uniform(r, 70, 105)
	boneGain := uniform(r, 32, 52) * an.Density
	gamma := uniform(r, 0.85, 1.2)
	noise1 := uniform(r, 3, 9)
	noise2 := uniform(r, 0.8, 2.5)
	sigma := uniform(r, 0.6, 1.2) * float64(long) / 512
	channels := 1
	if r.Float64() < 0.3 {
		channels = 3
	}
	noiseSeed := r.Int63()
	var film *filmLook
	if j.Film {
		film = newFilmLook(rand.New(rand.NewSource(j.Seed^filmSalt)), W, H, long)
		bgLevel, darkLevel, gamma, noise1, noise2 = film.bg, film.dark, film.gamma, film.noise1, film.noise2
		softGain *= film.contrast
		boneGain *= film.contrast
		if film.noCarrier {
			car.HX, car.HY = fw, fh // reaches past every image edge
		}
	}

	sc.sdf.reset(W, H, 1e4)
	sc.bone.reset(W, H, 0)
	sc.ext.reset(W, H, 0)
	sc.ovV.reset(W, H, 0)
	sc.ovA.reset(W, H, 0)
	sc.cov.resize(W, H) // both written in full below
	sc.img.resize(W, H)
	if cap(sc.mark) < W*H {
		sc.mark = make([]uint8, W*H)
	}
	sc.mark = sc.mark[:W*H]
	clear(sc.mark)

	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			// Only pixels near the carrier's edge need the exact distance.
			q := vec{float64(x) + 0.5, float64(y) + 0.5}.sub(car.C)
			lx, ly := math.Abs(q.dot(car.U))-car.HX, math.Abs(q.dot(car.U.perp()))-car.HY
			switch {
			case lx < -1 && ly < -1:
				sc.cov.Pix[y*W+x] = 1
			case lx > 1 || ly > 1:
				sc.cov.Pix[y*W+x] = 0
			default:
				sc.cov.Pix[y*W+x] = float32(clamp01(0.5 - rectSDF(q.add(car.C), car.C, car.U, car.HX, car.HY)))
			}
		}
	}
	inCarrier := func(p vec, margin float64) bool {
		return rectSDF(p, car.C, car.U, car.HX, car.HY) < -margin && p.X > margin && p.Y > margin && p.X < fw-margin && p.Y < fh-margin
	}

	truth := imageTruth{Width: W, Height: H, Channels: channels, Label: j.Label, NumHands: nHands}
	for k, c := range []vec{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		p := car.C.add(car.U.mul(c.X * car.HX)).add(car.U.perp().mul(c.Y * car.HY))
		truth.Carrier[k] = [2]float64{math.Round(p.X*10) / 10, math.Round(p.Y*10) / 10}
	}

	// Hands.
	var hands []placedHand
	inset := 0.03
	for hi := 0; hi < nHands; hi++ {
		po := newPose(r)
		hm := buildHand(an, po)
		xf := xform{Mirror: 1, Squeeze: uniform(r, 0.95, 1)}
		if r.Float64() < 0.25 {
			xf.Squeeze = uniform(r, 0.7, 0.92) // oblique view
		}
		rx0, ry0, rx1, ry1 := inset*fw, inset*fh, (1-inset)*fw, (1-inset)*fh
		if nHands == 1 {
			if r.Intn(2) == 0 {
				xf.Mirror = -1
			}
			xf.Angle = math.Max(-0.6, math.Min(0.6, r.NormFloat64()*0.2))
			if !portrait && r.Float64() < 0.5 {
				xf.Angle += math.Pi / 2 * float64(1-2*r.Intn(2))
			}
		} else {
			// Side by side along the longer image axis, thumbs inward.
			xf.Angle = r.NormFloat64() * 0.1
			if portrait {
				xf.Angle += math.Pi / 2
			}
			if W >= H {
				mid := fw / 2
				if hi == 0 {
					rx1 = mid
				} else {
					rx0, xf.Mirror = mid, -1
				}
			} else {
				mid := fh / 2
				if hi == 0 {
					ry1 = mid
				} else {
					ry0, xf.Mirror = mid, -1
				}
			}
		}
		lo, hiP := hm.extent(-0.1)
		unit := xform{Angle: xf.Angle, Scale: 1, Mirror: xf.Mirror, Squeeze: xf.Squeeze}
		bx0, by0, bx1, by1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, c := range []vec{lo, {hiP.X, lo.Y}, hiP, {lo.X, hiP.Y}} {
			q := unit.pt(c)
			bx0, by0 = math.Min(bx0, q.X), math.Min(by0, q.Y)
			bx1, by1 = math.Max(bx1, q.X), math.Max(by1, q.Y)
		}
		rw, rh := rx1-rx0, ry1-ry0
		xf.Scale = uniform(r, 0.82, 1) * math.Min(rw/(bx1-bx0), rh/(by1-by0))
		xf.Origin = vec{
			rx0 - xf.Scale*bx0 + r.Float64()*(rw-xf.Scale*(bx1-bx0)),
			ry0 - xf.Scale*by0 + r.Float64()*(rh-xf.Scale*(by1-by0)),
		}
		hands = append(hands, placedHand{hm, xf})
	}

	fingerR := hands[0].xf.r(hands[0].model.FingerR)
	for hi, h := range hands {
		xf := h.xf
		k := 0.45 * xf.r(h.model.FingerR)
		hb := box{}
		for _, s := range h.model.Soft {
			hb = hb.union(unionCapsule(&sc.sdf, xf.pt(s.A), xf.pt(s.B), xf.r(s.Ra), xf.r(s.Rb), k))
		}
		palm := make([]vec, len(h.model.Palm))
		for i, p := range h.model.Palm {
			palm[i] = xf.pt(p)
		}
		hb = hb.union(unionPolygon(&sc.sdf, palm, xf.r(0.012), 1.6*k))
		side := "left"
		if xf.Mirror < 0 {
			side = "right"
		}
		truth.Hands = append(truth.Hands, handTruth{Side: side, BBox: [4]int{hb.X0, hb.Y0, hb.X1, hb.Y1},
			AngleDeg: math.Round(xf.Angle*1800/math.Pi) / 10})
		_ = hi
	}

	// Pick where this view shows the study's anomaly: the study's site when
	// it is visible, otherwise another candidate of the same kind.
	var an0 *anomalySpec
	var ar *rand.Rand
	if j.Anomaly != nil {
		a := *j.Anomaly
		an0 = &a
		ar = rand.New(rand.NewSource(j.Seed ^ 0x5bd1e9955bd1e995))
		key := a.Kind
		if a.Kind == KindHardware {
			key += "/" + a.Sub
		}
		margin := 0.02 * float64(long)
		visible := func(site string) bool {
			p, ok := hands[0].sitePoint(site, a.T)
			return ok && inCarrier(p, margin)
		}
		if !visible(a.Site) {
			cands := siteCandidates[key]
			start := ar.Intn(len(cands))
			found := false
			for i := range cands {
				if c := cands[(start+i)%len(cands)]; visible(c) {
					an0.Site, found = c, true
					break
				}
			}
			if !found {
				an0 = nil // nothing suitable in view: the view misses it
			}
		}
	}

	// Bones, with a fracture or lesion on the target; site is where it
	// went, for the swelling around it.
	var site struct {
		On   bool
		C, U vec
		R    float64
	}
	for hi, h := range hands {
		xf := h.xf
		ref := xf.r(0.019)
		for _, bd := range h.model.Bones {
			b := pxBone{A: xf.pt(bd.A), B: xf.pt(bd.B), Rs: xf.r(bd.Rs), Ra: xf.r(bd.Ra), Rb: xf.r(bd.Rb), Cortex: bd.Cortex}
			b.Norm = 1.6 * (0.7*b.Rs + 0.3*ref)
			ln := b.B.sub(b.A).len()
			b.FlareA = math.Min(0.45, 1.6*b.Ra/math.Max(ln, 1e-6))
			b.FlareB = math.Min(0.45, 1.6*b.Rb/math.Max(ln, 1e-6))
			var fr fracMod
			var le lesionMod
			if hi == 0 && an0 != nil && bd.Name == an0.Site {
				dir := b.B.sub(b.A).unit()
				t := boneT(bd, an0.T)
				c := b.A.lerp(b.B, t)
				R := b.Rs
				site.On, site.C, site.U, site.R = true, c, dir, R
				switch an0.Kind {
				case KindFracture:
					fr = fracMod{On: true, C: c, N: rot(dir, an0.Angle+uniform(ar, -0.1, 0.1)),
						HW:       math.Max(0.7, 0.09*R*an0.Diff.Size),
						Contrast: math.Min(0.95, 0.8*an0.Diff.Contrast)}
					if an0.Displace > 0 {
						fr.Disp = dir.perp().mul(an0.Side * an0.Displace * R * an0.Diff.Size)
					}
				case KindHairline:
					// One or two pixels wide, faint, not displaced.
					fr = fracMod{On: true, C: c, N: rot(dir, an0.Angle+uniform(ar, -0.1, 0.1)),
						HW: math.Max(0.5, 0.035*R), Contrast: uniform(ar, 0.3, 0.5) * math.Min(1, an0.Diff.Contrast)}
				case KindSmallLesion:
					off := dir.perp().mul(uniform(ar, -0.3, 0.3) * R)
					le = lesionMod{On: true, C: c.add(off), R: math.Max(1.5, uniform(ar, 0.2, 0.4)*R),
						Contrast: uniform(ar, 0.25, 0.45) * math.Min(1, an0.Diff.Contrast), Shell: 0.9}
				case KindLesion:
					off := dir.perp().mul(uniform(ar, -0.25, 0.25) * R)
					sz := an0.Diff.Size
					// Up to a bone's width the lesion sits inside it; larger
					// ones expand the bone (an enchondroma, a bone cyst).
					le = lesionMod{On: true, C: c.add(off), R: math.Min(0.55+0.55*sz, uniform(ar, 0.65, 0.95)*sz) * R,
						Contrast: math.Min(0.95, 0.6*an0.Diff.Contrast), Sclerotic: an0.Sub == "sclerotic", Shell: 0.9}
					if an0.Sub == "sclerotic" {
						le.Contrast = 0.55 * an0.Diff.Contrast
					}
				}
			}
			sc.drawBone(b, fr, le, 1)
		}
	}

	// Distractors before the swelling, so that the swelling does not move
	// them: a view with and without its anomaly differs only at the anomaly.
	margin := math.Max(0.02*float64(long), 1.1*fingerR)
	var taken []box
	place := func(hx, hy float64) (vec, vec, box, bool) {
		for try := 0; try < 16; try++ {
			ang := car.Ang + uniform(r, -0.08, 0.08)
			u := vec{math.Cos(ang), math.Sin(ang)}
			ext := math.Abs(u.X)*hx + math.Abs(u.Y)*hy
			eyt := math.Abs(u.Y)*hx + math.Abs(u.X)*hy
			if 2*ext+4 >= fw || 2*eyt+4 >= fh {
				return vec{}, vec{}, box{}, false
			}
			c := vec{uniform(r, ext+2, fw-ext-2), uniform(r, eyt+2, fh-eyt-2)}
			ok := true
			for _, s := range []vec{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
				if !inCarrier(c.add(u.mul(s.X*hx)).add(u.perp().mul(s.Y*hy)), 2) {
					ok = false
					break
				}
			}
			bb := sc.sdf.clip(c.X-ext, c.Y-eyt, c.X+ext, c.Y+eyt)
			if ok && sc.clearOf(bb, margin, taken) {
				taken = append(taken, bb)
				return c, u, bb, true
			}
		}
		return vec{}, vec{}, box{}, false
	}
	// paint draws a rectangle of half sizes hx, hy centred at c along u;
	// cell(lx, ly) gives the level and coverage at local coordinates
	// measured from the top-left corner.
	paint := func(c, u vec, hx, hy float64, bb box, cell func(lx, ly float64) (float64, float64)) {
		for y := bb.Y0; y < bb.Y1; y++ {
			for x := bb.X0; x < bb.X1; x++ {
				q := vec{float64(x) + 0.5, float64(y) + 0.5}.sub(c)
				lx, ly := q.dot(u)+hx, q.dot(u.perp())+hy
				if lx < 0 || ly < 0 || lx >= 2*hx || ly >= 2*hy {
					continue
				}
				if v, a := cell(lx, ly); a > 0 {
					over(sc.ovV.Pix, sc.ovA.Pix, y*W+x, float32(v), float32(a))
				}
			}
		}
	}
	nMarkers := 1
	if r.Float64() < 0.2 {
		nMarkers = 2
	} else if r.Float64() < 0.1 {
		nMarkers = 0
	}
	for m := 0; m < nMarkers; m++ {
		letter := byte('R')
		if (truth.Hands[0].Side == "left") != (r.Float64() < 0.15) {
			letter = 'L'
		}
		if m == 1 {
			letter = "PAOB"[r.Intn(4)]
		}
		cell := uniform(r, 0.006, 0.011) * float64(long)
		framed := r.Float64() < 0.4
		pad := 0.0
		if framed {
			pad = 1.5 * cell
		}
		hx, hy := 2.5*cell+pad, 3.5*cell+pad
		level := uniform(r, 215, 255)
		c, u, bb, ok := place(hx, hy)
		if !ok {
			continue
		}
		paint(c, u, hx, hy, bb, func(lx, ly float64) (float64, float64) {
			if framed && (lx < 0.6*cell || ly < 0.6*cell || lx > 2*hx-0.6*cell || ly > 2*hy-0.6*cell) {
				return level, 1
			}
			if glyphSet(letter, int((lx-pad)/cell), int((ly-pad)/cell)) && lx >= pad && ly >= pad {
				return level, 1
			}
			return 0, 0
		})
		truth.Distractors = append(truth.Distractors, distractorTruth{Kind: "marker-" + string(letter), BBox: [4]int{bb.X0, bb.Y0, bb.X1, bb.Y1}})
	}
	if r.Float64() < 0.35 {
		cell := uniform(r, 0.004, 0.007) * float64(long)
		nc := 4 + r.Intn(6)
		text := make([]byte, 2*nc)
		for i := range text {
			text[i] = labelChars[r.Intn(len(labelChars))]
		}
		hx, hy := (float64(nc)*6+2)*cell/2, 18*cell/2
		level := uniform(r, 170, 230)
		if c, u, bb, ok := place(hx, hy); ok {
			paint(c, u, hx, hy, bb, func(lx, ly float64) (float64, float64) {
				col, row := int(lx/cell)-1, int(ly/cell)-1
				line := 0
				if row >= 8 {
					line, row = 1, row-8
				}
				ch := col / 6
				if col >= 0 && ch < nc && glyphSet(text[line*nc+ch], col%6, row) {
					return 0.35 * level, 1
				}
				return level, 0.95
			})
			truth.Distractors = append(truth.Distractors, distractorTruth{Kind: "label", BBox: [4]int{bb.X0, bb.Y0, bb.X1, bb.Y1}})
		}
	}
	if r.Float64() < 0.15 {
		hx := uniform(r, 0.15, 0.3) * float64(long)
		hy := uniform(r, 0.012, 0.02) * float64(long)
		step := uniform(r, 0.012, 0.02) * float64(long)
		level := uniform(r, 150, 200)
		if c, u, bb, ok := place(hx, hy); ok {
			paint(c, u, hx, hy, bb, func(lx, ly float64) (float64, float64) {
				n := math.Floor(lx / step)
				tick := hy * 0.8
				if int(n)%5 == 0 {
					tick = hy * 1.4
				}
				if lx-n*step < math.Max(1, step*0.12) && ly < tick {
					return 250, 1
				}
				return level, 0.9
			})
			truth.Distractors = append(truth.Distractors, distractorTruth{Kind: "ruler", BBox: [4]int{bb.X0, bb.Y0, bb.X1, bb.Y1}})
		}
	}

	if film != nil {
		fr := film.r
		// Position markers: a side letter and text, larger than the
		// others, often tilted, sometimes framed.
		for m := 0; m < film.markers; m++ {
			text := "L " + letterText[fr.Intn(len(letterText))]
			if fr.Float64() < 0.4 {
				text = "R " + letterText[fr.Intn(len(letterText))]
			}
			cell := uniform(fr, 0.008, 0.016) * float64(long)
			hx, hy := (float64(len(text))*6+2)*cell/2, 9*cell/2
			level := uniform(fr, 190, 255)
			ang := uniform(fr, -0.5, 0.5)
			framed := fr.Float64() < 0.3
			if c, u, bb, ok := filmPlace(fr, sc, hx, hy, ang, margin, taken); ok {
				taken = append(taken, bb)
				paint(c, u, hx, hy, bb, func(lx, ly float64) (float64, float64) {
					if framed && (lx < 0.5*cell || ly < 0.5*cell || lx > 2*hx-0.5*cell || ly > 2*hy-0.5*cell) {
						return level, 1
					}
					col, row := int(lx/cell)-1, int(ly/cell)-1
					if ch := col / 6; col >= 0 && ch < len(text) && text[ch] != ' ' && glyphSet(text[ch], col%6, row) {
						return level, 1
					}
					return 0, 0
				})
				truth.Distractors = append(truth.Distractors, distractorTruth{Kind: "marker-text", BBox: [4]int{bb.X0, bb.Y0, bb.X1, bb.Y1}})
			}
		}
		// A calibration step wedge.
		if film.wedge {
			hx, hy := uniform(fr, 0.1, 0.18)*float64(long), uniform(fr, 0.02, 0.035)*float64(long)
			steps := 6 + fr.Intn(5)
			lo, hi := uniform(fr, 60, 110), uniform(fr, 190, 250)
			if c, u, bb, ok := filmPlace(fr, sc, hx, hy, uniform(fr, -0.1, 0.1), margin, taken); ok {
				taken = append(taken, bb)
				paint(c, u, hx, hy, bb, func(lx, ly float64) (float64, float64) {
					k := math.Min(float64(steps-1), math.Floor(lx/(2*hx)*float64(steps)))
					return lo + (hi-lo)*k/float64(steps-1), 1
				})
				truth.Distractors = append(truth.Distractors, distractorTruth{Kind: "wedge", BBox: [4]int{bb.X0, bb.Y0, bb.X1, bb.Y1}})
			}
		}
	}

	// Swelling and hardware.
	if an0 != nil {
		h := hands[0]
		xf := h.xf
		switch an0.Kind {
		case KindSwelling:
			jd, _ := h.model.joint(an0.Site)
			R := xf.r(jd.R)
			u := xf.pt(jd.P.add(jd.Dir)).sub(xf.pt(jd.P)).unit()
			c := xf.pt(jd.P).add(u.perp().mul(an0.Side * xf.Mirror * uniform(ar, 0.25, 0.5) * R))
			sc.swell(ar, c, u, R, an0.Diff.Size, an0.Diff.Contrast)
		case KindFracture, KindLesion:
			// An acute fracture or a growing lesion swells the soft
			// tissue around it (about twice the bone's radius deep).
			if site.On && an0.Diff.Swell > 0 && !(an0.Kind == KindLesion && an0.Sub == "sclerotic") {
				sw := an0.Diff.Swell
				c := site.C.add(site.U.perp().mul(an0.Side * xf.Mirror * uniform(ar, 0.3, 0.6) * site.R))
				sc.swell(ar, c, site.U, 2.2*site.R, sw*an0.Diff.Size, sw*an0.Diff.Contrast)
			}
		case KindHardware:
			bd, _ := h.model.bone(an0.Site)
			A, B := xf.pt(bd.A), xf.pt(bd.B)
			dir := B.sub(A).unit()
			R := xf.r(bd.Rs)
			t := boneT(bd, an0.T)
			c := A.lerp(B, t)
			level := uniform(ar, 238, 255)
			alpha := math.Min(1, 0.65+0.35*an0.Diff.Contrast)
			sz := an0.Diff.Size
			switch an0.Sub {
			case "pin":
				// A K-wire along the bone, often across a joint; further
				// wires cross it diagonally, leaving the bone on both sides.
				rp := math.Max(0.8, math.Min(0.18*sz, 0.3)*R)
				for k := 0; k < max(an0.Pieces, 1); k++ {
					t0, t1 := boneT(bd, uniform(ar, 0, 0.3)), boneT(bd, uniform(ar, 0.85, 1.25))
					off := dir.perp().mul(uniform(ar, -0.3, 0.3) * R)
					if k > 0 {
						t0, t1 = boneT(bd, uniform(ar, 0.05, 0.35)), boneT(bd, uniform(ar, 0.65, 1))
						off = dir.perp().mul(float64(1-2*(k%2)) * uniform(ar, 1.2, 1.6) * R)
					}
					p0, p1 := A.lerp(B, t0).add(off), A.lerp(B, t1).sub(off)
					sc.drawMetal(segBox(&sc.ovV, p0, p1, rp+1), level, alpha, func(p vec) float64 {
						ab := p1.sub(p0)
						tt := segParam(p, p0, ab, 1/ab.dot(ab))
						return p.sub(p0.add(ab.mul(tt))).len() - rp
					})
				}
			case "screw":
				// Lag screws across the bone, side by side along it; the
				// scaphoid takes one screw along its axis.
				hl := 1.2 * math.Max(R, xf.r(bd.Ra))
				rs := math.Max(1, math.Min(0.28*sz, 0.45)*R)
				pitch := math.Max(2.2, 1.1*rs)
				n := max(an0.Pieces, 1)
				if bd.Name == "scaphoid" {
					n = 1
				}
				gap := math.Max(3.2*rs, 0.12*B.sub(A).len())
				for k := 0; k < n; k++ {
					u := rot(dir, an0.Side*(math.Pi/2-uniform(ar, 0, 0.5)))
					if bd.Name == "scaphoid" {
						u = dir
					}
					sc.drawScrew(c.add(dir.mul((float64(k)-float64(n-1)/2)*gap)), u, hl, rs, pitch, level, alpha)
				}
			case "plate":
				ln := B.sub(A).len()
				hl := math.Min(0.3*ln*sz, 0.45*ln)
				hw := 0.75 * R * math.Min(sz, 1.2)
				n := 2 + an0.Pieces + ar.Intn(2)
				if bd.Name == "radius" {
					// A volar plate: a shaft up the radius and a T-shaped
					// head across its distal end, with screws in both.
					hl = math.Min(hl, 5*R)
					c = B.sub(dir.mul(hl + R))
					hc := c.add(dir.mul(hl - 0.2*hw))
					hh := 1.5 * xf.r(bd.Rb) * math.Min(sz, 1.2)
					u := dir.perp()
					sc.drawMetal(segBox(&sc.ovV, hc.sub(u.mul(hh)), hc.add(u.mul(hh)), hw+2), level-12, alpha, func(p vec) float64 {
						return rectSDF(p, hc, u, hh, 0.8*hw) - 0.3*hw
					})
					for s := -1; s <= 1; s++ {
						sc.drawScrew(hc.add(u.mul(float64(s)*0.65*hh)), dir.perp(), 1.1*hw, math.Max(1, 0.25*hw), math.Max(2.2, 0.3*hw), 255, alpha)
					}
				}
				sc.drawMetal(segBox(&sc.ovV, c.sub(dir.mul(hl)), c.add(dir.mul(hl)), hw+2), level-12, alpha, func(p vec) float64 {
					return rectSDF(p, c, dir, hl, hw) - 0.3*hw
				})
				for s := 0; s < n; s++ {
					sp := c.add(dir.mul((float64(s)/float64(n-1)*2 - 1) * hl * 0.8))
					sc.drawScrew(sp, dir.perp(), 1.25*hw, math.Max(1, 0.25*hw), math.Max(2.2, 0.3*hw), 255, alpha)
				}
			}
		}
	}

	// An immobilised study is filmed in its cast or splint, which lies
	// over the hand and beyond it.
	support := ""
	if an0 != nil && an0.Support {
		support = sc.drawSupport(ar, hands[0], an0.Site)
	}

	// Compose: carrier background, soft tissue from the distance field,
	// bone, overlays; then outside the carrier the dark surround; then the
	// first noise, drawn in pixel order.
	wf := float32(math.Max(fingerR, 1))
	sc.bgX = growF64(sc.bgX, W)
	for x := range sc.bgX {
		sc.bgX[x] = 1 + gx*(float64(x)/fw-0.5)
	}
	nr := newFastRand(noiseSeed)
	n1, dark := float32(noise1), float32(darkLevel)
	for y := 0; y < H; y++ {
		gyy := gy * (float64(y)/fh - 0.5)
		o := y * W
		sdf, ext, bone := sc.sdf.Pix[o:o+W], sc.ext.Pix[o:o+W], sc.bone.Pix[o:o+W]
		ovV, ovA, cov, img := sc.ovV.Pix[o:o+W], sc.ovA.Pix[o:o+W], sc.cov.Pix[o:o+W], sc.img.Pix[o:o+W]
		for x, bgx := range sc.bgX[:W] {
			cv := cov[x]
			if cv == 0 {
				// cv·v + (1−cv)·dark is exactly dark here.
				img[x] = dark + n1*nr.norm()
				continue
			}
			bg := bgLevel * (bgx + gyy)
			if film != nil {
				bg += float64(film.field[o+x])
			}
			var soft float32
			if d := sdf[x]; d < 0.5 {
				// Path length through tissue grows steeply at the skin
				// and saturates inside the palm.
				u := (0.5 - d) / wf
				soft = softLUT(u)
			}
			v := float32(bg) + float32(softGain)*(soft+ext[x]) + float32(boneGain)*bone[x]
			v = ovV[x] + v*(1-ovA[x])
			img[x] = cv*v + (1-cv)*dark + n1*nr.norm()
		}
	}
	k := gaussKernel(sigma)
	blurRows(&sc.img, &sc.tmp, k)

	out.W, out.H, out.Channels = W, H, channels
	out.Gray = growU8(out.Gray, W*H)
	out.Hand = growU8(out.Hand, W*H)
	out.Anom = growU8(out.Anom, W*H)
	clear(out.Hand)
	clear(out.Anom)
	var lut [1024]uint8 // grey level ×4 → gamma-corrected byte
	for i := range lut {
		lut[i] = uint8(math.Round(255 * math.Pow(float64(i)/4/255, gamma)))
		if i >= 1020 {
			lut[i] = 255
		}
	}
	// The vertical blur pass row by row, straight into the second noise
	// (drawn in pixel order), the gamma table and the masks.
	n2 := float32(noise2)
	sc.row = growF32(sc.row, W)
	row := sc.row
	abb, nAnom := box{}, 0 // anomalous pixels: box and count
	for y := 0; y < H; y++ {
		blurColumn(&sc.tmp, k, y, row)
		o := y * W
		gray := out.Gray[o : o+W]
		for x, v := range row {
			v = (v + n2*nr.norm()) * 4
			if v < 0 {
				v = 0
			}
			if v > 1023 {
				v = 1023
			}
			gray[x] = lut[min(int(v+0.5), 1023)]
		}
		sdf, cov, mark := sc.sdf.Pix[o:o+W], sc.cov.Pix[o:o+W], sc.mark[o:o+W]
		hand, anom := out.Hand[o:o+W], out.Anom[o:o+W]
		for x, d := range sdf {
			if d < 0 && cov[x] > 0.5 {
				hand[x] = 255
				if mark[x] != 0 {
					anom[x] = 255
					nAnom++
					abb = abb.union(box{x, y, x + 1, y + 1})
				}
			}
		}
	}
	if film != nil {
		film.finish(out.Gray, out.Hand, out.Anom, W, H)
		abb, nAnom = box{}, 0
		for i, v := range out.Anom[:W*H] {
			if v != 0 {
				nAnom++
				abb = abb.union(box{i % W, i / W, i%W + 1, i/W + 1})
			}
		}
	}
	if an0 != nil && nAnom > 0 {
		truth.Anomalies = append(truth.Anomalies, anomalyTruth{Kind: an0.Kind, Detail: an0.Sub, Site: an0.Site, BBox: [4]int{abb.X0, abb.Y0, abb.X1, abb.Y1}, Pixels: nAnom, Support: support})
	}
	if truth.Anomalies == nil {
		truth.Anomalies = []anomalyTruth{}
	}
	if truth.Distractors == nil {
		truth.Distractors = []distractorTruth{}
	}
	out.Truth = truth
}

// swell bulges the soft tissue at c with an ellipse along u: half axes
// about 1.3–1.9 and 1.05–1.35 times the tissue radius R, times size, and
// denser by 0.35 × contrast of the soft-tissue range at its core.
func (sc *synthScratch) swell(ar *rand.Rand, c, u vec, R, size, contrast float64) {
	W := sc.sdf.W
	ax := uniform(ar, 1.3, 1.9) * R * size
	ay := uniform(ar, 1.05, 1.35) * R * size
	k := 0.5 * ay
	// Denser than this and a swelling glows brighter than the palm.
	extra := math.Min(0.35*contrast, 0.5)
	bb := sc.sdf.clip(c.X-ax-k, c.Y-ax-k, c.X+ax+k, c.Y+ax+k)
	for y := bb.Y0; y < bb.Y1; y++ {
		for x := bb.X0; x < bb.X1; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}
			d := ellipseSDF(p, c, u, ax, ay)
			i := y*W + x
			sc.sdf.Pix[i] = smin(sc.sdf.Pix[i], float32(d), float32(k))
			if d < 0 {
				sc.ext.Pix[i] += float32(extra * clamp01(-d/(0.5*ay)))
				sc.mark[i] = 1
			}
		}
	}
}

// drawSupport draws what immobilises the study's site into the soft-tissue
// layer and returns its name: an aluminium splint along a finger for a
// phalanx, otherwise a short arm cast from below the image to the
// knuckles. Plaster is a hollow shell around the limb, so its walls, seen
// edge-on, are brighter than its middle; fibreglass adds a fine mesh.
func (sc *synthScratch) drawSupport(ar *rand.Rand, h placedHand, site string) string {
	xf := h.xf
	W := sc.ext.W
	finger := ""
	for _, f := range []string{"thumb", "index", "middle", "ring", "little"} {
		if strings.HasPrefix(site, f+"-") && !strings.HasSuffix(site, "-metacarpal") {
			finger = f
		}
	}
	if finger != "" {
		first, _ := h.model.bone(finger + "-proximal")
		last, _ := h.model.bone(finger + "-distal")
		a, b := xf.pt(first.A), xf.pt(last.B)
		u := b.sub(a).unit()
		a, b = a.sub(u.mul(xf.r(0.04))), b.add(u.mul(xf.r(0.03)))
		hw := xf.r(h.model.FingerR) * uniform(ar, 0.9, 1.1)
		density := uniform(ar, 0.6, 0.8)
		ab := b.sub(a)
		inv := 1 / ab.dot(ab)
		bb := segBox(&sc.ext, a, b, hw+1)
		for y := bb.Y0; y < bb.Y1; y++ {
			for x := bb.X0; x < bb.X1; x++ {
				p := vec{float64(x) + 0.5, float64(y) + 0.5}
				d := p.sub(a.add(ab.mul(segParam(p, a, ab, inv)))).len() - hw
				if d < 0.5 {
					sc.ext.Pix[y*W+x] += float32(density * clamp01(0.5-d))
				}
			}
		}
		return "splint"
	}
	// The cast's frame in hand coordinates: centred on the forearm, up to
	// y1 (the knuckles are near 0.49); half width hw, wall thickness t.
	cx, y1 := uniform(ar, -0.02, 0.01), uniform(ar, 0.36, 0.44)
	hw, t := uniform(ar, 0.22, 0.26), uniform(ar, 0.03, 0.045)
	// Plaster is about twice as dense as fibreglass.
	density, mesh := uniform(ar, 2.2, 2.8), 0.0
	if ar.Float64() < 0.4 {
		density, mesh = uniform(ar, 1.2, 1.6), 0.15
	}
	sx := xf.Scale * xf.Squeeze // pixels per hand unit across the cast
	Ro, Ri := hw*sx, (hw-t)*sx
	peak := 2 * math.Sqrt(Ro*Ro-Ri*Ri)
	cs, sn := math.Cos(-xf.Angle), math.Sin(-xf.Angle)
	for y := 0; y < sc.ext.H; y++ {
		for x := 0; x < W; x++ {
			p := vec{float64(x) + 0.5, float64(y) + 0.5}.sub(xf.Origin)
			q := vec{cs*p.X - sn*p.Y, sn*p.X + cs*p.Y}.mul(1 / xf.Scale)
			hx, hy := q.X/(xf.Mirror*xf.Squeeze), -q.Y
			rho := math.Abs(hx-cx) * sx
			end := clamp01((y1-hy)*xf.Scale + 0.5)
			if rho >= Ro+0.5 || end == 0 {
				continue
			}
			path := 2 * math.Sqrt(math.Max(0, Ro*Ro-rho*rho))
			if rho < Ri {
				path -= 2 * math.Sqrt(Ri*Ri-rho*rho)
			}
			v := density * path / peak * end * clamp01(Ro+0.5-rho)
			if mesh > 0 {
				v *= 1 + mesh*math.Sin(2*math.Pi*(hx+hy)/0.014)*math.Sin(2*math.Pi*(hx-hy)/0.014)
			}
			sc.ext.Pix[y*W+x] += float32(v)
		}
	}
	return "cast"
}

func (sc *synthScratch) drawScrew(c, u vec, hl, rs, pitch, level, alpha float64) {
	head := c.sub(u.mul(hl))
	bb := segBox(&sc.ovV, head.sub(u.mul(rs)), c.add(u.mul(hl)), 2.2*rs+2)
	sc.drawMetal(bb, level, alpha, func(p vec) float64 {
		q := p.sub(c)
		along := q.dot(u)
		// Threads: the shaft's radius ripples along its length.
		rr := rs * (1 + 0.22*math.Sin(2*math.Pi*along/pitch))
		shaft := rectSDF(p, c, u, hl, rr)
		hd := rectSDF(p, head.sub(u.mul(0.5*rs)), u, 0.6*rs, 2*rs)
		return math.Min(shaft, hd)
	})
}

// boneT maps a study's position along a bone to the bone's own parameter;
// for the forearm bones only their distal ends are in view.
func boneT(bd boneDef, t float64) float64 {
	if bd.B.sub(bd.A).len() > 0.6 {
		return 0.9 + 0.08*math.Min(t, 1.2)
	}
	return t
}

func (h *handModel) bone(name string) (boneDef, bool) {
	for _, b := range h.Bones {
		if b.Name == name {
			return b, true
		}
	}
	return boneDef{}, false
}

func (h *handModel) joint(name string) (jointDef, bool) {
	for _, j := range h.Joints {
		if j.Name == name {
			return j, true
		}
	}
	return jointDef{}, false
}

type placedHand struct {
	model handModel
	xf    xform
}

// sitePoint is where an anomaly at site would be drawn, in pixels.
func (p placedHand) sitePoint(site string, t float64) (vec, bool) {
	if b, ok := p.model.bone(site); ok {
		return p.xf.pt(b.A.lerp(b.B, boneT(b, t))), true
	}
	if j, ok := p.model.joint(site); ok {
		return p.xf.pt(j.P), true
	}
	return vec{}, false
}

// softTable samples the soft-tissue profile (1 − e^(−1.8u), normalised to
// 1 at u = 3) at steps of 1/64 of a finger radius.
var softTable = func() [257]float32 {
	var t [257]float32
	for i := range t {
		u := float64(i) / 64
		t[i] = float32((1 - math.Exp(-1.8*u)) / (1 - math.Exp(-1.8*3)))
	}
	return t
}()

func softLUT(u float32) float32 {
	if u >= 4 {
		return softTable[256]
	}
	f := u * 64
	i := int(f)
	return softTable[i] + (softTable[i+1]-softTable[i])*(f-float32(i))
}
