package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
	"xraylab/server"
)

const runsSpec = `
experiments:
  grid:
    dataset:
      synthetic: {patients: 8, size: 32, seed: 1, difficulty: easy}
    image_size: 16
    epochs: 1
    models: [{name: pixelgauss}]
    seeds: [1, 2, 3]
`

// runsServer serves the API (with queue control, behind a token) over a
// fresh registry and returns the store, the server URL and the token file.
func runsServer(t *testing.T) (*registry.Store, string, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m := experiments.NewManager(store, experiments.NewHub(16), nil, "test")
	if _, _, err := m.Submit(context.Background(), []byte(runsSpec), ""); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	token, _, err := server.LoadOrCreateToken(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	read, write := server.BearerGuard(token, server.GuardOptions{Addr: ln.Addr().String()})
	srv, err := server.New(server.Config{Store: store, Service: m, Queue: m, ReadGuard: read, WriteGuard: write,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return store, "http://" + ln.Addr().String(), tokenFile
}

func TestRunsCommand(t *testing.T) {
	t.Setenv("XRAYLAB_TOKEN", "")
	store, url, tokenFile := runsServer(t)
	ctx := context.Background()
	cli := func(args ...string) (int, string) {
		t.Helper()
		var out bytes.Buffer
		code := run(append(append([]string{"runs"}, args...), "--server", url, "--token-file", tokenFile), &out, &out)
		return code, out.String()
	}
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue"}, 0, "queue running, 3 run(s) queued\n   1. run 1 (experiment 1, pixelgauss, seed 1) priority 0\n" +
			"   2. run 2 (experiment 1, pixelgauss, seed 2) priority 0\n   3. run 3 (experiment 1, pixelgauss, seed 3) priority 0\n"},
		{[]string{"top", "3"}, 0, "run 3: queued (attempts 0, priority 1)\n"},
		{[]string{"priority", "2", "5"}, 0, "run 2: priority 5\n"},
		{[]string{"priority", "2", "none"}, 0, "run 2: priority 0\n"},
		{[]string{"priority", "--experiment", "1", "7"}, 0, "experiment 1: priority 7\n"},
		{[]string{"pause"}, 0, "queue paused\n"},
		{[]string{"queue"}, 0, "queue paused, 3 run(s) queued\n   1. run 1 (experiment 1, pixelgauss, seed 1) priority 7\n" +
			"   2. run 2 (experiment 1, pixelgauss, seed 2) priority 7\n   3. run 3 (experiment 1, pixelgauss, seed 3) priority 1\n"},
		{[]string{"resume"}, 0, "queue resumed\n"},
		{[]string{"retry", "1"}, 1, "xraylab runs: run 1 is queued: only failed or cancelled runs can be retried\n"},
		{[]string{"retry", "99"}, 1, "xraylab runs: run 99 not found\n"},
		{[]string{"retry", "abc"}, 1, "xraylab runs: run id must be a positive integer, got \"abc\"\n"},
		{[]string{"priority", "3", "5000"}, 1, "xraylab runs: priority 5000 is out of range: it must be an integer from -1000 to 1000\n"},
		{[]string{"priority", "3", "high"}, 1, "xraylab runs: priority must be an integer from -1000 to 1000 (or none for a run), got \"high\"\n"},
		{[]string{"priority", "--experiment", "1", "none"}, 1, "xraylab runs: priority must be an integer from -1000 to 1000 (or none for a run), got \"none\"\n"},
		{[]string{"cancel", "--experiment", "9"}, 1, "xraylab runs: experiment 9 not found\n"},
	}
	for _, s := range steps {
		if code, out := cli(s.args...); code != s.code || out != s.want {
			t.Fatalf("runs %v: exit %d\n%s\nwant exit %d\n%s", s.args, code, out, s.code, s.want)
		}
	}

	r, err := store.LeaseRun(ctx, "w")
	if err != nil || r.ID != 1 {
		t.Fatalf("lease: %+v %v", r, err)
	}
	if err := store.FinishRun(ctx, 1, experiments.StateFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	steps = steps[:0]
	steps = append(steps, []struct {
		args []string
		code int
		want string
	}{
		{[]string{"retry", "1"}, 0, "run 1: queued (attempts 1, priority 7)\n"},
		{[]string{"cancel", "2"}, 0, "run 2: cancelled (attempts 0, priority 7)\n"},
		{[]string{"cancel", "--experiment", "1"}, 0, "cancelled 2 queued run(s) of experiment 1\n"},
		{[]string{"queue"}, 0, "queue running, 0 run(s) queued\n"},
	}...)
	for _, s := range steps {
		if code, out := cli(s.args...); code != s.code || out != s.want {
			t.Fatalf("runs %v: exit %d\n%s\nwant exit %d\n%s", s.args, code, out, s.code, s.want)
		}
	}
}

func TestRunsCommandErrors(t *testing.T) {
	t.Setenv("XRAYLAB_TOKEN", "")
	_, url, tokenFile := runsServer(t)
	wrong := filepath.Join(t.TempDir(), "token")
	if _, _, err := server.LoadOrCreateToken(wrong); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"runs"}, 2, "usage:\n  xraylab runs queue"},
		{[]string{"runs", "frob", "--token-file", tokenFile}, 2, `xraylab runs: unknown subcommand "frob"`},
		{[]string{"runs", "retry", "--server", url, "--token-file", tokenFile}, 2, "usage:"},
		{[]string{"runs", "pause", "extra", "--server", url, "--token-file", tokenFile}, 2, "usage:"},
		{[]string{"runs", "retry", "1", "--server", "ftp://x", "--token-file", tokenFile}, 1, `xraylab runs: --server "ftp://x" is not an http(s) URL`},
		{[]string{"runs", "retry", "1", "--server", url, "--token-file", filepath.Join(t.TempDir(), "none")}, 1,
			"(start xraylab serve once to create it, or set XRAYLAB_TOKEN)"},
		{[]string{"runs", "pause", "--server", url, "--token-file", wrong}, 1, "xraylab runs: missing or invalid bearer token"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code := run(c.args, &out, &out)
		if code != c.code || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: exit %d, output:\n%s\nwant exit %d and %q", c.args, code, out.String(), c.code, c.want)
		}
	}
}

func TestRunsCurationCommands(t *testing.T) {
	t.Setenv("XRAYLAB_TOKEN", "")
	store, url, tokenFile := runsServer(t)
	ctx := context.Background()
	if err := store.SetFinalMetrics(ctx, 2, map[string]float64{"test/mean/roc_auc": 0.8125}); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string) {
		t.Helper()
		var out bytes.Buffer
		code := run(append(append([]string{"runs"}, args...), "--server", url, "--token-file", tokenFile), &out, &out)
		return code, out.String()
	}
	for _, s := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tag", "2", "stage=final", "who=ana"}, 0, "run 2: tags stage=final,who=ana\n"},
		{[]string{"tag", "2", "--delete", "who"}, 0, "run 2: tags stage=final\n"},
		{[]string{"tag", "--experiment", "1", "paper=t1"}, 0, "experiment 1: tags paper=t1\n"},
		{[]string{"list", "--filter", "tags.stage = 'final' OR seed = 3", "--metrics", "test/mean/roc_auc"}, 0,
			"RUN  EXPERIMENT  MODEL       STATE   SEED  test/mean/roc_auc  TAGS\n" +
				"2    1           pixelgauss  queued  2     0.8125             stage=final\n" +
				"3    1           pixelgauss  queued  3     -                  -\n2 of 2 run(s)\n"},
		{[]string{"list", "--order-by", "seed DESC", "--limit", "1"}, 0,
			"RUN  EXPERIMENT  MODEL       STATE   SEED  TAGS\n3    1           pixelgauss  queued  3     -\n1 of 3 run(s)\n"},
		{[]string{"archive", "1", "3"}, 0, "run 1: archived\nrun 3: archived\n"},
		{[]string{"list", "--archived", "only"}, 0,
			"RUN  EXPERIMENT  MODEL       STATE              SEED  TAGS\n" +
				"1    1           pixelgauss  queued (archived)  1     -\n3    1           pixelgauss  queued (archived)  3     -\n2 of 2 run(s)\n"},
		{[]string{"queue"}, 0, "queue running, 1 run(s) queued\n   1. run 2 (experiment 1, pixelgauss, seed 2) priority 0\n"},
		{[]string{"archive", "3", "--restore"}, 0, "run 3: restored\n"},
		{[]string{"purge", "1"}, 1, "xraylab runs: purge deletes runs, their records and their files for good: add --yes to confirm\n"},
		{[]string{"purge", "1", "--yes"}, 0, "run 1: purged\n"},
		{[]string{"show", "1"}, 1, "xraylab runs: run 1 not found\n"},
		{[]string{"list", "--filter", "metrics.x > 'a'"}, 1, "xraylab runs: filter: metrics.x is a number; got the string \"a\" at position 13\n"},
		{[]string{"list", "--archived", "maybe"}, 1, "xraylab runs: --archived must be false, true or only, got \"maybe\"\n"},
		{[]string{"tag", "2", "novalue"}, 1, "xraylab runs: tag \"novalue\": write KEY=VALUE\n"},
		{[]string{"tag", "9", "a=b"}, 1, "xraylab runs: run 9 not found\n"},
	} {
		if code, out := cli(s.args...); code != s.code || out != s.want {
			t.Fatalf("runs %v: exit %d\n%s\nwant exit %d\n%s", s.args, code, out, s.code, s.want)
		}
	}
	// --json answers are the API's objects.
	_, out := cli("show", "2", "--json")
	var r experiments.Run
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID != 2 || r.Tags["stage"] != "final" || r.Metrics["test/mean/roc_auc"] != 0.8125 {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	_, out = cli("list", "--json", "--filter", "seed >= 2")
	var page struct {
		Items []experiments.Run `json:"items"`
		Total int               `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.Total != 2 || page.Items[0].ID != 2 || page.Items[1].ID != 3 {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	// Reads need no token file on a loopback server; writes do.
	var buf bytes.Buffer
	none := filepath.Join(t.TempDir(), "none")
	if code := run([]string{"runs", "list", "--server", url, "--token-file", none}, &buf, &buf); code != 0 {
		t.Errorf("list without token: %d %s", code, buf.String())
	}
	buf.Reset()
	if code := run([]string{"runs", "archive", "2", "--server", url, "--token-file", none}, &buf, &buf); code != 1 || !strings.Contains(buf.String(), "does not exist") {
		t.Errorf("archive without token: %d %s", code, buf.String())
	}
}

func TestVersionFlag(t *testing.T) {
	var a, b bytes.Buffer
	if run([]string{"--version"}, &a, &a) != 0 || run([]string{"version"}, &b, &b) != 0 || a.String() != b.String() || a.Len() < 2 {
		t.Errorf("--version %q, version %q", a.String(), b.String())
	}
}
