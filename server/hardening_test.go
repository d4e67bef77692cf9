package server

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"xraylab/experiments"
)

// Ids have one spelling: "+1" and "01" are not run 1.
func TestIDsAreCanonical(t *testing.T) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	e.get("/api/runs/1", 200)
	for _, v := range []string{"+1", "01", "1.0", "0x1", "-1", "0", "9223372036854775808"} {
		want := `{"error":{"code":"invalid","message":"run id: must be a positive integer id, got \"` + v + `\"","details":{"parameter":"id","value":"` + v + `","allowed":"a positive integer id"}}}`
		code, _, body := e.do("GET", "/api/runs/"+v, "", nil)
		if code != 400 || body != want {
			t.Errorf("GET /api/runs/%s: %d %s\nwant 400 %s", v, code, body, want)
		}
		want = `{"error":{"code":"invalid","message":"query parameter experiment: must be a positive integer id, got \"` + v + `\"","details":{"parameter":"experiment","value":"` + v + `","allowed":"a positive integer id"}}}`
		code, _, body = e.do("GET", "/api/runs?experiment="+escapeQuery(v), "", nil)
		if code != 400 || body != want {
			t.Errorf("GET /api/runs?experiment=%s: %d %s\nwant 400 %s", v, code, body, want)
		}
	}
}

func escapeQuery(v string) string {
	if v == "+1" {
		return "%2B1"
	}
	return v
}

// Without a cluster backend there is no worker API: its paths are unknown
// routes (404), also when the dashboard's catch-all GET is mounted.
func TestWorkerPathsWithoutBackendAre404(t *testing.T) {
	for _, withFrontend := range []bool{false, true} {
		e := newEnv(t, func(c *Config) {
			if withFrontend {
				c.Frontend = fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}}
			}
		})
		for _, m := range []string{"POST", "PUT", "DELETE", "GET"} {
			const p = "/api/worker/runs/1/start"
			want := `{"error":{"code":"not_found","message":"no route for ` + m + ` ` + p + `"}}`
			code, _, body := e.do(m, p, "application/json", []byte(`{}`))
			if code != 404 || body != want {
				t.Errorf("frontend %v: %s %s: %d %s, want 404 %s", withFrontend, m, p, code, body, want)
			}
		}
	}
}

// The grid limit is a 400 naming the run count (limits.go's comment once
// said 413, the status of the spec's size limit).
func TestGridLimitIs400(t *testing.T) {
	e := newEnv(t)
	// 101 experiments of 100 seeds each: 10100 runs, one list at its own limit.
	seeds := make([]string, 100)
	for i := range seeds {
		seeds[i] = strconv.Itoa(i + 1)
	}
	spec := "experiments:\n"
	for i := 0; i < 101; i++ {
		spec += "  e" + strconv.Itoa(i) + ":\n    dataset:\n      synthetic: {patients: 8, size: 32, seed: 1, difficulty: easy}\n" +
			"    image_size: 16\n    epochs: 1\n    models: [{name: pixelgauss}]\n    seeds: [" + strings.Join(seeds, ", ") + "]\n"
	}
	code, _, body := e.do("POST", "/api/experiments", "application/yaml", []byte(spec))
	if code != 400 || !strings.Contains(body, `"message":"the grid expands to 10100 runs; at most 10000 allowed per submission"`) {
		t.Fatalf("grid of 10100 runs: %d %s", code, body)
	}
}

// A FIFO in a run's folder is refused at once; opening it for reading
// would otherwise wait for a writer that never comes.
func TestArtifactFIFOIsRefused(t *testing.T) {
	e, _ := artifactEnv(t)
	fifo := filepath.Join(e.arts, "1", "pipe.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := e.store.AddArtifact(context.Background(), &experiments.Artifact{RunID: 1, Name: "pipe.log", Kind: "log", SHA256: strings.Repeat("0", 64)}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/runs/1/artifacts/pipe.log", nil)
	resp, err := e.srv.App().Test(req, 3_000)
	if err != nil {
		t.Fatalf("download of a FIFO: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	const want = `{"error":{"code":"not_found","message":"artifact \"pipe.log\" of run 1 is not a regular file"}}`
	if resp.StatusCode != 404 || string(b) != want {
		t.Fatalf("download of a FIFO: %d %s, want 404 %s", resp.StatusCode, b, want)
	}
}
