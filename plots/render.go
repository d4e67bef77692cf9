package plots

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DPI is the resolution of PNG output: 144 dots per inch gives crisp lines
// on high-density screens while a 5-inch figure stays under 1000 pixels.
const DPI = 144

// Render draws p on a w×h canvas and encodes it as "png" (at DPI) or "svg".
func Render(p *plot.Plot, w, h vg.Length, format string) ([]byte, error) {
	if p == nil {
		return nil, invalidf("plot is nil")
	}
	return render(w, h, format, func(c draw.Canvas) { p.Draw(c) })
}

// RenderColumn draws plots stacked top to bottom on one w×h canvas with their
// data areas aligned, e.g. losses per step above validation ROC-AUC per epoch.
func RenderColumn(ps []*plot.Plot, w, h vg.Length, format string) ([]byte, error) {
	if len(ps) == 0 {
		return nil, invalidf("no plots to render")
	}
	rows := make([][]*plot.Plot, len(ps))
	for i, p := range ps {
		if p == nil {
			return nil, invalidf("plot %d is nil", i)
		}
		rows[i] = []*plot.Plot{p}
	}
	return render(w, h, format, func(c draw.Canvas) {
		t := draw.Tiles{Rows: len(ps), Cols: 1, PadY: vg.Points(10), PadTop: vg.Points(2), PadBottom: vg.Points(2)}
		cs := plot.Align(rows, t, c)
		for i, p := range ps {
			p.Draw(cs[i][0])
		}
	})
}

// newCanvas makes the vg canvas of a format; it is the one place that
// knows which formats exist.
func newCanvas(w, h vg.Length, format string) (vg.CanvasWriterTo, error) {
	if !(w > 0) || !(h > 0) {
		return nil, invalidf("size %v×%v: width and height must be > 0", w, h)
	}
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
		return vgimg.PngCanvas{Canvas: c}, nil
	case "svg":
		return vgsvg.New(w, h), nil
	default:
		return nil, invalidf("format %q is not supported (want png or svg)", format)
	}
}

func render(w, h vg.Length, format string, drawFn func(draw.Canvas)) ([]byte, error) {
	c, err := newCanvas(w, h, format)
	if err != nil {
		return nil, err
	}
	drawFn(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: encoding %s: %w", format, err)
	}
	if format == "svg" {
		return svgFontFallbacks(buf.Bytes()), nil
	}
	return buf.Bytes(), nil
}

// svgFontFallbacks lets SVG viewers without the Liberation fonts use their
// metric-compatible originals (Arial, Times New Roman) and then any generic
// face, instead of the browser default; embedding the fonts would add
// hundreds of kilobytes to every figure.
func svgFontFallbacks(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	return bytes.ReplaceAll(b, []byte("font-family:Liberation Serif;"), []byte("font-family:'Liberation Serif','Times New Roman',Times,serif;"))
}

// EncodePNG encodes an image (an overlay or a gallery) as PNG.
func EncodePNG(img image.Image) ([]byte, error) {
	if img == nil {
		return nil, invalidf("image is nil")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("plots: encoding png: %w", err)
	}
	return buf.Bytes(), nil
}
