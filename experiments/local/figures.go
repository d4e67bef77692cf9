package local

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot/vg"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/plots"
	"xraylab/preprocess"
)

// Figure sizes: big enough to read in the dashboard, small enough to embed.
const (
	figSide  = 5 * vg.Inch
	figWide  = 7 * vg.Inch
	figTall  = 6 * vg.Inch
	galleryN = 8 // heatmap tiles per run
)

// drawRunFigures draws a run's figures once, when it finishes, and records
// them as artifacts: ROC curves of every score (PNG and SVG), training
// curves, the test score histogram of the first score and, for models with
// anomaly maps, a heatmap gallery of test images.
func (x *Executor) drawRunFigures(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, test []preprocess.Item, sc *scored) error {
	labels := labelsOf(test)
	names := sortedKeys(sc.scores)
	var curves []plots.Curve
	for _, n := range names {
		c, auc, err := eval.ROC(sc.scores[n], labels)
		if err != nil {
			return err
		}
		curves = append(curves, plots.Curve{Label: n, FPR: c.FPR, TPR: c.TPR, AUC: auc})
	}
	title := spec.Label()
	if len(curves) > 0 {
		p, err := plots.ROC("test ROC: "+title, curves)
		if err != nil {
			return err
		}
		for _, format := range []string{"png", "svg"} {
			b, err := plots.Render(p, figSide, figSide, format)
			if err != nil {
				return err
			}
			if err := x.writeArtifact(ctx, run.ID, "roc."+format, "plot", b); err != nil {
				return err
			}
		}
		var normal, abnormal []float64
		for i, v := range sc.scores[names[0]] {
			if labels[i] == 1 {
				abnormal = append(abnormal, v)
			} else {
				normal = append(normal, v)
			}
		}
		h, err := plots.ScoreHistogram("test scores: "+title, names[0], normal, abnormal, plots.HistOptions{})
		if err != nil {
			return err
		}
		b, err := plots.Render(h, figWide, figSide, "png")
		if err != nil {
			return err
		}
		if err := x.writeArtifact(ctx, run.ID, "histogram.png", "plot", b); err != nil {
			return err
		}
	}
	if err := x.drawCurves(ctx, run, title); err != nil {
		return err
	}
	return x.drawGallery(ctx, run, spec, test, sc, names)
}

// drawCurves plots training losses per step and validation ROC-AUC per
// epoch from the run's stored series.
func (x *Executor) drawCurves(ctx context.Context, run *experiments.Run, title string) error {
	points, err := x.store.Metrics(ctx, run.ID, "")
	if err != nil {
		return err
	}
	byKey := map[string]*plots.Series{}
	for _, p := range points {
		s := byKey[p.Key]
		if s == nil {
			s = &plots.Series{Label: p.Key}
			byKey[p.Key] = s
		}
		x := float64(p.Step)
		if k, err := eval.Parse(p.Key); err == nil && k.Split == eval.SplitVal {
			x = float64(p.Epoch)
		}
		s.X, s.Y = append(s.X, x), append(s.Y, p.Value)
	}
	var losses, val []plots.Series
	for _, k := range sortedKeys(byKey) {
		s := *byKey[k]
		key, err := eval.Parse(k)
		switch {
		case err != nil:
		case key.Split == eval.SplitTrain:
			s.Label = key.Metric // the loss
			losses = append(losses, s)
		case key.Split == eval.SplitVal && key.Metric == eval.MetricROCAUC:
			s.Label = key.Score
			val = append(val, s)
		}
	}
	var b []byte
	switch {
	case len(losses) > 0:
		b, err = plots.Training("training: "+title, "step", losses, val, figWide, figTall, "png")
	case len(val) > 0:
		p, perr := plots.Lines("validation ROC-AUC: "+title, "epoch", "ROC-AUC", val, plots.LinesOptions{})
		if perr != nil {
			return perr
		}
		b, err = plots.Render(p, figWide, figSide, "png")
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return x.writeArtifact(ctx, run.ID, "curves.png", "plot", b)
}

// drawGallery draws heatmaps.png from the model's anomaly maps and, for
// each further map (a GAN's discriminator saliency), heatmaps-<map>.png,
// its images picked by the score the map explains (d) where the run has
// it.
func (x *Executor) drawGallery(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, test []preprocess.Item, sc *scored, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if err := x.drawMapGallery(ctx, run, spec, test, sc, sc.maps, "heatmaps.png", names[0]); err != nil {
		return err
	}
	by := names[0]
	if _, ok := sc.scores["d"]; ok {
		by = "d"
	}
	for _, name := range sortedKeys(sc.extra) {
		if err := x.drawMapGallery(ctx, run, spec, test, sc, sc.extra[name].maps, "heatmaps-"+name+".png", by); err != nil {
			return err
		}
	}
	return nil
}

// drawMapGallery overlays maps of the highest-scoring abnormal and normal
// test images (by the score by) on the images, with the loss mask and,
// on synthetic data, the true anomaly outlined.
func (x *Executor) drawMapGallery(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, test []preprocess.Item, sc *scored, maps [][]float32, artifact, by string) error {
	if len(maps) == 0 {
		return nil
	}
	score := sc.scores[by]
	idx := make([]int, len(maps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	var pick []int
	for _, want := range []int{1, 0} {
		n := 0
		for _, i := range idx {
			if test[i].Record.Label == want && n < galleryN/2 {
				pick = append(pick, i)
				n++
			}
		}
	}
	// One colour scale for the whole gallery, so tiles compare: the 99th
	// percentile of their in-mask map values (a few extreme pixels would
	// otherwise wash every other tile out).
	var vals []float64
	for _, i := range pick {
		for p, v := range maps[i] {
			if sc.masks[i][p] > 0.5 {
				vals = append(vals, float64(v))
			}
		}
	}
	sort.Float64s(vals)
	var maxV float64
	if len(vals) > 0 {
		maxV = vals[len(vals)*99/100]
	}
	var tiles []plots.Tile
	for _, i := range pick {
		img, err := plots.HeatmapOverlay(plots.Overlay{W: spec.ImageSize, H: spec.ImageSize, Image: sc.images[i], Map: maps[i],
			Mask: sc.masks[i], Truth: sc.truth[i], Max: maxV})
		if err != nil {
			return err
		}
		label := "normal"
		if test[i].Record.Label == 1 {
			label = "abnormal"
		}
		tiles = append(tiles, plots.Tile{Image: img, Caption: fmt.Sprintf("%s  %s %.4g\n%s", label, by, score[i], path.Base(path.Dir(test[i].Record.RelPath))+"/"+path.Base(test[i].Record.RelPath))})
	}
	g, err := plots.Gallery(tiles, 4)
	if err != nil {
		return err
	}
	b, err := plots.EncodePNG(g)
	if err != nil {
		return err
	}
	return x.writeArtifact(ctx, run.ID, artifact, "plot", b)
}

// writeArtifact writes a file into the run's folder and records it.
func (x *Executor) writeArtifact(ctx context.Context, runID int64, name, kind string, data []byte) error {
	p := filepath.Join(x.RunDir(runID), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return x.addArtifact(ctx, runID, name, kind)
}
