package slurm_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/slurm"
	"xraylab/registry"
)

// RunWorker, in this process, plays the node for a server whose slurm
// backend submits to the fake cluster: the runs end as they do locally.
func TestWorkerRunsRunsForTheServer(t *testing.T) {
	// The local reference.
	local := testenv.New(t)
	lctx, lcancel := context.WithCancel(context.Background())
	lr := local.Runner(1)
	lr.Start(lctx)
	want := local.WaitAll(t, testenv.Submit(t, experiments.NewManager(local.Store, local.Hub, lr, "test"), testenv.TinySpec), time.Minute)
	lcancel()
	lr.Wait()

	dir := t.TempDir()
	c := newFakeCluster(t, dir, slurm.Options{})
	store, fake, url, mgr, runner := c.store, c.fake, c.url, c.mgr, c.runner
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); runner.Wait() }()
	runner.Start(ctx)

	expID := testenv.Submit(t, mgr, testenv.TinySpec)
	nodeVar := filepath.Join(dir, "node")
	for i := range want {
		job := strconv.Itoa(101 + i)
		var runID int64
		waitUntil(t, "job "+job, func() bool {
			runs, _, _ := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: expID})
			for _, r := range runs {
				if j, _ := store.Job(ctx, r.ID); j.JobID == job {
					runID = r.ID
					return true
				}
			}
			return false
		})
		script, _ := os.ReadFile(filepath.Join(fake, job+".script"))
		_, rest, _ := strings.Cut(string(script), "<<'XRAYLAB_TOKEN'\n")
		token, _, _ := strings.Cut(rest, "\n")
		os.WriteFile(filepath.Join(fake, job+".state"), []byte("RUNNING|None|node1\n"), 0o644)
		if err := slurm.RunWorker(ctx, slurm.WorkerOptions{Server: url, RunID: runID, Token: token, VarDir: nodeVar}); err != nil {
			t.Fatalf("worker of run %d: %v", runID, err)
		}
		os.WriteFile(filepath.Join(fake, job+".state"), []byte("COMPLETED|None|node1\n"), 0o644)
	}
	got := waitAllOf(t, store, expID)
	for i, r := range got {
		if r.State != experiments.StateSucceeded || len(r.Metrics) != len(want[i].Metrics) {
			t.Fatalf("run %d: %s %q, %d metrics (local %d)", r.ID, r.State, r.Error, len(r.Metrics), len(want[i].Metrics))
		}
		for k, v := range want[i].Metrics {
			if r.Metrics[k] != v {
				t.Errorf("run %d %s = %v via the worker, %v locally", r.ID, k, r.Metrics[k], v)
			}
		}
		if d, err := store.Dataset(ctx, r.ID); err != nil || d.Fingerprint != want[i].Dataset {
			t.Errorf("run %d dataset %v %v, local %s", r.ID, d, err, want[i].Dataset)
		}
	}
}

// waitAllOf waits until every run of the experiment in store is finished.
func waitAllOf(t *testing.T, store *registry.Store, expID int64) []*experiments.Run {
	t.Helper()
	var runs []*experiments.Run
	waitUntil(t, "the runs finish", func() bool {
		runs, _, _ = store.ListRuns(context.Background(), experiments.RunFilter{ExperimentID: expID})
		for _, r := range runs {
			if !r.State.Terminal() {
				return false
			}
		}
		return len(runs) > 0
	})
	return runs
}
