package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"xraylab/experiments"
)

// BenchmarkAppendMetrics writes batches of 100 points, as the runner does
// every few training steps, and reports points per second.
func BenchmarkAppendMetrics(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	_, runs := mustCreate(b, s, "bench", 1)
	const batch = 100
	pts := make([]experiments.MetricPoint, batch)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range pts {
			pts[j] = experiments.MetricPoint{Key: "train/loss", Step: step, Epoch: step / 1000, Value: float64(step), Time: t0.Add(time.Duration(step))}
			step++
		}
		if err := s.AppendMetrics(ctx, runs[0].ID, pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkListRuns reads one page of 50 from 10,000 runs (20 experiments
// of 500, states and models mixed, half with final metrics and a dataset
// record), the run list's worst realistic load.
func BenchmarkListRuns(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	var exps []*experiments.Experiment
	for i := 0; i < 20; i++ {
		e, runs := mustCreate(b, s, fmt.Sprintf("exp-%02d", i), 500, "cae", "bae", "vae", "dcgan", "bigan", "alphagan", "pixelgauss")
		exps = append(exps, e)
		for j, r := range runs {
			if j%2 == 0 {
				if err := s.SetFinalMetrics(ctx, r.ID, map[string]float64{"test/recon/roc_auc": 0.5 + float64(j)/2000, "test/recon/ap": 0.6}); err != nil {
					b.Fatal(err)
				}
				if err := s.SetDataset(ctx, r.ID, experiments.DatasetRecord{Fingerprint: "sha256:data"}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	// Finish 9,000 runs (succeeded), leave 500 running and 500 queued.
	for i := 0; i < 9500; i++ {
		r, err := s.LeaseRun(ctx, "w")
		if err != nil {
			b.Fatal(err)
		}
		if i < 9000 {
			if err := s.FinishRun(ctx, r.ID, experiments.StateSucceeded, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	mid := exps[10].ID
	for _, bc := range []struct {
		name string
		f    experiments.RunFilter
		want int
	}{
		{"experiment/first", experiments.RunFilter{ExperimentID: mid, Limit: 50}, 500},
		{"experiment/last", experiments.RunFilter{ExperimentID: mid, Limit: 50, Offset: 450}, 500},
		{"state=queued/first", experiments.RunFilter{State: experiments.StateQueued, Limit: 50}, 500},
		{"state=succeeded/last", experiments.RunFilter{State: experiments.StateSucceeded, Limit: 50, Offset: 8950}, 9000},
		{"all/first", experiments.RunFilter{Limit: 50}, 10000},
		{"all/last", experiments.RunFilter{Limit: 50, Offset: 9950}, 10000},
		{"experiment+model", experiments.RunFilter{ExperimentID: mid, Model: "vae", Limit: 50}, 72},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				list, total, err := s.ListRuns(ctx, bc.f)
				if err != nil {
					b.Fatal(err)
				}
				if total != bc.want || len(list) != 50 {
					b.Fatalf("%d runs of %d, want 50 of %d", len(list), total, bc.want)
				}
			}
		})
	}
	b.Run("experiments/page", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			list, total, err := s.ListExperiments(ctx, "", 20, 0)
			if err != nil || total != 20 || len(list) != 20 || list[0].Runs != 500 {
				b.Fatalf("%d of %d, %v", len(list), total, err)
			}
		}
	})
}
