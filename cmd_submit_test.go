package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
	"xraylab/server"
)

const submitToken = "0123456789abcdef0123456789abcdef"

// submitServer serves a real server (registry, manager, bearer guard) on a
// loopback port until the test ends and returns its base URL.
func submitServer(t *testing.T) string {
	t.Helper()
	store, err := registry.Open(filepath.Join(t.TempDir(), "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	read, write := server.BearerGuard(submitToken, server.GuardOptions{Addr: "127.0.0.1:0"})
	srv, err := server.New(server.Config{Store: store, Service: experiments.NewManager(store, experiments.NewHub(16), nil, "test"),
		ReadGuard: read, WriteGuard: write})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// xraylab submit prints the same lines and exits with the same codes for
// every answer a server can give.
func TestSubmitCommand(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join("testdata", "submit-two.yaml")
	bad := filepath.Join("testdata", "submit-invalid.yaml") // two problems, at lines 5 and 6
	base := submitServer(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("not json"))
	}))
	defer garbage.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer proxy.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()

	cases := []struct {
		name, token string
		args        []string
		code        int
		stdout      string
		stderr      string
	}{
		{"both", submitToken, []string{two, "--server", base}, 0,
			`queued experiment "a" (id 1) with 2 runs: ` + base + "/api/experiments/1\n" +
				`queued experiment "b" (id 2) with 1 runs: ` + base + "/api/experiments/2\n", ""},
		{"only b", submitToken, []string{two, "--experiment", "b", "--server", base + "/"}, 0,
			`queued experiment "b" (id 3) with 1 runs: ` + base + "/api/experiments/3\n", ""},
		{"no such experiment", submitToken, []string{two, "--experiment", "c", "--server", base}, 1, "",
			"xraylab submit: " + two + ": no experiment named \"c\" in the spec; it has: a, b\n"},
		{"invalid spec", submitToken, []string{bad, "--server", base}, 1, "",
			"  experiments.e.epochs: 0 is out of range; allowed: 1 to 10000 (line 5, column 13)\n" +
				"  experiments.e.batch_size: 0 is out of range; allowed: 1 to 1024 (line 6, column 17)\n" +
				"xraylab submit: " + bad + ": invalid spec: 2 problem(s)\n"},
		{"wrong token", strings.Repeat("x", 32), []string{two, "--server", base}, 1, "",
			"xraylab submit: " + two + ": missing or invalid bearer token\n"},
		{"bad token", "short", []string{two, "--server", base}, 1, "",
			"xraylab submit: XRAYLAB_TOKEN: token has 5 characters; want 32 to 1024\n"},
		{"not JSON", submitToken, []string{two, "--server", proxy.URL}, 1, "",
			"xraylab submit: server answered 502 Bad Gateway: upstream down\n"},
		{"garbage", submitToken, []string{two, "--server", garbage.URL}, 1, "",
			"xraylab submit: unexpected answer from server: not json\n"},
		{"refused", submitToken, []string{two, "--server", closed}, 1, "",
			"xraylab submit: submit to " + closed + ": Post \"" + closed + "/api/experiments\": dial tcp " +
				strings.TrimPrefix(closed, "http://") + ": connect: connection refused\n"},
		{"bad URL", submitToken, []string{two, "--server", "http://"}, 1, "",
			"xraylab submit: --server \"http://\" is not an http(s) URL\n"},
		{"missing file", submitToken, []string{filepath.Join(dir, "nope.yaml"), "--server", base}, 1, "",
			"xraylab submit: read spec: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("XRAYLAB_TOKEN", c.token)
			var out, errb bytes.Buffer
			code := run(append([]string{"submit"}, c.args...), &out, &errb)
			if code != c.code || out.String() != c.stdout || errb.String() != c.stderr {
				t.Errorf("exit %d\nstdout: %q\nstderr: %q\nwant exit %d\nstdout: %q\nstderr: %q",
					code, out.String(), errb.String(), c.code, c.stdout, c.stderr)
			}
		})
	}
}
