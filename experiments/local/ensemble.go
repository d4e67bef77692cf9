package local

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/experiments/report"
	"xraylab/nets"
	"xraylab/preprocess"
)

// An ensemble run combines its members' stored scores (their scores.csv)
// instead of training: each member score is normalised with statistics
// of the validation images, the normalised scores are combined, and the
// result is evaluated, stored and drawn like any run's. Where members
// have anomaly maps, their checkpoints score the images again and the
// mean of their z-scored maps is the ensemble's map.

// EnsembleFile records how an ensemble run combined its members.
const EnsembleFile = "ensemble.json"

// EnsembleRecord is the content of ensemble.json.
type EnsembleRecord struct {
	Name      string           `json:"name"`
	Score     string           `json:"score"`
	Normalise string           `json:"normalise"`
	Combine   string           `json:"combine"`
	Members   []EnsembleMember `json:"members"`
	// ValROCAUC is the combined score's validation ROC-AUC (for
	// "weighted", the figure the weights were chosen by).
	ValROCAUC float64 `json:"val_roc_auc"`
	// WeightSearch says how weighted-mean weights were found.
	WeightSearch string `json:"weight_search,omitempty"`
	// MapMembers are the member runs whose maps were averaged.
	MapMembers []int64 `json:"map_members,omitempty"`
	MapNote    string  `json:"map_note,omitempty"`
}

// EnsembleMember is one member as combined.
type EnsembleMember struct {
	Run        int64            `json:"run"`
	Label      string           `json:"label"` // the member run's grid point
	Score      string           `json:"score"`
	Normaliser *eval.Normaliser `json:"normaliser"`
	Weight     float64          `json:"weight,omitempty"`
	MapNorm    *eval.Normaliser `json:"map_normaliser,omitempty"`
	spec       experiments.RunSpec
	table      *report.ScoreTable
	run        *experiments.Run
}

// memberRuns finds the ensemble's member runs.
func (x *Executor) memberRuns(ctx context.Context, run *experiments.Run, en *experiments.EnsembleSpec) ([]*experiments.Run, error) {
	if x.opts.Runs == nil {
		return nil, fmt.Errorf("ensemble %s: this executor cannot read other runs (no run reader), so it cannot combine members", en.Name)
	}
	var siblings map[int]*experiments.Run
	out := make([]*experiments.Run, len(en.Members))
	for i, m := range en.Members {
		switch {
		case m.Run != 0:
			r, err := x.opts.Runs.GetRun(ctx, m.Run)
			if err != nil {
				return nil, fmt.Errorf("ensemble %s: member %s: %w", en.Name, m.Label(), err)
			}
			out[i] = r
		case m.Index != nil:
			if siblings == nil {
				runs, _, err := x.opts.Runs.ListRuns(ctx, experiments.RunFilter{ExperimentID: run.ExperimentID})
				if err != nil {
					return nil, err
				}
				siblings = map[int]*experiments.Run{}
				for _, r := range runs {
					siblings[r.Index] = r
				}
			}
			r := siblings[*m.Index]
			if r == nil {
				return nil, fmt.Errorf("ensemble %s: member %s: experiment %d has no run of index %d", en.Name, m.Label(), run.ExperimentID, *m.Index)
			}
			out[i] = r
		default:
			return nil, fmt.Errorf("ensemble %s: member %d names neither a run nor a model", en.Name, i)
		}
	}
	return out, nil
}

// loadMembers checks that every member run succeeded on the same images
// and reads its scores.
func (x *Executor) loadMembers(ctx context.Context, run *experiments.Run, en *experiments.EnsembleSpec) ([]*EnsembleMember, error) {
	runs, err := x.memberRuns(ctx, run, en)
	if err != nil {
		return nil, err
	}
	var out []*EnsembleMember
	for i, r := range runs {
		m := en.Members[i]
		spec, err := experiments.DecodeRunSpec(r.Params)
		if err != nil {
			return nil, err
		}
		if r.State != experiments.StateSucceeded {
			why := ""
			if r.Error != "" {
				why = ": " + r.Error
			}
			return nil, fmt.Errorf("ensemble %s: member %s (run %d, %s) is %s%s; an ensemble needs every member succeeded",
				en.Name, m.Label(), r.ID, spec.Label(), r.State, why)
		}
		if spec.Ensemble != nil {
			return nil, fmt.Errorf("ensemble %s: member %s: run %d is itself an ensemble; members must be model runs", en.Name, m.Label(), r.ID)
		}
		f, err := os.Open(filepath.Join(x.RunDir(r.ID), "scores.csv"))
		if err != nil {
			return nil, fmt.Errorf("ensemble %s: member %s: read the scores of run %d: %w", en.Name, m.Label(), r.ID, err)
		}
		t, err := report.ReadScoresCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ensemble %s: member %s (run %d): %w", en.Name, m.Label(), r.ID, err)
		}
		if !strings.Contains(","+strings.Join(t.Scores, ",")+",", ","+m.Score+",") {
			return nil, fmt.Errorf("ensemble %s: member %s: run %d has no score %q; it has: %s", en.Name, m.Label(), r.ID, m.Score, strings.Join(t.Scores, ", "))
		}
		out = append(out, &EnsembleMember{Run: r.ID, Label: spec.Label(), Score: m.Score, spec: spec, table: t, run: r})
	}
	first := out[0]
	for _, m := range out[1:] {
		msg := experiments.DataMismatch(first.spec, m.spec)
		if msg == "" && first.run.Dataset != m.run.Dataset {
			msg = fmt.Sprintf("were scored on different data (dataset fingerprints %.12s and %.12s)", first.run.Dataset, m.run.Dataset)
		}
		if msg == "" {
			msg = sameImages(first.table, m.table)
		}
		if msg != "" {
			return nil, fmt.Errorf("ensemble %s: members run %d (%s) and run %d (%s) %s; an ensemble combines scores of the same images",
				en.Name, first.Run, first.Label, m.Run, m.Label, msg)
		}
	}
	return out, nil
}

// sameImages says how two score tables' images differ, or "".
func sameImages(a, b *report.ScoreTable) string {
	count := func(t *report.ScoreTable, part string) int {
		n := 0
		for _, r := range t.Rows {
			if r.Part == part {
				n++
			}
		}
		return n
	}
	for _, part := range []string{"val", "test"} {
		if na, nb := count(a, part), count(b, part); na != nb {
			return fmt.Sprintf("scored different %s sets (%d and %d images)", partName(part), na, nb)
		}
	}
	for i, r := range a.Rows {
		o := b.Rows[i]
		if r.Part != o.Part || r.Path != o.Path || r.Half != o.Half || r.Label != o.Label {
			return fmt.Sprintf("scored different %s sets (row %d: %s against %s)", partName(r.Part), i+1, rowName(r), rowName(o))
		}
	}
	return ""
}

// rowName names a scored image: its path, and the hand of a split one.
func rowName(r report.ScoreRow) string {
	if r.Half != 0 {
		return fmt.Sprintf("%s (hand %d)", r.Path, r.Half)
	}
	return r.Path
}

func partName(part string) string {
	if part == "val" {
		return "validation"
	}
	return part
}

// executeEnsemble is Execute for an ensemble run.
func (x *Executor) executeEnsemble(ctx context.Context, run *experiments.Run, spec experiments.RunSpec) error {
	en := spec.Ensemble
	members, err := x.loadMembers(ctx, run, en)
	if err != nil {
		return err
	}
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: fmt.Sprintf(
		"ensemble %s of %d members, %s-normalised, combined by %s", en.Name, len(members), en.Normalise, en.Combine)})
	t := members[0].table
	parts := map[string][]int{} // row indices per part
	for i, r := range t.Rows {
		parts[r.Part] = append(parts[r.Part], i)
	}
	column := func(m *EnsembleMember, part string) []float64 {
		out := make([]float64, len(parts[part]))
		for k, i := range parts[part] {
			out[k] = m.table.Rows[i].Scores[m.Score]
		}
		return out
	}
	items := map[string][]preprocess.Item{}
	for part, rows := range parts {
		for _, i := range rows {
			r := t.Rows[i]
			items[part] = append(items[part], preprocess.Item{Record: preprocess.Record{RelPath: r.Path, Patient: r.Patient, Study: r.Study, View: r.View, Half: r.Half, Label: r.Label}})
		}
	}
	if len(items["val"]) == 0 || len(items["test"]) == 0 {
		return fmt.Errorf("ensemble %s: run %d's scores.csv has no validation or no test rows", en.Name, members[0].Run)
	}
	norm := map[string][][]float64{}
	for _, m := range members {
		n, err := eval.FitNormaliser(en.Normalise, column(m, "val"))
		if err != nil {
			return fmt.Errorf("ensemble %s: member %s (run %d): %w", en.Name, m.Score, m.Run, err)
		}
		m.Normaliser = n
		for _, part := range []string{"val", "test"} {
			norm[part] = append(norm[part], n.Apply(column(m, part)))
		}
	}
	rec := EnsembleRecord{Name: en.Name, Score: en.ScoreName(), Normalise: en.Normalise, Combine: en.Combine}
	var weights []float64
	if en.Combine == eval.CombineWeighted {
		w, _, err := eval.FitWeights(norm["val"], labelsOf(items["val"]))
		if err != nil {
			return fmt.Errorf("ensemble %s: fit weights on the validation images: %w", en.Name, err)
		}
		weights = w
		rec.WeightSearch = fmt.Sprintf("exhaustive grid of weights in steps of 1/%d summing to 1, maximising validation ROC-AUC; ties to the weights nearest uniform", eval.WeightSteps)
		for i, m := range members {
			m.Weight = w[i]
		}
	}
	name := en.ScoreName()
	all := map[string]map[string][]float64{}
	scoredParts := map[string]*scored{}
	for _, part := range []string{"val", "test"} {
		c, err := eval.Combine(en.Combine, norm[part], weights)
		if err != nil {
			return fmt.Errorf("ensemble %s: %w", en.Name, err)
		}
		all[part] = map[string][]float64{name: c}
		scoredParts[part] = &scored{scores: all[part]}
	}
	if rec.ValROCAUC, err = eval.ROCAUC(all["val"][name], labelsOf(items["val"])); err != nil {
		return fmt.Errorf("ensemble %s: validation ROC-AUC: %w", en.Name, err)
	}
	// The members' data record, until the maps' preprocessing (if any)
	// records the ensemble's own.
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.Run
	}
	sum, _ := json.Marshal(map[string]any{"ensemble_of": ids})
	if err := x.store.SetDataset(ctx, run.ID, experiments.DatasetRecord{Fingerprint: members[0].run.Dataset, Summary: sum}); err != nil {
		return err
	}
	if err := x.ensembleMaps(ctx, run, spec, members, items, scoredParts, &rec); err != nil {
		return err
	}
	final := map[string]float64{}
	for _, part := range []string{"val", "test"} {
		if err := partMetrics(final, part, items[part], scoredParts[part]); err != nil {
			return err
		}
	}
	for _, m := range members {
		rec.Members = append(rec.Members, *m)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := x.writeArtifact(ctx, run.ID, EnsembleFile, "ensemble", b); err != nil {
		return err
	}
	if err := x.drawRunFigures(ctx, run, spec, items["test"], scoredParts["test"]); err != nil {
		return fmt.Errorf("draw figures: %w", err)
	}
	if err := x.writeScores(ctx, run, items["val"], items["test"], all); err != nil {
		return err
	}
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: fmt.Sprintf(
		"ensemble %s: validation ROC-AUC %.3f, test ROC-AUC %.3f", en.Name, rec.ValROCAUC,
		final[eval.ScoreKey(eval.SplitTest, name, eval.AggImage, eval.MetricROCAUC).String()])})
	return x.store.SetFinalMetrics(ctx, run.ID, final)
}

// ensembleMaps averages the z-scored anomaly maps of the members that
// have them (each member run once, however many of its scores are
// members): each map is normalised by the mean and std of its run's map
// pixels inside the loss masks of the validation images, then the maps
// of the test images are averaged, measured (pixel ROC-AUC, AUPRO) and
// kept for the heatmap gallery. Members at another image size than the
// ensemble's (its first member's) are left out of the maps.
func (x *Executor) ensembleMaps(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, members []*EnsembleMember,
	items map[string][]preprocess.Item, sc map[string]*scored, rec *EnsembleRecord) error {
	type mapModel struct {
		m     *EnsembleMember
		model nets.Model
	}
	var models []mapModel
	seen := map[int64]bool{}
	for _, m := range members {
		if seen[m.Run] {
			continue
		}
		seen[m.Run] = true
		if m.spec.ImageSize != spec.ImageSize {
			rec.MapNote += fmt.Sprintf("run %d left out of the maps: image size %d, not %d. ", m.Run, m.spec.ImageSize, spec.ImageSize)
			continue
		}
		path := filepath.Join(x.RunDir(m.Run), CheckpointName)
		if selectsBest(m.spec) {
			if _, err := os.Stat(filepath.Join(x.RunDir(m.Run), BestCheckpointName)); err == nil {
				path = filepath.Join(x.RunDir(m.Run), BestCheckpointName)
			}
		}
		_, model, err := LoadCheckpoint(path)
		if err != nil {
			return fmt.Errorf("ensemble %s: load the model of member run %d: %w", spec.Ensemble.Name, m.Run, err)
		}
		models = append(models, mapModel{m, model})
	}
	if len(models) == 0 {
		return nil
	}
	data, err := x.prepareData(ctx, run, spec)
	if err != nil {
		return err
	}
	defer data.pipe.Close()
	data.spillDir = x.RunDir(run.ID)
	for _, part := range []string{"val", "test"} {
		prepared, want := data.partItems(part), items[part]
		if len(prepared) != len(want) {
			return fmt.Errorf("ensemble %s: preprocessing gives %d %s images, the members scored %d", spec.Ensemble.Name, len(prepared), partName(part), len(want))
		}
		for i := range want {
			if prepared[i].Record.RelPath != want[i].Record.RelPath || prepared[i].Record.Half != want[i].Record.Half {
				return fmt.Errorf("ensemble %s: %s image %d is %s here, %s in the members' scores", spec.Ensemble.Name, partName(part), i+1, prepared[i].Record.RelPath, want[i].Record.RelPath)
			}
		}
		items[part] = prepared // with masks and the loader's records
	}
	px := spec.ImageSize * spec.ImageSize
	order := func(n int) []int {
		o := make([]int, n)
		for i := range o {
			o[i] = i
		}
		return o
	}
	// Pass 1: each member's map statistics on the validation images.
	var withMaps []mapModel
	for _, mm := range models {
		// Welford's running mean and variance: a 512 px validation set
		// has too many pixels to hold.
		var count, mean, m2 float64
		hasMaps := true
		for br := range data.pipe.Batches(ctx, data.val, order(len(data.val)), make([]int64, len(data.val)), max(1, mm.m.spec.BatchSize), "none") {
			if br.Err != nil {
				return br.Err
			}
			s, err := mm.model.Score(toBatch(br, spec.ImageSize))
			if err != nil {
				return fmt.Errorf("ensemble %s: score with member run %d: %w", spec.Ensemble.Name, mm.m.Run, err)
			}
			if s.Maps == nil {
				hasMaps = false
				break
			}
			for i, smp := range br.Samples {
				for p, v := range s.Maps[i*px : (i+1)*px] {
					if smp.Mask[p] > 0.5 {
						count++
						d := float64(v) - mean
						mean += d / count
						m2 += d * (float64(v) - mean)
					}
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !hasMaps || count == 0 {
			continue
		}
		std := math.Sqrt(m2 / count)
		if std == 0 || math.IsNaN(std) || math.IsInf(std, 0) {
			return fmt.Errorf("ensemble %s: the maps of member run %d have no spread on the validation images (std %v); they cannot be z-scored", spec.Ensemble.Name, mm.m.Run, std)
		}
		mm.m.MapNorm = &eval.Normaliser{Kind: eval.NormZScore, Mean: mean, Std: std}
		withMaps = append(withMaps, mm)
		rec.MapMembers = append(rec.MapMembers, mm.m.Run)
	}
	if len(withMaps) == 0 {
		return nil
	}
	// Pass 2: the mean normalised map of every test image.
	test := sc["test"]
	stream := eval.NewPixelStream(spec.ImageSize, spec.ImageSize, preprocess.LabelRegions, data.spillDir)
	defer stream.Close()
	var streamErr error
	for br := range data.pipe.Batches(ctx, data.test, order(len(data.test)), make([]int64, len(data.test)), max(1, withMaps[0].m.spec.BatchSize), "none") {
		if br.Err != nil {
			return br.Err
		}
		b := toBatch(br, spec.ImageSize)
		mean := make([]float32, len(b.Images))
		for _, mm := range withMaps {
			s, err := mm.model.Score(b)
			if err != nil {
				return fmt.Errorf("ensemble %s: score with member run %d: %w", spec.Ensemble.Name, mm.m.Run, err)
			}
			if len(s.Maps) != len(mean) {
				return fmt.Errorf("ensemble %s: member run %d gave %d map pixels for %d", spec.Ensemble.Name, mm.m.Run, len(s.Maps), len(mean))
			}
			for p, v := range s.Maps {
				mean[p] += float32(mm.m.MapNorm.One(float64(v)) / float64(len(withMaps)))
			}
		}
		for i, smp := range br.Samples {
			m := mean[i*px : (i+1)*px]
			if smp.AnomalyMask != nil && streamErr == nil {
				streamErr = stream.Add(m, smp.AnomalyMask, smp.Mask)
			}
			if (len(test.maps)+1)*px > pixelBudget || len(test.maps) != br.Indices[i] {
				continue
			}
			test.images = append(test.images, smp.Image)
			test.maps = append(test.maps, m)
			test.masks = append(test.masks, smp.Mask)
			test.truth = append(test.truth, smp.AnomalyMask)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if stream.Images() > 0 && streamErr == nil {
		if r, err := stream.Compute(0.3); err == nil && !math.IsNaN(r.ROCAUC) {
			test.pixel = &r
		}
	}
	return nil
}

// partItems are the prepared items of a part ("val" or "test").
func (d *runData) partItems(part string) []preprocess.Item {
	if part == "val" {
		return d.val
	}
	return d.test
}
