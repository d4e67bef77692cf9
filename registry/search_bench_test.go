package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"xraylab/experiments"
)

// BenchmarkSearchRuns runs the search queries of GET /api/runs?filter= over
// 10,000 runs (20 experiments of 500) with 50 final metrics each and a tag
// on one run in ten: each query counts its matches and reads a page of 50
// with metrics and tags, as the API does. It reports each query's p99 in
// milliseconds (target: under 50).
//
//	go test ./registry/ -run '^$' -bench SearchRuns -benchtime 200x
func BenchmarkSearchRuns(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	rng := rand.New(rand.NewSource(1))
	models := []string{"cae", "bae", "vae", "dcgan", "bigan", "alphagan", "pixelgauss"}
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("test/score%02d/roc_auc", i)
	}
	for e := 0; e < 20; e++ {
		exp := &experiments.Experiment{Name: fmt.Sprintf("exp-%02d", e), SpecText: "x", SpecHash: "h", Version: "v"}
		runs := make([]*experiments.Run, 500)
		for i := range runs {
			m := models[(e*500+i)%len(models)]
			spec := experiments.RunSpec{Experiment: exp.Name, ImageSize: 64 << (i % 3), Epochs: 10, BatchSize: 32, Preprocessing: "crop",
				Seed: int64(i), Model: experiments.ModelSpec{Name: m, Scores: []string{"recon"}, Augmentation: "none", Params: map[string]float64{"lr": 0.001}}}
			p, _ := json.Marshal(spec)
			runs[i] = &experiments.Run{Index: i, Model: m, Params: p, Seed: spec.Seed}
		}
		if err := s.CreateExperiment(ctx, exp, runs); err != nil {
			b.Fatal(err)
		}
		for i, r := range runs {
			fm := make(map[string]float64, len(keys))
			for _, k := range keys {
				fm[k] = rng.Float64()
			}
			if err := s.SetFinalMetrics(ctx, r.ID, fm); err != nil {
				b.Fatal(err)
			}
			if i%10 == 0 {
				if err := s.SetRunTags(ctx, r.ID, map[string]string{"stage": "final"}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	// As a long-lived server's would be: the planner's statistics fresh.
	if _, err := s.w.Exec("ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, q := range []struct{ name, filter, order string }{
		{"model", "model = 'cae'", ""},
		{"metric-range", "metrics.`test/score07/roc_auc` > 0.9", ""},
		{"tag", "tags.stage = 'final'", ""},
		{"model-and-metric", "model = 'cae' AND metrics.`test/score07/roc_auc` > 0.9", ""},
		{"tag-and-param", "tags.stage = 'final' AND params.image_size = 128", ""},
		{"order-by-metric", "", "metrics.`test/score07/roc_auc` DESC"},
		{"model-order-by-metric", "model = 'vae'", "metrics.`test/score07/roc_auc` DESC"},
	} {
		b.Run(q.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				list, total, err := s.ListRuns(ctx, experiments.RunFilter{Filter: q.filter, OrderBy: q.order, Limit: 50})
				times = append(times, time.Since(t0))
				if err != nil || total == 0 || len(list) == 0 {
					b.Fatalf("%d of %d, %v", len(list), total, err)
				}
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			at := func(q int) float64 { return float64(times[min(len(times)-1, len(times)*q/100)].Microseconds()) / 1000 }
			b.ReportMetric(at(50), "p50-ms")
			b.ReportMetric(at(99), "p99-ms")
		})
	}
}
