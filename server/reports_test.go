package server

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xraylab/experiments"
	"xraylab/experiments/report"
)

// finishRuns leases and finishes every queued run of the store with the
// given test and validation ROC-AUC per seed and a scores.csv.
func finishRuns(t *testing.T, e *env, auc map[int64]float64) {
	t.Helper()
	ctx := context.Background()
	for {
		r, err := e.store.LeaseRun(ctx, "w")
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return
		}
		v := auc[r.Seed]
		if err := e.store.SetFinalMetrics(ctx, r.ID, map[string]float64{"test/mean/roc_auc": v, "val/mean/roc_auc": v, "test/mean/ap": v}); err != nil {
			t.Fatal(err)
		}
		csv := "part,path,patient,study,view,half,label,mean\ntest,a.png,1,s1,1,0,0,0.1\ntest,b.png,2,s2,1,0,1,0.9\ntest,c.png,3,s3,1,0,1,0.05\n"
		dir := filepath.Join(e.arts, itoa(r.ID))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "scores.csv"), []byte(csv), 0o644)
		if err := e.store.FinishRun(ctx, r.ID, experiments.StateSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestExperimentReports(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Reports = report.NewReports(c.Store, c.ArtifactsDir) })
	e.submitFile("two.yaml")
	finishRuns(t, e, map[int64]float64{1: 0.6, 2: 0.8, 3: 0.7})

	got := e.get("/api/experiments/1/table", 200)
	for _, want := range []string{`"experiment_id":1`, `"model":"pixelgauss","score":"mean"`, `"mean":0.7`, `"n":2`, `"best":true`} {
		if !strings.Contains(got, want) {
			t.Errorf("table JSON lacks %s:\n%s", want, got)
		}
	}
	if md := e.get("/api/experiments/1/table?format=markdown", 200); !strings.Contains(md, "| pixelgauss | mean | **0.700 ± 0.141 (2)** |") {
		t.Errorf("markdown:\n%s", md)
	}
	if tex := e.get("/api/experiments/2/table?format=latex&split=val", 200); !strings.Contains(tex, `\textbf{0.700`) {
		t.Errorf("latex:\n%s", tex)
	}
	for _, f := range []string{"png", "svg"} {
		code, h, body := e.do("GET", "/api/experiments/1/table?format="+f, "", nil)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "image/") || len(body) < 1000 {
			t.Errorf("table %s: %d %s, %d bytes", f, code, h.Get("Content-Type"), len(body))
		}
	}
	code, h, body := e.do("GET", "/api/experiments/1/roc.png?score=mean", "", nil)
	if code != 200 || h.Get("Content-Type") != "image/png" || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("roc.png: %d %s", code, h.Get("Content-Type"))
	}
	// Drawn once: the cached file is reused (same bytes) until runs change.
	_, _, again := e.do("GET", "/api/experiments/1/roc.png?score=mean", "", nil)
	if again != body {
		t.Error("the second request redrew a different figure")
	}
	if got := e.get("/api/experiments/1/roc.png?score=mse", 404); !strings.Contains(got, `no finished run has test scores named \"mse\"`) {
		t.Errorf("unknown score: %s", got)
	}
	if got := e.get("/api/experiments/1/roc.png", 400); !strings.Contains(got, "query parameter score is required") {
		t.Errorf("no score: %s", got)
	}
	if got := e.get("/api/experiments/1/table?format=docx", 400); !strings.Contains(got, `query parameter format: must be one of json, csv, markdown, latex, png, svg, got \"docx\"`) {
		t.Errorf("bad format: %s", got)
	}
	if got := e.get("/api/experiments/1/table?aggregate=median", 400); !strings.Contains(got, "query parameter aggregate") {
		t.Errorf("bad aggregate: %s", got)
	}
	html := e.get("/api/experiments/1/report", 200)
	for _, want := range []string{"<title>xraylab report: alpha</title>", "data:image/png;base64,", "Selected on validation ROC-AUC"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got := e.get("/api/experiments/9/report", 404); !strings.Contains(got, "not found") {
		t.Errorf("missing experiment: %s", got)
	}
}

// The HTML report shows the experiment's notes as escaped text, and a note
// added after a report was drawn makes a new one.
func TestExperimentReportNotes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Reports = report.NewReports(c.Store, c.ArtifactsDir) })
	e.submitFile("two.yaml")
	finishRuns(t, e, map[int64]float64{1: 0.6, 2: 0.8, 3: 0.7})
	ctx := context.Background()
	if html := e.get("/api/experiments/1/report", 200); strings.Contains(html, "<h2>Notes</h2>") {
		t.Error("a report without notes has a Notes section")
	}
	if _, err := e.store.AddNote(ctx, 1, "HE helps the CAE on XR_HAND."); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AddNote(ctx, 1, `<script>alert("x")</script> & <b>bold</b>`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AddNote(ctx, 2, "a note on beta"); err != nil {
		t.Fatal(err)
	}
	html := e.get("/api/experiments/1/report", 200)
	for _, want := range []string{"<h2>Notes</h2>", "HE helps the CAE on XR_HAND.",
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{`<script>alert`, "<b>bold</b>", "a note on beta"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}
