// Package plots draws the figures of an experiment with gonum/plot: ROC
// curves, training curves, score histograms, anomaly-heatmap overlays with
// their gallery, and the comparison table in the paper's Table 1 layout.
//
// It is a leaf: it takes plain Go values (slices, strings, numbers) and
// returns *plot.Plot values, images or encoded bytes, so it knows nothing of
// runs, stores or HTTP. Text is set in the Liberation fonts that gonum/plot
// embeds, so PNGs render identically on machines without system fonts.
package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrInvalid is wrapped by every error about bad input, so callers can map
// it to an "invalid" code with errors.Is.
var ErrInvalid = errors.New("invalid input")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("plots: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// palette is Okabe & Ito's colour-blind-safe set (yellow dropped: it vanishes
// on white), so overlaid curves stay distinguishable in print and for readers
// with colour-vision deficiencies.
var palette = []color.NRGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
}

// dashes cycles once the palette is used up, so curve i and i+len(palette)
// still differ.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
}

func seriesColor(i int) color.NRGBA { return palette[i%len(palette)] }

func seriesDashes(i int) []vg.Length { return dashes[(i/len(palette))%len(dashes)] }

var (
	// chanceColor draws the ROC diagonal.
	chanceColor = color.NRGBA{0x80, 0x80, 0x80, 0xFF}
	gridColor   = color.NRGBA{0xE3, 0xE3, 0xE3, 0xFF}
)

// sansFont is the face of all plot text; plot.DefaultFont (serif) is a
// global other packages may rely on, so it is set per plot instead.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot with the package's house style: sans-serif text,
// a light grid behind the data and slightly tighter ticks than the default.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 11)
		a.Tick.Label.Font = font.From(sansFont, 9)
		a.Padding = vg.Points(2)
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	p.Legend.ThumbnailWidth = vg.Points(22)
	p.Legend.Padding = vg.Points(1)
	g := plotter.NewGrid()
	g.Vertical.Color = gridColor
	g.Horizontal.Color = gridColor
	p.Add(g)
	return p
}

// checkFinite reports the first NaN or ±Inf of xs, naming the field.
func checkFinite(field string, xs []float64) error {
	for i, v := range xs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return invalidf("%s[%d] is %v", field, i, v)
		}
	}
	return nil
}

// xy adapts two equal-length slices to plotter.XYer without copying.
type xy struct{ x, y []float64 }

func (s xy) Len() int                    { return len(s.x) }
func (s xy) XY(i int) (float64, float64) { return s.x[i], s.y[i] }

// legendBox paints a white, slightly translucent panel under the legend so
// entries stay legible where curves run beneath them (ROC curves of models
// worse than chance do, in the legend's corner). It must be added last.
type legendBox struct{}

func (legendBox) Plot(c draw.Canvas, p *plot.Plot) {
	// Legend.Rectangle mirrors the horizontal placement of Legend.Draw, so
	// only its size is used and the position is taken from Draw's rules.
	size := p.Legend.Rectangle(c).Size()
	var r vg.Rectangle
	if p.Legend.Left {
		r.Min.X = c.Min.X
	} else {
		r.Min.X = c.Max.X - size.X
	}
	if p.Legend.Top {
		r.Min.Y = c.Max.Y - size.Y
	} else {
		r.Min.Y = c.Min.Y
	}
	r.Min.X += p.Legend.XOffs
	r.Min.Y += p.Legend.YOffs
	r.Max = r.Min.Add(size)
	pad := vg.Points(3)
	r.Min.X -= pad
	r.Max.X += pad
	r.Min.Y -= pad
	r.Max.Y += pad
	c.SetColor(color.NRGBA{0xFF, 0xFF, 0xFF, 0xE6})
	c.Fill(r.Path())
	c.SetLineWidth(vg.Points(0.5))
	c.SetLineDash(nil, 0)
	c.SetColor(color.NRGBA{0xB0, 0xB0, 0xB0, 0xFF})
	c.Stroke(r.Path())
}
