package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xraylab/experiments"
)

func TestRedactorRewrite(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "datalink")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	r := NewRedactor(link, "var", "/")
	cases := []struct{ in, want string }{
		{"MURA root " + data + "/MURA-v1.1: no such folder", "MURA root MURA-v1.1: no such folder"},
		{"MURA root " + link + "/MURA-v1.1/train: no such folder", "MURA root MURA-v1.1/train: no such folder"},
		{`{"root":"` + data + `"}`, `{"root":"."}`},
		{"data " + data + "2/x: 3 images", "data …/x: 3 images"},
		{"read /home/alice/MURA-v1.1/train/a.png: denied", "read …/a.png: denied"},
		{`{"spec":"root: '` + data + `/MURA'\n    models: []"}`, `{"spec":"root: 'MURA'\n    models: []"}`},
		{"cache var/cache/ab: full; myvar/x stays", "cache cache/ab: full; myvar/x stays"},
		{`"url":"/api/runs/1/artifacts/run.log"`, `"url":"/api/runs/1/artifacts/run.log"`},
		{"see [run 1](/#/runs/1) and /api", "see [run 1](/#/runs/1) and /api"},
		{"see http://head:8080/x and 1 / 2 and a/b", "see http://head:8080/x and 1 / 2 and a/b"},
		{"<td>" + data + "/MURA</td>", "<td>MURA</td>"},
		{"no paths here", "no paths here"},
	}
	for _, c := range cases {
		if got := r.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
	var nilR *Redactor
	if got := nilR.Redact("/etc/x"); got != "/etc/x" {
		t.Errorf("nil Redactor: %q", got)
	}
}

// redactEnv is a server with open reads on a loopback address (answered
// under the name "xraylab" too, the in-memory client's), a data root and a
// var folder, and one run whose every channel names server paths.
type redactEnv struct {
	*env
	data, varDir, outside string
}

func newRedactEnv(t *testing.T) *redactEnv {
	t.Helper()
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	read, write := BearerGuard(testToken, GuardOptions{Addr: "127.0.0.1:8080", AllowedHosts: []string{"xraylab"}})
	var varDir string
	e := newEnv(t, func(c *Config) {
		varDir = filepath.Dir(c.ArtifactsDir)
		c.ReadGuard, c.WriteGuard = read, write
		c.Redactor = NewRedactor(data, varDir)
	})
	re := &redactEnv{env: e, data: data, varDir: varDir, outside: "/srv/elsewhere/MURA-v1.1"}
	spec := "experiments:\n  real:\n    dataset: {mura: {root: '" + data + "/MURA-v1.1'}}\n    models: [{name: pixelgauss}]\n" +
		"  other:\n    dataset: {mura: {root: '" + re.outside + "'}}\n    models: [{name: pixelgauss}]\n"
	if code, _, body := e.call("POST", "/api/experiments", bearer, []byte(spec)); code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	ctx := context.Background()
	run, err := e.store.LeaseRun(ctx, "w")
	if err != nil || run == nil || run.ID != 1 {
		t.Fatalf("lease: %v %v", run, err)
	}
	summary := `{"root":"` + data + `/MURA-v1.1","images":2,"skipped":[{"path":"` + data + `/MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image9.png","reason":"empty file"}],` +
		`"cache":"` + varDir + `/cache"}`
	if err := e.store.SetDataset(ctx, 1, experiments.DatasetRecord{Fingerprint: "f00d", Summary: json.RawMessage(summary)}); err != nil {
		t.Fatal(err)
	}
	log := "attempt 1 of real on cpu\ndata " + data + "/MURA-v1.1: 2 images\nfailed: load dataset: MURA root " + data + "/MURA-v1.1: open " + varDir + "/cache/x: denied\n"
	dir := filepath.Join(e.arts, "1")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "run.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(log))
	if err := e.store.AddArtifact(ctx, &experiments.Artifact{RunID: 1, Name: "run.log", Kind: "log", Size: int64(len(log)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.FinishRun(ctx, 1, experiments.StateFailed, "load dataset: MURA root "+data+"/MURA-v1.1: open "+varDir+"/cache/x: denied"); err != nil {
		t.Fatal(err)
	}
	return re
}

// Readers without the token see paths relative to the data root or the
// var folder, on every channel that names them; readers with it see them
// as they are.
func TestUnauthenticatedReadersSeeRelativePaths(t *testing.T) {
	e := newRedactEnv(t)
	type channel struct {
		name, target string
		hidden, with []string // in the answer without the token; with it
	}
	channels := []channel{
		{"run error", "/api/runs/1",
			[]string{`"error":"load dataset: MURA root MURA-v1.1: open cache/x: denied"`},
			[]string{`"error":"load dataset: MURA root ` + e.data + `/MURA-v1.1: open ` + e.varDir + `/cache/x: denied"`}},
		{"run params", "/api/runs/1",
			[]string{`"root":"MURA-v1.1"`},
			[]string{`"root":"` + e.data + `/MURA-v1.1"`}},
		{"run list", "/api/runs?limit=10",
			[]string{`"root":"MURA-v1.1"`, `"root":"…/MURA-v1.1"`, `"error":"load dataset: MURA root MURA-v1.1: open cache/x: denied"`},
			[]string{`"root":"` + e.data + `/MURA-v1.1"`, `"root":"` + e.outside + `"`}},
		{"spec text", "/api/experiments/1",
			[]string{`root: 'MURA-v1.1'`, `root: '…/MURA-v1.1'`},
			[]string{`root: '` + e.data + `/MURA-v1.1'`, `root: '` + e.outside + `'`}},
		{"dataset summary", "/api/runs/1/dataset",
			[]string{`"summary":{"root":"MURA-v1.1","images":2,"skipped":[{"path":"MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image9.png","reason":"empty file"}],"cache":"cache"}`},
			[]string{`"root":"` + e.data + `/MURA-v1.1"`, `"cache":"` + e.varDir + `/cache"`}},
		{"run log", "/api/runs/1/artifacts/run.log",
			[]string{"attempt 1 of real on cpu\ndata MURA-v1.1: 2 images\nfailed: load dataset: MURA root MURA-v1.1: open cache/x: denied\n"},
			[]string{"data " + e.data + "/MURA-v1.1: 2 images\n", "open " + e.varDir + "/cache/x: denied"}},
		{"artifact list", "/api/runs/1/artifacts",
			[]string{`"url":"/api/runs/1/artifacts/run.log"`},
			[]string{`"url":"/api/runs/1/artifacts/run.log"`}},
	}
	for _, ch := range channels {
		code, _, body := e.call("GET", ch.target, "", nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", ch.name, code, body)
		}
		for _, want := range ch.hidden {
			if !strings.Contains(body, want) {
				t.Errorf("%s without the token: no %s in\n%s", ch.name, want, body)
			}
		}
		for _, secret := range []string{e.data, e.varDir, "/srv/elsewhere"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s without the token names %s:\n%s", ch.name, secret, body)
			}
		}
		code, _, body = e.call("GET", ch.target, bearer, nil)
		if code != 200 {
			t.Fatalf("%s with the token: %d %s", ch.name, code, body)
		}
		for _, want := range ch.with {
			if !strings.Contains(body, want) {
				t.Errorf("%s with the token: no %s in\n%s", ch.name, want, body)
			}
		}
	}
}

func TestUnauthenticatedEventsSeeRelativePaths(t *testing.T) {
	e := newRedactEnv(t)
	client := e.serve()
	msg := "data " + e.data + "/MURA-v1.1: 2 images; cache " + e.varDir + "/cache"
	for _, c := range []struct{ target, want string }{
		{"/api/events", `"message":"data MURA-v1.1: 2 images; cache cache"`},
		{"/api/events?token=" + testToken, `"message":"` + msg + `"`},
	} {
		resp, r := openEvents(t, client, c.target)
		e.hub.Publish(experiments.Event{Type: "progress", RunID: 1, ExperimentID: 1, Message: msg})
		ev, err := r.next(nil)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ev, c.want) {
			t.Errorf("%s: event %s\nwant %s", c.target, ev, c.want)
		}
	}
}
