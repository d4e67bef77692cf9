package local_test

import (
	"context"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A run through the runner: its final figures, artifacts and series, and
// the same figures again for the same spec.
func TestRunsEndToEndAndDeterministic(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 2)
	ctx := context.Background()

	first := testenv.Submit(t, m, testenv.TinySpec)
	runs := e.WaitAll(t, first, time.Minute)
	second := testenv.Submit(t, m, testenv.TinySpec)
	again := e.WaitAll(t, second, time.Minute)
	for i, run := range runs {
		if run.State != experiments.StateSucceeded {
			t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
		}
		for _, key := range []string{"val/mean/roc_auc", "test/mean/roc_auc", "test/mean/ap", "test/mean_top20/roc_auc", "test/images"} {
			if _, ok := run.Metrics[key]; !ok {
				t.Errorf("run %d lacks final metric %s (has %v)", run.ID, key, run.Metrics)
			}
		}
		// Same spec, same seed, same data: the same figures, exactly.
		for k, v := range run.Metrics {
			if again[i].Metrics[k] != v {
				t.Errorf("metric %s: %v then %v", k, v, again[i].Metrics[k])
			}
		}
		if run.Dataset == "" || run.Dataset != again[i].Dataset {
			t.Errorf("dataset fingerprints %q and %q", run.Dataset, again[i].Dataset)
		}
		arts, err := e.Store.Artifacts(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]*experiments.Artifact{}
		for _, a := range arts {
			names[a.Name] = a
		}
		if a := names["scores.csv"]; a == nil || a.Size == 0 || len(a.SHA256) != 64 {
			t.Errorf("run %d: scores.csv artifact = %+v", run.ID, a)
		}
		if names["checkpoint.bin"] == nil {
			t.Errorf("run %d: no checkpoint artifact", run.ID)
		}
		val, err := e.Store.Metrics(ctx, run.ID, "val/mean/roc_auc")
		if err != nil || len(val) != 2 {
			t.Errorf("run %d: validation ROC-AUC per epoch = %v, %v; want 2 points", run.ID, val, err)
		}
	}
}

// The pixel baseline finds easy synthetic anomalies well above chance
// (measured 0.72 and 0.80 test ROC-AUC for these two split seeds).
func TestPixelGaussBeatsChanceOnEasyData(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	id := testenv.Submit(t, m, `
experiments:
  easy:
    dataset:
      synthetic: {patients: 160, size: 128, seed: 5, difficulty: easy}
    image_size: 64
    epochs: 1
    models: [{name: pixelgauss, topk: [100]}]
    preprocessing: [full]
    seeds: [42, 4242]
`)
	for _, run := range e.WaitAll(t, id, 2*time.Minute) {
		if run.State != experiments.StateSucceeded {
			t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
		}
		if auc := run.Metrics["test/mean_top100/roc_auc"]; auc < 0.65 {
			t.Errorf("run %d (seed %d): test ROC-AUC %.3f; pixelgauss should clearly beat chance on easy data", run.ID, run.Seed, auc)
		}
		if _, ok := run.Metrics["test/pixel_roc_auc"]; !ok {
			t.Errorf("run %d: no pixel-level ROC-AUC on synthetic data with masks: %v", run.ID, run.Metrics)
		}
		// Pixel metrics cover every test image (eval.PixelStream), not a budget's worth.
		if n, all := run.Metrics["test/pixel_images"], run.Metrics["test/images"]; n != all || n == 0 {
			t.Errorf("run %d: pixel metrics over %v of %v test images", run.ID, n, all)
		}
		if _, ok := run.Metrics["test/pixel_aupro"]; !ok {
			t.Errorf("run %d: no AUPRO: %v", run.ID, run.Metrics)
		}
	}
}

// validate_every scores the validation images every N epochs and after
// the last: epochs 2 and 3 of three with N = 2.
func TestValidateEvery(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	id := testenv.Submit(t, m, `
experiments:
  sparse:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 3
    batch_size: 8
    validate_every: 2
    models: [{name: pixelgauss, topk: [20]}]
    seeds: [42]
`)
	for _, run := range e.WaitAll(t, id, time.Minute) {
		if run.State != experiments.StateSucceeded {
			t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
		}
		val, err := e.Store.Metrics(context.Background(), run.ID, "val/mean/roc_auc")
		if err != nil {
			t.Fatal(err)
		}
		var epochs []int
		for _, p := range val {
			epochs = append(epochs, p.Epoch)
		}
		if len(epochs) != 2 || epochs[0] != 2 || epochs[1] != 3 {
			t.Errorf("validation ROC-AUC at epochs %v, want [2 3]", epochs)
		}
	}
}
