package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"xraylab/experiments"
)

// withQueue serves queue control from the env's manager.
func withQueue(c *Config) { c.Queue = c.Service.(QueueService) }

// queueIDs reads GET /api/queue and returns its paused flag and run IDs.
func (e *env) queueIDs() (bool, string) {
	e.t.Helper()
	var q struct {
		Paused bool `json:"paused"`
		Items  []struct {
			ID int64 `json:"id"`
		} `json:"items"`
		Total int `json:"total"`
	}
	body := e.get("/api/queue", 200)
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(q.Items))
	for i, r := range q.Items {
		ids[i] = fmt.Sprint(r.ID)
	}
	if q.Total != len(q.Items) {
		e.t.Fatalf("queue total %d for %d items", q.Total, len(q.Items))
	}
	return q.Paused, strings.Join(ids, ",")
}

func (e *env) post(target, body string, status int) string {
	e.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	code, _, got := e.do("POST", target, "application/json", b)
	if code != status {
		e.t.Fatalf("POST %s: status %d, want %d; body %s", target, code, status, got)
	}
	return got
}

// Submission priority, experiment and run priorities and move to top all
// show in the queue, which lists runs in lease order (priority, then age).
func TestQueueOrderAndPriorities(t *testing.T) {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml") // alpha: runs 1, 2; beta: runs 3, 4, 5
	if code, _, body := e.do("POST", "/api/experiments?priority=7&experiment=alpha", "application/yaml", readFile(t, "two.yaml")); code != 201 ||
		body != `{"experiments":[{"id":3,"name":"alpha","run_ids":[6,7]}]}` {
		t.Fatalf("prioritised submission: %d %s", code, body)
	}
	if _, ids := e.queueIDs(); ids != "6,7,1,2,3,4,5" {
		t.Fatalf("queue after prioritised submission: %s", ids)
	}
	if !strings.Contains(e.get("/api/experiments/3", 200), `"priority":7`) {
		t.Error("experiment 3 does not show its priority")
	}
	// Raising beta to 7 puts its runs first: they tie with experiment 3's
	// and are older.
	if got := e.post("/api/experiments/2/priority", `{"priority": 7}`, 200); !strings.Contains(got, `"priority":7`) || !strings.Contains(got, `"name":"beta"`) {
		t.Fatalf("set experiment priority: %s", got)
	}
	if _, ids := e.queueIDs(); ids != "3,4,5,6,7,1,2" {
		t.Fatalf("queue after raising beta: %s", ids)
	}
	if got := e.post("/api/runs/1/top", "", 200); !strings.Contains(got, `"priority":8`) || !strings.Contains(got, `"priority_override":8`) {
		t.Fatalf("move to top: %s", got)
	}
	if got := e.post("/api/runs/4/priority", `{"priority": -3}`, 200); !strings.Contains(got, `"priority":-3`) {
		t.Fatalf("set run priority: %s", got)
	}
	if _, ids := e.queueIDs(); ids != "1,3,5,6,7,2,4" {
		t.Fatalf("queue after overrides: %s", ids)
	}
	if got := e.post("/api/runs/4/priority", `{"priority": null}`, 200); strings.Contains(got, "priority_override") {
		t.Fatalf("clear run priority: %s", got)
	}
	// The lease follows the queue.
	r, err := e.store.LeaseRun(context.Background(), "w")
	if err != nil || r.ID != 1 {
		t.Fatalf("lease: %+v %v", r, err)
	}
	if _, ids := e.queueIDs(); ids != "3,4,5,6,7,2" {
		t.Fatalf("queue after a lease: %s", ids)
	}
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml")
	if got := e.post("/api/queue/pause", "", 200); got != `{"paused":true}` {
		t.Fatalf("pause: %s", got)
	}
	if paused, _ := e.queueIDs(); !paused {
		t.Fatal("queue not reported paused")
	}
	if r, err := e.store.LeaseRun(context.Background(), "w"); r != nil || err != nil {
		t.Fatalf("leased %+v, %v while paused", r, err)
	}
	if got := e.post("/api/queue/resume", "", 200); got != `{"paused":false}` {
		t.Fatalf("resume: %s", got)
	}
	if paused, _ := e.queueIDs(); paused {
		t.Fatal("queue still reported paused")
	}
}

// A failed run retried over the API: same row, queued, previous error in
// its attempts; after it runs again the experiment counts it once.
func TestRetryOverAPI(t *testing.T) {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml")
	ctx := context.Background()
	r, _ := e.store.LeaseRun(ctx, "w1")
	if err := e.store.FinishRun(ctx, r.ID, experiments.StateFailed, "out of memory"); err != nil {
		t.Fatal(err)
	}
	got := e.post("/api/runs/1/retry", "", 200)
	for _, want := range []string{`"id":1,`, `"state":"queued"`, `"attempts":1,`, `"seed":1,`} {
		if !strings.Contains(got, want) {
			t.Errorf("retried run lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "out of memory") {
		t.Errorf("retried run still shows its old error: %s", got)
	}
	hist := e.get("/api/runs/1/attempts", 200)
	if !strings.HasPrefix(hist, `{"items":[{"attempt":1,"state":"failed","error":"out of memory","worker":"w1",`) || !strings.HasSuffix(hist, `}],"run_id":1}`) {
		t.Errorf("attempts: %s", hist)
	}
	r, _ = e.store.LeaseRun(ctx, "w2")
	if r.ID != 1 || r.Attempts != 2 {
		t.Fatalf("second lease: %+v", r)
	}
	if err := e.store.FinishRun(ctx, r.ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if exp := e.get("/api/experiments/1", 200); !strings.Contains(exp, `"runs":2,`) ||
		!strings.Contains(exp, `"counts":{"cancelled":0,"failed":0,"queued":1,"running":0,"succeeded":1}`) {
		t.Errorf("experiment after retry: %s", exp)
	}
}

// Bulk cancel cancels the experiment's queued runs and leaves its running
// run and other experiments alone.
func TestCancelQueuedOverAPI(t *testing.T) {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml")
	ctx := context.Background()
	if err := e.store.SetExperimentPriority(ctx, 2, 1); err != nil {
		t.Fatal(err)
	}
	running, _ := e.store.LeaseRun(ctx, "w") // run 3, of beta
	if got := e.post("/api/experiments/2/cancel-queued", "", 200); got != `{"cancelled":[4,5],"experiment_id":2}` {
		t.Fatalf("bulk cancel: %s", got)
	}
	if r, _ := e.store.GetRun(ctx, running.ID); r.State != experiments.StateRunning {
		t.Errorf("running run is %s", r.State)
	}
	if _, ids := e.queueIDs(); ids != "1,2" {
		t.Errorf("queue after bulk cancel: %s", ids)
	}
}

func TestQueueBadInputs(t *testing.T) {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml")
	ctx := context.Background()
	r, _ := e.store.LeaseRun(ctx, "w")
	if err := e.store.FinishRun(ctx, r.ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	e.store.LeaseRun(ctx, "w") // run 2 is running
	errBody := func(code, msg string) string {
		return `{"error":{"code":"` + code + `","message":` + jsonOf(t, msg) + `}}`
	}
	rng := "an integer from -1000 to 1000"
	cases := []struct {
		name, target, body string
		status             int
		want               string
	}{
		{"retry unknown run", "/api/runs/99/retry", "", 404, errBody("not_found", "run 99 not found")},
		{"retry succeeded run", "/api/runs/1/retry", "", 409, errBody("conflict", "run 1 is succeeded: only failed or cancelled runs can be retried")},
		{"retry queued run", "/api/runs/3/retry", "", 409, errBody("conflict", "run 3 is queued: only failed or cancelled runs can be retried")},
		{"retry bad id", "/api/runs/x/retry", "", 400,
			`{"error":{"code":"invalid","message":"run id: must be a positive integer id, got \"x\"","details":{"parameter":"id","value":"x","allowed":"a positive integer id"}}}`},
		{"top of unknown run", "/api/runs/99/top", "", 404, errBody("not_found", "run 99 not found")},
		{"top of running run", "/api/runs/2/top", "", 409, errBody("conflict", "run 2 is running, not queued: cannot move it to the top")},
		{"priority of running run", "/api/runs/2/priority", `{"priority": 1}`, 409, errBody("conflict", "run 2 is running, not queued: cannot set its priority")},
		{"priority of unknown run", "/api/runs/99/priority", `{"priority": 1}`, 404, errBody("not_found", "run 99 not found")},
		{"priority too high", "/api/runs/3/priority", `{"priority": 1001}`, 400, errBody("invalid", "priority 1001 is out of range: it must be "+rng)},
		{"priority too low", "/api/experiments/1/priority", `{"priority": -1001}`, 400, errBody("invalid", "priority -1001 is out of range: it must be "+rng)},
		{"priority not an integer", "/api/runs/3/priority", `{"priority": 1.5}`, 400,
			errBody("invalid", "priority must be "+rng+", or null to follow the experiment's, got 1.5")},
		{"priority a string", "/api/experiments/1/priority", `{"priority": "high"}`, 400, errBody("invalid", "priority must be "+rng+", got \"high\"")},
		{"experiment priority null", "/api/experiments/1/priority", `{"priority": null}`, 400, errBody("invalid", "priority must be "+rng+", got null")},
		{"priority missing", "/api/experiments/1/priority", `{}`, 400, errBody("invalid", "JSON body: field priority is required ("+rng+")")},
		{"priority no body", "/api/runs/3/priority", ``, 400, errBody("invalid", "malformed JSON body: empty body")},
		{"priority unknown field", "/api/runs/3/priority", `{"prio": 1}`, 400, errBody("invalid", `malformed JSON body: json: unknown field "prio"`)},
		{"priority of unknown experiment", "/api/experiments/99/priority", `{"priority": 1}`, 404, errBody("not_found", "experiment 99 not found")},
		{"bulk cancel unknown experiment", "/api/experiments/99/cancel-queued", "", 404, errBody("not_found", "experiment 99 not found")},
		{"submit priority not an integer", "/api/experiments?priority=high", "", 400,
			`{"error":{"code":"invalid","message":"query parameter priority: must be ` + rng + `, got \"high\"","details":{"parameter":"priority","value":"high","allowed":"` + rng + `"}}}`},
		{"submit priority out of range", "/api/experiments?priority=5000", "", 400,
			`{"error":{"code":"invalid","message":"query parameter priority: must be ` + rng + `, got \"5000\"","details":{"parameter":"priority","value":"5000","allowed":"` + rng + `"}}}`},
	}
	spec := readFile(t, "two.yaml")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct, body := "application/json", []byte(c.body)
			if strings.HasPrefix(c.target, "/api/experiments?") {
				ct, body = "application/yaml", spec
			}
			code, _, got := e.do("POST", c.target, ct, body)
			if code != c.status || got != c.want {
				t.Fatalf("got %d %s\nwant %d %s", code, got, c.status, c.want)
			}
		})
	}
	if _, n, _ := e.store.ListExperiments(ctx, "", 10, 0); n != 2 {
		t.Errorf("%d experiments after refused submissions, want 2", n)
	}
	if r, _ := e.store.GetRun(ctx, 3); r.Priority != 0 || r.PriorityOverride != nil {
		t.Errorf("refused priorities changed run 3: %d %v", r.Priority, r.PriorityOverride)
	}
	if e.get("/api/runs/99/attempts", 404) != errBody("not_found", "run 99 not found") {
		t.Error("attempts of an unknown run")
	}
}

// Without queue control the routes do not exist and ?priority= is refused.
func TestNoQueueService(t *testing.T) {
	e := newEnv(t)
	if code, _, _ := e.do("POST", "/api/runs/1/retry", "", nil); code != 404 {
		t.Errorf("retry route without queue control: %d", code)
	}
	code, _, body := e.do("POST", "/api/experiments?priority=1", "application/yaml", readFile(t, "two.yaml"))
	if code != 400 || body != `{"error":{"code":"invalid","message":"query parameter priority: this server has no queue control"}}` {
		t.Errorf("priority without queue control: %d %s", code, body)
	}
}

// Queue mutations need the token; so does reading /metrics once reads are
// guarded. On loopback reads are open.
func TestQueueAndMetricsGuards(t *testing.T) {
	read, write := BearerGuard(testToken, GuardOptions{Addr: "0.0.0.0:8080"})
	e := newEnv(t, withQueue, func(c *Config) { c.ReadGuard, c.WriteGuard = read, write })
	for _, target := range []string{"/api/queue/pause", "/api/queue/resume", "/api/runs/1/retry", "/api/runs/1/top",
		"/api/runs/1/priority", "/api/experiments/1/priority", "/api/experiments/1/cancel-queued"} {
		if code, _, body := e.call("POST", target, "", nil); code != 401 || body != body401 {
			t.Errorf("POST %s without token: %d %s", target, code, body)
		}
	}
	for _, target := range []string{"/metrics", "/api/queue", "/api/runs/1/attempts"} {
		if code, _, body := e.call("GET", target, "", nil); code != 401 || body != body401 {
			t.Errorf("GET %s without token: %d %s", target, code, body)
		}
	}
	if code, _, body := e.call("POST", "/api/queue/pause", bearer, nil); code != 200 || body != `{"paused":true}` {
		t.Errorf("pause with token: %d %s", code, body)
	}
	if code, _, _ := e.call("GET", "/metrics", bearer, nil); code != 200 {
		t.Errorf("metrics with token: %d", code)
	}
	_, open := BearerGuard(testToken, GuardOptions{Addr: "127.0.0.1:8080"})
	lo := newEnv(t, func(c *Config) { c.ReadGuard, c.WriteGuard = nil, open })
	if code, _, _ := lo.call("GET", "/metrics", "", nil); code != 200 {
		t.Errorf("metrics on loopback without token: %d", code)
	}
}

// scrape parses GET /metrics with the Prometheus text parser.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	code, h, body := e.do("GET", "/metrics", "", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain; version=0.0.4") {
		e.t.Fatalf("GET /metrics: %d %s", code, h.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the family's sample whose labels include
// labels (name=value pairs); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// /metrics counts runs by state, the queue, runs started and finished
// (from the hub's events, so they move when a runner works), train steps
// and requests by route.
func TestMetrics(t *testing.T) {
	var m *Metrics
	e := newEnv(t, withQueue, func(c *Config) {
		m = NewMetrics(c.Store)
		c.Metrics = m
	})
	e.hub.Observe(m.ObserveEvent)
	fams := e.scrape() // the first scrape has no request timed yet
	if fams["xraylab_runs"] == nil {
		t.Fatal("/metrics lacks xraylab_runs")
	}
	e.get("/api/health", 200)
	fams = e.scrape()
	for _, name := range []string{"xraylab_runs", "xraylab_queue_depth", "xraylab_queue_paused", "xraylab_runs_started_total",
		"xraylab_runs_finished_total", "xraylab_train_step_seconds", "xraylab_http_request_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if v := value(fams, "xraylab_runs_started_total"); v != 0 {
		t.Errorf("started before any run: %v", v)
	}
	if v := value(fams, "xraylab_runs_finished_total", "state", "succeeded"); v != 0 {
		t.Errorf("finished before any run: %v", v)
	}
	if fams["xraylab_train_step_seconds"].GetType() != dto.MetricType_HISTOGRAM ||
		fams["xraylab_http_request_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("step and request durations are not histograms")
	}

	e.submitFile("two.yaml")
	e.post("/api/queue/pause", "", 200)
	e.post("/api/runs/5/retry", "", 409)
	fams = e.scrape()
	if v := value(fams, "xraylab_runs", "state", "queued"); v != 5 {
		t.Errorf("queued runs: %v", v)
	}
	if v := value(fams, "xraylab_queue_depth"); v != 5 {
		t.Errorf("queue depth: %v", v)
	}
	if v := value(fams, "xraylab_queue_paused"); v != 1 {
		t.Errorf("paused: %v", v)
	}
	if v := value(fams, "xraylab_http_request_duration_seconds", "route", "/api/experiments", "method", "POST", "code", "201"); v != 1 {
		t.Errorf("submissions timed: %v", v)
	}
	if v := value(fams, "xraylab_http_request_duration_seconds", "route", "/api/runs/:id/retry", "code", "409"); v != 1 {
		t.Errorf("refused retries timed by route: %v", v)
	}
	e.do("GET", "/api/nothing/here", "", nil)
	if v := value(e.scrape(), "xraylab_http_request_duration_seconds", "route", "unmatched", "method", "GET", "code", "404"); v != 1 {
		t.Errorf("unmatched requests timed: %v", v)
	}
	e.post("/api/queue/resume", "", 200)

	// A runner executes the runs: two succeed, one fails, one is cancelled
	// while queued. Its executor reports two steps a run.
	exec := executorFunc(func(ctx context.Context, run *experiments.Run) error {
		m.ObserveStep(20 * time.Millisecond)
		m.ObserveStep(30 * time.Millisecond)
		if run.ID == 2 {
			return fmt.Errorf("diverged")
		}
		return nil
	})
	if _, err := e.mgr.Cancel(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	runner := experiments.NewRunner(e.store, e.hub, exec, experiments.RunnerOptions{Poll: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runner.Start(ctx)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, n, _ := e.store.ListRuns(context.Background(), experiments.RunFilter{State: experiments.StateQueued})
		_, r, _ := e.store.ListRuns(context.Background(), experiments.RunFilter{State: experiments.StateRunning})
		if n+r == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runs not finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	runner.Wait()
	fams = e.scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"xraylab_runs_started_total", nil, 4},
		{"xraylab_runs_finished_total", []string{"state", "succeeded"}, 3},
		{"xraylab_runs_finished_total", []string{"state", "failed"}, 1},
		{"xraylab_runs_finished_total", []string{"state", "cancelled"}, 1},
		{"xraylab_runs", []string{"state", "succeeded"}, 3},
		{"xraylab_runs", []string{"state", "failed"}, 1},
		{"xraylab_runs", []string{"state", "queued"}, 0},
		{"xraylab_queue_depth", nil, 0},
		{"xraylab_queue_paused", nil, 0},
		{"xraylab_train_step_seconds", nil, 8},
	} {
		if v := value(fams, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if s := fams["xraylab_train_step_seconds"].Metric[0].Histogram.GetSampleSum(); s < 0.199 || s > 0.201 {
		t.Errorf("step seconds sum %v, want 0.2", s)
	}
}

type executorFunc func(ctx context.Context, run *experiments.Run) error

func (f executorFunc) Execute(ctx context.Context, run *experiments.Run, _ experiments.RunSpec, _ string) error {
	return f(ctx, run)
}
