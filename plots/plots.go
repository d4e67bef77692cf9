// Package plots draws the figures of an experiment with gonum/plot: ROC
// curves, training curves, score histograms, anomaly-heatmap overlays with
// their gallery, and the comparison table in the paper's Table 1 layout.
//
// It is a leaf: it takes plain Go values (slices, strings, numbers) and
// returns *plot.Plot values, images or encoded bytes, so it knows nothing of
// runs, stores or HTTP. Text is set in the Liberation fonts that gonum/plot
// embeds, so PNGs render identically on machines without system fonts.
//
// Plots (ROC, Lines, ScoreHistogram) come back as *plot.Plot for Render or
// RenderColumn to encode as PNG or SVG; Training, RenderTable and the
// heatmap functions (HeatmapOverlay, Gallery, HeatmapKey, with EncodePNG)
// produce their output directly. Bad input yields an error wrapping
// ErrInvalid that names the offending field and index.
package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

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
		a.Tick.Marker = niceTicks{}
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
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

// newLegend returns an empty legend in the house style. It is drawn by a
// legendPanel plotter rather than as the plot's own Legend, because the plot
// places its Legend relative to the whole figure (past the data area where
// tick labels overhang), while a plotter gets the data area itself.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sansFont, 9)
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(1)
	return l
}

// corner is a legend position inside the data area.
type corner struct{ top, left bool }

var (
	topRight    = corner{top: true}
	bottomRight = corner{}
	topLeft     = corner{top: true, left: true}
	bottomLeft  = corner{left: true}
)

// legendPanel draws a legend inside a corner of the data area on a white,
// slightly translucent panel. Of its corners, in order of preference, it
// takes the first that covers the fewest data points, so the legend hides
// as little as possible: decreasing losses leave the top right free, rising
// ROC-AUC the bottom right. Add it after every other plotter.
type legendPanel struct {
	plot.Legend
	corners []corner
	data    []xy
}

// addLegend adds l as a panel over the data of series, unless it has no
// entries.
func addLegend(p *plot.Plot, l plot.Legend, entries int, data []xy, corners ...corner) {
	if entries == 0 {
		return
	}
	p.Add(legendPanel{Legend: l, corners: corners, data: data})
}

const legendInset = 7 // points between the legend panel and the axes

// rect is where the legend's panel lies in corner k of c.
func (l legendPanel) rect(c draw.Canvas, k corner) (vg.Rectangle, plot.Legend) {
	leg := l.Legend
	leg.Top, leg.Left = k.top, k.left
	inset := vg.Points(legendInset)
	leg.XOffs, leg.YOffs = -inset, inset
	if k.left {
		leg.XOffs = inset
	}
	if k.top {
		leg.YOffs = -inset
	}
	// Legend.Rectangle mirrors the horizontal placement of Legend.Draw, so
	// only its size is used and the position follows Draw's rules.
	size := leg.Rectangle(c).Size()
	var r vg.Rectangle
	if k.left {
		r.Min.X = c.Min.X
	} else {
		r.Min.X = c.Max.X - size.X
	}
	if k.top {
		r.Min.Y = c.Max.Y - size.Y
	} else {
		r.Min.Y = c.Min.Y
	}
	r.Min.X += leg.XOffs
	r.Min.Y += leg.YOffs
	r.Max = r.Min.Add(size)
	pad := vg.Points(3)
	r.Min.X -= pad
	r.Max.X += pad
	r.Min.Y -= pad
	r.Max.Y += pad
	return r, leg
}

// choose returns the index of the corner whose panel covers the fewest
// data segments (an isolated point counts as a segment), the first on ties.
func (l legendPanel) choose(c draw.Canvas, p *plot.Plot) int {
	trX, trY := p.Transforms(&c)
	best, bestN := 0, -1
	for i, k := range l.corners {
		r, _ := l.rect(c, k)
		n := 0
		for _, d := range l.data {
			for j := range d.x {
				a := vg.Point{X: trX(d.x[j]), Y: trY(d.y[j])}
				b := a
				if j > 0 {
					b = vg.Point{X: trX(d.x[j-1]), Y: trY(d.y[j-1])}
				}
				if segmentHits(a, b, r) {
					n++
				}
			}
		}
		if bestN < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	return best
}

func (l legendPanel) Plot(c draw.Canvas, p *plot.Plot) {
	best := l.choose(c, p)
	r, leg := l.rect(c, l.corners[best])
	c.SetColor(color.NRGBA{0xFF, 0xFF, 0xFF, 0xE6})
	c.Fill(r.Path())
	c.SetLineWidth(vg.Points(0.5))
	c.SetLineDash(nil, 0)
	c.SetColor(color.NRGBA{0xB0, 0xB0, 0xB0, 0xFF})
	c.Stroke(r.Path())
	leg.Draw(c)
}

// segmentHits reports whether the segment a–b meets rectangle r
// (Liang–Barsky clipping).
func segmentHits(a, b vg.Point, r vg.Rectangle) bool {
	t0, t1 := 0.0, 1.0
	dx, dy := float64(b.X-a.X), float64(b.Y-a.Y)
	for _, e := range [4][2]float64{
		{-dx, float64(a.X - r.Min.X)},
		{dx, float64(r.Max.X - a.X)},
		{-dy, float64(a.Y - r.Min.Y)},
		{dy, float64(r.Max.Y - a.Y)},
	} {
		p, q := e[0], e[1]
		if p == 0 {
			if q < 0 {
				return false
			}
			continue
		}
		t := q / p
		if p < 0 {
			t0 = math.Max(t0, t)
		} else {
			t1 = math.Min(t1, t)
		}
		if t0 > t1 {
			return false
		}
	}
	return true
}

var _ plot.Ticker = niceTicks{}

// niceTicks puts major ticks at multiples of 1, 2 or 5 × 10^k (about six
// of them) labelled with just the decimals the step needs, and four minor
// ticks between; gonum's default prints "50.00" for counts.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ts []plot.Tick
	minor := step / 5
	for i := math.Ceil(lo / minor); i*minor <= hi+minor*1e-9; i++ {
		v := i * minor
		t := plot.Tick{Value: v}
		if k := math.Round(v / step); math.Abs(v-k*step) < minor*1e-6 {
			v = k * step
			t.Value = v
			if v == 0 {
				v = 0 // no "-0"
			}
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ts = append(ts, t)
	}
	return ts
}
