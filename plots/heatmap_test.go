package plots

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// square is an n×n mask, 1 inside [x0, x1)×[y0, y1).
func square(n, x0, y0, x1, y1 int) []float32 {
	m := make([]float32, n*n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			m[y*n+x] = 1
		}
	}
	return m
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestOverlayErrors(t *testing.T) {
	ok := func() Overlay {
		return Overlay{W: 4, H: 2, Image: fill(8, 0.5), Map: fill(8, 0)}
	}
	with := func(f func(*Overlay)) Overlay { o := ok(); f(&o); return o }
	tests := []struct {
		name string
		o    Overlay
		want string
	}{
		{"zero width", with(func(o *Overlay) { o.W = 0 }), `plots: invalid input: overlay size 0×2: W and H must be > 0`},
		{"negative height", with(func(o *Overlay) { o.H = -2 }), `plots: invalid input: overlay size 4×-2: W and H must be > 0`},
		{"image length", with(func(o *Overlay) { o.Image = o.Image[:7] }), `plots: invalid input: overlay Image has 7 values, want W×H = 4×2 = 8`},
		{"no map", with(func(o *Overlay) { o.Map = nil }), `plots: invalid input: overlay Map has 0 values, want W×H = 4×2 = 8`},
		{"mask length", with(func(o *Overlay) { o.Mask = fill(9, 1) }), `plots: invalid input: overlay Mask has 9 values, want W×H = 4×2 = 8`},
		{"NaN map", with(func(o *Overlay) { o.Map[5] = float32(math.NaN()) }), `plots: invalid input: overlay Map[5] (x=1, y=1) is NaN`},
		{"Inf truth", with(func(o *Overlay) { o.Truth = fill(8, 0); o.Truth[2] = float32(math.Inf(1)) }), `plots: invalid input: overlay Truth[2] (x=2, y=0) is +Inf`},
		{"image above 1", with(func(o *Overlay) { o.Image[3] = 1.5 }), `plots: invalid input: overlay Image[3] (x=3, y=0) = 1.5 is outside [0, 1]`},
		{"negative max", with(func(o *Overlay) { o.Max = -1 }), `plots: invalid input: overlay Max = -1 must be a finite value ≥ 0`},
		{"NaN max", with(func(o *Overlay) { o.Max = math.NaN() }), `plots: invalid input: overlay Max = NaN must be a finite value ≥ 0`},
		{"negative size", with(func(o *Overlay) { o.Size = -1 }), `plots: invalid input: overlay Size = -1 must be ≥ 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := HeatmapOverlay(tc.o)
			if img != nil {
				t.Error("got an image with an error")
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestOverlayScale(t *testing.T) {
	tests := []struct{ w, h, size, want int }{
		{64, 64, 0, 4},    // 64 → 256
		{100, 60, 0, 3},   // longer side 100 → 300 ≥ 256
		{300, 200, 0, 1},  // already large
		{64, 64, 128, 2},  // explicit Size
		{512, 512, 0, 1},  // the paper's size
		{1, 1, 0, 256},    // degenerate but valid
		{64, 128, 256, 2}, // longer side is H
	}
	for _, tc := range tests {
		o := Overlay{W: tc.w, H: tc.h, Size: tc.size}
		if got := o.scale(); got != tc.want {
			t.Errorf("%d×%d Size %d: scale %d, want %d", tc.w, tc.h, tc.size, got, tc.want)
		}
	}
}

func TestOverlayMapMax(t *testing.T) {
	ramp := make([]float32, 100)
	for i := range ramp {
		ramp[i] = float32(i)
	}
	// One extreme pixel among 200 does not set the scale.
	outlier := fill(200, 0.5)
	outlier[17] = 1000
	tests := []struct {
		name string
		o    Overlay
		want float64
	}{
		// The empirical 99th percentile of 0..99 is the smallest value with
		// ≥ 99 % of the values at or below it: 98.
		{"percentile", Overlay{Map: ramp}, 98},
		{"outlier", Overlay{Map: outlier}, 0.5},
		{"given", Overlay{Map: ramp, Max: 7}, 7},
		// A map that is 0 on more than 99 % of its pixels falls back to its
		// maximum rather than to 0.
		{"sparse", Overlay{Map: append(fill(199, 0), 3)}, 3},
		{"blank", Overlay{Map: fill(10, 0)}, 0},
	}
	for _, tc := range tests {
		if got := tc.o.mapMax(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBilinear(t *testing.T) {
	// Enlarging [0, 1] twice samples at source positions -0.25, 0.25,
	// 0.75, 1.25 (pixel centres), clamped at the borders.
	vs := []float32{0, 1}
	want := []float32{0, 0.25, 0.75, 1}
	for x, w := range want {
		if got := bilinear(vs, 2, 1, x, 0, 2); math.Abs(float64(got-w)) > 1e-6 {
			t.Errorf("x=%d: %v, want %v", x, got, w)
		}
	}
	// k = 1 is the identity.
	if got := bilinear([]float32{0.1, 0.2, 0.3, 0.4}, 2, 2, 1, 1, 1); got != 0.4 {
		t.Errorf("k=1: %v, want 0.4", got)
	}
}

func TestOverlayPixels(t *testing.T) {
	const n, k = 16, 4
	o := Overlay{
		W: n, H: n,
		Image: fill(n*n, 0.5),
		Map:   square(n, 4, 4, 8, 8), // hot 4×4 block
		Mask:  square(n, 2, 2, 14, 14),
		Truth: square(n, 4, 4, 8, 8),
		Max:   1,
		Size:  n * k,
	}
	img, err := HeatmapOverlay(o)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, n*k, n*k) {
		t.Fatalf("bounds %v, want %v", img.Bounds(), image.Rect(0, 0, n*k, n*k))
	}
	at := func(x, y int) color.RGBA { return img.RGBAAt(x, y) }
	grey := color.RGBA{128, 128, 128, 255} // 0.5 × 255, rounded
	// Far from the map and off the outlines: the plain grey image.
	if c := at(4, 4); c != grey {
		t.Errorf("background pixel %v, want %v", c, grey)
	}
	if c := at(11*k, 11*k); c != grey {
		t.Errorf("pixel inside the mask, far from the map: %v, want %v", c, grey)
	}
	// The hot spot's centre (source pixel 6,6) is strongly reddish.
	if c := at(6*k+1, 6*k+1); !(int(c.R) > 200 && int(c.R) > int(c.G)+20 && int(c.R) > int(c.B)+100) {
		t.Errorf("hot spot pixel %v is not reddish", c)
	}
	// Loss-mask outline: the first inside column (source x=2 → 8), on a row
	// away from the truth; its outside and inside neighbours are not outline.
	y := 11 * k
	if c := at(2*k, y); c != maskOutline {
		t.Errorf("mask edge pixel %v, want outline colour %v", c, maskOutline)
	}
	if c := at(2*k-1, y); c == maskOutline {
		t.Error("pixel outside the mask has the outline colour")
	}
	if c := at(2*k+1, y); c == maskOutline {
		t.Error("outline is thicker than one pixel")
	}
	// Bottom edge (source y=13 → last inside row 14k-1).
	if c := at(11*k, 14*k-1); c != maskOutline {
		t.Errorf("mask bottom edge %v, want %v", c, maskOutline)
	}
	// True anomaly outline, drawn over everything.
	if c := at(4*k, 6*k); c != truthOutline {
		t.Errorf("truth edge pixel %v, want %v", c, truthOutline)
	}
	if c := at(7*k+k-1, 5*k); c != truthOutline {
		t.Errorf("truth right edge pixel %v, want %v", c, truthOutline)
	}
}

func TestOverlayOutlineOnlyAtEdges(t *testing.T) {
	const n = 8
	count := func(img *image.RGBA, c color.RGBA) int {
		m := 0
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				if img.RGBAAt(x, y) == c {
					m++
				}
			}
		}
		return m
	}
	// A mask over the whole image (raw preprocessing) draws no outline.
	img, err := HeatmapOverlay(Overlay{W: n, H: n, Image: fill(n*n, 0.2), Map: fill(n*n, 0), Mask: fill(n*n, 1), Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if m := count(img, maskOutline); m != 0 {
		t.Errorf("full mask: %d outline pixels, want 0", m)
	}
	// A 2×2 block enlarged 4× is an 8×8 square: its outline is 28 pixels.
	img, err = HeatmapOverlay(Overlay{W: n, H: n, Image: fill(n*n, 0.2), Map: fill(n*n, 0), Mask: square(n, 3, 3, 5, 5), Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if m := count(img, maskOutline); m != 28 {
		t.Errorf("2×2 mask: %d outline pixels, want 28", m)
	}
	// A blank map leaves the image grey: 0.2 × 255 = 51.
	if c := img.RGBAAt(0, 0); c != (color.RGBA{51, 51, 51, 255}) {
		t.Errorf("blank map: pixel %v, want grey 51", c)
	}
}

func TestGallery(t *testing.T) {
	tile := func(c color.RGBA, w, h int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
		}
		return img
	}
	red, blue, green := color.RGBA{200, 0, 0, 255}, color.RGBA{0, 0, 200, 255}, color.RGBA{0, 150, 0, 255}
	tiles := []Tile{
		{Image: tile(red, 64, 64), Caption: "score 0.412\nabnormal"},
		{Image: tile(blue, 64, 64), Caption: "score 0.101\nnormal"},
		{Image: tile(green, 32, 32), Caption: "small"},
	}
	g, err := Gallery(tiles, 2)
	if err != nil {
		t.Fatal(err)
	}
	b := g.Bounds()
	if want := galleryPad + 2*(64+galleryPad); b.Dx() != want {
		t.Errorf("width %d, want %d", b.Dx(), want)
	}
	// Two rows of 64-pixel cells plus captions of two lines.
	capH := (b.Dy()-galleryPad)/2 - 64 - galleryPad
	if capH < 2*captionFontSize || capH > 4*captionFontSize {
		t.Fatalf("caption height %d for two lines of %d px text", capH, captionFontSize)
	}
	// Tiles are copied pixel for pixel at their cells; the smaller one is
	// centred.
	row1 := galleryPad + 64 + capH + galleryPad
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{galleryPad, galleryPad, red},
		{galleryPad + 63, galleryPad + 63, red},
		{2*galleryPad + 64, galleryPad, blue},
		{galleryPad + 16, row1 + 16, green},
		{galleryPad + 47, row1 + 47, green},
		{galleryPad + 15, row1 + 16, color.RGBA{255, 255, 255, 255}},
		{galleryPad - 1, galleryPad, color.RGBA{255, 255, 255, 255}},
	} {
		if got := g.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	// Captions are drawn: dark pixels under the first tile, none under the
	// empty cell of the second row.
	dark := func(x0, y0, x1, y1 int) int {
		n := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if r, gg, bb := rgb(g.At(x, y)); r+gg+bb < 300 {
					n++
				}
			}
		}
		return n
	}
	if n := dark(galleryPad, galleryPad+64, galleryPad+64, galleryPad+64+capH); n < 40 {
		t.Errorf("caption under tile 0 has %d dark pixels, want text", n)
	}
	if n := dark(2*galleryPad+64, row1, 2*galleryPad+128, b.Dy()); n != 0 {
		t.Errorf("empty cell has %d dark pixels", n)
	}

	// Without captions the cells are just the tiles.
	g, err = Gallery([]Tile{{Image: tile(red, 10, 20)}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if g.Bounds().Size() != image.Pt(10+2*galleryPad, 20+2*galleryPad) {
		t.Errorf("uncaptioned gallery %v, want %v", g.Bounds().Size(), image.Pt(10+2*galleryPad, 20+2*galleryPad))
	}
}

func TestGalleryErrors(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	tests := []struct {
		name  string
		tiles []Tile
		cols  int
		want  string
	}{
		{"none", nil, 2, `plots: invalid input: gallery has no tiles`},
		{"cols", []Tile{{Image: img}}, 0, `plots: invalid input: gallery cols = 0 must be > 0`},
		{"nil image", []Tile{{Image: img}, {Caption: "x"}}, 2, `plots: invalid input: gallery tile 1 has no image`},
		{"empty image", []Tile{{Image: image.NewRGBA(image.Rect(0, 0, 0, 5))}}, 2, `plots: invalid input: gallery tile 0 is empty (0×5)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Gallery(tc.tiles, tc.cols)
			wantErr(t, err, tc.want)
		})
	}
	_, err := EncodePNG(nil)
	wantErr(t, err, "plots: invalid input: image is nil")
}

func TestGalleryGolden(t *testing.T) {
	g, err := Gallery(sampleOverlays(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodePNG(g)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "gallery.png", b, 0.01)
}

func TestHeatmapKey(t *testing.T) {
	k, err := HeatmapKey(0.3, 256)
	if err != nil {
		t.Fatal(err)
	}
	if k.Bounds().Dx() != 256 || k.Bounds().Dy() < 40 {
		t.Fatalf("key size %v, want 256 wide with room for bar and labels", k.Bounds().Size())
	}
	// The bar runs from the bare grey (0: transparent) to the full-strength
	// colour, as HeatmapOverlay blends.
	if c := k.RGBAAt(6, 10); c != (color.RGBA{128, 128, 128, 255}) {
		t.Errorf("bar start %v, want grey 128", c)
	}
	if c := k.RGBAAt(249, 10); !(int(c.R) > 200 && int(c.R) > int(c.B)+100) {
		t.Errorf("bar end %v is not the hot colour", c)
	}
	// The outline swatches use the outline colours.
	found := map[color.RGBA]bool{}
	for y := 0; y < k.Bounds().Dy(); y++ {
		for x := 0; x < k.Bounds().Dx(); x++ {
			found[k.RGBAAt(x, y)] = true
		}
	}
	if !found[maskOutline] || !found[truthOutline] {
		t.Error("key lacks the outline swatches")
	}
	nonBlank(t, k, 1000)

	_, err = HeatmapKey(0, 256)
	wantErr(t, err, "plots: invalid input: heatmap key max = 0 must be a finite value > 0")
	_, err = HeatmapKey(math.Inf(1), 256)
	wantErr(t, err, "plots: invalid input: heatmap key max = +Inf must be a finite value > 0")
	_, err = HeatmapKey(1, 100)
	wantErr(t, err, "plots: invalid input: heatmap key width = 100 must be ≥ 160 pixels")
}
