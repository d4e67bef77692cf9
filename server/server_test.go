package server

import (
	"net"
	"time"

	"bytes"
	"context"
	"encoding/json"
	"github.com/valyala/fasthttp/fasthttputil"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
	"xraylab/registry"
)

// env is a server over the real manager and a real SQLite registry in a
// temporary folder. The manager has no runner: runs stay queued unless a
// test leases them, which keeps every state change in the test's hands.
type env struct {
	t     *testing.T
	store *registry.Store
	hub   *experiments.Hub
	mgr   *experiments.Manager
	srv   *Server
	arts  string        // ArtifactsDir
	logs  *bytes.Buffer // everything the server logged
}

func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "db", "xraylab.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hub := experiments.NewHub(16)
	e := &env{t: t, store: store, hub: hub, mgr: experiments.NewManager(store, hub, nil, "test-1.0"),
		arts: filepath.Join(dir, "artifacts"), logs: &bytes.Buffer{}}
	cfg := Config{Store: store, Service: e.mgr, ArtifactsDir: e.arts, Version: "test-1.0",
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range tweak {
		f(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// serve runs the server on an in-memory listener until the test ends and
// returns a client dialling it: for what app.Test cannot show (streams,
// connection-level errors). Any host name in URLs reaches the server.
func (e *env) serve() *http.Client {
	e.t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			e.t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			e.t.Errorf("serve: %v", err)
		}
	})
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return ln.Dial() }}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// testHost is the Host of the helpers' requests: a local client's, which
// open reads on a loopback address answer (httptest's example.com is not).
const testHost = "localhost:8080"

// do sends one request through app.Test and returns status, headers, body.
func (e *env) do(method, target, contentType string, body []byte) (int, http.Header, string) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	// The target goes on the wire exactly as written (Opaque), so tests can
	// send what Go's URL parser would reject or re-encode, like "%zz".
	req := httptest.NewRequest(method, "/", r)
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque, req.URL.RawQuery, req.RequestURI = path, query, ""
	req.Host = testHost
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// get expects status and returns the body.
func (e *env) get(target string, status int) string {
	e.t.Helper()
	code, _, body := e.do("GET", target, "", nil)
	if code != status {
		e.t.Fatalf("GET %s: status %d, want %d; body %s", target, code, status, body)
	}
	return body
}

// submitFile queues testdata/name and returns the run IDs by experiment.
func (e *env) submitFile(name string) {
	e.t.Helper()
	code, _, body := e.do("POST", "/api/experiments", "application/yaml", readFile(e.t, name))
	if code != fiber.StatusCreated {
		e.t.Fatalf("submit %s: %d %s", name, code, body)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonOf marshals v as the server's JSON encoder does.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantJSONEqual compares two JSON texts structurally (key order aside).
func wantJSONEqual(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation: %v", what, err)
	}
	if jsonOf(t, g) != jsonOf(t, w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

func TestNewRequiresStoreAndService(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Service: e.mgr}, "server: Config.Store is required"},
		{Config{Store: e.store}, "server: Config.Service is required"},
		{Config{Store: e.store, Service: e.mgr, BodyLimit: -1}, "server: Config.BodyLimit must not be negative"},
	}
	for _, c := range cases {
		if _, err := New(c.cfg); err == nil || err.Error() != c.want {
			t.Errorf("New: got %v, want %q", err, c.want)
		}
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	code, h, body := e.do("GET", "/api/health", "", nil)
	if code != 200 || body != `{"status":"ok","version":"test-1.0"}` {
		t.Fatalf("got %d %s", code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/nope", 404, `{"error":{"code":"not_found","message":"no route for GET /api/nope"}}`},
		{"GET", "/", 404, `{"error":{"code":"not_found","message":"no route for GET /"}}`},
		{"PUT", "/api/runs/1", 405, `{"error":{"code":"method_not_allowed","message":"method PUT is not allowed on /api/runs/1"}}`},
		{"POST", "/api/health", 405, `{"error":{"code":"method_not_allowed","message":"method POST is not allowed on /api/health"}}`},
	}
	for _, c := range cases {
		code, _, body := e.do(c.method, c.path, "", nil)
		if code != c.status || body != c.body {
			t.Errorf("%s %s: got %d %s\nwant %d %s", c.method, c.path, code, body, c.status, c.body)
		}
	}
}

// A store failure is answered with a generic 500; the cause goes to the log.
func TestInternalErrorsAreGenericAndLogged(t *testing.T) {
	e := newEnv(t)
	e.store.Close()
	code, _, body := e.do("GET", "/api/runs", "", nil)
	if code != 500 || body != `{"error":{"code":"internal","message":"internal server error"}}` {
		t.Fatalf("got %d %s", code, body)
	}
	log := e.logs.String()
	if !strings.Contains(log, "request failed") || !strings.Contains(log, "database is closed") {
		t.Fatalf("cause not logged:\n%s", log)
	}
}

func TestGuardsAndPanics(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.WriteGuard = func(c *fiber.Ctx) error {
			if c.Get("Authorization") != "Bearer s3cret" {
				return fiber.ErrUnauthorized
			}
			return c.Next()
		}
		c.ReadGuard = func(c *fiber.Ctx) error {
			if c.Query("boom") != "" {
				panic("guard exploded")
			}
			return c.Next()
		}
	})
	code, _, body := e.do("POST", "/api/experiments", "application/yaml", readFile(t, "two.yaml"))
	if code != 401 || body != `{"error":{"code":"unauthorized","message":"Unauthorized"}}` {
		t.Fatalf("unguarded write: %d %s", code, body)
	}
	req := httptest.NewRequest("POST", "/api/experiments", bytes.NewReader(readFile(t, "two.yaml")))
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("guarded write with token: %v %v", err, resp)
	}
	// Reads pass the read guard only; health passes none.
	e.get("/api/runs", 200)
	e.get("/api/health?boom=1", 200)
	code, _, body = e.do("GET", "/api/runs?boom=1", "", nil)
	if code != 500 || body != `{"error":{"code":"internal","message":"internal server error"}}` {
		t.Fatalf("panic: %d %s", code, body)
	}
	if l := e.logs.String(); !strings.Contains(l, "guard exploded") || !strings.Contains(l, "TestGuardsAndPanics.func") {
		t.Fatalf("panic not logged:\n%s", e.logs.String())
	}
}

func TestShutdownWithoutListening(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A second call must not panic on the closed quit channel.
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
