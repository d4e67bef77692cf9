package preprocess

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// realHandsDir holds six real paediatric hand radiographs shared by the
// team; they are read in place and never copied into the repository.
const realHandsDir = "../../shared/data/real-hands"

func realHandRecords(t testing.TB) []Record {
	t.Helper()
	var recs []Record
	for k := 0; k < 6; k++ {
		p := filepath.Join(realHandsDir, fmt.Sprintf("boneage-%d.png", k))
		if _, err := os.Stat(p); err != nil {
			t.Skipf("real-hands fixtures not available (%v): this test needs ../shared/data/real-hands beside the repository", err)
		}
		recs = append(recs, Record{Path: p, View: k})
	}
	return recs
}

// withMarker writes a copy of a real image (into a temp dir) with a bright
// "L" side marker drawn in its darker top corner, and returns the copy's
// path and the marker's box.
func withMarker(t *testing.T, src string) (string, image.Rectangle) {
	t.Helper()
	m := gocv.IMRead(src, gocv.IMReadGrayScale)
	defer m.Close()
	w, h := m.Cols(), m.Rows()
	s := min(w, h) / 14
	left := m.Region(image.Rect(0, 0, w/5, h/8))
	right := m.Region(image.Rect(w-w/5, 0, w, h/8))
	x0 := w / 30
	if right.Mean().Val1 < left.Mean().Val1 {
		x0 = w - w/30 - s
	}
	left.Close()
	right.Close()
	y0 := h / 40
	box := image.Rect(x0, y0, x0+s, y0+int(1.4*float64(s)))
	white := color.RGBA{255, 255, 255, 255}
	gocv.Rectangle(&m, image.Rect(box.Min.X, box.Min.Y, box.Min.X+s/4, box.Max.Y), white, -1)
	gocv.Rectangle(&m, image.Rect(box.Min.X, box.Max.Y-s/4, box.Max.X, box.Max.Y), white, -1)
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	if !gocv.IMWrite(out, m) {
		t.Fatal("cannot write", out)
	}
	return out, box
}

// TestRealHandsMask: on real radiographs the full variant finds one hand
// whose mask is one connected region covering a plausible share of its
// crop, and a bright side marker drawn into the background stays outside.
func TestRealHandsMask(t *testing.T) {
	recs := realHandRecords(t)
	boxes := map[string]image.Rectangle{}
	for i := range recs {
		p, box := withMarker(t, recs[i].Path)
		recs[i].Path = p
		boxes[p] = box
	}
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 128})
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(recs) || rep.Skipped != 0 || rep.TwoHandSplits != 0 {
		t.Fatalf("want one item per image: %+v", rep)
	}
	for _, it := range items {
		name := filepath.Base(it.Record.Path)
		_, mask, an, err := p.itemMats(it)
		if err != nil {
			t.Fatal(err)
		}
		an.Close()
		share := float64(gocv.CountNonZero(mask)) / float64(it.Width*it.Height)
		labels := gocv.NewMat()
		n := gocv.ConnectedComponents(mask, &labels) - 1 // minus the background label
		labels.Close()
		inv, _ := inv3(it.Transform)
		src := gocv.IMRead(it.Record.Path, gocv.IMReadGrayScale)
		back := warpHomography(mask, inv, src.Cols(), src.Rows(), true)
		imgShare := float64(gocv.CountNonZero(back)) / float64(src.Cols()*src.Rows())
		mk := back.Region(boxes[it.Record.Path])
		onMarker := gocv.CountNonZero(mk)
		mk.Close()
		back.Close()
		src.Close()
		mask.Close()
		t.Logf("%s: mask %.0f%% of its crop, %.0f%% of the image, %d region(s), fell back: %q", name, 100*share, 100*imgShare, n, it.FellBack)
		if n != 1 {
			t.Errorf("%s: mask has %d regions, want 1", name, n)
		}
		if share < 0.35 || share > 0.85 || imgShare < 0.2 || imgShare > 0.7 {
			t.Errorf("%s: mask covers %.2f of its crop and %.2f of the image, want 0.35–0.85 and 0.2–0.7", name, share, imgShare)
		}
		if onMarker != 0 {
			t.Errorf("%s: %d mask pixels on the side marker", name, onMarker)
		}
	}
	if dir := os.Getenv("XRAYLAB_SHEET"); dir != "" {
		if err := WriteContactSheet(filepath.Join(dir, "real.png"), p, items, ContactOptions{Tile: 200, Augment: AugmentAdvanced, Seed: 1}); err != nil {
			t.Fatal(err)
		}
	}
}
