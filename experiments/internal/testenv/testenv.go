// Package testenv is the test bench of the experiments packages: a real
// registry store, hub and local executor in a temporary folder, with
// synthetic data generated once per test binary, and helpers to submit
// and wait for runs. Only tests import it.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/local"
	"xraylab/registry"
)

// Env is a real store, hub and local executor in a temporary folder, with
// synthetic data shared by all tests of the package (generated once).
type Env struct {
	Store *registry.Store
	Hub   *experiments.Hub
	Exec  *local.Executor
	Dir   string
	Steps *atomic.Int64 // training steps the executor reported (Options.OnStep)
}

// sharedData holds the synthetic datasets of this test binary: generated
// once, reused by every test, removed at the end.
var sharedData string

// Main runs a test binary's tests (call it from TestMain) with a fresh
// shared data folder, removed at the end.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "xraylab-experiments-test-")
	if err != nil {
		panic(err)
	}
	sharedData = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// New builds an Env in a temporary folder of t.
func New(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hub := experiments.NewHub(1024)
	steps := &atomic.Int64{}
	exec := local.NewExecutor(store, hub, local.Options{
		DataDir: sharedData, ArtifactsDir: filepath.Join(dir, "artifacts"), CacheDir: filepath.Join(dir, "cache"),
		OnStep: func(time.Duration) { steps.Add(1) },
		Runs:   store,
	})
	return &Env{Store: store, Hub: hub, Exec: exec, Dir: dir, Steps: steps}
}

// Runner is a runner of workers CPU workers over the Env.
func (e *Env) Runner(workers int) *experiments.Runner {
	devices := make([]string, workers)
	for i := range devices {
		devices[i] = "cpu"
	}
	return experiments.NewRunner(e.Store, e.Hub, e.Exec, experiments.RunnerOptions{Devices: devices, Poll: 50 * time.Millisecond})
}

// Serve starts a pool of workers for the test's lifetime and returns a
// manager that wakes it; the pool stops when the test ends.
func (e *Env) Serve(t *testing.T, workers int) *experiments.Manager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := e.Runner(workers)
	r.Start(ctx)
	t.Cleanup(func() {
		cancel()
		r.Wait()
	})
	return experiments.NewManager(e.Store, e.Hub, r, "test")
}

// WaitAll waits until every run of the experiment is finished.
func (e *Env) WaitAll(t *testing.T, expID int64, timeout time.Duration) []*experiments.Run {
	t.Helper()
	// The race detector slows training several-fold; the bound is for
	// liveness, not speed.
	deadline := time.Now().Add(timeout * slowdown)
	for {
		runs, _, err := e.Store.ListRuns(context.Background(), experiments.RunFilter{ExperimentID: expID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, r := range runs {
			done = done && r.State.Terminal()
		}
		if done {
			return runs
		}
		if time.Now().After(deadline) {
			for _, r := range runs {
				t.Logf("run %d: %s %s", r.ID, r.State, r.Error)
			}
			t.Fatalf("runs of experiment %d not finished after %s", expID, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TinySpec is an experiment of two quick pixelgauss runs on easy synthetic
// data.
const TinySpec = `
experiments:
  tiny:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 2
    batch_size: 8
    models:
      - name: pixelgauss
        topk: [20]
    histogram_equalization: [false, true]
    seeds: [42]
`

// Submit submits spec to m and returns the one experiment's id.
func Submit(t *testing.T, m *experiments.Manager, spec string) int64 {
	t.Helper()
	exps, runs, err := m.Submit(context.Background(), []byte(spec), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 1 || len(runs[0]) == 0 {
		t.Fatalf("submitted %d experiments", len(exps))
	}
	return exps[0].ID
}
