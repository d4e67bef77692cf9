package preprocess

import (
	"math"
	"testing"
)

// TestDrawAugmentPolicies checks the paper's policies over many seeds:
// each step fires about half the time, parameters stay in their ranges,
// "default" never changes brightness or geometry beyond flips, and the same
// seed always gives the same draw.
func TestDrawAugmentPolicies(t *testing.T) {
	const n = 4000
	var hf, vf, br, sc, ro int
	for seed := int64(0); seed < n; seed++ {
		d := drawAugment(AugmentDefault, seed)
		if d.Bright != 1 || d.ScaleX != 1 || d.ScaleY != 1 || d.Angle != 0 {
			t.Fatalf("default policy drew %+v", d)
		}
		a := drawAugment(AugmentAdvanced, seed)
		if a != drawAugment(AugmentAdvanced, seed) {
			t.Fatal("same seed, different draw")
		}
		if a.HFlip != d.HFlip || a.VFlip != d.VFlip {
			t.Fatalf("seed %d: advanced flips %v/%v differ from default %v/%v", seed, a.HFlip, a.VFlip, d.HFlip, d.VFlip)
		}
		if a.HFlip {
			hf++
		}
		if a.VFlip {
			vf++
		}
		if a.Bright != 1 {
			br++
			if a.Bright < 0.8 || a.Bright > 1.2 {
				t.Fatalf("brightness %v outside [0.8,1.2]", a.Bright)
			}
		}
		if a.ScaleX != 1 {
			sc++
			if a.ScaleX < 0.8 || a.ScaleX > 1.2 || a.ScaleY < 0.8 || a.ScaleY > 1.2 || a.ScaleX == a.ScaleY {
				t.Fatalf("scales %v, %v: want independent draws in [0.8,1.2]", a.ScaleX, a.ScaleY)
			}
		}
		if a.Angle != 0 {
			ro++
			if math.Abs(a.Angle) > 20 {
				t.Fatalf("angle %v outside [-20,20]", a.Angle)
			}
		}
	}
	// Binomial(4000, 0.5): ±5 standard deviations is ±158.
	for name, c := range map[string]int{"hflip": hf, "vflip": vf, "brightness": br, "scale": sc, "rotation": ro} {
		if c < n/2-158 || c > n/2+158 {
			t.Errorf("%s fired %d of %d times, want about half", name, c, n)
		}
	}
	if none := drawAugment(AugmentNone, 7); none != (augParams{Bright: 1, ScaleX: 1, ScaleY: 1}) {
		t.Fatalf("none drew %+v", none)
	}
}

// TestRotationMovesPoint checks the affine step against an independent
// computation: a bright dot at (cx+d, cy) rotated by θ about the centre
// lands at (cx+d·cosθ, cy−d·sinθ) (counter-clockwise on screen); the
// mask, transformed identically, covers it.
func TestRotationMovesPoint(t *testing.T) {
	const w, h = 41, 41
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 41, MinSide: 1})
	px := make([]byte, w*h)
	// A 3×3 block centred 12 px right of the centre (20,20).
	for y := 19; y <= 21; y++ {
		for x := 31; x <= 33; x++ {
			px[y*w+x] = 250
		}
	}
	px[0] = 1
	it := Item{Width: w, Height: h, img: px}
	for _, deg := range []float64{-20, 10, 20} {
		s, err := p.loadWith(it, augParams{Bright: 1, ScaleX: 1, ScaleY: 1, Angle: deg})
		if err != nil {
			t.Fatal(err)
		}
		// Centroid of the bright blob.
		var sx, sy, sw float64
		for i, v := range s.Image {
			if v > 0.2 {
				sx += float64(i%w) * float64(v)
				sy += float64(i/w) * float64(v)
				sw += float64(v)
			}
		}
		th := deg * math.Pi / 180
		wantX, wantY := 20+12*math.Cos(th), 20-12*math.Sin(th)
		if math.Hypot(sx/sw-wantX, sy/sw-wantY) > 0.5 {
			t.Errorf("%v°: dot at (%.2f,%.2f), want (%.2f,%.2f)", deg, sx/sw, sy/sw, wantX, wantY)
		}
		// The loss mask lost the corners the rotation turned out of view.
		if s.Mask[0] != 0 || s.Mask[20*w+20] != 1 {
			t.Errorf("%v°: mask corner %v centre %v, want 0 and 1", deg, s.Mask[0], s.Mask[20*w+20])
		}
	}
}

// TestScaleIndependentAxes: scaling x by 1.2 and y by 0.8 about the
// centre moves a point at offset (10, 10) to (12, 8).
func TestScaleIndependentAxes(t *testing.T) {
	a := augParams{Bright: 1, ScaleX: 1.2, ScaleY: 0.8}
	m, ok := a.affine(41, 41)
	if !ok {
		t.Fatal("affine reported identity")
	}
	x, y := 30.0, 30.0
	gx, gy := m[0]*x+m[1]*y+m[2], m[3]*x+m[4]*y+m[5]
	if math.Abs(gx-32) > 1e-9 || math.Abs(gy-28) > 1e-9 {
		t.Fatalf("(30,30) → (%v,%v), want (32,28)", gx, gy)
	}
}

// TestAugmentSameOnImageAndMasks: under any advanced draw, the image's
// bright square, the loss mask (full variant: the square) and the anomaly
// mask (the same square) stay aligned.
func TestAugmentSameOnImageAndMasks(t *testing.T) {
	const w, h = 48, 32
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 48, MinSide: 1})
	img := make([]byte, w*h)
	mask := make([]byte, w*h)
	for y := 6; y < 20; y++ {
		for x := 8; x < 30; x++ {
			img[y*w+x], mask[y*w+x] = 200, 255
		}
	}
	it := Item{Width: w, Height: h, img: img, mask: mask, anomaly: mask}
	for seed := int64(0); seed < 40; seed++ {
		s, err := p.Load(it, AugmentAdvanced, seed)
		if err != nil {
			t.Fatal(err)
		}
		in, mis := 0, 0
		for i := range s.Image {
			if s.Mask[i] != s.AnomalyMask[i] {
				t.Fatalf("seed %d: loss mask and anomaly mask differ at %d", seed, i)
			}
			bright := s.Image[i] > 0.3
			if s.Mask[i] == 1 {
				in++
			}
			if bright != (s.Mask[i] == 1) {
				mis++
			}
		}
		// Interpolation may disagree on the outline only (about half of it).
		if in == 0 || float64(mis) > 2*math.Sqrt(float64(in)) {
			t.Fatalf("seed %d (%+v): %d mask pixels, %d disagree with the image", seed, drawAugment(AugmentAdvanced, seed), in, mis)
		}
	}
}
