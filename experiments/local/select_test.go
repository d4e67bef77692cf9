package local_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
)

// best_val evaluates the weights of the epoch with the best validation
// ROC-AUC, kept beside the last checkpoint; last (the default) evaluates
// the last epoch's.
func TestCheckpointSelectBestVal(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	ctx := context.Background()
	id := testenv.Submit(t, m, `
experiments:
  sel:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 5, difficulty: easy}
    image_size: 32
    epochs: 5
    batch_size: 8
    checkpoint_every: 2
    models:
      - {name: cae, params: {width: 0.125, lr: 0.003}, topk: [20], augmentation: none, checkpoint_select: best_val, select_score: mse}
      - {name: cae, params: {width: 0.125, lr: 0.003}, topk: [20], augmentation: none}
`)
	runs := e.WaitAll(t, id, 3*time.Minute)
	var finals [2]float64
	for i, run := range runs {
		if run.State != experiments.StateSucceeded {
			t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
		}
		spec, _ := experiments.DecodeRunSpec(run.Params)
		series, err := e.Store.Metrics(ctx, run.ID, "val/mse/roc_auc")
		if err != nil || len(series) != 5 {
			t.Fatalf("run %d: val series %v, %v", run.ID, series, err)
		}
		bestEpoch, best := 0, 0.0
		for _, p := range series {
			if bestEpoch == 0 || p.Value > best {
				bestEpoch, best = p.Epoch, p.Value
			}
		}
		final := run.Metrics["val/mse/roc_auc"]
		finals[i] = run.Metrics["test/mse/roc_auc"]
		last := series[len(series)-1]
		switch spec.Model.CheckpointSelect {
		case experiments.SelectBestVal:
			if bestEpoch == last.Epoch {
				t.Fatalf("the best validation epoch is the last (%v); the test needs one before it", series)
			}
			if final != best {
				t.Errorf("best_val run: final val ROC-AUC %v, want epoch %d's %v (series %v)", final, bestEpoch, best, series)
			}
			h, _, err := local.ReadCheckpoint(filepath.Join(e.Exec.RunDir(run.ID), local.BestCheckpointName))
			if err != nil || h.Epoch != bestEpoch || h.Spec.Model.SelectScore != "mse" {
				t.Errorf("best checkpoint: %+v, %v; want epoch %d", h, err, bestEpoch)
			}
		case experiments.SelectLast:
			if final != last.Value {
				t.Errorf("last run: final val ROC-AUC %v, want the last epoch's %v", final, last.Value)
			}
		default:
			t.Errorf("run %d records checkpoint_select %q", run.ID, spec.Model.CheckpointSelect)
		}
		h, _, err := local.ReadCheckpoint(filepath.Join(e.Exec.RunDir(run.ID), local.CheckpointName))
		if err != nil || h.Epoch != 5 {
			t.Errorf("run %d: resume checkpoint %+v, %v; want epoch 5", run.ID, h, err)
		}
	}
	if finals[0] == finals[1] {
		t.Errorf("best_val and last give the same test ROC-AUC %v", finals[0])
	}
}
