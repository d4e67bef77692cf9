package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/slurm"
)

// The worker API between a real RemoteSink and a real slurm.Executor whose
// Slurm commands are the fakes of experiments/slurm/testdata/fakeslurm.

type workerEnv struct {
	*env
	x    *slurm.Executor
	fake string
	done map[int64]chan error
	// ctx ends the executions still going when the test ends; wg waits
	// for them, so none writes to a temporary folder being removed.
	ctx context.Context
	wg  sync.WaitGroup
}

func newWorkerEnv(t *testing.T, runs int, tweak ...func(*Config)) *workerEnv {
	t.Helper()
	e := newEnv(t, tweak...)
	bin, err := filepath.Abs(filepath.Join("..", "experiments", "slurm", "testdata", "fakeslurm"))
	if err != nil {
		t.Fatal(err)
	}
	fake := t.TempDir()
	x, err := slurm.NewExecutor(e.store, e.store, e.hub, slurm.Options{
		ServerURL: "http://xraylab", Binary: "/usr/bin/xraylab", Poll: 20 * time.Millisecond,
		Commands: slurm.ExecCommands{Dir: bin, Env: []string{"FAKESLURM_DIR=" + fake}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.EnableWorkerAPI(x)
	list := make([]*experiments.Run, runs)
	for i := range list {
		list[i] = &experiments.Run{Index: i, Model: "cae", Params: json.RawMessage(`{"model":{"name":"cae"}}`), Seed: 1, State: experiments.StateQueued}
	}
	if err := e.store.CreateExperiment(context.Background(), &experiments.Experiment{Name: "w", SpecText: "w", SpecHash: "h", Version: "v"}, list); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	w := &workerEnv{env: e, x: x, fake: fake, done: map[int64]chan error{}, ctx: ctx}
	t.Cleanup(func() { stop(); w.wg.Wait() })
	return w
}

// submit leases the next run, executes it in the background and returns
// the token from its batch script.
func (w *workerEnv) submit() (int64, string) {
	w.t.Helper()
	run, err := w.store.LeaseRun(context.Background(), "test")
	if err != nil || run == nil {
		w.t.Fatalf("lease: %v %v", run, err)
	}
	done := make(chan error, 1)
	w.done[run.ID] = done
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		done <- w.x.Execute(w.ctx, run, experiments.RunSpec{}, "cpu")
	}()
	var job *experiments.Job
	waitFor(w.t, "the job id", func() bool {
		job, err = w.store.Job(context.Background(), run.ID)
		return err == nil && job.JobID != ""
	})
	script, err := os.ReadFile(filepath.Join(w.fake, job.JobID+".script"))
	if err != nil {
		w.t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(script), "<<'XRAYLAB_TOKEN'\n")
	tok, _, _ := strings.Cut(rest, "\n")
	if len(tok) != 64 {
		w.t.Fatalf("no token in %s", script)
	}
	return run.ID, tok
}

// send sends one request through app.Test with a bearer token.
func (w *workerEnv) send(method, target, token, contentType string, body []byte) (int, string) {
	w.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := w.srv.App().Test(req, 10_000)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWorkerAPIRoundTrip(t *testing.T) {
	w := newWorkerEnv(t, 1)
	client := w.serve()
	runID, tok := w.submit()
	nodeDir := t.TempDir()
	sink, err := slurm.NewRemoteSink(slurm.RemoteOptions{Server: "http://xraylab", RunID: runID, Token: tok,
		ArtifactsDir: nodeDir, Client: client, ChunkSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(time.Second)
	ctx := context.Background()

	a, err := sink.Start(ctx, experiments.WorkerInfo{Node: "node1", PID: 77, JobID: "101"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Run.ID != runID || a.Run.Model != "cae" || a.Checkpoint != nil || a.HeartbeatSeconds != 15 {
		t.Fatalf("assignment: %+v", a)
	}
	if j, _ := w.store.Job(ctx, runID); j.Node != "node1" || j.WorkerPID != 77 || j.Heartbeat == nil {
		t.Errorf("job after start: %+v", j)
	}

	// Metrics, NaN included, in two batches; a resume drops epoch 2.
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	points := []experiments.MetricPoint{
		{Key: "train/loss", Step: 1, Epoch: 1, Value: 0.25, Time: t0},
		{Key: "train/loss", Step: 2, Epoch: 2, Value: math.NaN(), Time: t0},
		{Key: "val/roc_auc", Step: 2, Epoch: 2, Value: 1.0 / 3, Time: t0},
	}
	if err := sink.AppendMetrics(ctx, runID, points); err != nil {
		t.Fatal(err)
	}
	got, err := sink.Metrics(ctx, runID, "train/loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Value != 0.25 || !math.IsNaN(got[1].Value) || !got[0].Time.Equal(t0) {
		t.Errorf("metrics read back: %+v", got)
	}
	if err := sink.DeleteMetricsAfter(ctx, runID, 1); err != nil {
		t.Fatal(err)
	}
	if stored, _ := w.store.Metrics(ctx, runID, ""); len(stored) != 1 || stored[0].Step != 1 {
		t.Errorf("after delete-after 1: %+v", stored)
	}
	if err := sink.AppendMetrics(ctx, 2, points); err == nil || err.Error() != "remote sink of run 1 cannot write run 2" {
		t.Errorf("writing another run: %v", err)
	}

	final := map[string]float64{"test/mse/roc_auc": 0.8125, "test/mse/ap": math.Inf(1)}
	if err := sink.SetFinalMetrics(ctx, runID, final); err != nil {
		t.Fatal(err)
	}
	summary := json.RawMessage(`{"images":40}`)
	if err := sink.SetDataset(ctx, runID, experiments.DatasetRecord{Fingerprint: "sha256:abc", Summary: summary}); err != nil {
		t.Fatal(err)
	}
	if d, err := w.store.Dataset(ctx, runID); err != nil || d.Fingerprint != "sha256:abc" || string(d.Summary) != `{"images":40}` {
		t.Errorf("dataset: %+v %v", d, err)
	}

	// Artifacts go up in 7-byte chunks and come back byte for byte.
	files := map[string]string{"checkpoint.bin": "twenty bytes of data", "plots/roc curve.png": "png", "empty.txt": ""}
	for name, content := range files {
		p := filepath.Join(nodeDir, "1", filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(content))
		art := &experiments.Artifact{RunID: runID, Name: name, Kind: "test", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
		if err := sink.AddArtifact(ctx, art); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		if art.ID == 0 {
			t.Errorf("%s: no id", name)
		}
		onServer, err := os.ReadFile(filepath.Join(w.arts, "1", filepath.FromSlash(name)))
		if err != nil || string(onServer) != content {
			t.Errorf("%s on the server: %q, %v", name, onServer, err)
		}
	}
	arts, _ := w.store.Artifacts(ctx, runID)
	if len(arts) != 3 {
		t.Errorf("artifacts: %d, want 3", len(arts))
	}
	if err := os.WriteFile(filepath.Join(nodeDir, "1", "changed.bin"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = sink.AddArtifact(ctx, &experiments.Artifact{RunID: runID, Name: "changed.bin", Kind: "x", Size: 3, SHA256: strings.Repeat("0", 64)})
	if err == nil || !strings.Contains(err.Error(), "the file changed while it was uploaded") {
		t.Errorf("a file that does not match its record: %v", err)
	}

	// A resumed worker gets the checkpoint.
	a, err = sink.Start(ctx, experiments.WorkerInfo{Node: "node2", PID: 78})
	if err != nil {
		t.Fatal(err)
	}
	if a.Checkpoint == nil || a.Checkpoint.Name != "checkpoint.bin" || a.Checkpoint.Size != 20 {
		t.Fatalf("checkpoint in the assignment: %+v", a.Checkpoint)
	}
	dst := filepath.Join(t.TempDir(), "ck", "checkpoint.bin")
	if err := sink.Download(ctx, a.Checkpoint, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != files["checkpoint.bin"] {
		t.Errorf("downloaded %q", b)
	}
	bad := *a.Checkpoint
	bad.SHA256 = strings.Repeat("f", 64)
	if err := sink.Download(ctx, &bad, dst+".2"); err == nil || !strings.Contains(err.Error(), "want 20 bytes with ffff") {
		t.Errorf("download with a wrong hash: %v", err)
	}

	// Events become the run's own, whatever ids the worker put in.
	events, unsub := w.hub.Subscribe()
	defer unsub()
	sink.Publish(experiments.Event{Type: "progress", RunID: 999, ExperimentID: 999, Epoch: 1, Epochs: 2, Message: "hello"})
	// the Slurm poller publishes its own progress events ("Slurm job 101
	// PENDING") on the same hub, at times of its own: wait for ours
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-events:
			if ev.Message != "hello" {
				continue
			}
			got = true
			if ev.RunID != runID || ev.ExperimentID != 1 || ev.Epoch != 1 {
				t.Errorf("event: %+v", ev)
			}
		case <-deadline:
			t.Fatal("no event")
		}
	}

	if code, body := w.send("GET", "/api/runs/1/job", "", "", nil); code != 200 ||
		!strings.Contains(body, `"backend":"slurm","job_id":"101","node":"node2"`) {
		t.Errorf("GET job: %d %s", code, body)
	}

	if err := sink.Finish(ctx, experiments.WorkerReport{State: experiments.StateSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := <-w.done[runID]; err != nil {
		t.Fatalf("Execute = %v", err)
	}
	r, _ := w.store.GetRun(ctx, runID)
	if r.Metrics["test/mse/roc_auc"] != 0.8125 || !math.IsInf(r.Metrics["test/mse/ap"], 1) {
		t.Errorf("final metrics: %v", r.Metrics)
	}
	// The job is over: its token opens nothing any more.
	err = sink.Heartbeat(ctx, experiments.WorkerInfo{Node: "node2"})
	if err == nil || err.Error() != "POST /api/worker/runs/1/heartbeat: missing or invalid run token" || experiments.CodeOf(err) != codeUnauthorized {
		t.Errorf("heartbeat after the end: %v", err)
	}
}

func TestWorkerAPIRefuses(t *testing.T) {
	// The server's own token guards its routes; run tokens open none of them.
	read, write := BearerGuard(testToken, GuardOptions{Addr: "0.0.0.0:8080"})
	w := newWorkerEnv(t, 2, func(c *Config) { c.ReadGuard, c.WriteGuard = read, write })
	run1, tok1 := w.submit()
	run2, tok2 := w.submit()
	if run1 != 1 || run2 != 2 {
		t.Fatalf("runs %d, %d", run1, run2)
	}
	const denied = `{"error":{"code":"unauthorized","message":"missing or invalid run token"}}`
	const js = "application/json"
	for _, tc := range []struct {
		name, method, target, token, ctype, body string
		status                                   int
		want                                     string
	}{
		{"no token", "POST", "/api/worker/runs/1/heartbeat", "", js, `{}`, 401, denied},
		{"wrong token", "POST", "/api/worker/runs/1/heartbeat", strings.Repeat("a", 64), js, `{}`, 401, denied},
		{"another run's token", "POST", "/api/worker/runs/1/heartbeat", tok2, js, `{}`, 401, denied},
		{"unknown run", "POST", "/api/worker/runs/9/heartbeat", tok1, js, `{}`, 401, denied},
		{"bad run id", "POST", "/api/worker/runs/x/heartbeat", tok1, js, `{}`, 400,
			`{"error":{"code":"invalid","message":"run id: must be a positive integer id, got \"x\"","details":{"parameter":"id","value":"x","allowed":"a positive integer id"}}}`},
		{"a server write route", "POST", "/api/runs/1/cancel", tok1, "", "", 401, body401},
		{"a server read route", "GET", "/api/runs/1/job", tok1, "", "", 401, body401},
		{"the server's token", "POST", "/api/worker/runs/1/heartbeat", testToken, js, `{}`, 401, denied},
		{"not JSON", "POST", "/api/worker/runs/1/heartbeat", tok1, "text/plain", `{}`, 415,
			`{"error":{"code":"unsupported_media_type","message":"send the body as application/json"}}`},
		{"unknown field", "POST", "/api/worker/runs/1/metrics", tok1, js, `{"pts":[]}`, 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: json: unknown field \"pts\""}}`},
		{"bad value", "POST", "/api/worker/runs/1/metrics", tok1, js, `{"points":[{"key":"a","value":"many"}]}`, 400, ""},
		{"empty key", "POST", "/api/worker/runs/1/metrics", tok1, js, `{"points":[{"key":"","value":1}]}`, 400,
			`{"error":{"code":"invalid","message":"points[0]: key is required"}}`},
		{"no after_epoch", "DELETE", "/api/worker/runs/1/metrics", tok1, "", "", 400,
			`{"error":{"code":"invalid","message":"query parameter after_epoch: must be an integer \u003e= 0, got \"\"","details":{"parameter":"after_epoch","value":"","allowed":"an integer \u003e= 0"}}}`},
		{"state event", "POST", "/api/worker/runs/1/events", tok1, js, `{"type":"state","state":"succeeded"}`, 400,
			`{"error":{"code":"invalid","message":"event type \"state\": workers send progress events only"}}`},
		{"traversal", "POST", "/api/worker/runs/1/uploads/..%2Fx?offset=0", tok1, "", "x", 400, ""},
		{"uploads folder", "POST", "/api/worker/runs/1/uploads/.uploads/x?offset=0", tok1, "", "x", 400,
			`{"error":{"code":"invalid","message":"artifact name \".uploads/x\": .uploads is reserved for uploads in progress","details":{"name":".uploads/x"}}}`},
		{"no offset", "POST", "/api/worker/runs/1/uploads/a.bin", tok1, "", "x", 400, ""},
		{"offset past the upload", "POST", "/api/worker/runs/1/uploads/a.bin?offset=5", tok1, "", "x", 409,
			`{"error":{"code":"conflict","message":"upload of \"a.bin\" has 0 bytes, not 5: send from offset 0","details":{"size":0}}}`},
		{"commit without upload", "POST", "/api/worker/runs/1/artifacts", tok1, js,
			`{"name":"b.bin","kind":"x","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}`, 409,
			`{"error":{"code":"conflict","message":"artifact \"b.bin\": nothing was uploaded under that name"}}`},
		{"finish without error", "POST", "/api/worker/runs/1/finish", tok1, js, `{"state":"failed"}`, 400,
			`{"error":{"code":"invalid","message":"report: a failed run needs its error"}}`},
		{"download unknown", "GET", "/api/worker/runs/1/artifacts/nope.bin", tok1, "", "", 404,
			`{"error":{"code":"not_found","message":"run 1 has no artifact \"nope.bin\""}}`},
	} {
		code, body := w.send(tc.method, tc.target, tc.token, tc.ctype, []byte(tc.body))
		if code != tc.status || (tc.want != "" && body != tc.want) {
			t.Errorf("%s: %d %s\nwant %d %s", tc.name, code, body, tc.status, tc.want)
		}
	}

	// An upload whose bytes differ from the commit is refused and stays out.
	if code, body := w.send("POST", "/api/worker/runs/1/uploads/c.bin?offset=0", tok1, "", []byte("abc")); code != 200 || body != `{"size":3}` {
		t.Fatalf("upload: %d %s", code, body)
	}
	code, body := w.send("POST", "/api/worker/runs/1/artifacts", tok1, js,
		[]byte(`{"name":"c.bin","kind":"x","size":3,"sha256":"`+strings.Repeat("0", 64)+`"}`))
	want := `{"error":{"code":"conflict","message":"artifact \"c.bin\": the upload has 3 bytes with sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad, not 3 bytes with ` + strings.Repeat("0", 64) + `"}}`
	if code != 409 || body != want {
		t.Errorf("commit with a wrong hash: %d %s", code, body)
	}
	if arts, _ := w.store.Artifacts(context.Background(), 1); len(arts) != 0 {
		t.Errorf("artifacts after refused commits: %v", arts)
	}

	// Guessing tokens gets the guesses blocked, not the run's worker, which
	// may share the guesser's address (another job on its node).
	for i := 0; i < DefaultMaxFailures; i++ {
		w.send("POST", "/api/worker/runs/2/heartbeat", strings.Repeat("b", 64), js, []byte(`{}`))
	}
	if code, body := w.send("POST", "/api/worker/runs/2/heartbeat", strings.Repeat("b", 64), js, []byte(`{}`)); code != http.StatusTooManyRequests ||
		!strings.Contains(body, "too many failed authentication attempts") {
		t.Errorf("wrong token after %d wrong tokens: %d %s", DefaultMaxFailures, code, body)
	}
	if code, body := w.send("POST", "/api/worker/runs/2/heartbeat", tok2, js, []byte(`{}`)); code != http.StatusNoContent {
		t.Errorf("the run's token after %d wrong tokens: %d %s, want 204", DefaultMaxFailures, code, body)
	}
}
