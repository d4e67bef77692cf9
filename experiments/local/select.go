package local

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/nets"
)

// BestCheckpointName is the checkpoint of the epoch with the best
// validation ROC-AUC (checkpoint_select: best_val), kept beside the one a
// run resumes from.
const BestCheckpointName = "checkpoint-best.bin"

// bestVal tracks the best validation epoch of a best_val run.
type bestVal struct {
	key   string  // the val ROC-AUC key of the selected score
	auc   float64 // best so far; −Inf before any
	epoch int     // its epoch; 0 before any
}

// selectsBest reports whether the run evaluates its best validation epoch.
func selectsBest(spec experiments.RunSpec) bool {
	return spec.Model.CheckpointSelect == experiments.SelectBestVal
}

// resumeBest recovers the best epoch before start: the best checkpoint's
// own epoch with its stored validation ROC-AUC. A best checkpoint from a
// later epoch than the one resumed from (training past it was lost) is
// removed; those epochs are trained again and compete again.
func (x *Executor) resumeBest(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, start int) (*bestVal, error) {
	b := &bestVal{key: eval.ScoreKey(eval.SplitVal, spec.Model.SelectScore, eval.AggImage, eval.MetricROCAUC).String(), auc: math.Inf(-1)}
	path := filepath.Join(x.RunDir(run.ID), BestCheckpointName)
	h, _, err := ReadCheckpoint(path)
	if os.IsNotExist(err) {
		return b, nil
	}
	if err != nil || h.Epoch >= start {
		os.Remove(path)
		return b, nil
	}
	points, err := x.store.Metrics(ctx, run.ID, b.key)
	if err != nil {
		return nil, err
	}
	for _, p := range points {
		if p.Epoch == h.Epoch {
			b.auc, b.epoch = p.Value, p.Epoch
		}
	}
	if b.epoch == 0 {
		os.Remove(path) // no recorded figure to compete with
	}
	return b, nil
}

// offer keeps model as the best checkpoint when its validation ROC-AUC of
// this epoch beats every earlier one (the first of equal ones wins).
func (x *Executor) offer(ctx context.Context, b *bestVal, run *experiments.Run, spec experiments.RunSpec, model nets.Model, epoch int, val map[string]float64) error {
	auc, ok := val[b.key]
	if !ok || !(auc > b.auc) {
		return nil
	}
	h := CheckpointHeader{RunID: run.ID, Model: model.Name(), Epoch: epoch, Spec: spec}
	if err := WriteCheckpoint(filepath.Join(x.RunDir(run.ID), BestCheckpointName), h, model); err != nil {
		return fmt.Errorf("write best checkpoint: %w", err)
	}
	b.auc, b.epoch = auc, epoch
	return x.addArtifact(ctx, run.ID, BestCheckpointName, "checkpoint")
}

// loadBest puts the best validation epoch's weights into model for the
// final evaluation, and says which epoch it was.
func (x *Executor) loadBest(run *experiments.Run, spec experiments.RunSpec, model nets.Model) error {
	path := filepath.Join(x.RunDir(run.ID), BestCheckpointName)
	h, state, err := ReadCheckpoint(path)
	if os.IsNotExist(err) {
		x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID,
			Message: fmt.Sprintf("no epoch had a validation ROC-AUC of %s; evaluating the last epoch", spec.Model.SelectScore)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint_select best_val: %w", err)
	}
	if err := model.Load(bytes.NewReader(state)); err != nil {
		return fmt.Errorf("checkpoint_select best_val: %s: %w", path, err)
	}
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID,
		Message: fmt.Sprintf("evaluating epoch %d, the best validation ROC-AUC of %s", h.Epoch, spec.Model.SelectScore)})
	return nil
}
