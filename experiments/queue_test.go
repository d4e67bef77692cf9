package experiments_test

import (
	"context"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
)

// A run cancelled mid-training and retried is the same run: it resumes
// from its checkpoint, ends with two attempts, the cancellation in its
// history, every metric point once and the figures of an uninterrupted
// run; the local executor reports its training steps on the way.
func TestRetryCancelledRunResumes(t *testing.T) {
	e := testenv.New(t)
	events, unsub := e.Hub.Subscribe()
	defer unsub()
	m := e.Serve(t, 1)
	ctx := context.Background()
	id := testenv.Submit(t, m, slowSpec)
	runID := waitEpoch(t, events, 1)
	if _, err := m.Cancel(ctx, runID); err != nil {
		t.Fatal(err)
	}
	if e.Steps.Load() == 0 {
		t.Error("the executor reported no training step")
	}
	if _, err := m.Retry(ctx, 999); experiments.CodeOf(err) != experiments.CodeNotFound {
		t.Errorf("retry of a missing run: %v", err)
	}
	run, err := m.Retry(ctx, runID)
	if err != nil || run.ID != runID || (run.State != experiments.StateQueued && run.State != experiments.StateRunning) { // a worker may lease it at once
		t.Fatalf("retry: %+v, %v", run, err)
	}
	retried := e.WaitAll(t, id, 2*time.Minute)
	if len(retried) != 1 || retried[0].State != experiments.StateSucceeded || retried[0].Attempts != 2 {
		t.Fatalf("retried run: %+v", retried[0])
	}
	hist, err := m.Attempts(ctx, runID)
	if err != nil || len(hist) != 1 || hist[0].State != experiments.StateCancelled || hist[0].Error != "cancelled by user" || hist[0].Attempt != 1 {
		t.Fatalf("attempts: %+v, %v", hist, err)
	}
	if _, err := m.Retry(ctx, runID); experiments.CodeOf(err) != experiments.CodeConflict {
		t.Errorf("retry of a succeeded run: %v", err)
	}

	clean := e.WaitAll(t, testenv.Submit(t, m, slowSpec), 2*time.Minute)[0]
	a, _ := e.Store.Metrics(ctx, runID, "")
	b, _ := e.Store.Metrics(ctx, clean.ID, "")
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("retried run has %d metric points, uninterrupted %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Step != b[i].Step || a[i].Value != b[i].Value {
			t.Errorf("point %d: retried %s@%d=%v, uninterrupted %s@%d=%v", i, a[i].Key, a[i].Step, a[i].Value, b[i].Key, b[i].Step, b[i].Value)
		}
	}
	for k, v := range clean.Metrics {
		if retried[0].Metrics[k] != v {
			t.Errorf("final %s: retried %v, uninterrupted %v", k, retried[0].Metrics[k], v)
		}
	}
}

// A paused queue leases nothing; resuming wakes the workers.
func TestPauseHoldsRuns(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	ctx := context.Background()
	if err := m.SetPaused(ctx, true); err != nil {
		t.Fatal(err)
	}
	id := testenv.Submit(t, m, testenv.TinySpec)
	time.Sleep(300 * time.Millisecond) // several polls of the runner
	paused, queued, total, err := m.Queue(ctx, 0, 0)
	if err != nil || !paused || total != 2 || len(queued) != 2 {
		t.Fatalf("queue while paused: paused %v, %d runs, %v", paused, total, err)
	}
	if err := m.SetPaused(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.WaitAll(t, id, time.Minute) {
		if r.State != experiments.StateSucceeded {
			t.Errorf("run %d: %s %s", r.ID, r.State, r.Error)
		}
	}
}
