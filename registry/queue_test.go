package registry

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"xraylab/experiments"
)

// leaseOrderOf leases every run s will give and returns their IDs in order.
func leaseOrderOf(t *testing.T, s *Store, experimentIDs ...int64) []int64 {
	t.Helper()
	var ids []int64
	for {
		r, err := s.LeaseRun(context.Background(), "w", experimentIDs...)
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return ids
		}
		ids = append(ids, r.ID)
	}
}

func createWithPriority(t *testing.T, s *Store, name string, n, priority int) []*experiments.Run {
	t.Helper()
	e, runs := newExperiment(name, n)
	e.Priority = priority
	if err := s.CreateExperiment(context.Background(), e, runs); err != nil {
		t.Fatal(err)
	}
	return runs
}

func ids(runs []*experiments.Run) []int64 {
	out := make([]int64, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

// Highest effective priority first (a run's override beats its
// experiment's), ties by age; the queue listing shows the same order.
func TestLeaseOrderMixedPriorities(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	low := createWithPriority(t, s, "low", 2, -5)  // runs 1, 2
	grid := createWithPriority(t, s, "grid", 3, 0) // runs 3, 4, 5
	quick := createWithPriority(t, s, "quick", 2, 10)
	tie := createWithPriority(t, s, "tie", 1, 10) // ties with quick: older quick first
	if low[0].Priority != -5 || quick[1].Priority != 10 {
		t.Fatalf("created runs carry priorities %d, %d", low[0].Priority, quick[1].Priority)
	}
	// Run 5 overrides up to quick's level (and is older than quick's runs),
	// run 3 down below everything.
	five, minus := 10, -100
	if err := s.SetRunPriority(ctx, grid[2].ID, &five); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunPriority(ctx, grid[0].ID, &minus); err != nil {
		t.Fatal(err)
	}
	// Raising "low" moves its runs above the grid's remaining run 4.
	if err := s.SetExperimentPriority(ctx, low[0].ExperimentID, 3); err != nil {
		t.Fatal(err)
	}
	want := []int64{grid[2].ID, quick[0].ID, quick[1].ID, tie[0].ID, low[0].ID, low[1].ID, grid[1].ID, grid[0].ID}

	queued, total, err := s.QueuedRuns(ctx, 0, 0)
	if err != nil || total != 8 || !slices.Equal(ids(queued), want) {
		t.Fatalf("queue: %v (total %d, %v); want %v", ids(queued), total, err, want)
	}
	if queued[0].PriorityOverride == nil || *queued[0].PriorityOverride != 10 || queued[4].PriorityOverride != nil || queued[4].Priority != 3 {
		t.Errorf("priorities read back: %+v, %+v", queued[0], queued[4])
	}
	if page, _, _ := s.QueuedRuns(ctx, 2, 1); !slices.Equal(ids(page), want[1:3]) {
		t.Errorf("page of the queue: %v, want %v", ids(page), want[1:3])
	}
	// Clearing an override makes the run follow its experiment again.
	if err := s.SetRunPriority(ctx, grid[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	want = []int64{grid[2].ID, quick[0].ID, quick[1].ID, tie[0].ID, low[0].ID, low[1].ID, grid[0].ID, grid[1].ID}
	if queued, _, _ := s.QueuedRuns(ctx, 0, 0); !slices.Equal(ids(queued), want) {
		t.Errorf("queue after clearing an override: %v, want %v", ids(queued), want)
	}
	// An experiment filter keeps the order within the chosen experiments.
	if got := leaseOrderOf(t, s, grid[0].ExperimentID, low[0].ExperimentID); !slices.Equal(got, []int64{grid[2].ID, low[0].ID, low[1].ID, grid[0].ID, grid[1].ID}) {
		t.Errorf("filtered lease order %v", got)
	}
	if got := leaseOrderOf(t, s); !slices.Equal(got, []int64{quick[0].ID, quick[1].ID, tie[0].ID}) {
		t.Errorf("lease order %v", got)
	}
}

// Move to top puts a run above every queued one, even ones above the
// settable range, and is a no-op for the run already on top.
func TestMoveRunToTop(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a := createWithPriority(t, s, "a", 2, experiments.MaxPriority)
	b := createWithPriority(t, s, "b", 2, experiments.MinPriority)
	if err := s.MoveRunToTop(ctx, b[1].ID); err != nil {
		t.Fatal(err)
	}
	r, _ := s.GetRun(ctx, b[1].ID)
	if r.Priority != experiments.MaxPriority+1 || r.PriorityOverride == nil || *r.PriorityOverride != experiments.MaxPriority+1 {
		t.Fatalf("moved run: priority %d override %v", r.Priority, r.PriorityOverride)
	}
	if err := s.MoveRunToTop(ctx, b[1].ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRun(ctx, b[1].ID); r.Priority != experiments.MaxPriority+1 {
		t.Errorf("moving the top run again changed its priority to %d", r.Priority)
	}
	if got := leaseOrderOf(t, s); !slices.Equal(got, []int64{b[1].ID, a[0].ID, a[1].ID, b[0].ID}) {
		t.Errorf("lease order %v", got)
	}
	wantErr(t, s.MoveRunToTop(ctx, a[0].ID), experiments.CodeConflict, "run 1 is running, not queued: cannot move it to the top")
	wantErr(t, s.MoveRunToTop(ctx, 99), experiments.CodeNotFound, "run 99 not found")
	wantErr(t, s.SetRunPriority(ctx, a[0].ID, nil), experiments.CodeConflict, "run 1 is running, not queued: cannot set its priority")
	wantErr(t, s.SetExperimentPriority(ctx, 99, 1), experiments.CodeNotFound, "experiment 99 not found")
}

// A pause is stored: it holds across a reopen of the database, and
// leasing resumes only when the queue is resumed.
func TestPauseAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, runs := mustCreate(t, s, "e", 2)
	running, _ := s.LeaseRun(ctx, "w")
	if err := s.SetQueuePaused(ctx, true); err != nil {
		t.Fatal(err)
	}
	if r, err := s.LeaseRun(ctx, "w"); r != nil || err != nil {
		t.Fatalf("lease while paused: %+v, %v", r, err)
	}
	// A run leased before the pause still finishes.
	if err := s.FinishRun(ctx, running.ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if paused, err := s.QueuePaused(ctx); !paused || err != nil {
		t.Fatalf("after reopen: paused %v, %v", paused, err)
	}
	if r, err := s.LeaseRun(ctx, "w"); r != nil || err != nil {
		t.Fatalf("lease while paused after reopen: %+v, %v", r, err)
	}
	if err := s.SetQueuePaused(ctx, false); err != nil {
		t.Fatal(err)
	}
	if paused, _ := s.QueuePaused(ctx); paused {
		t.Fatal("still paused after resume")
	}
	if r, err := s.LeaseRun(ctx, "w"); err != nil || r == nil || r.ID != runs[1].ID {
		t.Fatalf("lease after resume: %+v, %v", r, err)
	}
}

// A retried failed run is the same row, queued again, with its last
// attempt in its history; after its second execution the experiment still
// counts one run, with two attempts.
func TestRetryFailedRun(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	e, runs := mustCreate(t, s, "e", 1)
	id := runs[0].ID
	first, _ := s.LeaseRun(ctx, "w1")
	if err := s.SetFinalMetrics(ctx, id, map[string]float64{"train/loss": 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, id, experiments.StateFailed, "out of memory"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	r, _ := s.GetRun(ctx, id)
	if r.State != experiments.StateQueued || r.Error != "" || r.Worker != "" || r.Started != nil || r.Finished != nil ||
		r.Attempts != 1 || r.Seed != runs[0].Seed || string(r.Params) != string(runs[0].Params) || r.Metrics != nil {
		t.Fatalf("retried run: %+v", r)
	}
	hist, err := s.Attempts(ctx, id)
	if err != nil || len(hist) != 1 {
		t.Fatalf("attempts: %+v, %v", hist, err)
	}
	if h := hist[0]; h.Attempt != 1 || h.State != experiments.StateFailed || h.Error != "out of memory" || h.Worker != "w1" ||
		h.Started == nil || !h.Started.Equal(*first.Started) || h.Finished == nil {
		t.Errorf("attempt 1: %+v", h)
	}

	second, err := s.LeaseRun(ctx, "w2")
	if err != nil || second == nil || second.ID != id || second.Attempts != 2 {
		t.Fatalf("second lease: %+v, %v", second, err)
	}
	if err := s.FinishRun(ctx, id, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetExperiment(ctx, e.ID)
	if got.Runs != 1 || got.Counts[experiments.StateSucceeded] != 1 || got.Counts[experiments.StateFailed] != 0 {
		t.Errorf("experiment after retry: %d runs, counts %v", got.Runs, got.Counts)
	}
	all, total, _ := s.ListRuns(ctx, experiments.RunFilter{ExperimentID: e.ID})
	if total != 1 || len(all) != 1 || all[0].Attempts != 2 {
		t.Errorf("runs after retry: total %d, %+v", total, all)
	}
	// A cancelled run can be retried too; a succeeded one cannot.
	wantErr(t, s.RetryRun(ctx, id), experiments.CodeConflict, "run 1 is succeeded: only failed or cancelled runs can be retried")
	wantErr(t, s.RetryRun(ctx, 99), experiments.CodeNotFound, "run 99 not found")
	_, more := mustCreate(t, s, "f", 1)
	if err := s.CancelQueued(ctx, more[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryRun(ctx, more[0].ID); err != nil {
		t.Fatal(err)
	}
	if hist, _ := s.Attempts(ctx, more[0].ID); len(hist) != 1 || hist[0].Attempt != 0 || hist[0].State != experiments.StateCancelled {
		t.Errorf("attempts of a run cancelled while queued: %+v", hist)
	}
	if _, err := s.Attempts(ctx, 99); experiments.CodeOf(err) != experiments.CodeNotFound {
		t.Errorf("attempts of a missing run: %v", err)
	}
}

// Bulk cancel takes every queued run of the experiment and nothing else.
func TestCancelQueuedOf(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	e, runs := mustCreate(t, s, "e", 4)
	_, other := mustCreate(t, s, "other", 1)
	running, _ := s.LeaseRun(ctx, "w")
	putInState(t, s, runs[1].ID, experiments.StateSucceeded)
	got, err := s.CancelQueuedOf(ctx, e.ID)
	if err != nil || !slices.Equal(got, []int64{runs[2].ID, runs[3].ID}) {
		t.Fatalf("cancelled %v, %v", got, err)
	}
	for id, want := range map[int64]experiments.State{running.ID: experiments.StateRunning, runs[1].ID: experiments.StateSucceeded,
		runs[2].ID: experiments.StateCancelled, runs[3].ID: experiments.StateCancelled, other[0].ID: experiments.StateQueued} {
		if r, _ := s.GetRun(ctx, id); r.State != want {
			t.Errorf("run %d is %s, want %s", id, r.State, want)
		}
	}
	if got, err := s.CancelQueuedOf(ctx, e.ID); err != nil || len(got) != 0 {
		t.Errorf("second bulk cancel: %v, %v", got, err)
	}
	_, err = s.CancelQueuedOf(ctx, 99)
	wantErr(t, err, experiments.CodeNotFound, "experiment 99 not found")
}
