package preprocess

import (
	"context"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// The models in testdata/detector are built by make_detector.py (see its doc
// comment for the rows they return). tiny-ssd.onnx reports, per image half
// of the 300×300 detector input, the bounding box of the pixels brighter
// than mid grey as a class-1 detection scored min(0.99, 4 × bright share),
// plus decoy rows a hand detector must ignore: another class (0.99, whole
// image), a score under the threshold (0.45), another batch image (0.98) and
// an inverted box (0.97). Each decoy outranks at least one real hand, so
// accepting any of them changes the boxes.
var (
	tinySSD  = filepath.Join("testdata", "detector", "tiny-ssd.onnx")
	badShape = filepath.Join("testdata", "detector", "bad-shape.onnx")
)

// refHand is what tiny-ssd.onnx computes for one half, recomputed here
// from the image: the box in the image's pixels and the score.
type refHand struct {
	box   image.Rectangle
	score float64
}

// modelReference resizes grey to the detector input as blobFromImage does
// (bilinear on 8-bit pixels), finds the pixels above 127.5 in each half and
// maps their bounding box back to grey's pixels.
func modelReference(t *testing.T, grey gocv.Mat) [2]refHand {
	t.Helper()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(grey, &small, image.Pt(detInput, detInput), 0, 0, gocv.InterpolationLinear)
	w, h := grey.Cols(), grey.Rows()
	var out [2]refHand
	for k := 0; k < 2; k++ {
		x0 := k * detInput / 2
		minX, minY, maxX, maxY, n := detInput, detInput, -1, -1, 0
		for y := 0; y < detInput; y++ {
			for x := x0; x < x0+detInput/2; x++ {
				if small.GetUCharAt(y, x) >= 128 {
					n++
					minX, minY = min(minX, x), min(minY, y)
					maxX, maxY = max(maxX, x), max(maxY, y)
				}
			}
		}
		out[k].score = math.Min(0.99, 4*float64(n)/float64(detInput*detInput/2))
		if n > 0 {
			sc := func(v, side int) int { return int(math.Round(float64(v) / detInput * float64(side))) }
			out[k].box = image.Rect(sc(minX, w), sc(minY, h), sc(maxX+1, w), sc(maxY+1, h))
		}
	}
	return out
}

// itemBox recovers an item's box in the source image from its transform
// (a pure translation when the carrier crop fell back).
func itemBox(t *testing.T, it Item) image.Rectangle {
	t.Helper()
	tr := it.Transform
	if tr != [9]float64{1, 0, tr[2], 0, 1, tr[5], 0, 0, 1} {
		t.Fatalf("item transform %v is not a translation", tr)
	}
	return image.Rect(int(-tr[2]), int(-tr[5]), int(-tr[2])+it.Width, int(-tr[5])+it.Height)
}

// TestDNNDetectorModel runs the pipeline with a real ONNX detector on
// synthetic one- and two-hand images and checks the items follow the
// model's boxes, left to right, and nothing else. The images go through
// one Prepare with several workers sharing the net, so a result read after
// another worker's forward pass would show as a wrong box.
func TestDNNDetectorModel(t *testing.T) {
	type hand struct{ cx, cy, r, fore int }
	cases := []struct {
		name   string
		w, h   int
		hands  []hand
		marker bool // a small bright marker in the right half (scored far below 0.5)
		want   int  // hands the model should report
	}{
		{"two hands", 300, 300, []hand{{75, 110, 32, 70}, {220, 120, 34, 60}}, false, 2},
		{"two hands, other placement", 300, 300, []hand{{60, 140, 28, 80}, {230, 100, 30, 90}}, false, 2},
		{"one hand and a marker", 300, 300, []hand{{80, 120, 34, 80}}, true, 1},
		{"two hands, 360×240", 360, 240, []hand{{90, 80, 30, 60}, {270, 90, 32, 50}}, false, 2},
		{"one hand, 240×320", 240, 320, []hand{{70, 130, 30, 90}}, false, 1},
	}
	var recs []Record
	var refs [][2]refHand
	for _, c := range cases {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(30, 0, 0, 0), c.h, c.w, gocv.MatTypeCV8U)
		for _, hd := range c.hands {
			drawHand(&m, hd.cx, hd.cy, hd.r, hd.fore)
		}
		if c.marker {
			gocv.Rectangle(&m, image.Rect(c.w-50, 20, c.w-42, 28), color.RGBA{240, 240, 240, 0}, -1)
		}
		ref := modelReference(t, m)
		// The test's premise: the model sees exactly c.want hands.
		got := 0
		for _, r := range ref {
			if r.score >= detMinConf {
				got++
			}
		}
		if got != c.want {
			t.Fatalf("%s: reference finds %d hands (%+v), want %d: fix the fixture", c.name, got, ref, c.want)
		}
		recs = append(recs, Record{Path: writeMat(t, m, "img.png"), Patient: c.name})
		refs = append(refs, ref)
		m.Close()
	}

	p := newTestPipeline(t, PipelineOptions{Variant: VariantCrop, Size: 64, Detector: tinySSD, Workers: 4})
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 0 {
		t.Fatalf("skips: %+v", rep.Skips)
	}
	byImage := map[string][]Item{}
	for _, it := range items {
		byImage[it.Record.Path] = append(byImage[it.Record.Path], it)
	}
	for i, c := range cases {
		got := byImage[recs[i].Path]
		var want []image.Rectangle
		for _, r := range refs[i] {
			if r.score >= detMinConf {
				want = append(want, r.box)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d items, want %d", c.name, len(got), len(want))
			continue
		}
		for k, it := range got {
			if it.FellBack == "" {
				t.Fatalf("%s: carrier crop did not fall back; boxes are not in source pixels", c.name)
			}
			wantHalf := 0
			if len(want) == 2 {
				wantHalf = k + 1
			}
			if b := itemBox(t, it); b != want[k] || it.Hands != len(want) || it.Record.Half != wantHalf || it.Record.Patient != c.name {
				t.Errorf("%s item %d: box %v hands %d half %d patient %q, want box %v hands %d half %d",
					c.name, k, b, it.Hands, it.Record.Half, it.Record.Patient, want[k], len(want), wantHalf)
			}
		}
	}
	if rep.TwoHandSplits != 3 {
		t.Errorf("TwoHandSplits %d, want 3", rep.TwoHandSplits)
	}
}

// TestDNNDetectorBadShape: a model whose output is not [1,1,N,7] is refused
// when the pipeline is built, with its shape in the error.
func TestDNNDetectorBadShape(t *testing.T) {
	_, err := NewPipeline(PipelineOptions{Variant: VariantCrop, Size: 64, Detector: badShape})
	want := "preprocess: detector " + badShape + ": cannot load model: output has shape [1,1,3,5], want SSD detections [1,1,N,7]"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// TestDetBox checks the parsing of single SSD rows against hand-computed
// boxes in a 200×100 image.
func TestDetBox(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name string
		row  []float32
		want image.Rectangle // zero = not a hand
	}{
		{"hand", []float32{0, 1, 0.9, 0.1, 0.2, 0.5, 0.8}, image.Rect(20, 20, 100, 80)},
		{"float32 just under 50/300 rounds to 50", []float32{0, 1, 0.9, 0.16666663, 0.16666663, 0.5, 0.5}, image.Rect(33, 17, 100, 50)},
		{"clamped to the image", []float32{0, 1, 0.9, -0.2, -0.1, 1.3, 1.5}, image.Rect(0, 0, 200, 100)},
		{"at the threshold", []float32{0, 1, detMinConf, 0, 0, 0.5, 0.5}, image.Rect(0, 0, 100, 50)},
		{"below the threshold", []float32{0, 1, 0.49, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"background class", []float32{0, 0, 0.9, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"other class", []float32{0, 2, 0.9, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"other image of the batch", []float32{1, 1, 0.9, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"padding row", []float32{-1, 1, 0.9, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"inverted x", []float32{0, 1, 0.9, 0.6, 0.2, 0.4, 0.8}, image.Rectangle{}},
		{"inverted y", []float32{0, 1, 0.9, 0.1, 0.8, 0.5, 0.2}, image.Rectangle{}},
		{"outside the image", []float32{0, 1, 0.9, 1.1, 0.2, 1.5, 0.8}, image.Rectangle{}},
		{"under a pixel", []float32{0, 1, 0.9, 0.1, 0.2, 0.101, 0.8}, image.Rectangle{}},
		{"NaN score", []float32{0, 1, nan, 0, 0, 0.5, 0.5}, image.Rectangle{}},
		{"NaN corner", []float32{0, 1, 0.9, nan, 0, 0.5, 0.5}, image.Rectangle{}},
		{"infinite corner", []float32{0, 1, 0.9, 0, 0, inf, 0.5}, image.Rectangle{}},
	}
	for _, c := range cases {
		r, ok := detBox(c.row, 200, 100)
		if ok != !c.want.Empty() || (ok && r != c.want) {
			t.Errorf("%s: box %v ok %t, want %v", c.name, r, ok, c.want)
		}
	}
}
