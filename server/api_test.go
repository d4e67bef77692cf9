package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
)

func TestSubmit(t *testing.T) {
	spec := readFile(t, "two.yaml")
	jsonBody := func(v any) []byte { return []byte(jsonOf(t, v)) }
	both := `{"experiments":[{"id":1,"name":"alpha","run_ids":[1,2]},{"id":2,"name":"beta","run_ids":[3,4,5]}]}`
	onlyBeta := `{"experiments":[{"id":1,"name":"beta","run_ids":[1,2,3]}]}`
	cases := []struct {
		name, target, ct string
		body             []byte
		want             string
		runs             int
	}{
		{"yaml", "/api/experiments", "application/yaml", spec, both, 5},
		{"x-yaml", "/api/experiments", "application/x-yaml", spec, both, 5},
		{"text/yaml with charset", "/api/experiments", "text/yaml; charset=utf-8", spec, both, 5},
		{"query selects", "/api/experiments?experiment=beta", "application/yaml", spec, onlyBeta, 3},
		{"json", "/api/experiments", "application/json", jsonBody(map[string]string{"spec": string(spec)}), both, 5},
		{"json selects", "/api/experiments", "application/json", jsonBody(map[string]string{"spec": string(spec), "experiment": "beta"}), onlyBeta, 3},
		{"json and same query", "/api/experiments?experiment=beta", "application/json", jsonBody(map[string]string{"spec": string(spec), "experiment": "beta"}), onlyBeta, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			code, h, body := e.do("POST", c.target, c.ct, c.body)
			if code != 201 || body != c.want {
				t.Fatalf("got %d %s\nwant 201 %s", code, body, c.want)
			}
			wantLoc := ""
			if strings.Count(c.want, `"name"`) == 1 {
				wantLoc = "/api/experiments/1"
			}
			if loc := h.Get("Location"); loc != wantLoc {
				t.Errorf("Location %q, want %q", loc, wantLoc)
			}
			// The runs really are queued in the store, with the spec text.
			runs, total, err := e.store.ListRuns(context.Background(), experiments.RunFilter{State: experiments.StateQueued})
			if err != nil || total != c.runs || len(runs) != total {
				t.Fatalf("queued runs: %d (%v)", total, err)
			}
			exp, err := e.store.GetExperiment(context.Background(), 1)
			if err != nil || exp.SpecText != string(spec) || exp.Version != "test-1.0" {
				t.Fatalf("stored experiment: %+v %v", exp, err)
			}
		})
	}
}

func TestSubmitErrors(t *testing.T) {
	spec := readFile(t, "two.yaml")
	badProblems := func() any {
		_, err := experiments.ParseSpec(readFile(t, "bad.yaml"))
		var ce *experiments.Error
		if !errors.As(err, &ce) {
			t.Fatalf("bad.yaml parses: %v", err)
		}
		return ce.Details
	}()
	accepted := `application/yaml, application/x-yaml, text/yaml (the spec as the body) or application/json ({\"spec\": \"...\", \"experiment\": \"name\"})`
	cases := []struct {
		name, target, ct string
		body             []byte
		status           int
		want             string
	}{
		{"no content type", "/api/experiments", "", spec, 415,
			`{"error":{"code":"unsupported_media_type","message":"missing Content-Type; send ` + accepted + `"}}`},
		{"text/plain", "/api/experiments", "text/plain", spec, 415,
			`{"error":{"code":"unsupported_media_type","message":"unsupported Content-Type \"text/plain\"; send ` + accepted + `"}}`},
		{"malformed content type", "/api/experiments", "application/", spec, 415,
			`{"error":{"code":"unsupported_media_type","message":"malformed Content-Type \"application/\"; send ` + accepted + `"}}`},
		{"empty yaml", "/api/experiments", "application/yaml", []byte("  \n"), 400,
			`{"error":{"code":"invalid","message":"empty request body: send the spec YAML"}}`},
		{"truncated json", "/api/experiments", "application/json", []byte(`{"spec": "x",`), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: unexpected EOF"}}`},
		{"empty json", "/api/experiments", "application/json", []byte(` `), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: empty body"}}`},
		{"json syntax", "/api/experiments", "application/json", []byte(`{"spec" "x"}`), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: invalid character '\"' after object key (at byte 9)"}}`},
		{"json wrong type", "/api/experiments", "application/json", []byte(`{"spec": 3}`), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: field spec: expected string, got number"}}`},
		{"json unknown field", "/api/experiments", "application/json", []byte(`{"spec": "x", "name": "y"}`), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: json: unknown field \"name\""}}`},
		{"json trailing data", "/api/experiments", "application/json", []byte(`{"spec": "x"} {}`), 400,
			`{"error":{"code":"invalid","message":"malformed JSON body: data after the object"}}`},
		{"json without spec", "/api/experiments", "application/json", []byte(`{"experiment": "alpha"}`), 400,
			`{"error":{"code":"invalid","message":"JSON body: field spec is required (the YAML text)"}}`},
		{"names disagree", "/api/experiments?experiment=alpha", "application/json", []byte(jsonOf(t, map[string]string{"spec": string(spec), "experiment": "beta"})), 400,
			`{"error":{"code":"invalid","message":"experiment named twice: \"alpha\" in the query and \"beta\" in the body"}}`},
		{"unknown experiment", "/api/experiments?experiment=gamma", "application/yaml", spec, 400,
			`{"error":{"code":"invalid","message":"no experiment named \"gamma\" in the spec; it has: alpha, beta"}}`},
		{"invalid spec", "/api/experiments", "application/yaml", readFile(t, "bad.yaml"), 400,
			`{"error":{"code":"invalid","message":"invalid spec: 2 problem(s)","details":` + jsonOf(t, badProblems) + `}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			code, _, body := e.do("POST", c.target, c.ct, c.body)
			if code != c.status || body != c.want {
				t.Fatalf("got %d %s\nwant %d %s", code, body, c.status, c.want)
			}
			if _, total, _ := e.store.ListExperiments(context.Background(), "", 10, 0); total != 0 {
				t.Fatalf("a refused submission stored %d experiments", total)
			}
		})
	}
	// The details carry each problem's place in the file.
	var probs []experiments.Problem
	if err := json.Unmarshal([]byte(jsonOf(t, badProblems)), &probs); err != nil || len(probs) != 2 {
		t.Fatalf("problems: %v %v", probs, err)
	}
	got := map[string]int{}
	for _, p := range probs {
		got[p.Path] = p.Line
	}
	if got["experiments.alpha.models[0].name"] != 6 || got["experiments.alpha.colour"] != 7 {
		t.Fatalf("problems lack their lines: %+v", probs)
	}
}

func TestBodyLimits(t *testing.T) {
	// Fiber's own limit: fasthttp refuses the body before any handler runs
	// and then closes the connection, which app.Test reports as an error,
	// so this goes over a (in-memory) connection like a real client's.
	e := newEnv(t, func(c *Config) { c.BodyLimit = 512 })
	client := e.serve()
	big := []byte("experiments:\n" + strings.Repeat("# padding\n", 100))
	resp, err := client.Post("http://xraylab/api/experiments", "application/yaml", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(b) != `{"error":{"code":"too_large","message":"request body too large: the limit is 512 bytes"}}` {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
	if _, total, _ := e.store.ListExperiments(context.Background(), "", 10, 0); total != 0 {
		t.Fatal("an oversized body was stored")
	}
	// The spec's own limit (experiments.MaxSpecBytes) when the body limit
	// lets it through: CodeTooLarge maps to 413 too.
	e = newEnv(t, func(c *Config) { c.BodyLimit = 2 * experiments.MaxSpecBytes })
	huge := []byte("experiments:\n" + strings.Repeat("#", experiments.MaxSpecBytes))
	code, _, body := e.do("POST", "/api/experiments", "application/yaml", huge)
	want := fmt.Sprintf(`{"error":{"code":"too_large","message":"spec is %d bytes; at most %d allowed"}}`, len(huge), experiments.MaxSpecBytes)
	if code != 413 || body != want {
		t.Fatalf("got %d %s\nwant %s", code, body, want)
	}
}

func TestExperiments(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	ctx := context.Background()
	if _, err := e.store.GetExperiment(ctx, 1); err != nil {
		t.Fatal(err)
	}
	beta, err := e.store.GetExperiment(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Make a run finish so that counts and best are not trivially zero.
	run, err := e.store.LeaseRun(ctx, "w1")
	if err != nil || run == nil || run.ExperimentID != 1 {
		t.Fatalf("lease: %+v %v", run, err)
	}
	if err := e.store.SetFinalMetrics(ctx, run.ID, map[string]float64{"test/mean/roc_auc": 0.75}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.FinishRun(ctx, run.ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	alpha, _ := e.store.GetExperiment(ctx, 1)

	summary := func(x *experiments.Experiment, counts map[string]int, spec bool) string {
		v := map[string]any{"id": x.ID, "name": x.Name, "spec_hash": x.SpecHash, "version": "test-1.0",
			"created": x.Created, "runs": x.Runs, "counts": counts, "best": x.Best}
		if spec {
			v["spec"] = string(readFile(t, "two.yaml"))
		}
		return jsonOf(t, v)
	}
	alphaCounts := map[string]int{"queued": 1, "running": 0, "succeeded": 1, "failed": 0, "cancelled": 0}
	betaCounts := map[string]int{"queued": 3, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}

	page := func(items []string, total, limit, offset int) string {
		return fmt.Sprintf(`{"items":[%s],"total":%d,"limit":%d,"offset":%d}`, strings.Join(items, ","), total, limit, offset)
	}
	cases := []struct{ target, want string }{
		{"/api/experiments", page([]string{summary(beta, betaCounts, false), summary(alpha, alphaCounts, false)}, 2, 50, 0)},
		{"/api/experiments?limit=1", page([]string{summary(beta, betaCounts, false)}, 2, 1, 0)},
		{"/api/experiments?limit=1&offset=1", page([]string{summary(alpha, alphaCounts, false)}, 2, 1, 1)},
		{"/api/experiments?offset=5", page(nil, 2, 50, 5)},
		{"/api/experiments?search=alp", page([]string{summary(alpha, alphaCounts, false)}, 1, 50, 0)},
		{"/api/experiments?search=zzz", page(nil, 0, 50, 0)},
		{"/api/experiments/1", summary(alpha, alphaCounts, true)},
		{"/api/experiments/2", summary(beta, betaCounts, true)},
	}
	for _, c := range cases {
		wantJSONEqual(t, c.target, e.get(c.target, 200), c.want)
	}
	if alpha.Best == nil || alpha.Best.Value != 0.75 || alpha.Best.RunID != run.ID {
		t.Fatalf("best figure not carried: %+v", alpha.Best)
	}
}

// Bad query and path parameters name the parameter and what is allowed.
func TestBadParameters(t *testing.T) {
	e := newEnv(t)
	msg := func(m, param, value, allowed string) string {
		return `{"error":{"code":"invalid","message":` + jsonOf(t, m) + `,"details":{"parameter":` + jsonOf(t, param) +
			`,"value":` + jsonOf(t, value) + `,"allowed":` + jsonOf(t, allowed) + `}}}`
	}
	limitAllowed := "an integer from 1 to 1000"
	cases := []struct{ target, want string }{
		{"/api/runs?limit=abc", msg(`query parameter limit: must be an integer from 1 to 1000, got "abc"`, "limit", "abc", limitAllowed)},
		{"/api/runs?limit=0", msg(`query parameter limit: must be an integer from 1 to 1000, got "0"`, "limit", "0", limitAllowed)},
		{"/api/runs?limit=1001", msg(`query parameter limit: must be an integer from 1 to 1000, got "1001"`, "limit", "1001", limitAllowed)},
		{"/api/experiments?limit=2.5", msg(`query parameter limit: must be an integer from 1 to 1000, got "2.5"`, "limit", "2.5", limitAllowed)},
		{"/api/runs?offset=-1", msg(`query parameter offset: must be an integer >= 0, got "-1"`, "offset", "-1", "an integer >= 0")},
		{"/api/experiments?offset=x", msg(`query parameter offset: must be an integer >= 0, got "x"`, "offset", "x", "an integer >= 0")},
		{"/api/runs?state=done", msg(`query parameter state: unknown state "done"; allowed: queued, running, succeeded, failed, cancelled`,
			"state", "done", "queued, running, succeeded, failed, cancelled")},
		{"/api/runs?experiment=abc", msg(`query parameter experiment: must be a positive integer id, got "abc"`, "experiment", "abc", "a positive integer id")},
		{"/api/runs?experiment=0", msg(`query parameter experiment: must be a positive integer id, got "0"`, "experiment", "0", "a positive integer id")},
		{"/api/events?experiment=-3", msg(`query parameter experiment: must be a positive integer id, got "-3"`, "experiment", "-3", "a positive integer id")},
		{"/api/runs/abc", msg(`run id: must be a positive integer id, got "abc"`, "id", "abc", "a positive integer id")},
		{"/api/runs/0/metrics", msg(`run id: must be a positive integer id, got "0"`, "id", "0", "a positive integer id")},
		{"/api/experiments/1x", msg(`experiment id: must be a positive integer id, got "1x"`, "id", "1x", "a positive integer id")},
	}
	for _, c := range cases {
		if got := e.get(c.target, 400); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.target, got, c.want)
		}
	}
	code, _, body := e.do("POST", "/api/runs/x/cancel", "", nil)
	if want := msg(`run id: must be a positive integer id, got "x"`, "id", "x", "a positive integer id"); code != 400 || body != want {
		t.Errorf("cancel x: %d %s", code, body)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ method, target, message string }{
		{"GET", "/api/experiments/7", "experiment 7 not found"},
		{"GET", "/api/runs/7", "run 7 not found"},
		{"GET", "/api/runs/7/metrics", "run 7 not found"},
		{"GET", "/api/runs/7/artifacts", "run 7 not found"},
		{"GET", "/api/runs/7/artifacts/x.png", "run 7 not found"},
		{"POST", "/api/runs/7/cancel", "run 7 not found"},
	}
	for _, c := range cases {
		code, _, body := e.do(c.method, c.target, "", nil)
		want := `{"error":{"code":"not_found","message":"` + c.message + `"}}`
		if code != 404 || body != want {
			t.Errorf("%s %s: got %d %s, want %s", c.method, c.target, code, body, want)
		}
	}
}

func TestRuns(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	ctx := context.Background()
	leased, err := e.store.LeaseRun(ctx, "w1") // run 1 → running
	if err != nil || leased.ID != 1 {
		t.Fatalf("lease: %+v %v", leased, err)
	}
	all, _, err := e.store.ListRuns(ctx, experiments.RunFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("runs: %d %v", len(all), err)
	}
	page := func(ids []int, total, limit, offset int) string {
		items := make([]*experiments.Run, len(ids))
		for i, id := range ids {
			items[i] = all[id-1]
		}
		return fmt.Sprintf(`{"items":%s,"total":%d,"limit":%d,"offset":%d}`, jsonOf(t, items), total, limit, offset)
	}
	cases := []struct{ target, want string }{
		{"/api/runs", page([]int{1, 2, 3, 4, 5}, 5, 50, 0)},
		{"/api/runs?limit=2", page([]int{1, 2}, 5, 2, 0)},
		{"/api/runs?limit=2&offset=4", page([]int{5}, 5, 2, 4)},
		{"/api/runs?offset=9", page(nil, 5, 50, 9)},
		{"/api/runs?experiment=2", page([]int{3, 4, 5}, 3, 50, 0)},
		{"/api/runs?experiment=2&limit=1&offset=1", page([]int{4}, 3, 1, 1)},
		{"/api/runs?state=running", page([]int{1}, 1, 50, 0)},
		{"/api/runs?state=queued&experiment=1", page([]int{2}, 1, 50, 0)},
		{"/api/runs?model=pixelgauss&limit=3", page([]int{1, 2, 3}, 5, 3, 0)},
		{"/api/runs?model=cae", page(nil, 0, 50, 0)},
		{"/api/runs?experiment=99", page(nil, 0, 50, 0)},
		{"/api/runs/1", jsonOf(t, all[0])},
		{"/api/runs/4", jsonOf(t, all[3])},
	}
	for _, c := range cases {
		if got := e.get(c.target, 200); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.target, got, c.want)
		}
	}
	// The run record carries what issue 3 asks for.
	var r map[string]any
	json.Unmarshal([]byte(e.get("/api/runs/1", 200)), &r)
	for _, k := range []string{"params", "seed", "state", "attempts", "worker"} {
		if _, ok := r[k]; !ok {
			t.Errorf("run JSON lacks %q: %v", k, r)
		}
	}
}

func TestRunMetrics(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pts := []experiments.MetricPoint{
		{Key: "loss", Step: 2, Epoch: 1, Value: 0.25, Time: t0.Add(2 * time.Second)},
		{Key: "loss", Step: 0, Epoch: 0, Value: 1, Time: t0},
		{Key: "val/auc", Step: 0, Epoch: 0, Value: 0.625, Time: t0},
		{Key: "loss", Step: 1, Epoch: 0, Value: 0.5, Time: t0.Add(time.Second)},
	}
	if err := e.store.AppendMetrics(ctx, 2, pts); err != nil {
		t.Fatal(err)
	}
	ts := func(d int) string { return `"` + t0.Add(time.Duration(d)*time.Second).Format(time.RFC3339Nano) + `"` }
	loss := `[{"step":0,"epoch":0,"value":1,"time":` + ts(0) + `},{"step":1,"epoch":0,"value":0.5,"time":` + ts(1) +
		`},{"step":2,"epoch":1,"value":0.25,"time":` + ts(2) + `}]`
	auc := `[{"step":0,"epoch":0,"value":0.625,"time":` + ts(0) + `}]`
	cases := []struct{ target, want string }{
		{"/api/runs/2/metrics", `{"run_id":2,"series":{"loss":` + loss + `,"val/auc":` + auc + `}}`},
		{"/api/runs/2/metrics?key=loss", `{"run_id":2,"series":{"loss":` + loss + `}}`},
		{"/api/runs/2/metrics?key=val%2Fauc", `{"run_id":2,"series":{"val/auc":` + auc + `}}`},
		{"/api/runs/2/metrics?key=nope", `{"run_id":2,"series":{}}`},
		{"/api/runs/1/metrics", `{"run_id":1,"series":{}}`},
	}
	for _, c := range cases {
		if got := e.get(c.target, 200); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.target, got, c.want)
		}
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	ctx := context.Background()
	events, stop := e.hub.Subscribe()
	defer stop()

	code, _, body := e.do("POST", "/api/runs/2/cancel", "", nil)
	run, err := e.store.GetRun(ctx, 2)
	if err != nil || run.State != experiments.StateCancelled {
		t.Fatalf("run 2 after cancel: %+v %v", run, err)
	}
	if code != 200 || body != jsonOf(t, run) {
		t.Fatalf("cancel: %d %s", code, body)
	}
	select {
	case ev := <-events:
		if ev.Type != "state" || ev.RunID != 2 || ev.State != experiments.StateCancelled {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no state event for the cancel")
	}

	if _, err := e.store.LeaseRun(ctx, "w1"); err != nil { // run 1 → running
		t.Fatal(err)
	}
	cases := []struct {
		target string
		want   string
	}{
		{"/api/runs/2/cancel", `{"error":{"code":"conflict","message":"run 2 is already cancelled"}}`},
		// This manager has no runner, so a running run belongs to another process.
		{"/api/runs/1/cancel", `{"error":{"code":"conflict","message":"run 1 is running in another process (w1); cancel it there"}}`},
	}
	for _, c := range cases {
		code, _, body := e.do("POST", c.target, "", nil)
		if code != 409 || body != c.want {
			t.Errorf("%s: got %d %s, want 409 %s", c.target, code, body, c.want)
		}
	}
}

func TestRunDataset(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	rec := experiments.DatasetRecord{Fingerprint: "f00d", Summary: json.RawMessage(`{"patients":8,"images":{"train":40}}`)}
	if err := e.store.SetDataset(context.Background(), 1, rec); err != nil {
		t.Fatal(err)
	}
	if got, want := e.get("/api/runs/1/dataset", 200), `{"run_id":1,"fingerprint":"f00d","summary":{"patients":8,"images":{"train":40}}}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := e.get("/api/runs/2/dataset", 404); got != `{"error":{"code":"not_found","message":"run 2 has no dataset record yet"}}` {
		t.Fatalf("run without record: %s", got)
	}
	if got := e.get("/api/runs/9/dataset", 404); got != `{"error":{"code":"not_found","message":"run 9 not found"}}` {
		t.Fatalf("missing run: %s", got)
	}
}
