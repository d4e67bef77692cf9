// The engine: one process's store, hub, executor, runner and manager.

package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/local"
	"xraylab/registry"
)

// varPaths are the files a server keeps under its var folder.
type varPaths struct{ root, db, artifacts, data, cache string }

func paths(root string) varPaths {
	return varPaths{root: root, db: filepath.Join(root, "xraylab.db"), artifacts: filepath.Join(root, "artifacts"),
		data: filepath.Join(root, "data"), cache: filepath.Join(root, "cache")}
}

// engine is the store, hub, executor, runner and manager of one process.
type engine struct {
	store   *registry.Store
	hub     *experiments.Hub
	exec    experiments.Executor
	local   *local.Executor // executes ensemble runs whatever exec is
	runner  *experiments.Runner
	manager *experiments.Manager
	// onStep, when set before the workers start, hears how long each local
	// training step took (serve's metrics).
	onStep func(time.Duration)
}

// newEngine opens the var folder's store and builds the engine; runs read
// MURA data only under dataRoots when any are given.
func newEngine(p varPaths, log *slog.Logger, dataRoots ...string) (*engine, error) {
	store, err := registry.Open(p.db)
	if err != nil {
		return nil, err
	}
	hub := experiments.NewHub(256)
	e := &engine{store: store, hub: hub, manager: experiments.NewManager(store, hub, nil, experiments.BinaryVersion())}
	e.local = local.NewExecutor(store, hub, local.Options{
		DataDir: p.data, ArtifactsDir: p.artifacts, CacheDir: p.cache, DataRoots: dataRoots, Logger: log, Runs: store,
		OnStep: func(d time.Duration) {
			if e.onStep != nil {
				e.onStep(d)
			}
		},
	})
	e.exec = e.local
	return e, nil
}

// withWorkers builds the worker pool (leasing only the given experiments'
// runs when only is not empty) and hands it to the manager.
func (e *engine) withWorkers(workers int, only []int64, log *slog.Logger) {
	devices := make([]string, workers)
	for i := range devices {
		devices[i] = "cpu"
	}
	e.runner = experiments.NewRunner(e.store, e.hub, e.exec, experiments.RunnerOptions{Devices: devices, Experiments: only, Ensembles: e.local, Logger: log})
	e.manager = experiments.NewManager(e.store, e.hub, e.runner, experiments.BinaryVersion())
}

// openVar opens the database of an existing var folder.
func openVar(varDir string) (*registry.Store, varPaths, error) {
	p := paths(varDir)
	if _, err := os.Stat(p.db); err != nil {
		return nil, p, fmt.Errorf("no database at %s (use --var to point at the server's var folder)", p.db)
	}
	store, err := registry.Open(p.db)
	return store, p, err
}
