package plots

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line: Y against X (a step, an epoch).
type Series struct {
	Label string
	X, Y  []float64
}

// LinesOptions tunes Lines. The zero value is a linear y axis.
type LinesOptions struct {
	// LogY draws y on a log scale (losses spanning decades); every Y must
	// then be > 0.
	LogY bool
}

// markerLimit is the most points a series may have and still get a marker
// at each point: per-epoch series are short and read better with markers,
// per-step losses are long and would drown in them.
const markerLimit = 40

// Lines draws named series as lines on one pair of axes, e.g. the losses of
// a run per step, or validation ROC-AUC per epoch. Series with an empty label
// get no legend entry.
func Lines(title, xLabel, yLabel string, series []Series, opt LinesOptions) (*plot.Plot, error) {
	if len(series) == 0 {
		return nil, invalidf("no series")
	}
	for i, s := range series {
		name := fmt.Sprintf("series %d (%q)", i, s.Label)
		if len(s.X) != len(s.Y) {
			return nil, invalidf("%s: X has %d points but Y has %d", name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return nil, invalidf("%s: no points", name)
		}
		if err := checkFinite(name+": X", s.X); err != nil {
			return nil, err
		}
		if err := checkFinite(name+": Y", s.Y); err != nil {
			return nil, err
		}
		if opt.LogY {
			for j, v := range s.Y {
				if v <= 0 {
					return nil, invalidf("%s: Y[%d] = %v cannot be drawn on a log scale (must be > 0)", name, j, v)
				}
			}
		}
	}
	p := newPlot(title, xLabel, yLabel)
	if opt.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	leg := newLegend()
	labelled := 0
	for i, s := range series {
		l, err := plotter.NewLine(xy{s.X, s.Y})
		if err != nil {
			return nil, fmt.Errorf("plots: series %d: %w", i, err)
		}
		l.Color = seriesColor(i)
		l.Dashes = seriesDashes(i)
		l.Width = vg.Points(1.4)
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		if len(s.X) <= markerLimit {
			sc, err := plotter.NewScatter(xy{s.X, s.Y})
			if err != nil {
				return nil, fmt.Errorf("plots: series %d: %w", i, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Label != "" {
			leg.Add(s.Label, thumbs...)
			labelled++
		}
	}
	data := make([]xy, len(series))
	for i, s := range series {
		data[i] = xy{s.X, s.Y}
	}
	addLegend(p, leg, labelled, data, topRight, bottomRight, topLeft, bottomLeft)
	return p, nil
}

// Training draws a run's training curves as two aligned panels: losses
// against xLabel (usually "step") above, validation metrics against
// "epoch" below. An empty validation slice draws the losses alone.
func Training(title, xLabel string, losses, validation []Series, w, h vg.Length, format string) ([]byte, error) {
	lp, err := Lines(title, xLabel, "loss", losses, LinesOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w (losses panel)", err)
	}
	if len(validation) == 0 {
		return Render(lp, w, h, format)
	}
	vp, err := Lines("", "epoch", "validation ROC-AUC", validation, LinesOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w (validation panel)", err)
	}
	return RenderColumn([]*plot.Plot{lp, vp}, w, h, format)
}
