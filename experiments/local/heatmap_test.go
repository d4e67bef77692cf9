package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
	"xraylab/experiments/report"
	"xraylab/server"
)

// A trained run's heatmap of one of its test images, asked of the server:
// rendered with the run's checkpoint (the model scores the image exactly
// as the run did), cached under the run's folder, then served from there.
func TestHeatmapOnDemand(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	runs := e.WaitAll(t, testenv.Submit(t, m, testenv.TinySpec), time.Minute)
	ctx := context.Background()
	run := runs[0]
	if run.State != experiments.StateSucceeded {
		t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
	}
	dir := e.Exec.RunDir(run.ID)
	table, sum := runRecords(t, e, run.ID)
	var testRow, valRow *report.ScoreRow
	for i := range table.Rows {
		r := &table.Rows[i]
		if r.Part == "test" && r.Label == 1 && testRow == nil {
			testRow = r
		}
		if r.Part == "val" && valRow == nil {
			valRow = r
		}
	}
	if testRow == nil || valRow == nil {
		t.Fatalf("scores.csv lacks an abnormal test row or a val row: %d rows", len(table.Rows))
	}

	// The renderer on its own: the same scores the run recorded for this
	// image, the true anomaly outlined (synthetic data has masks), and a
	// PNG at least the model's input size.
	hm, err := local.RenderHeatmap(ctx, filepath.Join(dir, local.CheckpointName), sum.Root, testRow.Path, testRow.Half, "")
	if err != nil {
		t.Fatal(err)
	}
	if hm.Map != "recon" || fmt.Sprint(hm.Maps) != "[recon]" {
		t.Errorf("drew map %q of %v; want recon of [recon]", hm.Map, hm.Maps)
	}
	for name, want := range testRow.Scores {
		if got := hm.Scores[name]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("score %s of %s: rendered %v, run recorded %v", name, testRow.Path, got, want)
		}
	}
	if !hm.Truth || !(hm.Max > 0) {
		t.Errorf("truth outlined %v, scale %v; want an outline and a positive scale", hm.Truth, hm.Max)
	}
	img, err := png.Decode(bytes.NewReader(hm.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 32 || b.Dx() != b.Dy() {
		t.Errorf("heatmap is %v; want a square of at least 32 px", b)
	}

	get := heatmapGetter(t, e, m, run.ID, "X-Heatmap-Cache")
	q := "image=" + url.QueryEscape(testRow.Path) + "&half=" + strconv.Itoa(testRow.Half)
	code, cache, body := get(q)
	if code != 200 || cache != "miss" || !bytes.Equal(body, hm.PNG) {
		t.Fatalf("first request: %d, cache %q, %d bytes (same as rendered: %v): %.200s", code, cache, len(body), bytes.Equal(body, hm.PNG), body)
	}
	cached, _ := filepath.Glob(filepath.Join(dir, "heatmap-cache", "*.png"))
	if len(cached) != 1 {
		t.Fatalf("cache holds %v; want one PNG", cached)
	}
	// The second request is the cached file: overwrite it to prove no
	// render happens.
	if err := os.WriteFile(cached[0], []byte("cached"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, cache, body := get(q); code != 200 || cache != "hit" || string(body) != "cached" {
		t.Errorf("second request: %d, cache %q, %q", code, cache, body)
	}
	// A validation image of the same run is refused.
	code, _, body = get("image=" + url.QueryEscape(valRow.Path))
	want := `{"error":{"code":"invalid","message":"image \"` + valRow.Path + `\" is in run ` + strconv.FormatInt(run.ID, 10) +
		`'s val split, not its test split","details":{"parameter":"image","value":"` + valRow.Path + `","allowed":"a test image path of the run"}}}`
	if code != 400 || string(body) != want {
		t.Errorf("val image: %d %s\nwant %s", code, body, want)
	}
	// The renderer refuses paths outside the dataset even if asked directly.
	if _, err := local.RenderHeatmap(ctx, filepath.Join(dir, local.CheckpointName), sum.Root, "../"+testRow.Path, 0, ""); err == nil ||
		err.Error() != `image "../`+testRow.Path+`" is not a path inside the dataset` {
		t.Errorf("path outside the dataset: %v", err)
	}
}

// A DCGAN run has no reconstruction map: the endpoint draws its
// discriminator's saliency maps, d_grad by default, each cached apart, and
// refuses a map the model does not draw with the list of those it does.
func TestHeatmapDCGAN(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	runs := e.WaitAll(t, testenv.Submit(t, m, tinyDCGAN), 2*time.Minute)
	run := runs[0]
	if run.State != experiments.StateSucceeded {
		t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
	}
	dir := e.Exec.RunDir(run.ID)
	table, sum := runRecords(t, e, run.ID)
	var row *report.ScoreRow
	for i := range table.Rows {
		if r := &table.Rows[i]; r.Part == "test" && r.Label == 1 {
			row = r
			break
		}
	}
	if row == nil {
		t.Fatalf("scores.csv has no abnormal test row: %d rows", len(table.Rows))
	}
	ckpt := filepath.Join(dir, local.CheckpointName)
	// The renderer on its own: the default is the first map, d_grad, and
	// the image keeps the score the run recorded (saliency changes no score).
	def, err := local.RenderHeatmap(context.Background(), ckpt, sum.Root, row.Path, row.Half, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.Map != "d_grad" || fmt.Sprint(def.Maps) != "[d_grad d_gradx]" || !(def.Max > 0) {
		t.Errorf("default drew %q of %v, scale %v; want d_grad of [d_grad d_gradx], a positive scale", def.Map, def.Maps, def.Max)
	}
	if got, want := def.Scores["d"], row.Scores["d"]; math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("score d: rendered %v, run recorded %v", got, want)
	}
	gx, err := local.RenderHeatmap(context.Background(), ckpt, sum.Root, row.Path, row.Half, "d_gradx")
	if err != nil {
		t.Fatal(err)
	}
	if gx.Map != "d_gradx" || bytes.Equal(gx.PNG, def.PNG) {
		t.Errorf("map d_gradx drew %q, same PNG as d_grad: %v", gx.Map, bytes.Equal(gx.PNG, def.PNG))
	}

	get := heatmapGetter(t, e, m, run.ID, "Content-Type")
	q := "image=" + url.QueryEscape(row.Path) + "&half=" + strconv.Itoa(row.Half)
	for _, c := range []struct {
		q    string
		want []byte
	}{{q, def.PNG}, {q + "&map=d_grad", def.PNG}, {q + "&map=d_gradx", gx.PNG}} {
		code, ctype, body := get(c.q)
		if code != 200 || ctype != "image/png" || !bytes.Equal(body, c.want) {
			t.Errorf("%s: %d %s, %d bytes (as rendered: %v): %.200s", c.q, code, ctype, len(body), bytes.Equal(body, c.want), body)
		}
		if _, err := png.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: %v", c.q, err)
		}
	}
	// one cache file per map as asked
	if cached, _ := filepath.Glob(filepath.Join(dir, "heatmap-cache", "*.png")); len(cached) != 3 {
		t.Errorf("cache holds %v; want three PNGs", cached)
	}
	code, _, body := get(q + "&map=recon")
	want := `{"error":{"code":"invalid","message":"query parameter map: model dcgan of run ` + strconv.FormatInt(run.ID, 10) +
		` draws no map \"recon\"; it draws: d_grad, d_gradx","details":{"parameter":"map","value":"recon","allowed":"d_grad, d_gradx"}}}`
	if code != 400 || string(body) != want {
		t.Errorf("unknown map: %d %s\nwant %s", code, body, want)
	}
}

// runRecords reads a finished run's scores.csv and dataset summary.
func runRecords(t *testing.T, e *testenv.Env, id int64) (*report.ScoreTable, local.DataSummary) {
	t.Helper()
	f, err := os.Open(filepath.Join(e.Exec.RunDir(id), "scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := report.ReadScoresCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.Store.Dataset(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var sum local.DataSummary
	if err := json.Unmarshal(ds.Summary, &sum); err != nil {
		t.Fatal(err)
	}
	return table, sum
}

// heatmapGetter asks a real server, rendering with local.Heatmaps, for run
// id's heatmap with a query; it returns the status, the named response
// header and the body.
func heatmapGetter(t *testing.T, e *testenv.Env, m *experiments.Manager, id int64, header string) func(q string) (int, string, []byte) {
	srv, err := server.New(server.Config{Store: e.Store, Service: m, ArtifactsDir: filepath.Join(e.Dir, "artifacts"),
		Heatmaps: local.Heatmaps{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return func(q string) (int, string, []byte) {
		t.Helper()
		res, err := srv.App().Test(httptest.NewRequest("GET", "/api/runs/"+strconv.FormatInt(id, 10)+"/heatmap?"+q, nil), 60_000)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get(header), b
	}
}
