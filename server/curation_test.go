package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xraylab/experiments"
	"xraylab/experiments/report"
)

// runIDs decodes a run page's ids, in order.
func runIDs(t *testing.T, body string) string {
	t.Helper()
	var p struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	ids := make([]string, len(p.Items))
	for i, r := range p.Items {
		ids[i] = fmt.Sprint(r.ID)
	}
	return strings.Join(ids, ",")
}

func q(s string) string { return url.QueryEscape(s) }

// two.yaml queues alpha (runs 1, 2) and beta (runs 3, 4, 5).
func searchEnv(t *testing.T) *env {
	e := newEnv(t, withQueue)
	e.submitFile("two.yaml")
	ctx := context.Background()
	for id, auc := range map[int64]float64{1: 0.7, 2: 0.55, 3: 0.9, 4: 0.6} {
		if err := e.store.SetFinalMetrics(ctx, id, map[string]float64{"test/mean/roc_auc": auc}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestSearchAPI(t *testing.T) {
	e := searchEnv(t)
	e.post("/api/runs/4/tags", `{"tags": {"stage": "final"}}`, 200)
	for _, c := range []struct{ query, want string }{
		{"filter=" + q("experiment = 'beta'"), "3,4,5"},
		{"filter=" + q("metrics.`test/mean/roc_auc` > 0.6"), "1,3"},
		{"filter=" + q("metrics.`test/mean/roc_auc` >= 0.6 AND experiment = 'beta'"), "3,4"},
		{"filter=" + q("tags.stage = 'final' OR seed = 1"), "1,3,4"},
		{"filter=" + q("params.seed IN (2, 3) AND params.model.name = 'pixelgauss'"), "2,4,5"},
		{"order_by=" + q("metrics.`test/mean/roc_auc` DESC"), "3,1,4,2,5"},
		{"filter=" + q("experiment = 'alpha'") + "&order_by=" + q("metrics.`test/mean/roc_auc`"), "2,1"},
		{"filter=" + q("state = 'queued'") + "&experiment=2&limit=2", "3,4"},
	} {
		if got := runIDs(t, e.get("/api/runs?"+c.query, 200)); got != c.want {
			t.Errorf("%s: runs %s, want %s", c.query, got, c.want)
		}
	}
}

func TestSearchAPIErrors(t *testing.T) {
	e := searchEnv(t)
	for _, c := range []struct{ query, want string }{
		{"filter=" + q("model = "), `{"error":{"code":"invalid","message":"filter: expected a value (a 'string', a number, true or false), got the end of the expression at position 9","details":{"parameter":"filter","position":9,"problem":"expected a value (a 'string', a number, true or false), got the end of the expression"}}}`},
		{"filter=" + q("bogus = 1"), `{"error":{"code":"invalid","message":"filter: unknown key \"bogus\"; known: params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created at position 1","details":{"parameter":"filter","position":1,"problem":"unknown key \"bogus\"; known: params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created"}}}`},
		{"filter=" + q("metrics.`test/mean/roc_auc` > 'high'"), `{"error":{"code":"invalid","message":"filter: metrics.test/mean/roc_auc is a number; got the string \"high\" at position 31","details":{"parameter":"filter","position":31,"problem":"metrics.test/mean/roc_auc is a number; got the string \"high\""}}}`},
		{"filter=" + q("metrics.`test/mean > 1"), `{"error":{"code":"invalid","message":"filter: unterminated backtick-quoted name at position 9","details":{"parameter":"filter","position":9,"problem":"unterminated backtick-quoted name"}}}`},
		{"order_by=" + q("seed upward"), `{"error":{"code":"invalid","message":"order_by: unexpected \"upward\": order_by is KEY [ASC|DESC] at position 6","details":{"parameter":"order_by","position":6,"problem":"unexpected \"upward\": order_by is KEY [ASC|DESC]"}}}`},
		{"archived=maybe", `{"error":{"code":"invalid","message":"query parameter archived: must be one of false, true, only, got \"maybe\"","details":{"parameter":"archived","value":"maybe","allowed":"false, true, only"}}}`},
	} {
		code, _, body := e.do("GET", "/api/runs?"+c.query, "", nil)
		if code != 400 {
			t.Errorf("%s: status %d", c.query, code)
		}
		wantJSONEqual(t, c.query, body, c.want)
	}
}

func TestTagsAPI(t *testing.T) {
	e := searchEnv(t)
	body := e.post("/api/runs/2/tags", `{"tags": {"stage": "final", "who": "ana"}}`, 200)
	var r experiments.Run
	json.Unmarshal([]byte(body), &r)
	if r.ID != 2 || r.Tags["stage"] != "final" || r.Tags["who"] != "ana" {
		t.Fatalf("tags answer: %s", body)
	}
	code, _, body := e.do("DELETE", "/api/runs/2/tags?key=who", "", nil)
	if code != 200 || !strings.Contains(body, `"tags":{"stage":"final"}`) {
		t.Fatalf("delete tag: %d %s", code, body)
	}
	if got := runIDs(t, e.get("/api/runs?filter="+q("tags.stage = 'final'"), 200)); got != "2" {
		t.Errorf("tag filter: %s", got)
	}
	body = e.post("/api/experiments/1/tags", `{"tags": {"paper": "table-1"}}`, 200)
	if !strings.Contains(body, `"tags":{"paper":"table-1"}`) {
		t.Errorf("experiment tags: %s", body)
	}
	if got := e.get("/api/experiments/1", 200); !strings.Contains(got, `"tags":{"paper":"table-1"}`) {
		t.Errorf("experiment read back: %s", got)
	}
	code, _, _ = e.do("DELETE", "/api/experiments/1/tags?key=paper", "", nil)
	if code != 200 {
		t.Errorf("delete experiment tag: %d", code)
	}
	for _, c := range []struct{ method, target, body, want string }{
		{"POST", "/api/runs/99/tags", `{"tags": {"a": "b"}}`, `{"error":{"code":"not_found","message":"run 99 not found"}}`},
		{"POST", "/api/experiments/9/tags", `{"tags": {"a": "b"}}`, `{"error":{"code":"not_found","message":"experiment 9 not found"}}`},
		{"DELETE", "/api/runs/2/tags?key=nope", "", `{"error":{"code":"not_found","message":"run 2 has no tag \"nope\""}}`},
		{"DELETE", "/api/runs/2/tags", "", `{"error":{"code":"invalid","message":"query parameter key is required: the tag to delete","details":{"parameter":"key","value":"","allowed":"a tag key"}}}`},
		{"POST", "/api/runs/2/tags", `{"tags": {"bad key": "b"}}`, `{"error":{"code":"invalid","message":"tag key \"bad key\": only letters, digits and _ . - / : are allowed"}}`},
		{"POST", "/api/runs/2/tags", `{"tags": {"a": 1}}`, `{"error":{"code":"invalid","message":"malformed JSON body: field tags: expected string, got number"}}`},
		{"POST", "/api/runs/2/tags", `{"labels": {}}`, `{"error":{"code":"invalid","message":"malformed JSON body: json: unknown field \"labels\""}}`},
		{"POST", "/api/runs/2/tags", `{}`, `{"error":{"code":"invalid","message":"JSON body: field tags is required ({\"tags\": {\"key\": \"value\"}})"}}`},
		{"POST", "/api/runs/2/tags", `{"tags": {}}`, `{"error":{"code":"invalid","message":"no tags given"}}`},
		{"POST", "/api/runs/x/tags", `{"tags": {"a": "b"}}`, `{"error":{"code":"invalid","message":"run id: must be a positive integer id, got \"x\"","details":{"parameter":"id","value":"x","allowed":"a positive integer id"}}}`},
	} {
		var b []byte
		if c.body != "" {
			b = []byte(c.body)
		}
		_, _, got := e.do(c.method, c.target, "application/json", b)
		wantJSONEqual(t, c.method+" "+c.target+" "+c.body, got, c.want)
	}
}

func TestRenameAPI(t *testing.T) {
	e := searchEnv(t)
	code, _, body := e.do("PATCH", "/api/experiments/2", "application/json", []byte(`{"name": "beta-v2"}`))
	if code != 200 || !strings.Contains(body, `"name":"beta-v2"`) {
		t.Fatalf("rename: %d %s", code, body)
	}
	if got := runIDs(t, e.get("/api/runs?filter="+q("experiment = 'beta-v2'"), 200)); got != "3,4,5" {
		t.Errorf("filter by new name: %s", got)
	}
	for _, c := range []struct{ target, body, want string }{
		{"/api/experiments/2", `{"name": "no spaces"}`, `{"error":{"code":"invalid","message":"experiment name \"no spaces\": use 1 to 64 letters, digits, '-', '_' or '.'"}}`},
		{"/api/experiments/2", `{}`, `{"error":{"code":"invalid","message":"JSON body: field name is required ({\"name\": \"new-name\"})"}}`},
		{"/api/experiments/7", `{"name": "x"}`, `{"error":{"code":"not_found","message":"experiment 7 not found"}}`},
	} {
		_, _, got := e.do("PATCH", c.target, "application/json", []byte(c.body))
		wantJSONEqual(t, c.body, got, c.want)
	}
}

func TestArchiveAPI(t *testing.T) {
	e := searchEnv(t)
	body := e.post("/api/runs/1/archive", "", 200)
	if !strings.Contains(body, `"archived":"`) {
		t.Fatalf("archive answer: %s", body)
	}
	e.post("/api/experiments/2/archive", "", 200)
	if got := runIDs(t, e.get("/api/runs", 200)); got != "2" {
		t.Errorf("runs without archived: %s", got)
	}
	if got := runIDs(t, e.get("/api/runs?archived=true", 200)); got != "1,2,3,4,5" {
		t.Errorf("runs with archived: %s", got)
	}
	if got := runIDs(t, e.get("/api/runs?archived=only", 200)); got != "1,3,4,5" {
		t.Errorf("archived runs: %s", got)
	}
	if got := runIDs(t, e.get("/api/experiments", 200)); got != "1" {
		t.Errorf("experiments without archived: %s", got)
	}
	if got := runIDs(t, e.get("/api/experiments?archived=true", 200)); got != "2,1" {
		t.Errorf("experiments with archived: %s", got)
	}
	// Archived runs leave the queue.
	if _, ids := e.queueIDs(); ids != "2" {
		t.Errorf("queue: %s", ids)
	}
	// The table of an archived run's experiment leaves it out too.
	if got := e.get("/api/experiments/1", 200); !strings.Contains(got, `"runs":1`) {
		t.Errorf("experiment counts: %s", got)
	}
	body = e.post("/api/runs/1/restore", "", 200)
	if strings.Contains(body, `"archived"`) {
		t.Errorf("restored run: %s", body)
	}
	e.post("/api/experiments/2/restore", "", 200)
	if got := runIDs(t, e.get("/api/runs", 200)); got != "1,2,3,4,5" {
		t.Errorf("after restore: %s", got)
	}
	if _, ids := e.queueIDs(); ids != "1,2,3,4,5" {
		t.Errorf("queue after restore: %s", ids)
	}
	_, _, got := e.do("POST", "/api/runs/42/archive", "", nil)
	wantJSONEqual(t, "archive missing", got, `{"error":{"code":"not_found","message":"run 42 not found"}}`)
	_, _, got = e.do("POST", "/api/experiments/42/restore", "", nil)
	wantJSONEqual(t, "restore missing", got, `{"error":{"code":"not_found","message":"experiment 42 not found"}}`)
}

func TestPurgeAPI(t *testing.T) {
	e := searchEnv(t)
	for _, id := range []string{"1", "2", "3"} {
		if err := os.MkdirAll(filepath.Join(e.arts, id), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(e.arts, id, "scores.csv"), []byte("x"), 0o644)
	}
	os.MkdirAll(filepath.Join(e.arts, "experiments", "1"), 0o755)
	r, err := e.store.LeaseRun(context.Background(), "w") // run 1 is running
	if err != nil || r.ID != 1 {
		t.Fatal(r, err)
	}
	code, _, got := e.do("DELETE", "/api/runs/1", "", nil)
	if code != 409 {
		t.Errorf("purge running: %d", code)
	}
	wantJSONEqual(t, "purge running", got, `{"error":{"code":"conflict","message":"run 1 is running: cancel it before purging it"}}`)
	code, _, got = e.do("DELETE", "/api/experiments/1", "", nil)
	if code != 409 {
		t.Errorf("purge experiment with a running run: %d", code)
	}
	wantJSONEqual(t, "purge experiment", got, `{"error":{"code":"conflict","message":"experiment 1 has 1 running run(s) (1): cancel them before purging it"}}`)
	if _, err := os.Stat(filepath.Join(e.arts, "1", "scores.csv")); err != nil {
		t.Errorf("refused purge removed files: %v", err)
	}

	code, _, got = e.do("DELETE", "/api/runs/3", "", nil)
	if code != 200 {
		t.Fatalf("purge: %d %s", code, got)
	}
	wantJSONEqual(t, "purge", got, `{"purged_runs":[3]}`)
	if _, err := os.Stat(filepath.Join(e.arts, "3")); !os.IsNotExist(err) {
		t.Errorf("artifacts of run 3: %v", err)
	}
	e.get("/api/runs/3", 404)

	if err := e.store.FinishRun(context.Background(), 1, experiments.StateFailed, "x"); err != nil {
		t.Fatal(err)
	}
	code, _, got = e.do("DELETE", "/api/experiments/1", "", nil)
	if code != 200 {
		t.Fatalf("purge experiment: %d %s", code, got)
	}
	wantJSONEqual(t, "purge experiment", got, `{"experiment_id":1,"purged_runs":[1,2]}`)
	for _, p := range []string{"1", "2", "experiments/1"} {
		if _, err := os.Stat(filepath.Join(e.arts, p)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	e.get("/api/experiments/1", 404)
	_, _, got = e.do("DELETE", "/api/runs/1", "", nil)
	wantJSONEqual(t, "purge purged", got, `{"error":{"code":"not_found","message":"run 1 not found"}}`)
}

// Every curation route is a write: without the token, 401.
func TestCurationNeedsToken(t *testing.T) {
	e := authEnv(t, GuardOptions{Addr: "127.0.0.1:8080"})
	for _, c := range [][2]string{
		{"POST", "/api/runs/1/tags"}, {"DELETE", "/api/runs/1/tags?key=a"}, {"POST", "/api/runs/1/archive"},
		{"POST", "/api/runs/1/restore"}, {"DELETE", "/api/runs/1"}, {"POST", "/api/experiments/1/tags"},
		{"DELETE", "/api/experiments/1/tags?key=a"}, {"PATCH", "/api/experiments/1"}, {"POST", "/api/experiments/1/archive"},
		{"POST", "/api/experiments/1/restore"}, {"DELETE", "/api/experiments/1"},
	} {
		if code, _, _ := e.call(c[0], c[1], "", nil); code != 401 {
			t.Errorf("%s %s without token: %d", c[0], c[1], code)
		}
	}
}

// Reports follow curation: a renamed experiment's report shows the new
// name, and its table leaves an archived run out.
func TestReportsFollowCuration(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Reports = report.NewReports(c.Store, c.ArtifactsDir) })
	e.submitFile("two.yaml")
	finishRuns(t, e, map[int64]float64{1: 0.6, 2: 0.8, 3: 0.7})
	if html := e.get("/api/experiments/1/report", 200); !strings.Contains(html, "alpha") {
		t.Fatal("report lacks the name")
	}
	if code, _, body := e.do("PATCH", "/api/experiments/1", "application/json", []byte(`{"name": "alpha-renamed"}`)); code != 200 {
		t.Fatalf("rename: %d %s", code, body)
	}
	if html := e.get("/api/experiments/1/report", 200); !strings.Contains(html, "alpha-renamed") {
		t.Error("the cached report kept the old name")
	}
	table := func() string { return e.get("/api/experiments/1/table?format=csv", 200) }
	before := table()
	e.post("/api/runs/2/archive", "", 200) // seed 2, AUC 0.8
	after := table()
	if before == after || strings.Contains(after, "0.8") {
		t.Errorf("table with run 2 archived:\n%s\nbefore:\n%s", after, before)
	}
}
