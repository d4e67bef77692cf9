package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"xraylab/experiments"
	"xraylab/nets"
	"xraylab/plots"
	"xraylab/preprocess"
)

// Heatmap is one image's anomaly map drawn over the image as a run's
// model sees it, with what the model scored it.
type Heatmap struct {
	PNG    []byte
	Scores map[string]float64
	// Truth says whether the true anomaly is outlined (data with masks).
	Truth bool
	// Max is the map value drawn at full strength: the 99th percentile
	// of this map inside the loss mask.
	Max float64
	// Map is the name of the map drawn; Maps all the model's maps, in
	// MapNames order.
	Map  string
	Maps []string
}

// ReconMap names a model's own anomaly map (nets.Scored.Maps: the
// reconstruction error of the autoencoders, BiGAN and α-GAN, pixelgauss's
// per-pixel deviation, an ensemble's mean map) among its further maps
// (nets.Scored.Extra, such as a GAN's d_grad).
const ReconMap = "recon"

// MapNames lists the maps of a scored batch: the reconstruction map first
// (the one a model with both is judged by), then its further maps sorted.
func MapNames(sc *nets.Scored) []string {
	var out []string
	if sc.Maps != nil {
		out = append(out, ReconMap)
	}
	return append(out, sortedKeys(sc.Extra)...)
}

// mapProblem is the details of an unknown map name, shaped as the
// server's rejected query parameters are.
type mapProblem struct {
	Parameter string `json:"parameter"`
	Value     string `json:"value"`
	Allowed   string `json:"allowed"`
}

// truthPath is where LoadMURA finds the anomaly mask of rel under root (a
// "<root>-truth" tree beside it, which the synthetic generator writes); ""
// when there is none.
func truthPath(root, rel string) string {
	p := filepath.Join(filepath.Clean(root)+"-truth", filepath.FromSlash(strings.TrimSuffix(rel, ".png")+"_anomaly.png"))
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

// RenderHeatmap draws an anomaly map of one dataset image (rel, relative
// to root, slash-separated; half 1 or 2 picks a hand of a two-hand image)
// with the model of a run checkpoint: the map named mapName (one of
// MapNames; "" for the model's first), under that run's preprocessing,
// outlining the true anomaly where the data has a mask. The colour scale
// is this map's own (its in-mask 99th percentile): maps of different
// models have different units, so a shared scale would wash one out.
func RenderHeatmap(ctx context.Context, checkpoint, root, rel string, half int, mapName string) (*Heatmap, error) {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, experiments.Errorf(experiments.CodeInvalid, "image %q is not a path inside the dataset", rel)
	}
	path := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(path); err != nil {
		return nil, experiments.Errorf(experiments.CodeNotFound, "image %s is not readable on this server (dataset root %s)", rel, root)
	}
	h, model, pipe, err := openScorer(checkpoint)
	if err != nil {
		return nil, err
	}
	defer pipe.Close()
	items, rep, err := pipe.Prepare(ctx, []preprocess.Record{{Path: path, RelPath: rel, Study: rel, MaskPath: truthPath(root, rel)}}, nil)
	if err != nil {
		return nil, err
	}
	if len(rep.Skips) > 0 {
		return nil, experiments.Errorf(experiments.CodeInvalid, "image %s cannot be preprocessed: %s", rel, rep.Skips[0].Reason)
	}
	var pick []preprocess.Item
	for _, it := range items {
		if it.Record.Half == half {
			pick = append(pick, it)
		}
	}
	if len(pick) != 1 {
		return nil, experiments.Errorf(experiments.CodeInvalid, "image %s has no half %d after preprocessing (it gives %d items)", rel, half, len(items))
	}
	s := h.Spec
	var batch *preprocess.BatchResult
	for br := range pipe.Batches(ctx, pick, []int{0}, []int64{0}, 1, "none") {
		if br.Err != nil {
			return nil, br.Err
		}
		batch = &br
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if batch == nil || len(batch.Samples) != 1 {
		return nil, experiments.Errorf(experiments.CodeInternal, "image %s: preprocessing gave no sample", rel)
	}
	if sm, ok := model.(nets.SaliencyMapper); ok {
		// the discriminator's maps (one backward pass for one image)
		sm.SetSaliency(true)
	}
	sc, err := model.Score(toBatch(*batch, s.ImageSize))
	if err != nil {
		return nil, err
	}
	names := MapNames(sc)
	if len(names) == 0 {
		return nil, experiments.Errorf(experiments.CodeInvalid, "model %s of run %d draws no anomaly maps", h.Model, h.RunID)
	}
	if mapName == "" {
		mapName = names[0]
	}
	m := sc.Extra[mapName]
	if mapName == ReconMap {
		m = sc.Maps
	}
	if m == nil {
		list := strings.Join(names, ", ")
		return nil, &experiments.Error{Code: experiments.CodeInvalid, Details: mapProblem{"map", mapName, list},
			Message: fmt.Sprintf("query parameter map: model %s of run %d draws no map %q; it draws: %s", h.Model, h.RunID, mapName, list)}
	}
	smp := batch.Samples[0]
	out := &Heatmap{Scores: map[string]float64{}, Truth: smp.AnomalyMask != nil, Map: mapName, Maps: names}
	for name, v := range sc.Scores {
		out.Scores[name] = v[0]
	}
	out.Max = percentile99([][]float32{m}, []preprocess.Sample{smp})
	img, err := plots.HeatmapOverlay(plots.Overlay{W: s.ImageSize, H: s.ImageSize, Image: smp.Image, Map: m,
		Mask: smp.Mask, Truth: smp.AnomalyMask, Max: out.Max})
	if err != nil {
		return nil, err
	}
	if out.PNG, err = plots.EncodePNG(img); err != nil {
		return nil, err
	}
	return out, nil
}

// Heatmaps renders heatmaps for the server (server.Config.Heatmaps).
type Heatmaps struct{}

// Render draws one image's heatmap PNG with a checkpoint; see RenderHeatmap.
func (Heatmaps) Render(ctx context.Context, checkpoint, root, rel string, half int, mapName string) ([]byte, error) {
	h, err := RenderHeatmap(ctx, checkpoint, root, rel, half, mapName)
	if err != nil {
		return nil, err
	}
	return h.PNG, nil
}

// openScorer loads a checkpoint's model and the preprocessing pipeline of
// its run. The caller closes the pipeline.
func openScorer(checkpoint string) (*CheckpointHeader, nets.Model, *preprocess.Pipeline, error) {
	h, model, err := LoadCheckpoint(checkpoint)
	if err != nil {
		return nil, nil, nil, err
	}
	s := h.Spec
	pipe, err := preprocess.NewPipeline(preprocess.PipelineOptions{
		Variant: preprocess.Variant(s.Preprocessing), HistEq: s.HistEq, Size: s.ImageSize, Resize: s.Model.Resize,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return h, model, pipe, nil
}
