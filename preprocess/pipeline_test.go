package preprocess

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeGrey writes an 8-bit grey PNG with Go's encoder (independent of
// OpenCV, so decoding is tested against another implementation).
func writeGrey(t testing.TB, path string, w, h int, px []byte) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, px)
	writePNG(t, path, img)
}

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func newTestPipeline(t testing.TB, o PipelineOptions) *Pipeline {
	t.Helper()
	p, err := NewPipeline(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// prepareOneItem writes px as a PNG and runs Prepare on it.
func prepareOneItem(t *testing.T, p *Pipeline, w, h int, px []byte) Item {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image1.png")
	writeGrey(t, path, w, h, px)
	items, rep, err := p.Prepare(context.Background(), []Record{{Path: path}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("Prepare gave %d items, skips %v", len(items), rep.Skips)
	}
	return items[0]
}

func approxEq(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%s: value %d (row %d) = %v, want %v\n got %v\nwant %v", name, i, i/4, got[i], want[i], got, want)
		}
	}
}

// v255 converts grey levels to the [0,1] values Load returns.
func v255(levels ...float32) []float32 {
	out := make([]float32, len(levels))
	for i, l := range levels {
		out[i] = l / 255
	}
	return out
}

// TestLoadRawExact follows a 4×2 image through Prepare and Load into a 4×4
// input: no resize (longer side already 4), one zero row of padding above
// and below, and every flip combination computed by hand.
func TestLoadRawExact(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 4, MinSide: 1, Workers: 1})
	it := prepareOneItem(t, p, 4, 2, []byte{10, 20, 30, 40, 50, 60, 70, 80})
	pad := []float32{0, 0, 0, 0}
	one := []float32{1, 1, 1, 1}
	cat := func(rows ...[]float32) []float32 {
		var o []float32
		for _, r := range rows {
			o = append(o, r...)
		}
		return o
	}
	wantMask := cat(pad, one, one, pad)
	cases := []struct {
		name string
		a    augParams
		want []float32
	}{
		{"none", augParams{Bright: 1, ScaleX: 1, ScaleY: 1}, cat(pad, v255(10, 20, 30, 40), v255(50, 60, 70, 80), pad)},
		{"hflip", augParams{HFlip: true, Bright: 1, ScaleX: 1, ScaleY: 1}, cat(pad, v255(40, 30, 20, 10), v255(80, 70, 60, 50), pad)},
		{"vflip", augParams{VFlip: true, Bright: 1, ScaleX: 1, ScaleY: 1}, cat(pad, v255(50, 60, 70, 80), v255(10, 20, 30, 40), pad)},
		{"both", augParams{HFlip: true, VFlip: true, Bright: 1, ScaleX: 1, ScaleY: 1}, cat(pad, v255(80, 70, 60, 50), v255(40, 30, 20, 10), pad)},
		// 1.1 × level, rounded to nearest (saturate_cast): 11, 22, 33, 44, 55, 66, 77, 88.
		{"bright1.1", augParams{Bright: 1.1, ScaleX: 1, ScaleY: 1}, cat(pad, v255(11, 22, 33, 44), v255(55, 66, 77, 88), pad)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := p.loadWith(it, c.a)
			if err != nil {
				t.Fatal(err)
			}
			approxEq(t, "image", s.Image, c.want)
			approxEq(t, "mask", s.Mask, wantMask)
			if s.AnomalyMask != nil {
				t.Fatalf("AnomalyMask = %v, want nil without a mask file", s.AnomalyMask)
			}
		})
	}
}

// TestLoadOddPadding checks that an odd remainder of padding goes to the
// right: a 2×5 image in a 5×5 square has 1 column left, 2 right.
func TestLoadOddPadding(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 5, MinSide: 1})
	it := prepareOneItem(t, p, 2, 5, []byte{10, 20, 30, 40, 50, 60, 70, 80, 90, 100})
	s, err := p.Load(it, AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	for r := 0; r < 5; r++ {
		want = append(want, 0)
		want = append(want, v255(float32(10+20*r), float32(20+20*r))...)
		want = append(want, 0, 0)
	}
	approxEq(t, "image", s.Image, want)
}

// TestLoadResizeArea checks downscaling against a hand computation: an 8×4
// image to Size 4 averages 2×2 blocks (INTER_AREA at an integer factor).
func TestLoadResizeArea(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 4, MinSide: 1})
	px := make([]byte, 32)
	for i := range px {
		px[i] = byte(8 * i) // row r, col c: 8(8r+c)
	}
	it := prepareOneItem(t, p, 8, 4, px)
	s, err := p.Load(it, AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 16)
	for r := 0; r < 2; r++ {
		for c := 0; c < 4; c++ {
			sum := 0
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					sum += int(px[(2*r+dy)*8+2*c+dx])
				}
			}
			want[(r+1)*4+c] = float32((sum+2)/4) / 255
		}
	}
	approxEq(t, "image", s.Image, want)
}

// TestHistEqHandComputation checks global equalisation against OpenCV's
// documented formula worked out by hand: 8 distinct levels, one pixel each,
// map to round(k·255/7) for rank k.
func TestHistEqHandComputation(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 4, MinSide: 1, HistEq: true})
	it := prepareOneItem(t, p, 4, 2, []byte{10, 20, 30, 40, 50, 60, 70, 80})
	s, err := p.Load(it, AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lv []float32
	for k := 0; k < 8; k++ {
		lv = append(lv, float32(math.Round(float64(k)*255/7)))
	}
	want := append(append(append([]float32{0, 0, 0, 0}, v255(lv[:4]...)...), v255(lv[4:]...)...), 0, 0, 0, 0)
	approxEq(t, "image", s.Image, want)
}

// TestCLAHEDiffersFromGlobal guards the option plumbing: on an image with
// a smooth gradient CLAHE and global equalisation give different results.
func TestCLAHEDiffersFromGlobal(t *testing.T) {
	w, h := 64, 64
	px := make([]byte, w*h)
	for i := range px {
		px[i] = byte(60 + (i%w)/2 + (i/w)/4)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "g.png")
	writeGrey(t, path, w, h, px)
	var outs [2][]float32
	for k, clahe := range []bool{false, true} {
		p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 64, HistEq: true, CLAHE: clahe})
		items, _, err := p.Prepare(context.Background(), []Record{{Path: path}}, nil)
		if err != nil || len(items) != 1 {
			t.Fatal(err, len(items))
		}
		s, err := p.Load(items[0], AugmentNone, 0)
		if err != nil {
			t.Fatal(err)
		}
		outs[k] = s.Image
	}
	// Global HE spreads the 76 levels over the full range: the darkest pixel
	// becomes 0 and the brightest 1.
	if outs[0][0] != 0 || outs[0][len(outs[0])-1] != 1 {
		t.Fatalf("global HE: first %v last %v, want 0 and 1", outs[0][0], outs[0][len(outs[0])-1])
	}
	diff := 0
	for i := range outs[0] {
		if outs[0][i] != outs[1][i] {
			diff++
		}
	}
	if diff < len(outs[0])/2 {
		t.Fatalf("CLAHE equals global HE on %d of %d pixels", len(outs[0])-diff, len(outs[0]))
	}
}

// TestDecodeOutcomes: every odd input gets a clear per-image outcome.
func TestDecodeOutcomes(t *testing.T) {
	dir := t.TempDir()
	grad := func(w, h int) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = byte(i % 200)
		}
		return g
	}
	uniform := func(v byte) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, 40, 40))
		for i := range g.Pix {
			g.Pix[i] = v
		}
		return g
	}
	g16 := image.NewGray16(image.Rect(0, 0, 40, 40))
	for i := 0; i < 40*40; i++ {
		// 12-bit detector range: 1000..3000.
		g16.SetGray16(i%40, i/40, color.Gray16{Y: uint16(1000 + 2000*(i%40)/39)})
	}
	rgb := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for i := 0; i < 40*40; i++ {
		v := byte(5 * (i % 40))
		rgb.Set(i%40, i/40, color.RGBA{v, v, v, 255})
	}
	files := map[string]func(string){
		"empty.png":   func(p string) { os.WriteFile(p, nil, 0o644) },
		"corrupt.png": func(p string) { os.WriteFile(p, []byte("\x89PNG\r\n\x1a\nthis is not a png"), 0o644) },
		"tiny.png":    func(p string) { writePNG(t, p, grad(20, 50)) },
		"blank.png":   func(p string) { writePNG(t, p, uniform(120)) },
		"white.png":   func(p string) { writePNG(t, p, uniform(255)) },
		"black.png":   func(p string) { writePNG(t, p, uniform(0)) },
		"g16.png":     func(p string) { writePNG(t, p, g16) },
		"rgb.png":     func(p string) { writePNG(t, p, rgb) },
		"ok.png":      func(p string) { writePNG(t, p, grad(40, 40)) },
	}
	cases := []struct{ file, skip string }{
		{"empty.png", "empty file"},
		{"corrupt.png", "cannot decode image (corrupt or not an image, 25 bytes)"},
		{"tiny.png", "tiny image 20×50 (shorter side below 32 px)"},
		{"blank.png", "blank image (grey levels only 120–120)"},
		{"white.png", "all-white image (grey levels 255–255)"},
		{"black.png", "all-black image (grey levels 0–0)"},
		{"missing.png", "cannot read file: open "},
		{"g16.png", ""},
		{"rgb.png", ""},
		{"ok.png", ""},
	}
	var recs []Record
	for _, c := range cases {
		p := filepath.Join(dir, c.file)
		if mk := files[c.file]; mk != nil {
			mk(p)
		}
		recs = append(recs, Record{Path: p})
	}
	pl := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 40})
	items, rep, err := pl.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range rep.Skips {
		reasons[filepath.Base(s.Path)] = s.Reason
	}
	for _, c := range cases {
		got, skipped := reasons[c.file]
		if c.skip == "" && skipped {
			t.Errorf("%s skipped: %s", c.file, got)
		}
		if c.skip != "" && !strings.HasPrefix(got, c.skip) {
			t.Errorf("%s: skip reason %q, want %q", c.file, got, c.skip)
		}
	}
	if rep.Images != len(cases) || rep.Skipped != 7 || rep.Items != 3 || len(items) != 3 {
		t.Fatalf("report %+v, items %d", rep, len(items))
	}
	// The 16-bit image is stretched min–max: its columns become 0…255.
	s, err := pl.Load(items[0], AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(items[0].Record.Path) != "g16.png" || s.Image[0] != 0 || s.Image[39] != 1 {
		t.Fatalf("16-bit: item %s row 0 = %v … %v, want 0 … 1", items[0].Record.Path, s.Image[0], s.Image[39])
	}
	// The RGB image is converted to grey: column c has level 5c.
	s, err = pl.Load(items[1], AugmentNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Image[7] != float32(35)/255 {
		t.Fatalf("rgb: pixel 7 = %v, want 35/255", s.Image[7]*255)
	}
}

func TestNewPipelineErrors(t *testing.T) {
	cases := []struct {
		o    PipelineOptions
		want string
	}{
		{PipelineOptions{Size: 64}, "preprocess: options: Variant is empty (want raw, crop or full)"},
		{PipelineOptions{Variant: "fancy", Size: 64}, `preprocess: options: unknown Variant "fancy" (want raw, crop or full)`},
		{PipelineOptions{Variant: VariantRaw}, "preprocess: options: Size 0 must be positive"},
		{PipelineOptions{Variant: VariantRaw, Size: 64, Workers: -1}, "preprocess: options: Workers -1 is negative"},
		{PipelineOptions{Variant: VariantRaw, Size: 64, CLAHE: true}, "preprocess: options: CLAHE needs HistEq (CLAHE replaces the global equalisation)"},
		{PipelineOptions{Variant: VariantRaw, Size: 64, GrabCut: true}, "preprocess: options: Detector and GrabCut apply to the crop and full variants, not raw"},
	}
	for _, c := range cases {
		_, err := NewPipeline(c.o)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
}

func TestLoadUnknownAugment(t *testing.T) {
	p := newTestPipeline(t, PipelineOptions{Variant: VariantRaw, Size: 8})
	_, err := p.Load(Item{}, "fancy", 1)
	if err == nil || err.Error() != `preprocess: unknown augmentation "fancy" (want none, default or advanced)` {
		t.Fatalf("error %v", err)
	}
}
