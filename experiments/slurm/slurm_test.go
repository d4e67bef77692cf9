package slurm_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/slurm"
	"xraylab/registry"
)

// The slurm executor against a real registry and fake Slurm commands
// (testdata/fakeslurm: shell scripts keeping job states in a folder the
// test writes), with the test playing the worker.

func TestMain(m *testing.M) { testenv.Main(m) }

type slurmEnv struct {
	t     *testing.T
	store *registry.Store
	hub   *experiments.Hub
	x     *slurm.Executor
	fake  string // the fake cluster's state folder
}

func newSlurmEnv(t *testing.T, tweak ...func(*slurm.Options)) *slurmEnv {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	bin, err := filepath.Abs(filepath.Join("testdata", "fakeslurm"))
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "cluster")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := slurm.Options{
		Resources: experiments.SlurmResources{Partition: "short", Account: "lab", Time: "1:00:00", CPUs: 2, Mem: "4G",
			Gres: "gpu:1", Options: []string{"--qos=high"}},
		ServerURL: "http://head:8080", Binary: "/opt/xraylab/bin/xraylab", NodeVar: "/scratch/xraylab", LogDir: "/home/lab/logs",
		Retries: 1, Poll: 20 * time.Millisecond, Heartbeat: 50 * time.Millisecond, HeartbeatTimeout: 10 * time.Second,
		Commands: slurm.ExecCommands{Dir: bin, Env: []string{"FAKESLURM_DIR=" + fake}},
	}
	for _, f := range tweak {
		f(&opts)
	}
	hub := experiments.NewHub(256)
	x, err := slurm.NewExecutor(store, store, hub, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &slurmEnv{t: t, store: store, hub: hub, x: x, fake: fake}
}

// queue records an experiment with n queued runs.
func (e *slurmEnv) queue(n int) {
	e.t.Helper()
	runs := make([]*experiments.Run, n)
	for i := range runs {
		runs[i] = &experiments.Run{Index: i, Model: "pixelgauss", Params: json.RawMessage(`{}`), Seed: int64(i + 1), State: experiments.StateQueued}
	}
	if err := e.store.CreateExperiment(context.Background(), &experiments.Experiment{Name: "x", SpecText: "x", SpecHash: "h", Version: "v"}, runs); err != nil {
		e.t.Fatal(err)
	}
}

func (e *slurmEnv) lease() *experiments.Run {
	e.t.Helper()
	r, err := e.store.LeaseRun(context.Background(), "test")
	if err != nil || r == nil {
		e.t.Fatalf("lease: %v, %v", r, err)
	}
	return r
}

// execute runs Execute in the background; the channel gets its result.
func (e *slurmEnv) execute(ctx context.Context, run *experiments.Run) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.x.Execute(ctx, run, experiments.RunSpec{}, "cpu") }()
	return done
}

// file waits for a file of the fake cluster and returns its content.
func (e *slurmEnv) file(name string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(e.fake, name))
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the fake cluster never wrote %s", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *slurmEnv) write(name, content string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.fake, name), []byte(content+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// submitted waits until the executor has recorded job on the run (sbatch
// has exited, so the fake cluster's files are complete).
func (e *slurmEnv) submitted(runID int64, job string) {
	e.t.Helper()
	waitUntil(e.t, "job "+job+" is recorded", func() bool { return e.job(runID).JobID == job })
}

// token reads the run token out of the job's batch script.
func (e *slurmEnv) token(job string) string {
	e.t.Helper()
	script := e.file(job + ".script")
	_, rest, ok := strings.Cut(script, "<<'XRAYLAB_TOKEN'\n")
	tok, _, ok2 := strings.Cut(rest, "\nXRAYLAB_TOKEN\n")
	if !ok || !ok2 || len(tok) != 64 {
		e.t.Fatalf("no token in the script:\n%s", script)
	}
	return tok
}

func (e *slurmEnv) result(done <-chan error) error {
	e.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		e.t.Fatal("Execute did not return")
		return nil
	}
}

func (e *slurmEnv) job(runID int64) *experiments.Job {
	e.t.Helper()
	j, err := e.store.Job(context.Background(), runID)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *slurmEnv) auth(runID int64, token string) bool {
	e.t.Helper()
	ok, err := e.x.AuthenticateWorker(context.Background(), runID, token)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func TestSlurmSubmitsScriptAndSucceeds(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(2)
	run := e.lease()
	done := e.execute(context.Background(), run)
	e.submitted(1, "101")
	tok := e.token("101")

	wantArgs := []string{"--parsable", "--job-name=xraylab-run1", "--output=/home/lab/logs/xraylab-run1-%j.out", "--no-requeue",
		"--partition=short", "--account=lab", "--time=1:00:00", "--cpus-per-task=2", "--mem=4G", "--gres=gpu:1", "--qos=high"}
	if got := strings.Fields(e.file("101.args")); strings.Join(got, " ") != strings.Join(wantArgs, " ") {
		t.Errorf("sbatch arguments:\n got %q\nwant %q", got, wantArgs)
	}
	wantScript := "#!/bin/bash\n# xraylab run 1: written by the slurm backend of the server at http://head:8080\n" +
		"set -u\numask 077\n" +
		"token_file=$(mktemp \"${TMPDIR:-/tmp}/xraylab-token.XXXXXX\") || exit 1\n" +
		"trap 'rm -f \"$token_file\"' EXIT\n" +
		"cat > \"$token_file\" <<'XRAYLAB_TOKEN'\n" + tok + "\nXRAYLAB_TOKEN\n" +
		"'/opt/xraylab/bin/xraylab' worker --run 1 --server 'http://head:8080' --token-file \"$token_file\" --var '/scratch/xraylab'\n"
	if got := e.file("101.script"); got != wantScript {
		t.Errorf("batch script:\n%s\nwant:\n%s", got, wantScript)
	}

	// The token opens this run only, and only while it runs.
	if !e.auth(1, tok) {
		t.Error("the job's own token was refused")
	}
	if e.auth(2, tok) || e.auth(1, strings.Repeat("0", 64)) || e.auth(1, "") || e.auth(99, tok) {
		t.Error("a token was accepted for the wrong run, or a wrong token for the right one")
	}

	e.write("101.state", "RUNNING|None|node7")
	waitUntil(t, "the job's state is recorded", func() bool { return e.job(1).SlurmState == "RUNNING" })
	a, err := e.x.WorkerStart(context.Background(), 1, experiments.WorkerInfo{Node: "node7", PID: 4242, JobID: "101"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Run.ID != 1 || a.Checkpoint != nil || a.HeartbeatSeconds != 0.05 {
		t.Errorf("assignment = run %d, checkpoint %v, heartbeat %v s; want run 1, none, 0.05", a.Run.ID, a.Checkpoint, a.HeartbeatSeconds)
	}
	if err := e.x.WorkerFinish(context.Background(), 1, experiments.WorkerReport{State: experiments.StateSucceeded}); err != nil {
		t.Fatal(err)
	}
	e.write("101.state", "COMPLETED|None|node7")
	if err := e.result(done); err != nil {
		t.Fatalf("Execute = %v, want nil", err)
	}
	j := e.job(1)
	if j.Backend != "slurm" || j.JobID != "101" || j.Node != "node7" || j.SlurmState != "COMPLETED" || j.WorkerPID != 4242 || j.Heartbeat == nil {
		t.Errorf("job record = %+v", j)
	}
	if e.auth(1, tok) {
		t.Error("the token still works after the run's job is over")
	}
	if err := e.x.WorkerFinish(context.Background(), 1, experiments.WorkerReport{State: experiments.StateSucceeded}); experiments.CodeOf(err) != experiments.CodeConflict {
		t.Errorf("a report for a run nobody waits on = %v, want a conflict", err)
	}
}

func TestSlurmWorkerFailureIsTheRunsError(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(1)
	run := e.lease()
	done := e.execute(context.Background(), run)
	e.submitted(1, "101")
	e.write("101.state", "RUNNING|None|node1")
	for _, bad := range []struct {
		rep  experiments.WorkerReport
		want string
	}{
		{experiments.WorkerReport{State: experiments.StateFailed}, "report: a failed run needs its error"},
		{experiments.WorkerReport{State: experiments.StateSucceeded, Error: "x"}, `report: a succeeded run carries no error (got "x")`},
		{experiments.WorkerReport{State: experiments.StateRunning}, `report: state "running": want succeeded or failed`},
	} {
		if err := e.x.WorkerFinish(context.Background(), 1, bad.rep); err == nil || err.Error() != bad.want {
			t.Errorf("WorkerFinish(%+v) = %v, want %q", bad.rep, err, bad.want)
		}
	}
	if err := e.x.WorkerFinish(context.Background(), 1, experiments.WorkerReport{State: experiments.StateFailed, Error: "training diverged: loss mse is NaN"}); err != nil {
		t.Fatal(err)
	}
	err := e.result(done)
	if err == nil || err.Error() != "training diverged: loss mse is NaN" || errors.Is(err, experiments.ErrRequeued) {
		t.Fatalf("Execute = %v, want the worker's error", err)
	}
}

func TestSlurmDeadJobRequeuesThenFails(t *testing.T) {
	e := newSlurmEnv(t) // Retries: 1
	e.queue(1)
	run := e.lease()
	done := e.execute(context.Background(), run)
	e.submitted(1, "101")
	e.write("101.state", "TIMEOUT|TimeLimit|node3")
	err := e.result(done)
	var rq *slurm.RequeueError
	if !errors.As(err, &rq) || !errors.Is(err, experiments.ErrRequeued) || rq.Attempt != 1 {
		t.Fatalf("Execute = %v, want a requeue after attempt 1", err)
	}
	const reason1 = "Slurm job 101 ended TIMEOUT (TimeLimit) on node3 without a report from its worker"
	if rq.Reason != reason1 {
		t.Errorf("reason = %q, want %q", rq.Reason, reason1)
	}
	r, err := e.store.GetRun(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != experiments.StateQueued || r.Attempts != 1 || r.Error != reason1+"; requeued after attempt 1 of 2" {
		t.Errorf("requeued run: state %s, attempts %d, error %q", r.State, r.Attempts, r.Error)
	}

	// The second attempt dies in a way only sacct still knows: it fails.
	run = e.lease()
	if run.Attempts != 2 {
		t.Fatalf("second lease has attempts %d, want 2", run.Attempts)
	}
	done = e.execute(context.Background(), run)
	e.submitted(1, "102")
	e.write("102.sacct", "OUT_OF_MEMORY|0:125|node4")
	if err := os.Remove(filepath.Join(e.fake, "102.state")); err != nil {
		t.Fatal(err)
	}
	err = e.result(done)
	const want = "Slurm job 102 ended OUT_OF_MEMORY (exit 0:125) on node4 without a report from its worker; gave up after 2 attempt(s)"
	if err == nil || err.Error() != want || errors.Is(err, experiments.ErrRequeued) {
		t.Fatalf("Execute = %v, want %q", err, want)
	}
}

func TestSlurmVanishedJob(t *testing.T) {
	e := newSlurmEnv(t, func(o *slurm.Options) { o.Retries = 0 })
	e.queue(1)
	done := e.execute(context.Background(), e.lease())
	e.submitted(1, "101")
	// Purged from squeue, and the cluster has no accounting.
	if err := os.Remove(filepath.Join(e.fake, "101.state")); err != nil {
		t.Fatal(err)
	}
	err := e.result(done)
	const want = "Slurm job 101 vanished: neither squeue nor sacct knows it; gave up after 1 attempt(s)"
	if err == nil || err.Error() != want {
		t.Fatalf("Execute = %v, want %q", err, want)
	}
}

func TestSlurmControllerDownKeepsWaiting(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(1)
	done := e.execute(context.Background(), e.lease())
	e.submitted(1, "101")
	e.write("controller-down", "")
	e.write("101.state", "FAILED|NonZeroExitCode|node1") // not visible while the controller is down
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Execute returned %v while the controller did not answer", err)
	default:
	}
	if err := e.x.WorkerFinish(context.Background(), 1, experiments.WorkerReport{State: experiments.StateSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := e.result(done); err != nil {
		t.Fatalf("Execute = %v, want nil", err)
	}
}

func TestSlurmCancelCallsScancel(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := e.execute(ctx, e.lease())
	e.submitted(1, "101")
	e.write("101.state", "RUNNING|None|node2")
	waitUntil(t, "the job runs", func() bool { return e.job(1).SlurmState == "RUNNING" })
	cancel()
	if err := e.result(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute = %v, want context.Canceled", err)
	}
	if got := e.file("scancelled"); got != "101\n" {
		t.Errorf("scancelled jobs = %q, want 101", got)
	}
	if j := e.job(1); j.SlurmState != "CANCELLED" || j.Node != "node2" {
		t.Errorf("job after cancel = %+v", j)
	}
}

func TestSlurmHeartbeatTimeout(t *testing.T) {
	e := newSlurmEnv(t, func(o *slurm.Options) { o.HeartbeatTimeout = 300 * time.Millisecond; o.Retries = 0 })
	e.queue(1)
	done := e.execute(context.Background(), e.lease())
	e.submitted(1, "101")
	e.write("101.state", "RUNNING|None|node5")
	// Beats keep the job alive past the timeout ...
	for i := 0; i < 8; i++ {
		if err := e.x.WorkerHeartbeat(context.Background(), 1, experiments.WorkerInfo{Node: "node5", PID: 9}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Execute returned %v while the worker beat", err)
	default:
	}
	// ... silence ends it.
	err := e.result(done)
	if err == nil || !strings.HasPrefix(err.Error(), "Slurm job 101 on node5: no heartbeat from its worker for ") ||
		!strings.HasSuffix(err.Error(), "; job cancelled; gave up after 1 attempt(s)") {
		t.Fatalf("Execute = %v, want a heartbeat timeout", err)
	}
	if got := e.file("scancelled"); got != "101\n" {
		t.Errorf("scancelled jobs = %q, want 101", got)
	}
}

func TestSlurmSbatchFailure(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(1)
	e.write("sbatch-fails", "sbatch: error: invalid partition specified: short")
	err := e.result(e.execute(context.Background(), e.lease()))
	const want = "submit Slurm job: sbatch failed (exit 1): sbatch: error: invalid partition specified: short"
	if err == nil || err.Error() != want {
		t.Fatalf("Execute = %v, want %q", err, want)
	}
	if e.auth(1, "") {
		t.Error("empty token accepted")
	}
}

func TestSlurmRecoverCancelsOrphans(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(3)
	ctx := context.Background()
	// A previous server left runs 1 and 2 running with jobs 101 (still in
	// the cluster) and 57 (long gone); run 3 is queued.
	for _, j := range []struct {
		run int64
		id  string
	}{{1, "101"}, {2, "57"}} {
		e.lease()
		_, hash, err := slurm.NewRunToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.StartJob(ctx, j.run, experiments.BackendSlurm, hash); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetJobID(ctx, j.run, j.id); err != nil {
			t.Fatal(err)
		}
	}
	e.write("101.state", "RUNNING|None|node1")
	if err := e.x.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.file("scancelled"); got != "101\n" {
		t.Errorf("scancelled = %q, want 101", got)
	}
	for _, id := range []int64{1, 2} {
		if _, ok, _, err := e.store.JobToken(ctx, id); err != nil || ok {
			t.Errorf("run %d still has a token (%v)", id, err)
		}
		if j := e.job(id); j.SlurmState != "CANCELLED" {
			t.Errorf("run %d: slurm state %q, want CANCELLED", id, j.SlurmState)
		}
	}
}

func TestSlurmResourcesValidate(t *testing.T) {
	name := func(f string) string { return "slurm." + f }
	for _, tc := range []struct {
		res  experiments.SlurmResources
		want string
	}{
		{experiments.SlurmResources{}, ""},
		{experiments.SlurmResources{Partition: "gpu,cpu", Account: "lab-1", Time: "2-00:00:00", CPUs: 8, Mem: "16G", Gres: "gpu:a100:2", Options: []string{"--qos=high", "--constraint=v100"}}, ""},
		{experiments.SlurmResources{Time: "90"}, ""},
		{experiments.SlurmResources{Time: "1h"}, `slurm.time "1h": want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS`},
		{experiments.SlurmResources{Partition: "a b"}, `slurm.partition "a b": want a partition name (letters, digits, '.', '_', '-'; a comma-separated list for several)`},
		{experiments.SlurmResources{Account: "x;rm"}, `slurm.account "x;rm": want an account name (letters, digits, '.', '_', '-')`},
		{experiments.SlurmResources{CPUs: -1}, `slurm.cpus "-1": want 1 to 4096 (0 = the cluster's default)`},
		{experiments.SlurmResources{Mem: "16GB"}, `slurm.mem "16GB": want a size in megabytes or with a K, M, G or T suffix (16G)`},
		{experiments.SlurmResources{Gres: "gpu:"}, `slurm.gres "gpu:": want NAME[:TYPE]:COUNT, comma-separated (gpu:1, gpu:a100:2)`},
		{experiments.SlurmResources{Options: []string{"qos=high"}}, `slurm.options "qos=high": each extra sbatch option must start with '-' and hold its value after '=' (--qos=high)`},
		{experiments.SlurmResources{Options: []string{"--output=/x"}}, `slurm.options "--output=/x": xraylab sets --output itself`},
		{experiments.SlurmResources{Options: []string{"--comment=a\nb"}}, "slurm.options \"--comment=a\\nb\": an option must not hold a line break or NUL"},
		{experiments.SlurmResources{Time: "x", Mem: "y"}, `slurm.time "x": want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS` + "\n" +
			`slurm.mem "y": want a size in megabytes or with a K, M, G or T suffix (16G)`},
	} {
		err := tc.res.Validate(name)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate(%+v) = %q, want %q", tc.res, got, tc.want)
		}
	}
}

func TestSlurmResourcesMerge(t *testing.T) {
	base := experiments.SlurmResources{Partition: "cpu", Time: "1:00:00", CPUs: 2, Options: []string{"--qos=low"}}
	got := base.Merge(&experiments.SlurmResources{Partition: "gpu", Gres: "gpu:1", Options: []string{"--qos=high"}})
	want := experiments.SlurmResources{Partition: "gpu", Time: "1:00:00", CPUs: 2, Gres: "gpu:1", Options: []string{"--qos=low", "--qos=high"}}
	if a, b := jsonText(t, got), jsonText(t, want); a != b {
		t.Errorf("Merge = %s, want %s", a, b)
	}
	if a, b := jsonText(t, base.Merge(nil)), jsonText(t, base); a != b {
		t.Errorf("Merge(nil) = %s, want %s", a, b)
	}
}

func TestNewExecutorRefuses(t *testing.T) {
	for _, tc := range []struct {
		opts slurm.Options
		want string
	}{
		{slurm.Options{}, `slurm server URL "": want the http(s)://host:port at which nodes reach this server`},
		{slurm.Options{ServerURL: "head:8080"}, `slurm server URL "head:8080": want the http(s)://host:port at which nodes reach this server`},
		{slurm.Options{ServerURL: "http://h:1", Retries: -1}, "slurm retries -1: want 0 to 100"},
		{slurm.Options{ServerURL: "http://h:1", Binary: "bin/xraylab"}, `slurm binary "bin/xraylab": want an absolute path on the nodes`},
		{slurm.Options{ServerURL: "http://h:1", Binary: "/x", LogDir: "logs"}, `slurm log dir "logs": want an absolute path on the nodes`},
		{slurm.Options{ServerURL: "http://h:1", Binary: "/x", Heartbeat: time.Minute, HeartbeatTimeout: time.Second},
			"slurm heartbeat timeout 1s must be longer than the heartbeat interval 1m0s"},
		{slurm.Options{ServerURL: "http://h:1", Resources: experiments.SlurmResources{Mem: "lots"}},
			`slurm mem "lots": want a size in megabytes or with a K, M, G or T suffix (16G)`},
	} {
		_, err := slurm.NewExecutor(nil, nil, nil, tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewExecutor(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A spec's slurm resources override the server's for that run's job.
func TestSlurmSpecOverridesResources(t *testing.T) {
	e := newSlurmEnv(t)
	e.queue(1)
	run := e.lease()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	spec := experiments.RunSpec{Slurm: &experiments.SlurmResources{Partition: "gpu", Time: "2:00:00", Options: []string{"--qos=low"}}}
	go func() { done <- e.x.Execute(ctx, run, spec, "cpu") }()
	e.submitted(1, "101")
	want := []string{"--parsable", "--job-name=xraylab-run1", "--output=/home/lab/logs/xraylab-run1-%j.out", "--no-requeue",
		"--partition=gpu", "--account=lab", "--time=2:00:00", "--cpus-per-task=2", "--mem=4G", "--gres=gpu:1", "--qos=high", "--qos=low"}
	if got := strings.Fields(e.file("101.args")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sbatch arguments:\n got %q\nwant %q", got, want)
	}
	cancel()
	<-done
}
