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
	yLabel := "images"
	if opt.Density {
		yLabel = "density"
	}
	p := newPlot(title, xLabel, yLabel)
	groups := []struct {
		name string
		vs   []float64
		c    color.NRGBA
	}{{"normal", normal, palette[0]}, {"abnormal", abnormal, palette[1]}}
	for _, g := range groups {
		h := &plotter.Histogram{Bins: binCounts(g.vs, lo, hi, n), Width: (hi - lo) / float64(n)}
		if opt.Density && len(g.vs) > 0 {
			for i := range h.Bins {
				h.Bins[i].Weight /= float64(len(g.vs)) * h.Width
			}
		}
		fill := g.c
		fill.A = 0x73 // ≈45 %: where the groups overlap both stay visible
		h.FillColor = fill
		h.LineStyle.Color = g.c
		h.LineStyle.Width = vg.Points(0.6)
		p.Add(h)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", g.name, len(g.vs)), h)
	}
	p.Legend.Top = true
	p.Add(legendBox{})
	p.Y.Min = 0
	return p, nil
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
