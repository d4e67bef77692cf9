package synth

import (
	"math"
	"math/rand"
)

// Film-like radiographs (Options.Film). Everything here draws from its
// own stream, seeded from the image's seed, so that the other draws, and
// every dataset without the option, stay as they were.

// filmSalt separates the film stream from the image's other streams.
const filmSalt = 0x46494c4d2d6c6f6f // "FILM-loo"

// filmLook is one film's exposure and artefacts.
type filmLook struct {
	r         *rand.Rand
	bg, dark  float64 // background and surround levels (MURA: dark backgrounds)
	contrast  float64 // soft tissue and bone gain factor: low-contrast exposures
	gamma     float64
	noise1    float64
	noise2    float64
	noCarrier bool      // most films show no carrier edge
	field     []float32 // added to the background: gradients, an exposure field
	exp       exposureField
	glows     [4]edgeGlow
	lines     [4]float64 // bright scan-border line level per edge (0 = none)
	lineWidth int
	pad       [4]int // zero padding depth per edge (left, right, top, bottom)
	padGlow   float64
	padGlowPx int
	markers   int  // letter markers with text ("L J9")
	wedge     bool // a calibration step wedge
}

// exposureField is a brighter region running in from one image edge: Amp
// grey levels inside, fading over Soft pixels across its boundary, the
// line n·p = Off (n points out of the field). Amp 0 = none.
type exposureField struct {
	Amp, NX, NY, Off, Soft float64
}

// at is the field's brightening at pixel centre (px, py).
func (e exposureField) at(px, py float64) float64 {
	if e.Amp == 0 {
		return 0
	}
	return e.Amp * 0.5 * math.Erfc((e.NX*px+e.NY*py-e.Off)/e.Soft)
}

// edgeGlow brightens a stretch of an image edge, fading inwards.
type edgeGlow struct {
	Amp, Decay float64 // grey levels at the edge; 1/e depth in pixels
	From, To   float64 // stretch along the edge, shares of its length
}

func newFilmLook(r *rand.Rand, w, h, long int) *filmLook {
	f := &filmLook{r: r}
	f.bg = uniform(r, 8, 75)
	if r.Float64() < 0.2 {
		f.bg = uniform(r, 75, 120) // a grey film
	}
	f.dark = uniform(r, 0, 3)
	f.contrast = uniform(r, 0.45, 1)
	if r.Float64() < 0.25 {
		f.contrast = uniform(r, 0.3, 0.45) // under-exposed
	}
	f.gamma = uniform(r, 0.85, 1.3)
	f.noise1 = uniform(r, 1, 4)
	f.noise2 = uniform(r, 0.5, 1.5)
	f.noCarrier = r.Float64() < 0.7

	// Background: a linear ramp, a radial term and, on some films, a
	// brighter exposure field with a soft edge behind part of the hand.
	fw, fh := float64(w), float64(h)
	ramp := uniform(r, 0, 35)
	ang := uniform(r, 0, 2*math.Pi)
	rx, ry := ramp*math.Cos(ang), ramp*math.Sin(ang)
	rad := uniform(r, -15, 20)
	if r.Float64() < 0.25 {
		// As on the real films (docs/preprocessing.md, "Exposure fields"):
		// the brighter field runs in from one image edge (none of the real
		// radiographs shows a field whose four edges all lie inside the
		// image), its edge is a slightly tilted line softened over 5–12% of
		// the image (the steepest background slope on them is about 6 grey
		// levels per 1% of the image, the old 3–8% gave up to 10), and its
		// step shrinks with an under-exposed hand's contrast, as exposure
		// differences do (on the real films the background's range is at
		// most 0.68 of the hand's contrast).
		amp := uniform(r, 0.15, 0.4) * (f.bg + 10) * math.Min(1, f.contrast/0.8)
		side := min(3, int(4*r.Float64())) // the edge it runs in from
		depth := uniform(r, 0.25, 0.6)     // how far in its edge lies, share of the image
		tilt := uniform(r, -0.25, 0.25)    // radians
		_ = r.Float64()                    // was the field's height; drawn so the later draws stay as they were
		soft := uniform(r, 0.05, 0.12) * float64(long)
		// d(p) = n·p − off is the signed distance outside the field, n the
		// unit normal of its edge pointing away from the image edge it
		// runs in from.
		base := [4]float64{0, math.Pi, math.Pi / 2, -math.Pi / 2}[side] + tilt // left, right, top, bottom
		nx, ny := math.Cos(base), math.Sin(base)
		var cx, cy float64 // a point on the edge line
		switch side {
		case 0:
			cx, cy = depth*fw, fh/2
		case 1:
			cx, cy = (1-depth)*fw, fh/2
		case 2:
			cx, cy = fw/2, depth*fh
		default:
			cx, cy = fw/2, (1-depth)*fh
		}
		f.exp = exposureField{Amp: amp, NX: nx, NY: ny, Off: nx*cx + ny*cy, Soft: soft}
	}
	f.field = make([]float32, w*h)
	for y := 0; y < h; y++ {
		v := float64(y)/fh - 0.5
		for x := 0; x < w; x++ {
			u := float64(x)/fw - 0.5
			b := rx*u + ry*v + rad*(u*u+v*v)*2
			b += f.exp.at(float64(x)+0.5, float64(y)+0.5)
			f.field[y*w+x] = float32(b)
		}
	}

	scale := float64(long) / 512
	for k := range f.glows {
		if r.Float64() < 0.3 {
			from := uniform(r, 0, 0.5)
			f.glows[k] = edgeGlow{Amp: uniform(r, 20, 80), Decay: uniform(r, 2, 12) * scale, From: from, To: from + uniform(r, 0.4, 1)}
		}
	}
	f.lineWidth = 1 + r.Intn(2)
	for k := range f.lines {
		if r.Float64() < 0.35 {
			f.lines[k] = uniform(r, 120, 240)
		}
	}
	if r.Float64() < 0.25 {
		for k := range f.pad {
			if r.Float64() < 0.5 {
				f.pad[k] = int(uniform(r, 0.01, 0.05)*float64(min(w, h))) + 1
			}
		}
		f.padGlow = uniform(r, 30, 80)
		f.padGlowPx = max(1, int(uniform(r, 2, 4)*scale+0.5))
	}
	f.markers = 1
	if r.Float64() < 0.3 {
		f.markers = 2
	}
	f.wedge = r.Float64() < 0.3
	return f
}

// edgeDist returns, for pixel (x, y), the distance to edge k (left,
// right, top, bottom) and the position along it as a share of its length.
func edgeDist(k, x, y, w, h int) (int, float64) {
	switch k {
	case 0:
		return x, float64(y) / float64(h)
	case 1:
		return w - 1 - x, float64(y) / float64(h)
	case 2:
		return y, float64(x) / float64(w)
	default:
		return h - 1 - y, float64(x) / float64(w)
	}
}

// finish applies the scan artefacts to the quantised image: edge glows,
// bright border lines, zero padding with its glow band. Padding hides the
// hand and anomalies beneath it, so the masks lose those pixels too.
func (f *filmLook) finish(gray, hand, anom []uint8, w, h int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			v := float64(gray[i])
			padded := false
			for k := 0; k < 4; k++ {
				d, t := edgeDist(k, x, y, w, h)
				if g := f.glows[k]; g.Amp > 0 && t >= g.From && t <= g.To {
					v += g.Amp * math.Exp(-float64(d)/g.Decay)
				}
				if f.lines[k] > 0 && d < f.lineWidth {
					v = math.Max(v, f.lines[k])
				}
				if p := f.pad[k]; p > 0 {
					if d < p {
						padded = true
					} else if d < p+f.padGlowPx {
						v += f.padGlow
					}
				}
			}
			if padded {
				v = 0
				hand[i], anom[i] = 0, 0
			}
			gray[i] = uint8(math.Min(255, math.Max(0, math.Round(v))))
		}
	}
}

// letterText is what a position marker may read beside its side letter.
var letterText = []string{"B9", "TL", "NO", "PA", "OB", "12", "R3", "HE"} // glyphs we have: labelChars

// filmPlace finds a spot for a hx×hy rectangle tilted by ang anywhere in
// the image, off the hands (margin) and off the boxes taken.
func filmPlace(r *rand.Rand, sc *synthScratch, hx, hy, ang, margin float64, taken []box) (vec, vec, box, bool) {
	fw, fh := float64(sc.sdf.W), float64(sc.sdf.H)
	u := vec{math.Cos(ang), math.Sin(ang)}
	ext := math.Abs(u.X)*hx + math.Abs(u.Y)*hy
	eyt := math.Abs(u.Y)*hx + math.Abs(u.X)*hy
	if 2*ext+4 >= fw || 2*eyt+4 >= fh {
		return vec{}, vec{}, box{}, false
	}
	for try := 0; try < 24; try++ {
		c := vec{uniform(r, ext+2, fw-ext-2), uniform(r, eyt+2, fh-eyt-2)}
		if bb := sc.sdf.clip(c.X-ext, c.Y-eyt, c.X+ext, c.Y+eyt); sc.clearOf(bb, margin, taken) {
			return c, u, bb, true
		}
	}
	return vec{}, vec{}, box{}, false
}

// clearOf says whether bb overlaps none of the boxes taken and lies at
// least margin from every hand.
func (sc *synthScratch) clearOf(bb box, margin float64, taken []box) bool {
	for _, t := range taken {
		if bb.overlaps(t) {
			return false
		}
	}
	W := sc.sdf.W
	for y := bb.Y0; y < bb.Y1; y++ {
		for x := bb.X0; x < bb.X1; x++ {
			if float64(sc.sdf.Pix[y*W+x]) < margin {
				return false
			}
		}
	}
	return true
}
