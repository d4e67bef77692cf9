package plots

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	vgdraw "gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Overlay is one heatmap figure: a grey image with its anomaly map laid over
// it and the outlines of its masks. All slices are row-major, W×H long.
type Overlay struct {
	W, H int
	// Image is the grey input in [0, 1].
	Image []float32
	// Map is the per-pixel anomaly map (e.g. the smoothed squared error);
	// values ≤ 0 are drawn fully transparent.
	Map []float32
	// Mask is the loss mask (> 0.5 inside); nil draws no mask outline.
	Mask []float32
	// Truth is the true anomaly mask of synthetic data (> 0.5 inside); nil
	// draws no truth outline.
	Truth []float32
	// Max is the map value drawn at full strength; 0 means the map's 99th
	// percentile, so one extreme pixel does not wash out the rest. Use one
	// fixed Max across a gallery to make its tiles comparable.
	Max float64
	// Size is the least length of the output's longer side: small images
	// are enlarged by an integer factor (bilinear for the image and map,
	// nearest for the masks) until they reach it. 0 means 256.
	Size int
}

const (
	defaultOverlaySize = 256
	// overlayAlpha is the opacity of the map at full strength; below 1 so
	// the anatomy under a hot spot stays visible.
	overlayAlpha = 0.85
)

var (
	// maskOutline (cyan) and truthOutline (green) contrast with both the
	// grey image and the red–yellow map.
	maskOutline  = color.RGBA{0x00, 0xC8, 0xFF, 0xFF}
	truthOutline = color.RGBA{0x3C, 0xFF, 0x3C, 0xFF}
)

// hotLUT maps a normalised map value to a colour of gonum's perceptually
// uniform black-body palette, restricted to its dark-red→orange-yellow
// stretch: black would read as shadow and white as bone on an X-ray.
var hotLUT = func() [256]color.RGBA {
	cm := moreland.BlackBody()
	cm.SetMin(0)
	cm.SetMax(1)
	var lut [256]color.RGBA
	for i := range lut {
		c, err := cm.At(0.3 + 0.5*float64(i)/255)
		if err != nil {
			panic(err) // the argument is inside [0, 1] by construction
		}
		r, g, b, _ := c.RGBA()
		lut[i] = color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0xFF}
	}
	return lut
}()

func (o *Overlay) validate() error {
	if o.W <= 0 || o.H <= 0 {
		return invalidf("overlay size %d×%d: W and H must be > 0", o.W, o.H)
	}
	if o.Size < 0 {
		return invalidf("overlay Size = %d must be ≥ 0", o.Size)
	}
	if math.IsNaN(o.Max) || math.IsInf(o.Max, 0) || o.Max < 0 {
		return invalidf("overlay Max = %v must be a finite value ≥ 0", o.Max)
	}
	n := o.W * o.H
	for _, f := range []struct {
		name     string
		vs       []float32
		optional bool
	}{{"Image", o.Image, false}, {"Map", o.Map, false}, {"Mask", o.Mask, true}, {"Truth", o.Truth, true}} {
		if f.optional && f.vs == nil {
			continue
		}
		if len(f.vs) != n {
			return invalidf("overlay %s has %d values, want W×H = %d×%d = %d", f.name, len(f.vs), o.W, o.H, n)
		}
		for i, v := range f.vs {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return invalidf("overlay %s[%d] (x=%d, y=%d) is %v", f.name, i, i%o.W, i/o.W, v)
			}
		}
	}
	for i, v := range o.Image {
		if v < 0 || v > 1 {
			return invalidf("overlay Image[%d] (x=%d, y=%d) = %v is outside [0, 1]", i, i%o.W, i/o.W, v)
		}
	}
	return nil
}

// scale is the integer enlargement that brings the longer side to Size.
func (o *Overlay) scale() int {
	size := o.Size
	if size == 0 {
		size = defaultOverlaySize
	}
	side := max(o.W, o.H)
	return max(1, (size+side-1)/side)
}

// mapMax is the map value drawn at full strength: Max, or the 99th
// percentile, or the maximum when more than 99 % of the map is ≤ 0.
func (o *Overlay) mapMax() float64 {
	if o.Max > 0 {
		return o.Max
	}
	vs := make([]float64, len(o.Map))
	for i, v := range o.Map {
		vs[i] = float64(v)
	}
	sort.Float64s(vs)
	if q := stat.Quantile(0.99, stat.Empirical, vs, nil); q > 0 {
		return q
	}
	return vs[len(vs)-1] // ≤ 0 means the map is blank and stays transparent
}

// HeatmapOverlay draws the grey image, the map colour-coded from transparent
// to red–yellow (full strength at Max), the loss-mask outline in cyan and the
// true anomaly outline in green, enlarged to at least Size pixels.
func HeatmapOverlay(o Overlay) (*image.RGBA, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	k := o.scale()
	w, h := o.W*k, o.H*k
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	mmax := o.mapMax()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g := float64(bilinear(o.Image, o.W, o.H, x, y, k))
			base := [3]float64{g * 255, g * 255, g * 255}
			var v float64
			if mmax > 0 {
				v = math.Min(1, math.Max(0, float64(bilinear(o.Map, o.W, o.H, x, y, k))/mmax))
			}
			c := hotLUT[int(math.Round(v*255))]
			a := overlayAlpha * v
			img.SetRGBA(x, y, color.RGBA{
				blend(base[0], c.R, a), blend(base[1], c.G, a), blend(base[2], c.B, a), 0xFF,
			})
		}
	}
	// The truth goes on top: where both outlines meet, the true anomaly is
	// what the reader is checking the map against.
	outline(img, o.Mask, o.W, o.H, k, maskOutline)
	outline(img, o.Truth, o.W, o.H, k, truthOutline)
	return img, nil
}

func blend(base float64, c uint8, a float64) uint8 {
	return uint8(math.Round(base*(1-a) + float64(c)*a))
}

// bilinear samples vs (w×h) at the centre of output pixel (x, y) of an
// image enlarged k times, clamping at the borders.
func bilinear(vs []float32, w, h, x, y, k int) float32 {
	if k == 1 {
		return vs[y*w+x]
	}
	sx := (float64(x)+0.5)/float64(k) - 0.5
	sy := (float64(y)+0.5)/float64(k) - 0.5
	x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
	fx, fy := float32(sx-float64(x0)), float32(sy-float64(y0))
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	x0, y0 = max(x0, 0), max(y0, 0)
	top := vs[y0*w+x0]*(1-fx) + vs[y0*w+x1]*fx
	bot := vs[y1*w+x0]*(1-fx) + vs[y1*w+x1]*fx
	return top*(1-fy) + bot*fy
}

// outline paints, in the enlarged image, the inside pixels of mask (nearest
// enlargement) that touch an outside pixel: a one-pixel line along the
// region's edge. The image border does not count as outside, so a mask that
// covers everything (raw images) draws nothing.
func outline(img *image.RGBA, mask []float32, w, h, k int, c color.RGBA) {
	if mask == nil {
		return
	}
	in := func(x, y int) bool { return mask[(y/k)*w+x/k] > 0.5 }
	W, H := w*k, h*k
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			if !in(x, y) {
				continue
			}
			if (x > 0 && !in(x-1, y)) || (x < W-1 && !in(x+1, y)) ||
				(y > 0 && !in(x, y-1)) || (y < H-1 && !in(x, y+1)) {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

// Tile is one gallery entry: an image (usually a HeatmapOverlay) and its
// caption; "\n" starts a new caption line.
type Tile struct {
	Image   image.Image
	Caption string
}

const (
	galleryPad      = 8  // pixels around and between tiles
	captionFontSize = 13 // pixels: the gallery is drawn at 72 DPI, 1 pt = 1 px
)

// Gallery arranges tiles on a white grid of cols columns, each tile centred
// in a cell as large as the largest tile, its caption centred beneath it.
func Gallery(tiles []Tile, cols int) (*image.RGBA, error) {
	if len(tiles) == 0 {
		return nil, invalidf("gallery has no tiles")
	}
	if cols <= 0 {
		return nil, invalidf("gallery cols = %d must be > 0", cols)
	}
	cw, ch, lines := 0, 0, 0
	for i, t := range tiles {
		if t.Image == nil {
			return nil, invalidf("gallery tile %d has no image", i)
		}
		b := t.Image.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 {
			return nil, invalidf("gallery tile %d is empty (%d×%d)", i, b.Dx(), b.Dy())
		}
		cw, ch = max(cw, b.Dx()), max(ch, b.Dy())
		if t.Caption != "" {
			lines = max(lines, strings.Count(t.Caption, "\n")+1)
		}
	}
	sty := text.Style{
		Color:   color.Black,
		Font:    font.From(sansFont, captionFontSize),
		XAlign:  vgdraw.XCenter,
		YAlign:  vgdraw.YTop,
		Handler: plot.DefaultTextHandler,
	}
	lineH := int(math.Ceil(sty.Height("Mg").Points()))
	capH := 0
	if lines > 0 {
		capH = lines*lineH + galleryPad/2
	}
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	W := galleryPad + cols*(cw+galleryPad)
	H := galleryPad + rows*(ch+capH+galleryPad)

	// Captions go through a vg canvas (its text engine and embedded fonts);
	// the tiles are copied pixel for pixel afterwards so they are not
	// resampled.
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(W), vg.Length(H)), vgimg.UseDPI(72), vgimg.UseBackgroundColor(color.White))
	dc := vgdraw.New(c)
	for i, t := range tiles {
		x0 := galleryPad + (i%cols)*(cw+galleryPad)
		y0 := galleryPad + (i/cols)*(ch+capH+galleryPad)
		for j, line := range strings.Split(t.Caption, "\n") {
			top := y0 + ch + galleryPad/2 + j*lineH
			dc.FillText(sty, vg.Point{X: vg.Length(x0 + cw/2), Y: vg.Length(H - top)}, line)
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(out, out.Bounds(), c.Image(), c.Image().Bounds().Min, draw.Src)
	for i, t := range tiles {
		b := t.Image.Bounds()
		x0 := galleryPad + (i%cols)*(cw+galleryPad) + (cw-b.Dx())/2
		y0 := galleryPad + (i/cols)*(ch+capH+galleryPad) + (ch-b.Dy())/2
		draw.Draw(out, image.Rect(x0, y0, x0+b.Dx(), y0+b.Dy()), t.Image, b.Min, draw.Src)
	}
	return out, nil
}

// HeatmapKey draws the colour scale of overlays normalised by max as a
// width-pixel strip: the map colours over mid-grey from 0 to max, labelled,
// and swatches naming the two outlines. Put it beside a gallery (or in it as
// a Tile) so readers can decode the colours.
func HeatmapKey(max float64, width int) (*image.RGBA, error) {
	if math.IsNaN(max) || math.IsInf(max, 0) || max <= 0 {
		return nil, invalidf("heatmap key max = %v must be a finite value > 0", max)
	}
	if width < 160 {
		return nil, invalidf("heatmap key width = %d must be ≥ 160 pixels", width)
	}
	const (
		pad  = 6
		barH = 14
	)
	sty := text.Style{
		Color:   color.Black,
		Font:    font.From(sansFont, captionFontSize-2),
		YAlign:  vgdraw.YTop,
		Handler: plot.DefaultTextHandler,
	}
	lineH := int(math.Ceil(sty.Height("Mg").Points()))
	H := pad + barH + 2 + lineH + pad/2 + lineH + pad
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(width), vg.Length(H)), vgimg.UseDPI(72), vgimg.UseBackgroundColor(color.White))
	dc := vgdraw.New(c)
	label := func(s string, x, top int, align text.XAlignment) {
		st := sty
		st.XAlign = align
		dc.FillText(st, vg.Point{X: vg.Length(x), Y: vg.Length(H - top)}, s)
	}
	y1 := pad + barH + 2
	label("0", pad, y1, vgdraw.XLeft)
	label(fmt.Sprintf("%.3g", max/2), width/2, y1, vgdraw.XCenter)
	label(fmt.Sprintf("≥ %.3g", max), width-pad, y1, vgdraw.XRight)
	y2 := y1 + lineH + pad/2
	sw := lineH - 4 // swatch side
	label("loss mask", pad+sw+4, y2, vgdraw.XLeft)
	label("true anomaly", width/2+sw+4, y2, vgdraw.XLeft)

	out := image.NewRGBA(image.Rect(0, 0, width, H))
	draw.Draw(out, out.Bounds(), c.Image(), c.Image().Bounds().Min, draw.Src)
	// The bar is blended exactly as HeatmapOverlay blends, over grey 0.5.
	for x := pad; x < width-pad; x++ {
		v := float64(x-pad) / float64(width-2*pad-1)
		lc := hotLUT[int(math.Round(v*255))]
		a := overlayAlpha * v
		px := color.RGBA{blend(127.5, lc.R, a), blend(127.5, lc.G, a), blend(127.5, lc.B, a), 0xFF}
		for y := pad; y < pad+barH; y++ {
			out.SetRGBA(x, y, px)
		}
	}
	draw.Draw(out, image.Rect(pad, y2+2, pad+sw, y2+2+sw), image.NewUniform(maskOutline), image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(width/2, y2+2, width/2+sw, y2+2+sw), image.NewUniform(truthOutline), image.Point{}, draw.Src)
	return out, nil
}
