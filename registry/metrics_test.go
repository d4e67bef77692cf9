package registry

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"xraylab/experiments"
)

func TestAppendMetricsReplacesDuplicates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "metrics", 2)
	id, other := runs[0].ID, runs[1].ID
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	// Epochs 0–2, two points each, for two keys.
	var batch []experiments.MetricPoint
	for step := 0; step < 6; step++ {
		batch = append(batch,
			experiments.MetricPoint{Key: "train/loss", Step: step, Epoch: step / 2, Value: 1 / float64(step+1), Time: at(step)},
			experiments.MetricPoint{Key: "val/loss", Step: step, Epoch: step / 2, Value: 2 / float64(step+1), Time: at(step)})
	}
	if err := s.AppendMetrics(ctx, id, batch); err != nil {
		t.Fatal(err)
	}
	// Another run's identical keys must stay separate.
	if err := s.AppendMetrics(ctx, other, batch[:2]); err != nil {
		t.Fatal(err)
	}

	// A resume rewrites steps 4 and 5 and adds 6: replaced, not doubled.
	resume := []experiments.MetricPoint{
		{Key: "train/loss", Step: 4, Epoch: 2, Value: 0.5, Time: at(100)},
		{Key: "train/loss", Step: 5, Epoch: 2, Value: 0.25, Time: at(101)},
		{Key: "train/loss", Step: 6, Epoch: 3, Value: 0.125, Time: at(102)},
		{Key: "train/loss", Step: 6, Epoch: 3, Value: 0.1, Time: at(103)}, // same batch: the later point wins
	}
	if err := s.AppendMetrics(ctx, id, resume); err != nil {
		t.Fatal(err)
	}

	got, err := s.Metrics(ctx, id, "train/loss")
	if err != nil {
		t.Fatal(err)
	}
	want := []experiments.MetricPoint{
		{Key: "train/loss", Step: 0, Epoch: 0, Value: 1, Time: at(0)},
		{Key: "train/loss", Step: 1, Epoch: 0, Value: 0.5, Time: at(1)},
		{Key: "train/loss", Step: 2, Epoch: 1, Value: 1.0 / 3, Time: at(2)},
		{Key: "train/loss", Step: 3, Epoch: 1, Value: 0.25, Time: at(3)},
		{Key: "train/loss", Step: 4, Epoch: 2, Value: 0.5, Time: at(100)},
		{Key: "train/loss", Step: 5, Epoch: 2, Value: 0.25, Time: at(101)},
		{Key: "train/loss", Step: 6, Epoch: 3, Value: 0.1, Time: at(103)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("train/loss\n got %+v\nwant %+v", got, want)
	}

	all, err := s.Metrics(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 13 || all[0].Key != "train/loss" || all[7].Key != "val/loss" || all[12].Step != 5 {
		t.Errorf("all keys: %d points, %+v", len(all), all)
	}
	if pts, _ := s.Metrics(ctx, other, ""); len(pts) != 2 {
		t.Errorf("other run has %d points, want 2", len(pts))
	}
	if pts, err := s.Metrics(ctx, id, "no/such/key"); err != nil || pts == nil || len(pts) != 0 {
		t.Errorf("unknown key: %v, %v (want an empty, non-nil slice)", pts, err)
	}

	// Resuming from the checkpoint of epoch 1 drops epochs 2 and 3 of this
	// run only.
	if err := s.DeleteMetricsAfter(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Metrics(ctx, id, "train/loss")
	if !reflect.DeepEqual(got, want[:4]) {
		t.Errorf("after DeleteMetricsAfter(1)\n got %+v\nwant %+v", got, want[:4])
	}
	if v, _ := s.Metrics(ctx, id, "val/loss"); len(v) != 4 {
		t.Errorf("val/loss has %d points after the delete, want 4", len(v))
	}
	if pts, _ := s.Metrics(ctx, other, ""); len(pts) != 2 {
		t.Errorf("delete touched another run: %d points", len(pts))
	}
	if err := s.DeleteMetricsAfter(ctx, id, -1); err != nil {
		t.Fatal(err)
	}
	if pts, _ := s.Metrics(ctx, id, ""); len(pts) != 0 {
		t.Errorf("DeleteMetricsAfter(-1) left %d points", len(pts))
	}
}

func TestMetricValuesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "values", 1)
	id := runs[0].ID
	values := []float64{0, math.Copysign(0, -1), 1.0 / 3, math.Pi, -1e-300, 5e-324, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	pts := make([]experiments.MetricPoint, len(values))
	for i, v := range values {
		pts[i] = experiments.MetricPoint{Key: "v", Step: i, Value: v} // zero Time: stored as none
	}
	if err := s.AppendMetrics(ctx, id, pts); err != nil {
		t.Fatal(err)
	}
	got, err := s.Metrics(ctx, id, "v")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		same := p.Value == values[i] || math.IsNaN(p.Value) && math.IsNaN(values[i])
		if !same || !p.Time.IsZero() {
			t.Errorf("point %d: %v at %v, want %v with no time", i, p.Value, p.Time, values[i])
		}
	}

	final := map[string]float64{"test/recon/roc_auc": 0.123456789012345678, "loss": math.Inf(1), "undefined": math.NaN()}
	if err := s.SetFinalMetrics(ctx, id, final); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Metrics) != 3 || r.Metrics["test/recon/roc_auc"] != final["test/recon/roc_auc"] ||
		!math.IsInf(r.Metrics["loss"], 1) || !math.IsNaN(r.Metrics["undefined"]) {
		t.Errorf("final metrics: %v", r.Metrics)
	}
}

func TestSetFinalMetricsReplaces(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "final", 1)
	id := runs[0].ID
	for _, tc := range []struct {
		set  map[string]float64
		want map[string]float64
	}{
		{map[string]float64{"a": 1, "b": 2}, map[string]float64{"a": 1, "b": 2}},
		{map[string]float64{"b": 3, "c": 4}, map[string]float64{"b": 3, "c": 4}}, // "a" is gone
		{map[string]float64{}, nil},
	} {
		if err := s.SetFinalMetrics(ctx, id, tc.set); err != nil {
			t.Fatal(err)
		}
		r, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Metrics, tc.want) {
			t.Errorf("after setting %v: %v", tc.set, r.Metrics)
		}
	}
}

func TestMetricsRejects(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "bad", 1)
	id := runs[0].ID
	for _, tc := range []struct {
		name string
		pts  []experiments.MetricPoint
		want string
	}{
		{"empty key", []experiments.MetricPoint{{Key: "a"}, {Key: ""}}, "run 1: metric point 1 has an empty key"},
		{"negative step", []experiments.MetricPoint{{Key: "a", Step: -1}}, `run 1: metric "a" point 0: step and epoch must not be negative (got -1, 0)`},
		{"negative epoch", []experiments.MetricPoint{{Key: "a", Epoch: -2}}, `run 1: metric "a" point 0: step and epoch must not be negative (got 0, -2)`},
		{"time out of range", []experiments.MetricPoint{{Key: "a", Step: 3, Time: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}},
			`run 1: metric "a" step 3: time 1500-01-01T00:00:00Z is outside the storable range 1677–2262`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.AppendMetrics(ctx, id, tc.pts), experiments.CodeInvalid, tc.want)
		})
	}
	wantErr(t, s.SetFinalMetrics(ctx, id, map[string]float64{"": 1}), experiments.CodeInvalid, "run 1: final metric with an empty key")
	// A refused batch writes nothing, not even its valid points.
	if pts, _ := s.Metrics(ctx, id, ""); len(pts) != 0 {
		t.Errorf("%d points stored from refused batches", len(pts))
	}
}
