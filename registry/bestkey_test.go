package registry

import (
	"context"
	"testing"

	"xraylab/experiments"
	"xraylab/experiments/eval"
)

// bestSQL reads key texts: over every key form eval.Key writes, the best
// figure is the highest image-level test ROC-AUC as eval.Parse reads it.
func TestBestFigureMatchesEvalKeys(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e, runs := mustCreate(t, s, "keys", 1)
	final := map[string]float64{
		"test/mse/roc_auc":                 0.5,
		"test/topk_frac_0.01/roc_auc":      0.6,
		"test/mse/ap":                      0.9,
		"test/mse/std":                     0.9,
		"test/mse/study_mean/roc_auc":      0.9,
		"test/mse/study_max/roc_auc":       0.9,
		"test/pixel_roc_auc":               0.9,
		"test/pixel_aupro":                 0.9,
		"test/residual/pixel_roc_auc":      0.9,
		"test/images":                      100,
		"test/pixel_images":                100,
		"val/mse/roc_auc":                  0.9,
		"val/topk_frac_0.01/roc_auc":       0.9,
		"val/mse/study_max/roc_auc":        0.9,
		"val/pixel_aupro":                  0.9,
		"test/topk_frac_0.01/study_max/ap": 0.9,
	}
	wantKey, wantValue := "", -1.0
	for k, v := range final {
		key, err := eval.Parse(k)
		if err != nil {
			t.Fatal(err)
		}
		if key.Split == eval.SplitTest && key.Image() && key.Metric == eval.MetricROCAUC && v > wantValue {
			wantKey, wantValue = k, v
		}
	}
	if _, err := s.LeaseRun(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFinalMetrics(ctx, runs[0].ID, final); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, runs[0].ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Best == nil || got.Best.Key != wantKey || got.Best.Value != wantValue {
		t.Errorf("best = %+v, want %s = %v", got.Best, wantKey, wantValue)
	}
}
