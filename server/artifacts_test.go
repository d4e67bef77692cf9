package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"xraylab/experiments"
)

// artifactEnv queues two.yaml and lays out run 1's folder:
//
//	1/scores.csv, 1/plots/roc.png, 1/my plot.png   listed, present
//	1/inner.txt -> scores.csv                       listed symlink, inside
//	1/link.txt  -> ../../outside/secret.txt          listed symlink, outside
//	1/gone.txt                                       listed, missing
//	1/plots                                          listed, a directory
//	1/unlisted.txt                                   present, not listed
//	2/other.txt                                      run 2's, listed for run 2
func artifactEnv(t *testing.T) (*env, map[string]string) {
	e := newEnv(t)
	e.submitFile("two.yaml")
	root := filepath.Dir(e.arts)
	files := map[string]string{
		"artifacts/1/scores.csv":    "image,score\na.png,0.5\n",
		"artifacts/1/plots/roc.png": "\x89PNG fake bytes",
		"artifacts/1/my plot.png":   "spaces",
		"artifacts/1/unlisted.txt":  "not in the store",
		"artifacts/2/other.txt":     "run two",
		"outside/secret.txt":        "must never be served",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run1 := filepath.Join(e.arts, "1")
	if err := os.Symlink("scores.csv", filepath.Join(run1, "inner.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "..", "outside", "secret.txt"), filepath.Join(run1, "link.txt")); err != nil {
		t.Fatal(err)
	}
	add := func(run int64, name, kind, body string) {
		sum := sha256.Sum256([]byte(body))
		a := &experiments.Artifact{RunID: run, Name: name, Kind: kind, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
		if err := e.store.AddArtifact(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	add(1, "scores.csv", "scores", files["artifacts/1/scores.csv"])
	add(1, "plots/roc.png", "plot", files["artifacts/1/plots/roc.png"])
	add(1, "my plot.png", "plot", files["artifacts/1/my plot.png"])
	add(1, "inner.txt", "example", files["artifacts/1/scores.csv"])
	add(1, "link.txt", "example", "")
	add(1, "gone.txt", "example", "")
	add(1, "plots", "example", "")
	add(2, "other.txt", "example", files["artifacts/2/other.txt"])
	return e, files
}

func TestListArtifacts(t *testing.T) {
	e, _ := artifactEnv(t)
	arts, err := e.store.Artifacts(context.Background(), 1)
	if err != nil || len(arts) != 7 {
		t.Fatalf("%d artifacts, %v", len(arts), err)
	}
	urls := map[string]string{
		"gone.txt": "/api/runs/1/artifacts/gone.txt", "inner.txt": "/api/runs/1/artifacts/inner.txt",
		"link.txt": "/api/runs/1/artifacts/link.txt", "my plot.png": "/api/runs/1/artifacts/my%20plot.png",
		"plots": "/api/runs/1/artifacts/plots", "plots/roc.png": "/api/runs/1/artifacts/plots/roc.png",
		"scores.csv": "/api/runs/1/artifacts/scores.csv",
	}
	items := ""
	for i, a := range arts {
		if i > 0 {
			items += ","
		}
		art := jsonOf(t, a)
		items += art[:len(art)-1] + `,"url":` + jsonOf(t, urls[a.Name]) + "}"
	}
	want := `{"items":[` + items + `],"run_id":1}`
	if got := e.get("/api/runs/1/artifacts", 200); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := e.get("/api/runs/3/artifacts", 200); got != `{"items":[],"run_id":3}` {
		t.Fatalf("run without artifacts: %s", got)
	}
}

func TestDownloadArtifact(t *testing.T) {
	e, files := artifactEnv(t)
	ok := []struct{ target, file, ctype, disposition string }{
		{"/api/runs/1/artifacts/scores.csv", "artifacts/1/scores.csv", "text/csv; charset=utf-8", `inline; filename="scores.csv"`},
		{"/api/runs/1/artifacts/plots/roc.png", "artifacts/1/plots/roc.png", "image/png", `inline; filename="roc.png"`},
		{"/api/runs/1/artifacts/my%20plot.png", "artifacts/1/my plot.png", "image/png", `inline; filename="my plot.png"`},
		// A symlink that stays inside the run's folder is fine.
		{"/api/runs/1/artifacts/inner.txt", "artifacts/1/scores.csv", "text/plain; charset=utf-8", `inline; filename="inner.txt"`},
		{"/api/runs/2/artifacts/other.txt", "artifacts/2/other.txt", "text/plain; charset=utf-8", `inline; filename="other.txt"`},
	}
	for _, c := range ok {
		code, h, body := e.do("GET", c.target, "", nil)
		if code != 200 || body != files[c.file] {
			t.Errorf("%s: %d %q", c.target, code, body)
			continue
		}
		for k, v := range map[string]string{"Content-Type": c.ctype, "Content-Disposition": c.disposition,
			"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"} {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", c.target, k, got, v)
			}
		}
	}
}

// Every way out of ArtifactsDir/<run> is refused, whatever the store lists.
func TestArtifactTraversal(t *testing.T) {
	e, files := artifactEnv(t)
	bad := func(raw, why string) string {
		return `{"error":{"code":"invalid","message":` + jsonOf(t, fmt.Sprintf("artifact name %q: %s", raw, why)) +
			`,"details":{"name":` + jsonOf(t, raw) + `}}}`
	}
	nf := func(m string) string { return `{"error":{"code":"not_found","message":` + jsonOf(t, m) + `}}` }
	cases := []struct {
		name, target string
		status       int
		want         string
	}{
		{"dot-dot", "/api/runs/1/artifacts/../2/other.txt", 400, bad("../2/other.txt", `".." segments are not allowed`)},
		{"dot-dot inside", "/api/runs/1/artifacts/plots/../scores.csv", 400, bad("plots/../scores.csv", `".." segments are not allowed`)},
		{"deep dot-dot", "/api/runs/1/artifacts/../../outside/secret.txt", 400, bad("../../outside/secret.txt", `".." segments are not allowed`)},
		{"encoded dots", "/api/runs/1/artifacts/%2e%2e/2/other.txt", 400, bad("%2e%2e/2/other.txt", `".." segments are not allowed`)},
		{"encoded slash", "/api/runs/1/artifacts/..%2f2%2fother.txt", 400, bad("..%2f2%2fother.txt", "encoded path separators are not allowed")},
		{"encoded slash upper", "/api/runs/1/artifacts/plots%2Froc.png", 400, bad("plots%2Froc.png", "encoded path separators are not allowed")},
		{"encoded backslash", "/api/runs/1/artifacts/..%5c2%5cother.txt", 400, bad("..%5c2%5cother.txt", "encoded path separators are not allowed")},
		{"absolute", "/api/runs/1/artifacts//etc/passwd", 400, bad("/etc/passwd", "absolute paths are not allowed")},
		{"encoded absolute", "/api/runs/1/artifacts/%2fetc%2fpasswd", 400, bad("%2fetc%2fpasswd", "encoded path separators are not allowed")},
		{"dot segment", "/api/runs/1/artifacts/./scores.csv", 400, bad("./scores.csv", `must be a clean relative path (no empty or "." segments)`)},
		{"empty segment", "/api/runs/1/artifacts/plots//roc.png", 400, bad("plots//roc.png", `must be a clean relative path (no empty or "." segments)`)},
		{"NUL", "/api/runs/1/artifacts/scores.csv%00.png", 400, bad("scores.csv%00.png", "NUL bytes are not allowed")},
		{"bad escape", "/api/runs/1/artifacts/%zz", 400, bad("%zz", "malformed percent-encoding")},
		{"other run's artifact", "/api/runs/1/artifacts/other.txt", 404, nf(`run 1 has no artifact "other.txt"`)},
		{"present but unlisted", "/api/runs/1/artifacts/unlisted.txt", 404, nf(`run 1 has no artifact "unlisted.txt"`)},
		{"listed, missing", "/api/runs/1/artifacts/gone.txt", 404, nf(`artifact "gone.txt" of run 1 is recorded but its file is missing`)},
		{"listed, a directory", "/api/runs/1/artifacts/plots", 404, nf(`artifact "plots" of run 1 is not a regular file`)},
		{"no folder", "/api/runs/3/artifacts/x.png", 404, nf(`run 3 has no artifact "x.png"`)},
		{"symlink outside", "/api/runs/1/artifacts/link.txt", 403,
			`{"error":{"code":"forbidden","message":"artifact \"link.txt\" resolves outside the run's artifact folder"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := e.do("GET", c.target, "", nil)
			if code != c.status || body != c.want {
				t.Fatalf("got %d %s\nwant %d %s", code, body, c.status, c.want)
			}
			if body == files["outside/secret.txt"] || h.Get("Content-Disposition") != "" {
				t.Fatal("served a file")
			}
		})
	}
}

func TestArtifactFolderMissing(t *testing.T) {
	e, _ := artifactEnv(t)
	if err := os.RemoveAll(filepath.Join(e.arts, "2")); err != nil {
		t.Fatal(err)
	}
	code, _, body := e.do("GET", "/api/runs/2/artifacts/other.txt", "", nil)
	if want := `{"error":{"code":"not_found","message":"artifact \"other.txt\" of run 2 is recorded but its folder is missing"}}`; code != 404 || body != want {
		t.Fatalf("got %d %s", code, body)
	}
}
