package local

import (
	"context"
	"image"
	"path/filepath"
	"sort"

	"xraylab/nets"
	"xraylab/plots"
	"xraylab/preprocess"
)

// FileScore is what a checkpoint's model says about one image file, or
// one hand of it when preprocessing split a two-hand image.
type FileScore struct {
	Path    string             `json:"path"`
	Half    int                `json:"half"`
	Scores  map[string]float64 `json:"scores,omitempty"`
	Skipped string             `json:"skipped,omitempty"` // why the file could not be scored
	Heatmap image.Image        `json:"-"`                 // overlay of the anomaly map; nil without one
	// Heatmaps are overlays of the model's further maps by name (a GAN's
	// discriminator saliency, nets.SaliencyMapper).
	Heatmaps map[string]image.Image `json:"-"`
}

// ScoreFiles scores new images with the model of a run checkpoint, under
// that run's preprocessing, and draws a heatmap overlay for models with
// anomaly maps (one colour scale for all files). A file that cannot be
// read or has no hand is reported, not fatal.
func ScoreFiles(ctx context.Context, checkpoint string, paths []string) (*CheckpointHeader, []FileScore, error) {
	h, model, pipe, err := openScorer(checkpoint)
	if err != nil {
		return nil, nil, err
	}
	defer pipe.Close()
	s := h.Spec
	recs := make([]preprocess.Record, len(paths))
	for i, p := range paths {
		recs[i] = preprocess.Record{Path: p, RelPath: filepath.Base(p), Study: p}
	}
	items, rep, err := pipe.Prepare(ctx, recs, nil)
	if err != nil {
		return nil, nil, err
	}
	var out []FileScore
	for _, sk := range rep.Skips {
		out = append(out, FileScore{Path: sk.Path, Skipped: sk.Reason})
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	px := s.ImageSize * s.ImageSize
	var samples []preprocess.Sample
	var maps [][]float32
	extra := map[string][][]float32{}
	if sm, ok := model.(nets.SaliencyMapper); ok {
		sm.SetSaliency(true)
	}
	first := len(out)
	for br := range pipe.Batches(ctx, items, order, make([]int64, len(items)), max(1, s.BatchSize), "none") {
		if br.Err != nil {
			return nil, nil, br.Err
		}
		sc, err := model.Score(toBatch(br, s.ImageSize))
		if err != nil {
			return nil, nil, err
		}
		for i, idx := range br.Indices {
			fs := FileScore{Path: items[idx].Record.Path, Half: items[idx].Record.Half, Scores: map[string]float64{}}
			for name, v := range sc.Scores {
				fs.Scores[name] = v[i]
			}
			out = append(out, fs)
			samples = append(samples, br.Samples[i])
			if sc.Maps != nil {
				maps = append(maps, sc.Maps[i*px:(i+1)*px])
			}
			for name, m := range sc.Extra {
				extra[name] = append(extra[name], m[i*px:(i+1)*px])
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if len(maps) == len(samples) && len(maps) > 0 {
		scale := percentile99(maps, samples)
		for i := range maps {
			img, err := plots.HeatmapOverlay(plots.Overlay{W: s.ImageSize, H: s.ImageSize, Image: samples[i].Image,
				Map: maps[i], Mask: samples[i].Mask, Max: scale})
			if err != nil {
				return nil, nil, err
			}
			out[first+i].Heatmap = img
		}
	}
	for _, name := range sortedKeys(extra) {
		ms := extra[name]
		if len(ms) != len(samples) {
			continue
		}
		scale := percentile99(ms, samples)
		for i := range ms {
			img, err := plots.HeatmapOverlay(plots.Overlay{W: s.ImageSize, H: s.ImageSize, Image: samples[i].Image,
				Map: ms[i], Mask: samples[i].Mask, Max: scale})
			if err != nil {
				return nil, nil, err
			}
			if out[first+i].Heatmaps == nil {
				out[first+i].Heatmaps = map[string]image.Image{}
			}
			out[first+i].Heatmaps[name] = img
		}
	}
	return h, out, nil
}

// percentile99 is the 99th percentile of map values inside the loss masks.
func percentile99(maps [][]float32, samples []preprocess.Sample) float64 {
	var vals []float64
	for i, m := range maps {
		for p, v := range m {
			if samples[i].Mask[p] > 0.5 {
				vals = append(vals, float64(v))
			}
		}
	}
	if len(vals) == 0 {
		return 0
	}
	sort.Float64s(vals)
	return vals[len(vals)*99/100]
}

// ScoreNames lists the score names of a set of file scores, sorted.
func ScoreNames(fs []FileScore) []string {
	set := map[string]bool{}
	for _, f := range fs {
		for k := range f.Scores {
			set[k] = true
		}
	}
	return sortedKeys(set)
}
