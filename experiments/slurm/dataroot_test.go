package slurm_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/slurm"
	"xraylab/preprocess/synth"
	"xraylab/registry"
	"xraylab/server"
)

// The node reads the dataset through an os.Root on the server's data
// root, which the assignment carries: a dataset folder linked out of the
// root after submission fails the run on the node, with the loader's words,
// instead of being read.
func TestWorkerReadsDataThroughTheServersDataRoot(t *testing.T) {
	dir := t.TempDir()
	data, outside := filepath.Join(dir, "data"), filepath.Join(dir, "outside")
	if _, err := synth.Generate(context.Background(), synth.Options{Out: outside, Patients: 8, Size: 64, Seed: 7, Difficulty: "easy", Workers: 1}, nil); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(data, 0o755)
	c := newFakeCluster(t, dir, slurm.Options{DataRoots: []string{data}})
	store, fake, url, mgr, runner := c.store, c.fake, c.url, c.mgr, c.runner
	mgr.SetDataRoots([]string{data})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); runner.Wait() }()

	link := filepath.Join(data, "later")
	spec := "experiments:\n  e:\n    dataset: {mura: {root: '" + link + "', parts: [train, valid]}}\n" +
		"    image_size: 16\n    epochs: 1\n    models: [{name: pixelgauss, topk: [5]}]\n    preprocessing: [raw]\n"
	exps, _, err := mgr.Submit(ctx, []byte(spec), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "MURA-v1.1"), link); err != nil {
		t.Fatal(err)
	}
	runner.Start(ctx)
	var runID int64
	waitUntil(t, "job 101", func() bool {
		runs, _, _ := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: exps[0].ID})
		if len(runs) == 1 {
			if j, _ := store.Job(ctx, runs[0].ID); j.JobID == "101" {
				runID = runs[0].ID
				return true
			}
		}
		return false
	})
	script, _ := os.ReadFile(filepath.Join(fake, "101.script"))
	_, rest, _ := strings.Cut(string(script), "<<'XRAYLAB_TOKEN'\n")
	token, _, _ := strings.Cut(rest, "\n")
	os.WriteFile(filepath.Join(fake, "101.state"), []byte("RUNNING|None|node1\n"), 0o644)
	want := "load dataset: MURA root " + link + ": statat later: path escapes from parent"
	err = slurm.RunWorker(ctx, slurm.WorkerOptions{Server: url, RunID: runID, Token: token, VarDir: filepath.Join(dir, "node")})
	if err == nil || err.Error() != want {
		t.Fatalf("worker: %v, want %s", err, want)
	}
	os.WriteFile(filepath.Join(fake, "101.state"), []byte("COMPLETED|None|node1\n"), 0o644)
	run := waitAllOf(t, store, exps[0].ID)[0]
	if run.State != experiments.StateFailed || run.Error != want {
		t.Fatalf("run: %s %q, want failed %q", run.State, run.Error, want)
	}
}

// fakeCluster is a server whose slurm backend submits to the fake cluster
// of testdata/fakeslurm, serving the worker API on a loopback port until
// the test ends. Its runner is not started.
type fakeCluster struct {
	store  *registry.Store
	x      *slurm.Executor
	runner *experiments.Runner
	mgr    *experiments.Manager
	url    string // the server's base URL
	fake   string // the fake cluster's folder (job scripts and states)
}

func newFakeCluster(t *testing.T, dir string, opts slurm.Options) *fakeCluster {
	t.Helper()
	store, err := registry.Open(filepath.Join(dir, "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	bin, _ := filepath.Abs(filepath.Join("testdata", "fakeslurm"))
	fake := filepath.Join(dir, "cluster")
	os.Mkdir(fake, 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	hub := experiments.NewHub(256)
	opts.ServerURL, opts.Binary, opts.Poll = url, "/usr/bin/xraylab", 20*time.Millisecond
	opts.Commands = slurm.ExecCommands{Dir: bin, Env: []string{"FAKESLURM_DIR=" + fake}}
	x, err := slurm.NewExecutor(store, store, hub, opts)
	if err != nil {
		t.Fatal(err)
	}
	runner := experiments.NewRunner(store, hub, x, experiments.RunnerOptions{Devices: []string{"slurm"}, Poll: 20 * time.Millisecond})
	mgr := experiments.NewManager(store, hub, runner, "test")
	srv, err := server.New(server.Config{Store: store, Service: mgr, ArtifactsDir: filepath.Join(dir, "artifacts")})
	if err != nil {
		t.Fatal(err)
	}
	srv.EnableWorkerAPI(x)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &fakeCluster{store: store, x: x, runner: runner, mgr: mgr, url: url, fake: fake}
}
