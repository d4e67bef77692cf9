package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Curve is one ROC curve: its operating points in threshold order and its
// area, which the caller computes (ties handled by the metric code, not by
// integrating the drawn polyline).
type Curve struct {
	Label    string
	FPR, TPR []float64
	AUC      float64
}

// legendLabel is the text of a curve's legend entry, e.g. "mse (AUC 0.571)".
func (c Curve) legendLabel() string { return fmt.Sprintf("%s (AUC %.3f)", c.Label, c.AUC) }

func (c Curve) validate(i int) error {
	name := fmt.Sprintf("curve %d (%q)", i, c.Label)
	if c.Label == "" {
		return invalidf("curve %d: Label is empty", i)
	}
	if len(c.FPR) != len(c.TPR) {
		return invalidf("%s: FPR has %d points but TPR has %d", name, len(c.FPR), len(c.TPR))
	}
	if len(c.FPR) < 2 {
		return invalidf("%s: needs at least 2 points, has %d", name, len(c.FPR))
	}
	for _, f := range []struct {
		field string
		vs    []float64
	}{{"FPR", c.FPR}, {"TPR", c.TPR}} {
		for j, v := range f.vs {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return invalidf("%s: %s[%d] = %v is outside [0, 1]", name, f.field, j, v)
			}
			// Points come in threshold order, so both rates only grow; a
			// drop means the slices were reordered or swapped.
			if j > 0 && v < f.vs[j-1] {
				return invalidf("%s: %s decreases at point %d (%v after %v)", name, f.field, j, v, f.vs[j-1])
			}
		}
	}
	if math.IsNaN(c.AUC) || c.AUC < 0 || c.AUC > 1 {
		return invalidf("%s: AUC = %v is outside [0, 1]", name, c.AUC)
	}
	return nil
}

// ROC overlays ROC curves (one run's scores, or one score across runs) on
// the unit square with the chance diagonal dashed and each curve's AUC in
// its legend entry. Render it with equal width and height.
func ROC(title string, curves []Curve) (*plot.Plot, error) {
	if len(curves) == 0 {
		return nil, invalidf("no ROC curves")
	}
	for i, c := range curves {
		if err := c.validate(i); err != nil {
			return nil, err
		}
	}
	p := newPlot(title, "False positive rate", "True positive rate")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.X.Tick.Marker = unitTicks{}
	p.Y.Tick.Marker = unitTicks{}

	diag, err := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 1}})
	if err != nil {
		return nil, fmt.Errorf("plots: diagonal: %w", err)
	}
	diag.Color = chanceColor
	diag.Width = vg.Points(1)
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)

	leg := newLegend()
	for i, c := range curves {
		l, err := plotter.NewLine(xy{c.FPR, c.TPR})
		if err != nil {
			return nil, fmt.Errorf("plots: curve %d: %w", i, err)
		}
		l.Color = seriesColor(i)
		l.Dashes = seriesDashes(i)
		l.Width = vg.Points(1.6)
		p.Add(l)
		leg.Add(c.legendLabel(), l)
	}
	data := make([]xy, len(curves))
	for i, c := range curves {
		data[i] = xy{c.FPR, c.TPR}
	}
	addLegend(p, leg, len(curves), data, bottomRight, topLeft)
	// Plotters enlarge the axes to their data range; the square stays 0..1.
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	return p, nil
}

// unitTicks labels 0, 0.2, …, 1 with minor ticks every 0.1.
type unitTicks struct{}

func (unitTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		t := plot.Tick{Value: v}
		if i%2 == 0 {
			t.Label = fmt.Sprintf("%.1f", v)
		}
		ts = append(ts, t)
	}
	return ts
}
