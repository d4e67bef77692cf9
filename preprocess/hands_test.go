package preprocess

import (
	"context"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// drawHand draws a bright hand-like shape (palm, five fingers, forearm
// reaching down by fore px) at (cx, cy) with palm radius r.
func drawHand(m *gocv.Mat, cx, cy, r, fore int) {
	tissue := color.RGBA{150, 150, 150, 0}
	gocv.Circle(m, image.Pt(cx, cy), r, tissue, -1)
	for i, dx := range []int{-r, -r / 2, 0, r / 2, r} {
		l := 2 * r
		if i == 0 {
			l = r
		}
		gocv.Line(m, image.Pt(cx+dx*7/10, cy), image.Pt(cx+dx*(10+i%2)/10, cy-l), tissue, r/4)
	}
	gocv.Rectangle(m, image.Rect(cx-r*2/3, cy, cx+r*2/3, cy+r+fore), tissue, -1)
	gocv.Line(m, image.Pt(cx, cy), image.Pt(cx, cy-r), color.RGBA{210, 210, 210, 0}, r/8) // a bone
}

func writeMat(t *testing.T, m gocv.Mat, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if !gocv.IMWrite(p, m) {
		t.Fatal("cannot write", p)
	}
	return p
}

// TestTwoHandSplit: two hands side by side become two items (Half 1 and 2,
// same record otherwise), whether apart or touching at the forearms; one
// hand touching the bottom border stays one item whose mask reaches the
// border; a bright marker and a label stay outside the mask.
func TestTwoHandSplit(t *testing.T) {
	apart := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 0, 0, 0), 300, 400, gocv.MatTypeCV8U)
	drawHand(&apart, 100, 140, 40, 60)
	drawHand(&apart, 300, 150, 40, 60)
	touching := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 0, 0, 0), 300, 400, gocv.MatTypeCV8U)
	drawHand(&touching, 130, 130, 40, 80)
	drawHand(&touching, 270, 130, 40, 80)
	gocv.Rectangle(&touching, image.Rect(140, 250, 260, 265), color.RGBA{150, 150, 150, 0}, -1) // forearms touching
	one := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 0, 0, 0), 320, 260, gocv.MatTypeCV8U)
	drawHand(&one, 120, 150, 45, 200) // forearm runs off the bottom edge
	marker := image.Rect(200, 20, 230, 60)
	gocv.Rectangle(&one, marker, color.RGBA{250, 250, 250, 0}, 6)                        // a side marker
	gocv.Rectangle(&one, image.Rect(10, 250, 60, 300), color.RGBA{240, 240, 240, 0}, -1) // a label
	cases := []struct {
		name  string
		img   gocv.Mat
		items int
	}{{"apart", apart, 2}, {"touching", touching, 2}, {"one at the border", one, 1}}
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 64})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer c.img.Close()
			rec := Record{Path: writeMat(t, c.img, "image1.png"), Patient: "00042", Study: "train/00042/study1", Label: 1}
			items, rep, err := p.Prepare(context.Background(), []Record{rec}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != c.items {
				t.Fatalf("%d items, want %d (%+v)", len(items), c.items, rep)
			}
			if c.items == 2 {
				if rep.TwoHandSplits != 1 || items[0].Record.Half != 1 || items[1].Record.Half != 2 {
					t.Fatalf("halves %d, %d; report %+v", items[0].Record.Half, items[1].Record.Half, rep)
				}
				for _, it := range items {
					r := it.Record
					r.Half = 0
					if r != rec || it.Hands != 2 {
						t.Fatalf("item record %+v, want %+v with a half", it.Record, rec)
					}
				}
				// The left item lies left of the right one in the source.
				l, _ := inv3(items[0].Transform)
				r, _ := inv3(items[1].Transform)
				if applyH(l, [2]float64{float64(items[0].Width), 0})[0] > applyH(r, [2]float64{0, 0})[0]+1 {
					t.Fatal("left and right items overlap")
				}
				return
			}
			it := items[0]
			if it.Record.Half != 0 || it.Hands != 1 {
				t.Fatalf("single hand: half %d hands %d", it.Record.Half, it.Hands)
			}
			_, mask, an, err := p.itemMats(it)
			if err != nil {
				t.Fatal(err)
			}
			an.Close()
			defer mask.Close()
			inv, _ := inv3(it.Transform)
			back := warpHomography(mask, inv, 260, 320, true)
			defer back.Close()
			if back.GetUCharAt(319, 120) == 0 {
				t.Error("mask does not reach the bottom border where the forearm leaves the image")
			}
			for _, r := range []image.Rectangle{marker, image.Rect(10, 250, 60, 300)} {
				reg := back.Region(r)
				if n := gocv.CountNonZero(reg); n != 0 {
					t.Errorf("%d mask pixels on the bright object at %v", n, r)
				}
				reg.Close()
			}
			// The whole hand, fingertips included, is inside.
			for _, pt := range []image.Point{{120, 150}, {120, 65}, {120, 300}} {
				if back.GetUCharAt(pt.Y, pt.X) == 0 {
					t.Errorf("hand point %v outside the mask", pt)
				}
			}
		})
	}
}

// TestNoHandFound: an image with only rectangles (a label) and noise-free
// background has no hand: a clear per-image skip.
func TestNoHandFound(t *testing.T) {
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 0, 0, 0), 200, 200, gocv.MatTypeCV8U)
	gocv.Rectangle(&m, image.Rect(20, 20, 80, 60), color.RGBA{240, 240, 240, 0}, -1)
	defer m.Close()
	p := newTestPipeline(t, PipelineOptions{Variant: VariantCrop, Size: 64})
	_, rep, err := p.Prepare(context.Background(), []Record{{Path: writeMat(t, m, "x.png")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 1 || rep.Skips[0].Reason != "no hand found (no hand-like region in the foreground mask)" {
		t.Fatalf("%+v", rep)
	}
}

func TestDetectorErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "model.onnx")
	os.WriteFile(garbage, []byte("this is not an ONNX model"), 0o644)
	empty := filepath.Join(dir, "empty.pb")
	os.WriteFile(empty, nil, 0o644)
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing.onnx"), "preprocess: detector: open " + filepath.Join(dir, "missing.onnx") + ": no such file or directory"},
		{filepath.Join(dir, "model.caffemodel"), "preprocess: detector " + filepath.Join(dir, "model.caffemodel") + `: unsupported model format ".caffemodel" (want .onnx or a TensorFlow .pb)`},
		{empty, "preprocess: detector " + empty + ": empty file"},
		{garbage, "preprocess: detector " + garbage + ": cannot load model: "},
	}
	for _, c := range cases {
		_, err := NewPipeline(PipelineOptions{Variant: VariantCrop, Size: 64, Detector: c.path})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want prefix %q", filepath.Base(c.path), err, c.want)
		} else {
			t.Log(err)
		}
	}
}
