package slurm_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/slurm"
	"xraylab/registry"
	"xraylab/server"
)

// The slurm backend against a real Slurm: the one-node cluster that
// scripts/slurm-up.sh starts (as root) on this machine. Runs go through
// sbatch to `xraylab worker` processes that talk to a real server over
// TCP, and must end with the same figures as the local backend.

// clusterSpec: the pixel baseline and a tiny CAE, 3 epochs with a
// checkpoint each, so a killed job has something to resume from.
const clusterSpec = `
experiments:
  cluster:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 3
    batch_size: 8
    checkpoint_every: 1
    models:
      - name: pixelgauss
        topk: [20]
      - name: cae
        topk: [20]
        params: {width: 0.125}
    seeds: [42]
`

// longSpec runs long enough to be cancelled while it trains.
const longSpec = `
experiments:
  long:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 500
    batch_size: 8
    models:
      - name: cae
        params: {width: 0.125}
    seeds: [1]
`

// requireCluster skips the test unless sbatch is on the PATH and the
// cluster answers.
func requireCluster(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sbatch"); err != nil {
		t.Skip("skipping the Slurm integration test: sbatch is not on the PATH (start a one-node cluster with `sudo scripts/slurm-up.sh`)")
	}
	out, err := exec.Command("sinfo", "--noheader", "--format=%T").CombinedOutput()
	if err != nil || !strings.ContainsAny(string(out), "ia") || strings.Contains(string(out), "down") {
		t.Skipf("skipping the Slurm integration test: the cluster does not answer or has no usable node (sinfo: %v, %q); start it with `sudo scripts/slurm-up.sh`",
			err, strings.TrimSpace(string(out)))
	}
}

// xraylabBinary builds xraylab into a temporary folder (or takes
// $XRAYLAB_BIN) for the jobs to run.
func xraylabBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("XRAYLAB_BIN")
	if bin == "" {
		gobin, err := exec.LookPath("go")
		if err != nil {
			//lint:ignore SA1019 the toolchain that built this test is the one to build with
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		bin = filepath.Join(t.TempDir(), "xraylab")
		cmd := exec.Command(gobin, "build", "-o", bin, "xraylab")
		cmd.Dir = filepath.Join("..", "..") // the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build xraylab for the nodes: %v\n%s", err, out)
		}
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "worker", "-h").CombinedOutput()
	if !strings.Contains(string(out), "-token-file") {
		t.Fatalf("%s has no worker command (main.go must wire cmdWorker): %s", bin, out)
	}
	return bin
}

// clusterEnv is a server with the slurm backend, listening on loopback.
type clusterEnv struct {
	store  *registry.Store
	hub    *experiments.Hub
	x      *slurm.Executor
	mgr    *experiments.Manager
	srv    *server.Server
	url    string
	dir    string
	logDir string
}

func newClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	requireCluster(t)
	bin := xraylabBinary(t)
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	hub := experiments.NewHub(4096)
	url := "http://" + ln.Addr().String()
	x, err := slurm.NewExecutor(store, store, hub, slurm.Options{
		ServerURL: url, Binary: bin, NodeVar: filepath.Join(dir, "node"), LogDir: logDir,
		Retries: 1, Poll: 250 * time.Millisecond, Heartbeat: time.Second, Logger: log,
		Resources: experiments.SlurmResources{Time: "10:00", CPUs: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	// One slot: runs go to the cluster one at a time.
	runner := experiments.NewRunner(store, hub, x, experiments.RunnerOptions{Devices: []string{"slurm"}, Poll: 100 * time.Millisecond, Logger: log})
	mgr := experiments.NewManager(store, hub, runner, "test")
	srv, err := server.New(server.Config{Store: store, Service: mgr, ArtifactsDir: filepath.Join(dir, "artifacts"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.EnableWorkerAPI(x)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	runner.Start(ctx)
	t.Cleanup(func() {
		cancel() // running jobs are scancelled
		runner.Wait()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		<-served
		store.Close()
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(logDir, "*.out"))
			for _, p := range logs {
				b, _ := os.ReadFile(p)
				t.Logf("job output %s:\n%s", filepath.Base(p), b)
			}
		}
	})
	return &clusterEnv{store: store, hub: hub, x: x, mgr: mgr, srv: srv, url: url, dir: dir, logDir: logDir}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (c *clusterEnv) runs(t *testing.T, expID int64) []*experiments.Run {
	t.Helper()
	runs, _, err := c.store.ListRuns(context.Background(), experiments.RunFilter{ExperimentID: expID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func (c *clusterEnv) waitAll(t *testing.T, expID int64, timeout time.Duration) []*experiments.Run {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		runs := c.runs(t, expID)
		done := true
		for _, r := range runs {
			done = done && r.State.Terminal()
		}
		if done {
			return runs
		}
		if time.Now().After(deadline) {
			for _, r := range runs {
				j, _ := c.store.Job(context.Background(), r.ID)
				t.Logf("run %d: %s %q, job %+v", r.ID, r.State, r.Error, j)
			}
			t.Fatalf("runs of experiment %d not finished after %s", expID, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *clusterEnv) job(t *testing.T, runID int64) *experiments.Job {
	t.Helper()
	j, err := c.store.Job(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// squeueState asks the real squeue for a job's state.
func squeueState(t *testing.T, jobID string) string {
	t.Helper()
	out, err := exec.Command("squeue", "--noheader", "--states=all", "--jobs="+jobID, "--format=%T").CombinedOutput()
	if err != nil {
		t.Fatalf("squeue %s: %v %s", jobID, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestSlurmClusterEndToEnd(t *testing.T) {
	c := newClusterEnv(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")

	// The same experiment under the local backend is the reference.
	local := testenv.New(t)
	lctx, lcancel := context.WithCancel(ctx)
	lr := local.Runner(1)
	lr.Start(lctx)
	want := local.WaitAll(t, testenv.Submit(t, experiments.NewManager(local.Store, local.Hub, lr, "test"), clusterSpec), 5*time.Minute)
	lcancel()
	lr.Wait()
	sameFigures := func(what string, got []*experiments.Run) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d runs, want %d", what, len(got), len(want))
		}
		for i, r := range got {
			if r.State != experiments.StateSucceeded {
				t.Errorf("%s: run %d (%s) is %s: %s", what, r.ID, r.Model, r.State, r.Error)
				continue
			}
			if len(r.Metrics) == 0 || len(r.Metrics) != len(want[i].Metrics) {
				t.Errorf("%s: run %d has %d final metrics, local has %d", what, r.ID, len(r.Metrics), len(want[i].Metrics))
			}
			for k, v := range want[i].Metrics {
				if r.Metrics[k] != v {
					t.Errorf("%s: run %d (%s) %s = %v under slurm, %v under local", what, r.ID, r.Model, k, r.Metrics[k], v)
				}
			}
			// Every training-curve point too, each exactly once.
			a, _ := c.store.Metrics(ctx, r.ID, "")
			b, _ := local.Store.Metrics(ctx, want[i].ID, "")
			if len(a) == 0 || len(a) != len(b) {
				t.Errorf("%s: run %d has %d metric points, local %d", what, r.ID, len(a), len(b))
				continue
			}
			for k := range a {
				if a[k].Key != b[k].Key || a[k].Step != b[k].Step || a[k].Value != b[k].Value {
					t.Errorf("%s: run %d point %d: %s@%d=%v under slurm, %s@%d=%v under local", what, r.ID, k,
						a[k].Key, a[k].Step, a[k].Value, b[k].Key, b[k].Step, b[k].Value)
				}
			}
		}
	}

	// 1. Every run ends succeeded, with exactly the local figures, and the
	// job that ran it recorded.
	exp1 := testenv.Submit(t, c.mgr, clusterSpec)
	got := c.waitAll(t, exp1, 5*time.Minute)
	sameFigures("slurm", got)
	for _, r := range got {
		j := c.job(t, r.ID)
		if j.Backend != "slurm" || j.JobID == "" || j.Node != host || j.SlurmState != "COMPLETED" || j.Heartbeat == nil || r.Attempts != 1 {
			t.Errorf("run %d: job %+v, attempts %d; want a COMPLETED slurm job on %s, 1 attempt", r.ID, j, r.Attempts, host)
		}
		if s := squeueState(t, j.JobID); s != "COMPLETED" {
			t.Errorf("run %d: squeue says job %s is %q", r.ID, j.JobID, s)
		}
		arts, _ := c.store.Artifacts(ctx, r.ID)
		names := map[string]bool{}
		for _, a := range arts {
			names[a.Name] = true
		}
		if !names["checkpoint.bin"] || !names["scores.csv"] {
			t.Errorf("run %d: artifacts %v lack the checkpoint or scores", r.ID, names)
		}
	}

	// 2. Cancelling through the API scancels the job and ends its worker.
	exp2 := testenv.Submit(t, c.mgr, longSpec)
	runID := c.runs(t, exp2)[0].ID
	var j *experiments.Job
	waitUntil(t, "the long run's worker runs", func() bool {
		j = c.job(t, runID)
		return j.SlurmState == "RUNNING" && j.WorkerPID > 0
	})
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/runs/"+strconv.FormatInt(runID, 10)+"/cancel", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"state":"cancelled"`) {
		t.Fatalf("cancel through the API: %d %s", resp.StatusCode, body)
	}
	waitUntil(t, "squeue reports the job cancelled", func() bool { return squeueState(t, j.JobID) == "CANCELLED" })
	waitUntil(t, "the worker process is gone", func() bool { return syscall.Kill(j.WorkerPID, 0) != nil })
	if j := c.job(t, runID); j.SlurmState != "CANCELLED" {
		t.Errorf("cancelled run's job: %+v", j)
	}

	// 3. A job whose worker is killed after its first checkpoint dies; the
	// run is requeued, resumes from that checkpoint in a new job, and ends
	// with the local figures all the same.
	exp3 := testenv.Submit(t, c.mgr, clusterSpec)
	cae := c.runs(t, exp3)[1]
	var first *experiments.Job
	waitUntil(t, "the CAE run's first checkpoint", func() bool {
		arts, _ := c.store.Artifacts(ctx, cae.ID)
		for _, a := range arts {
			if a.Name == "checkpoint.bin" {
				first = c.job(t, cae.ID)
				return first.WorkerPID > 0
			}
		}
		return false
	})
	if err := syscall.Kill(first.WorkerPID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker %d: %v", first.WorkerPID, err)
	}
	got = c.waitAll(t, exp3, 5*time.Minute)
	sameFigures("slurm after a killed job", got)
	r, _ := c.store.GetRun(ctx, cae.ID)
	if r.Attempts != 2 {
		t.Errorf("the killed run took %d attempts, want 2 (finished before the kill?)", r.Attempts)
	}
	second := c.job(t, cae.ID)
	if second.JobID == first.JobID || second.SlurmState != "COMPLETED" {
		t.Errorf("after the requeue: job %+v (the killed one was %s)", second, first.JobID)
	}
	if s := squeueState(t, first.JobID); s != "FAILED" {
		t.Errorf("squeue says the killed job %s is %q, want FAILED", first.JobID, s)
	}
}
