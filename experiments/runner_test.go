package experiments_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A run whose data cannot be loaded fails with the reason and does not
// stop the other runs.
func TestFailingRunDoesNotStopOthers(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	bad := testenv.Submit(t, m, `
experiments:
  missing:
    dataset: {mura: {root: /nonexistent/MURA-v1.1}}
    image_size: 32
    epochs: 1
    models: [{name: pixelgauss}]
`)
	good := testenv.Submit(t, m, testenv.TinySpec)
	runs := e.WaitAll(t, bad, time.Minute)
	if runs[0].State != experiments.StateFailed || !strings.Contains(runs[0].Error, "/nonexistent/MURA-v1.1") {
		t.Errorf("bad run: %s %q", runs[0].State, runs[0].Error)
	}
	for _, run := range e.WaitAll(t, good, time.Minute) {
		if run.State != experiments.StateSucceeded {
			t.Errorf("good run %d: %s %s", run.ID, run.State, run.Error)
		}
	}
}

func TestCancel(t *testing.T) {
	e := testenv.New(t)
	m := experiments.NewManager(e.Store, e.Hub, nil, "test")
	ctx := context.Background()
	id := testenv.Submit(t, m, testenv.TinySpec)
	runs, _, _ := e.Store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
	got, err := m.Cancel(ctx, runs[0].ID)
	if err != nil || got.State != experiments.StateCancelled {
		t.Fatalf("cancel queued: %v %v", got, err)
	}
	_, err = m.Cancel(ctx, runs[0].ID)
	if experiments.CodeOf(err) != experiments.CodeConflict || err.Error() != "run "+itoa(runs[0].ID)+" is already cancelled" {
		t.Errorf("cancel twice: %v", err)
	}
	if _, err := m.Cancel(ctx, 999); experiments.CodeOf(err) != experiments.CodeNotFound {
		t.Errorf("cancel missing: %v", err)
	}
}

// Cancelling a running run stops it at its next batch.
func TestCancelRunning(t *testing.T) {
	e := testenv.New(t)
	events, unsub := e.Hub.Subscribe()
	defer unsub()
	m := e.Serve(t, 1)
	ctx := context.Background()
	id := testenv.Submit(t, m, strings.Replace(slowSpec, "epochs: 4", "epochs: 50", 1))
	runID := waitEpoch(t, events, 1)
	run, err := m.Cancel(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != experiments.StateCancelled || run.Error != "cancelled by user" {
		t.Errorf("after cancel: %s %q", run.State, run.Error)
	}
	e.WaitAll(t, id, time.Minute)
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// slowSpec trains a small CAE for several epochs with a checkpoint each.
const slowSpec = `
experiments:
  slow:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 4
    batch_size: 8
    checkpoint_every: 1
    models:
      - name: cae
        topk: [20]
        params: {width: 0.125}
    seeds: [7]
`

// waitEpoch waits for the first progress event that ends epoch n and
// returns its run.
func waitEpoch(t *testing.T, events <-chan experiments.Event, n int) int64 {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev := <-events:
			if ev.Type == "progress" && ev.Epoch == n && ev.Batch == ev.Batches && ev.Batches > 0 {
				return ev.RunID
			}
		case <-timeout:
			t.Fatalf("no progress event for epoch %d", n)
		}
	}
}

// A worker that dies mid-run leaves its run "running"; at the next start
// the run is requeued, resumes from its last checkpoint and ends with
// every metric point exactly once and the same figures as a run that was
// never interrupted.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	e := testenv.New(t)
	events, unsub := e.Hub.Subscribe()
	defer unsub()
	ctx, die := context.WithCancel(context.Background())
	r := e.Runner(1)
	m := experiments.NewManager(e.Store, e.Hub, r, "test")
	r.Start(ctx)
	id := testenv.Submit(t, m, slowSpec)
	runID := waitEpoch(t, events, 1)
	die() // the process "dies": the run is left running
	r.Wait()
	run, err := e.Store.GetRun(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != experiments.StateRunning {
		t.Fatalf("after the worker died the run is %s, want running (it finished too fast to test a restart)", run.State)
	}

	ctx2, stop := context.WithCancel(context.Background())
	defer stop()
	r2 := e.Runner(1)
	if err := r2.Recover(ctx2); err != nil {
		t.Fatal(err)
	}
	r2.Start(ctx2)
	defer r2.Wait()
	defer stop()
	resumed := e.WaitAll(t, id, 2*time.Minute)[0]
	if resumed.State != experiments.StateSucceeded || resumed.Attempts != 2 {
		t.Fatalf("resumed run: %s, attempts %d, %s", resumed.State, resumed.Attempts, resumed.Error)
	}

	// The same spec run without interruption.
	ctx3, stop3 := context.WithCancel(context.Background())
	defer stop3()
	r3 := e.Runner(1)
	m3 := experiments.NewManager(e.Store, e.Hub, r3, "test")
	r3.Start(ctx3)
	defer r3.Wait()
	defer stop3()
	clean := e.WaitAll(t, testenv.Submit(t, m3, slowSpec), 2*time.Minute)[0]

	a, _ := e.Store.Metrics(context.Background(), resumed.ID, "")
	b, _ := e.Store.Metrics(context.Background(), clean.ID, "")
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("resumed run has %d metric points, uninterrupted %d", len(a), len(b))
	}
	seen := map[string]bool{}
	for i := range a {
		k := a[i].Key + "@" + itoa(int64(a[i].Step))
		if seen[k] {
			t.Errorf("point %s doubled", k)
		}
		seen[k] = true
		if a[i].Key != b[i].Key || a[i].Step != b[i].Step || a[i].Value != b[i].Value {
			t.Errorf("point %d: resumed %s@%d=%v, uninterrupted %s@%d=%v", i, a[i].Key, a[i].Step, a[i].Value, b[i].Key, b[i].Step, b[i].Value)
		}
	}
	for k, v := range clean.Metrics {
		if resumed.Metrics[k] != v {
			t.Errorf("final %s: resumed %v, uninterrupted %v", k, resumed.Metrics[k], v)
		}
	}
}

// A server with data roots refuses specs whose MURA folder lies elsewhere,
// and queues nothing.
func TestSubmitChecksDataRoots(t *testing.T) {
	e := testenv.New(t)
	m := experiments.NewManager(e.Store, e.Hub, nil, "test")
	allowed := t.TempDir()
	m.SetDataRoots([]string{allowed})
	_, _, err := m.Submit(context.Background(), []byte(`
experiments:
  outside:
    dataset: {mura: {root: /etc}}
    models: [{name: pixelgauss}]
`), "")
	want := "experiment outside: dataset path /etc is outside the data roots this server allows (" + allowed + ")"
	if experiments.CodeOf(err) != experiments.CodeInvalid || err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, n, _ := e.Store.ListExperiments(context.Background(), "", 10, 0); n != 0 {
		t.Errorf("%d experiments recorded after a refused submission", n)
	}
	if _, _, err := m.Submit(context.Background(), []byte(testenv.TinySpec), ""); err != nil {
		t.Errorf("synthetic data needs no root: %v", err)
	}
}
