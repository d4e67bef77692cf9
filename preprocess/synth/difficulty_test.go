package synth

import (
	"math"
	"testing"
)

// A fracture or lucent lesion with swelling around it marks more pixels
// than without, and the swelling brightens them; a study in a cast or
// splint says so in its truth and brightens pixels far outside the mask,
// which stays that of the pathology.
func TestSwellingAroundAndSupport(t *testing.T) {
	sc := &synthScratch{}
	cases := []struct {
		spec    anomalySpec
		support string
	}{
		{anomalySpec{Kind: KindFracture, Site: "middle-metacarpal", T: 0.5, Angle: 0.3, Side: 1}, "cast"},
		{anomalySpec{Kind: KindLesion, Sub: "lucent", Site: "middle-proximal", T: 0.5, Side: 1}, ""},
		{anomalySpec{Kind: KindHardware, Sub: "pin", Site: "middle-proximal", T: 0.5, Side: 1, Pieces: 2}, "splint"},
	}
	for i, tc := range cases {
		t.Run(tc.spec.Kind+"/"+tc.spec.Sub, func(t *testing.T) {
			job := imageJob{Seed: mix64(100, uint64(i)), PatientSeed: 5, Size: 256, Label: 1}
			base := sc.render(job)
			plain := tc.spec
			plain.Diff = difficulties["easy"]
			plain.Diff.Swell = 0
			job.Anomaly = &plain
			alone := sc.render(job)
			full := plain
			full.Diff.Swell = 1
			full.Support = tc.support != ""
			job.Anomaly = &full
			withAll := sc.render(job)
			if len(alone.Truth.Anomalies) != 1 || len(withAll.Truth.Anomalies) != 1 {
				t.Fatalf("truth %+v / %+v", alone.Truth.Anomalies, withAll.Truth.Anomalies)
			}
			a, w := alone.Truth.Anomalies[0], withAll.Truth.Anomalies[0]
			if w.Support != tc.support || a.Support != "" {
				t.Errorf("support %q (alone %q), want %q", w.Support, a.Support, tc.support)
			}
			if tc.spec.Kind != KindHardware && w.Pixels < 2*a.Pixels {
				t.Errorf("mask with swelling %d px, without %d: want at least twice", w.Pixels, a.Pixels)
			}
			if tc.spec.Kind == KindHardware && w.Pixels != a.Pixels {
				t.Errorf("a splint changed the mask: %d vs %d px", w.Pixels, a.Pixels)
			}
			// Brighter on average where only the swelling marks pixels.
			var gain, n float64
			for p := range base.Gray {
				if withAll.Anom[p] != 0 && alone.Anom[p] == 0 {
					gain += float64(withAll.Gray[p]) - float64(base.Gray[p])
					n++
				}
			}
			if n > 0 && gain/n < 5 {
				t.Errorf("swollen pixels brighter by %.1f grey levels, want at least 5", gain/n)
			}
			// A cast or splint brightens many pixels away from the mask.
			far := dilate(withAll.Anom, withAll.W, withAll.H, 12)
			brighter := 0
			for p := range base.Gray {
				if !far[p] && int(withAll.Gray[p])-int(alone.Gray[p]) > 20 {
					brighter++
				}
			}
			if got := brighter > len(base.Gray)/100; got != (tc.support != "") {
				t.Errorf("%d pixels away from the mask brighter by over 20 levels (support %q)", brighter, tc.support)
			}
		})
	}
}

// The difficulty levels order every knob from easy to hard, and the plan
// follows them: easy studies show their anomaly in more views, carry more
// hardware and are more often immobilised; hard ones never are.
func TestDifficultyLevelsOrdered(t *testing.T) {
	e, m, h := difficulties["easy"], difficulties["medium"], difficulties["hard"]
	for _, k := range []struct {
		name    string
		e, m, h float64
	}{
		{"size", e.Size, m.Size, h.Size},
		{"contrast", e.Contrast, m.Contrast, h.Contrast},
		{"show", e.Show, m.Show, h.Show},
		{"pieces", float64(e.Pieces[1]), float64(m.Pieces[1]), float64(h.Pieces[1])},
		{"displaced", e.Displaced, m.Displaced, h.Displaced},
		{"swell", e.Swell, m.Swell, h.Swell},
		{"support", e.Support, m.Support, h.Support},
	} {
		if !(k.e >= k.m && k.m >= k.h && k.e > k.h) {
			t.Errorf("%s: easy %v, medium %v, hard %v: want easy ≥ medium ≥ hard, easy > hard", k.name, k.e, k.m, k.h)
		}
	}
	if h.Show >= 1 || e.Show >= 1 {
		t.Errorf("show share easy %v hard %v: some views must miss the anomaly", e.Show, h.Show)
	}

	type counts struct{ pos, shown, supported, supportable int }
	stats := map[string]counts{}
	for _, level := range []string{"easy", "hard"} {
		p := plan(Options{Patients: 400, Size: 64, Seed: 3, Difficulty: level})
		var c counts
		for _, im := range p.images {
			if im.job.Label == 0 {
				continue
			}
			c.pos++
			if a := im.job.Anomaly; a != nil {
				c.shown++
				if a.Kind == KindFracture || a.Kind == KindHardware {
					c.supportable++
				}
				if a.Support {
					c.supported++
					if a.Kind != KindFracture && a.Kind != KindHardware {
						t.Errorf("%s: a %s in a cast", level, a.Kind)
					}
				}
			}
		}
		stats[level] = c
	}
	se, sh := stats["easy"], stats["hard"]
	fe, fh := float64(se.shown)/float64(se.pos), float64(sh.shown)/float64(sh.pos)
	if se.pos != sh.pos || fe <= fh || se.shown == se.pos || math.Abs(fh-h.Show) > 0.1 {
		t.Errorf("views showing the anomaly: easy %d/%d, hard %d/%d", se.shown, se.pos, sh.shown, sh.pos)
	}
	if se.supported != se.supportable || sh.supported != 0 || se.supportable == 0 {
		t.Errorf("immobilised: easy %d of %d fracture/hardware views, hard %d", se.supported, se.supportable, sh.supported)
	}
}
