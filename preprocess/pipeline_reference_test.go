package preprocess

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// realRadiographsDir holds real hand radiographs in MURA's layout, each with
// a reference mask image1_hand.png beside it (see REFERENCE_MASKS.md there);
// they are read in place and never copied into the repository.
const realRadiographsDir = "../../shared/data/real-radiographs/MURA-v1.1"

// Targets on the real radiographs (issue 14).
const (
	minRealMeanIoU = 0.93
	minRealIoU     = 0.85
)

// overlay is one real image with its mask and reference, for the sheet.
type overlay struct {
	src      string
	got, ref *image.Gray
}

// measureReference runs the pipeline over the real radiographs and scores
// every image's source-grid mask against its reference.
func measureReference(t testing.TB, o PipelineOptions) (*TruthReport, []overlay) {
	t.Helper()
	if _, err := os.Stat(realRadiographsDir); err != nil {
		t.Skipf("real radiographs not available (%v): this test needs ../shared/data/real-radiographs beside the repository", err)
	}
	ds, err := LoadMURABodyParts(realRadiographsDir, nil, LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Skipped) > 0 {
		t.Fatalf("loader skipped %v (reference masks are not images)", ds.Skipped)
	}
	p := newTestPipeline(t, o)
	start := time.Now()
	items, rep, err := p.Prepare(context.Background(), ds.Records, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d images in %s (%d workers)", len(ds.Records), time.Since(start).Round(time.Millisecond), p.workers)
	var tr TruthReport
	var ovs []overlay
	err = p.ForEachImage(ds.Records, items, rep, func(rec Record, r ImageResult, mask *image.Gray) error {
		ref := ReferencePath(rec, "")
		if ref == "" {
			t.Fatalf("%s: no reference mask beside it", r.RelPath)
		}
		if err := tr.Add(r, mask, ref); err != nil {
			return err
		}
		rm, err := ReadMask(ref)
		if mask == nil {
			mask = image.NewGray(rm.Bounds())
		}
		ovs = append(ovs, overlay{src: r.Path, got: mask, ref: rm})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &tr, ovs
}

// TestRealRadiographMasks: on real radiographs the full variant skips no
// image and its masks agree with the reference masks.
func TestRealRadiographMasks(t *testing.T) {
	tr, ovs := measureReference(t, PipelineOptions{Variant: VariantFull, Size: 64, Workers: 1})
	for _, s := range tr.Images {
		t.Logf("%-52s IoU %.3f  Dice %.3f  %s", s.RelPath, s.IoU, s.Dice, s.Skip)
		if s.Skip != "" {
			t.Errorf("%s skipped: %s", s.RelPath, s.Skip)
		}
	}
	t.Logf("%d images: mean IoU %.3f, min %.3f; mean Dice %.3f, min %.3f", len(tr.Images), tr.MeanIoU, tr.MinIoU, tr.MeanDice, tr.MinDice)
	if dir := os.Getenv("XRAYLAB_SHEET"); dir != "" {
		if err := writeOverlaySheet(filepath.Join(dir, "real-radiographs.png"), ovs, 140); err != nil {
			t.Fatal(err)
		}
	}
	if tr.MeanIoU < minRealMeanIoU {
		t.Errorf("mean IoU %.3f below %.2f", tr.MeanIoU, minRealMeanIoU)
	}
	if tr.MinIoU < minRealIoU {
		t.Errorf("minimum IoU %.3f below %.2f", tr.MinIoU, minRealIoU)
	}
}

// writeOverlaySheet draws each image scaled to tile px high with the
// reference outline in green and the mask outline in red.
func writeOverlaySheet(path string, scores []overlay, tile int) error {
	cols, gap := min(5, len(scores)), 4
	rows := (len(scores) + cols - 1) / cols
	tw := tile * 3 / 4
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(tw+gap)+gap, rows*(tile+gap)+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	for k, s := range scores {
		src, err := ReadGray(s.src)
		if err != nil {
			return err
		}
		w, h := src.Bounds().Dx(), src.Bounds().Dy()
		sc := min(float64(tile)/float64(h), float64(tw)/float64(w))
		ow, oh := int(float64(w)*sc), int(float64(h)*sc)
		at := func(m *image.Gray, x, y int) bool {
			sx, sy := min(w-1, int(float64(x)/sc)), min(h-1, int(float64(y)/sc))
			return m.Pix[sy*m.Stride+sx] != 0
		}
		edge := func(m *image.Gray, x, y int) bool {
			v := at(m, x, y)
			for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				nx, ny := x+d[0], y+d[1]
				if nx >= 0 && ny >= 0 && nx < ow && ny < oh && at(m, nx, ny) != v {
					return true
				}
			}
			return false
		}
		x0, y0 := gap+(k%cols)*(tw+gap), gap+(k/cols)*(tile+gap)
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				sx, sy := min(w-1, int(float64(x)/sc)), min(h-1, int(float64(y)/sc))
				g := src.Pix[sy*src.Stride+sx]
				c := color.RGBA{g, g, g, 255}
				switch {
				case edge(s.got, x, y):
					c = color.RGBA{255, 40, 40, 255}
				case edge(s.ref, x, y):
					c = color.RGBA{40, 255, 40, 255}
				}
				sheet.SetRGBA(x0+x, y0+y, c)
			}
		}
	}
	return writePalettedPNG(path, sheet)
}

// writePalettedPNG writes an RGBA sheet of grey pixels and pure outline
// colours with a 256-entry palette (254 greys, red, green): a third of
// the bytes, so that sheets can live under docs/.
func writePalettedPNG(path string, img *image.RGBA) error {
	pal := make(color.Palette, 0, 256)
	for g := 0; g < 254; g++ {
		v := uint8(g * 255 / 253)
		pal = append(pal, color.RGBA{v, v, v, 255})
	}
	pal = append(pal, color.RGBA{255, 40, 40, 255}, color.RGBA{40, 255, 40, 255})
	b := img.Bounds()
	out := image.NewPaletted(b, pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.RGBAAt(x, y)
			switch {
			case c.R == 255 && c.G == 40:
				out.SetColorIndex(x, y, 254)
			case c.G == 255 && c.R == 40:
				out.SetColorIndex(x, y, 255)
			default:
				out.SetColorIndex(x, y, uint8((int(c.R)*253+127)/255))
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, out); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkRealMask times the foreground mask alone on the real
// radiographs, each resized to a longer side of 512 px (one core).
func BenchmarkRealMask(b *testing.B) {
	if _, err := os.Stat(realRadiographsDir); err != nil {
		b.Skipf("real radiographs not available (%v)", err)
	}
	ds, err := LoadMURABodyParts(realRadiographsDir, nil, LoadOptions{Parts: []string{"valid"}})
	if err != nil {
		b.Fatal(err)
	}
	var mats []gocv.Mat
	for _, r := range ds.Records {
		m := gocv.IMRead(r.Path, gocv.IMReadGrayScale)
		sc := 512 / float64(max(m.Cols(), m.Rows()))
		rs := gocv.NewMat()
		gocv.Resize(m, &rs, image.Pt(int(float64(m.Cols())*sc+0.5), int(float64(m.Rows())*sc+0.5)), 0, 0, gocv.InterpolationArea)
		m.Close()
		mats = append(mats, rs)
	}
	defer func() {
		for _, m := range mats {
			m.Close()
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fg, _ := foregroundMask(mats[i%len(mats)], false)
		fg.Close()
	}
}
