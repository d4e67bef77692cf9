package local

import (
	"context"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"xraylab/experiments"
	"xraylab/nets"
)

// fakeSink holds one run's metric points; the rest of RunSink is a no-op.
type fakeSink struct{ points []experiments.MetricPoint }

func (f *fakeSink) SetDataset(context.Context, int64, experiments.DatasetRecord) error { return nil }
func (f *fakeSink) AppendMetrics(_ context.Context, _ int64, p []experiments.MetricPoint) error {
	f.points = append(f.points, p...)
	return nil
}
func (f *fakeSink) DeleteMetricsAfter(context.Context, int64, int) error             { return nil }
func (f *fakeSink) SetFinalMetrics(context.Context, int64, map[string]float64) error { return nil }
func (f *fakeSink) AddArtifact(context.Context, *experiments.Artifact) error         { return nil }
func (f *fakeSink) Metrics(_ context.Context, _ int64, key string) ([]experiments.MetricPoint, error) {
	var out []experiments.MetricPoint
	for _, p := range f.points {
		if p.Key == key {
			out = append(out, p)
		}
	}
	return out, nil
}

type nopHub struct{}

func (nopHub) Publish(experiments.Event) {}

// A resumed best_val run competes against the best epoch it kept, and
// forgets a best checkpoint from epochs it has to train again.
func TestResumeBest(t *testing.T) {
	sink := &fakeSink{}
	x := NewExecutor(sink, nopHub{}, Options{ArtifactsDir: t.TempDir()})
	run := &experiments.Run{ID: 3}
	spec := experiments.RunSpec{Model: experiments.ModelSpec{Name: "pixelgauss", CheckpointSelect: experiments.SelectBestVal, SelectScore: "mean"}}
	if err := os.MkdirAll(x.RunDir(run.ID), 0o755); err != nil {
		t.Fatal(err)
	}
	model, err := nets.New("pixelgauss", nets.Config{Size: 16, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := x.resumeBest(ctx, run, spec, 1)
	if err != nil || b.epoch != 0 || !math.IsInf(b.auc, -1) {
		t.Fatalf("fresh run: %+v, %v", b, err)
	}
	for epoch, auc := range []float64{0.6, 0.7, 0.65} {
		val := map[string]float64{b.key: auc}
		if err := x.offer(ctx, b, run, spec, model, epoch+1, val); err != nil {
			t.Fatal(err)
		}
		sink.AppendMetrics(ctx, run.ID, []experiments.MetricPoint{{Key: b.key, Epoch: epoch + 1, Value: auc}})
	}
	if b.epoch != 2 || b.auc != 0.7 {
		t.Fatalf("best after 3 epochs = %+v, want epoch 2", b)
	}
	path := filepath.Join(x.RunDir(run.ID), BestCheckpointName)
	if h, _, err := ReadCheckpoint(path); err != nil || h.Epoch != 2 {
		t.Fatalf("best checkpoint %+v, %v", h, err)
	}
	// Resuming after epoch 3: epoch 2 stays the one to beat.
	if r, err := x.resumeBest(ctx, run, spec, 4); err != nil || r.epoch != 2 || r.auc != 0.7 {
		t.Errorf("resume at 4: %+v, %v", r, err)
	}
	// Resuming after epoch 1: epoch 2 is trained again, its file goes.
	if r, err := x.resumeBest(ctx, run, spec, 2); err != nil || r.epoch != 0 || !math.IsInf(r.auc, -1) {
		t.Errorf("resume at 2: %+v, %v", r, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("stale best checkpoint kept: %v", err)
	}
}
