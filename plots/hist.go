package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// HistOptions tunes ScoreHistogram. The zero value means 30 bins of counts.
type HistOptions struct {
	// Bins is the number of equal-width bins over the range of both groups
	// together; 0 means 30.
	Bins int
	// Density scales each group to unit area, so groups of very different
	// sizes can be compared by shape; the legend still gives the counts.
	Density bool
}

const defaultBins = 30

// ScoreHistogram overlays the test scores of normal and abnormal images as
// semi-transparent histograms over the same bins, with each group's count in
// the legend. One group may be empty, not both.
func ScoreHistogram(title, xLabel string, normal, abnormal []float64, opt HistOptions) (*plot.Plot, error) {
	if len(normal)+len(abnormal) == 0 {
		return nil, invalidf("no scores: normal and abnormal are both empty")
	}
	if opt.Bins < 0 {
		return nil, invalidf("Bins = %d must be ≥ 0", opt.Bins)
	}
	if err := checkFinite("normal", normal); err != nil {
		return nil, err
	}
	if err := checkFinite("abnormal", abnormal); err != nil {
		return nil, err
	}
	nb, ab := histBins(normal, abnormal, opt)
	yLabel := "images"
	if opt.Density {
		yLabel = "density"
	}
	p := newPlot(title, xLabel, yLabel)
	groups := []struct {
		name string
		n    int
		bins []plotter.HistogramBin
		c    color.NRGBA
	}{{"normal", len(normal), nb, palette[0]}, {"abnormal", len(abnormal), ab, palette[1]}}
	leg := newLegend()
	var bars []xy
	for _, g := range groups {
		h := &plotter.Histogram{Bins: g.bins, Width: g.bins[0].Max - g.bins[0].Min}
		fill := g.c
		fill.A = 0x73 // ≈45 %: where the groups overlap both stay visible
		h.FillColor = fill
		h.LineStyle.Color = g.c
		h.LineStyle.Width = vg.Points(0.6)
		p.Add(h)
		// Each bar as a segment lets the legend find the corner it hides least.
		for _, b := range h.Bins {
			c := (b.Min + b.Max) / 2
			bars = append(bars, xy{[]float64{c, c}, []float64{0, b.Weight}})
		}
		leg.Add(fmt.Sprintf("%s (n=%d)", g.name, g.n), h)
	}
	addLegend(p, leg, len(groups), bars, topRight, topLeft)
	p.Y.Min = 0
	// Headroom above the tallest bar keeps the legend off the bars.
	p.Y.Max *= 1.28
	return p, nil
}

// histBins bins both groups over the same opt.Bins equal-width bins spanning
// all scores, scaled to unit area when opt.Density.
func histBins(normal, abnormal []float64, opt HistOptions) (nb, ab []plotter.HistogramBin) {
	n := opt.Bins
	if n == 0 {
		n = defaultBins
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, vs := range [][]float64{normal, abnormal} {
		for _, v := range vs {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if lo == hi {
		// Constant scores (a collapsed model) still get a visible bar.
		lo, hi = lo-0.5, hi+0.5
	}
	nb, ab = binCounts(normal, lo, hi, n), binCounts(abnormal, lo, hi, n)
	if opt.Density {
		w := (hi - lo) / float64(n)
		for _, g := range []struct {
			bins []plotter.HistogramBin
			n    int
		}{{nb, len(normal)}, {ab, len(abnormal)}} {
			for i := range g.bins {
				if g.n > 0 {
					g.bins[i].Weight /= float64(g.n) * w
				}
			}
		}
	}
	return nb, ab
}

// binCounts counts vs into n equal bins over [lo, hi]; hi falls in the last
// bin. Edges are computed from lo so both groups get identical bins.
func binCounts(vs []float64, lo, hi float64, n int) []plotter.HistogramBin {
	w := (hi - lo) / float64(n)
	bins := make([]plotter.HistogramBin, n)
	for i := range bins {
		bins[i].Min = lo + float64(i)*w
		bins[i].Max = lo + float64(i+1)*w
	}
	bins[n-1].Max = hi
	for _, v := range vs {
		i := int((v - lo) / w)
		i = max(0, min(i, n-1))
		bins[i].Weight++
	}
	return bins
}
