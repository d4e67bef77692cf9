package preprocess

import (
	"fmt"
	"image"
	"math"
	"testing"
)

// MeasureMask on masks whose figures are counted by hand.
func TestMeasureMask(t *testing.T) {
	rect := func(m *image.Gray, x0, y0, x1, y1 int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				m.Pix[y*m.Stride+x] = 255
			}
		}
	}
	// 20×10 image: border 2·20 + 2·8 = 56 pixels.
	one := image.NewGray(image.Rect(0, 0, 20, 10))
	rect(one, 0, 2, 10, 8) // 60 px, touching the left edge on 6 pixels
	two := image.NewGray(image.Rect(0, 0, 20, 10))
	rect(two, 2, 2, 8, 8)   // 36
	rect(two, 12, 2, 18, 8) // 36
	full := image.NewGray(image.Rect(0, 0, 20, 10))
	rect(full, 0, 0, 20, 10)
	for _, c := range []struct {
		name  string
		m     *image.Gray
		hands int
		want  MaskStats
	}{
		{"one region", one, 1, MaskStats{Share: 60.0 / 200, Components: 1, Border: 6.0 / 56}},
		{"two regions, two hands", two, 2, MaskStats{Share: 72.0 / 200, Components: 2}},
		{"two regions, one hand", two, 1, MaskStats{Share: 72.0 / 200, Components: 2, Suspicious: true, Check: "regions", Reason: "2 separate regions for 1 hand(s)"}},
		{"empty", image.NewGray(image.Rect(0, 0, 20, 10)), 1, MaskStats{Suspicious: true, Check: "empty", Reason: "empty mask"}},
		{"everything", full, 1, MaskStats{Share: 1, Components: 1, Border: 1, Suspicious: true, Check: "large", Reason: "mask covers 100% of the image: background inside?"}},
	} {
		got := MeasureMask(c.m, c.hands)
		if math.Abs(got.Share-c.want.Share) > 1e-12 || math.Abs(got.Border-c.want.Border) > 1e-12 {
			t.Errorf("%s: share %v border %v, want %v %v", c.name, got.Share, got.Border, c.want.Share, c.want.Border)
		}
		got.Share, got.Border = c.want.Share, c.want.Border
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// A summary counts every image but lists at most MaxFlagged, the first
// ones in the order they were added.
func TestMaskSummaryIsBounded(t *testing.T) {
	s := NewMaskSummary()
	var listed []string
	for i := range 100 {
		st := MaskStats{Share: float64(i) / 100, Components: i % 8}
		if i%2 == 0 {
			st.Suspicious, st.Check = true, MaskChecks[i%len(MaskChecks)]
		}
		res := ImageResult{RelPath: fmt.Sprintf("img%03d.png", i), Mask: &st, Hands: []HandRegion{{}}}
		if f := s.Add(res); f != nil {
			listed = append(listed, f.RelPath)
		}
	}
	s.Add(ImageResult{RelPath: "skipped.png", Skip: "no hand found"}) // no mask: not counted
	if s.Images != 100 || s.Suspicious != 50 || len(s.Flagged) != MaxFlagged || len(listed) != MaxFlagged {
		t.Fatalf("images %d suspicious %d flagged %d listed %d; want 100, 50, %d", s.Images, s.Suspicious, len(s.Flagged), len(listed), MaxFlagged)
	}
	for i, f := range s.Flagged {
		if want := fmt.Sprintf("img%03d.png", 2*i); f.RelPath != want || listed[i] != want {
			t.Errorf("flagged[%d] = %s (returned %s), want %s", i, f.RelPath, listed[i], want)
		}
	}
	// Share i/100: ten per bin of 0.1; mean 0.495; components i%8 with ≥5 in one bin.
	for b, n := range s.Share.Hist {
		if n != 10 {
			t.Errorf("share bin %d holds %d, want 10", b, n)
		}
	}
	if s.Share.Min != 0 || s.Share.Max != 0.99 || math.Abs(s.Share.Mean-0.495) > 1e-12 {
		t.Errorf("share %+v", s.Share)
	}
	if want := []int{13, 13, 13, 13, 12, 36}; fmt.Sprint(s.Components) != fmt.Sprint(want) {
		t.Errorf("components %v, want %v", s.Components, want)
	}
	for _, c := range MaskChecks {
		if s.Checks[c] != 10 {
			t.Errorf("check %s counted %d, want 10 (%v)", c, s.Checks[c], s.Checks)
		}
	}
}

func TestMaskThumbnailRefusesBadInput(t *testing.T) {
	p, err := NewPipeline(PipelineOptions{Variant: VariantFull, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.MaskThumbnail(Record{}, image.NewGray(image.Rect(0, 0, 4, 4)), 4); err == nil || err.Error() != "preprocess: thumbnail size 4, want at least 8" {
		t.Errorf("size 4: %v", err)
	}
}
