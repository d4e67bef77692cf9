package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
	"xraylab/server"
)

const token = "0123456789abcdef0123456789abcdef"

const twoSpec = `experiments:
  alpha:
    dataset: {synthetic: {}}
    models: [{name: pixelgauss}]
    seeds: [1, 2]
  beta:
    dataset: {synthetic: {}}
    models: [{name: pixelgauss}]
`

// env is a real server (SQLite registry, manager, bearer guard with
// private reads and one allowed failure) on a loopback port.
type env struct {
	base  string
	store *registry.Store
	arts  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(filepath.Join(dir, "xraylab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	read, write := server.BearerGuard(token, server.GuardOptions{Addr: "127.0.0.1:0", PrivateRead: true, MaxFailures: 1})
	e := &env{store: store, arts: filepath.Join(dir, "artifacts")}
	srv, err := server.New(server.Config{Store: store, Service: experiments.NewManager(store, experiments.NewHub(16), nil, "test"),
		ArtifactsDir: e.arts, BodyLimit: 1024, ReadGuard: read, WriteGuard: write,
		Logger: slog.New(slog.NewTextHandler(&strings.Builder{}, nil))})
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
	e.base = "http://" + ln.Addr().String()
	return e
}

func (e *env) client(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	c, err := New(e.base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrips(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, Options{})
	ctx := context.Background()
	got, err := c.Submit(ctx, []byte(twoSpec), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []experiments.Submitted{{ID: 1, Name: "alpha", RunIDs: []int64{1, 2}}, {ID: 2, Name: "beta", RunIDs: []int64{3}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("submitted %+v, want %+v", got, want)
	}
	if got, err := c.Submit(ctx, []byte(twoSpec), "beta"); err != nil || len(got) != 1 || got[0].Name != "beta" || got[0].ID != 3 {
		t.Errorf("submit beta only: %+v, %v", got, err)
	}

	x, err := c.Experiment(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if x.ID != 1 || x.Name != "alpha" || x.SpecText != twoSpec || x.Runs != 2 || x.Counts[experiments.StateQueued] != 2 || x.SpecHash == "" || x.Version != "test" {
		t.Errorf("experiment 1: %+v", x)
	}
	list, total, err := c.Experiments(ctx, "", 2, 0)
	if err != nil || total != 3 || len(list) != 2 || list[0].ID != 3 || list[1].ID != 2 {
		t.Errorf("experiments: %d of %d, %v", len(list), total, err)
	}
	if list, total, err := c.Experiments(ctx, "alp", 0, 0); err != nil || total != 1 || list[0].Name != "alpha" {
		t.Errorf("search alp: %d, %v", total, err)
	}

	r, err := c.Run(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 2 || r.ExperimentID != 1 || r.Model != "pixelgauss" || r.Seed != 2 || r.State != experiments.StateQueued {
		t.Errorf("run 2: %+v", r)
	}
	runs, total, err := c.Runs(ctx, experiments.RunFilter{ExperimentID: 1, State: experiments.StateQueued, Model: "pixelgauss", Limit: 1, Offset: 1})
	if err != nil || total != 2 || len(runs) != 1 || runs[0].ID != 2 {
		t.Errorf("runs: %d of %d, %v", len(runs), total, err)
	}
	if u := c.URL("api/experiments/1").String(); u != e.base+"/api/experiments/1" {
		t.Errorf("URL %s", u)
	}
}

// wantAPIError checks that err is the domain error the server sent.
func wantAPIError(t *testing.T, what string, err error, code experiments.Code, text string) *experiments.Error {
	t.Helper()
	var ee *experiments.Error
	if !errors.As(err, &ee) {
		t.Errorf("%s: %T %v, want an *experiments.Error", what, err, err)
		return nil
	}
	if experiments.CodeOf(err) != code || err.Error() != text {
		t.Errorf("%s: code %q, %q\nwant code %q, %q", what, experiments.CodeOf(err), err.Error(), code, text)
	}
	return ee
}

// Every code of the error envelope comes back as a domain error.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, Options{})
	ctx := context.Background()
	if _, err := c.Submit(ctx, []byte(twoSpec), "alpha"); err != nil {
		t.Fatal(err)
	}

	_, err := c.Submit(ctx, []byte("experiments:\n  e:\n    dataset: {synthetic: {}}\n    models: [{name: pixelgauss}]\n    epochs: 0\n    batch_size: 0\n"), "")
	wantAPIError(t, "invalid spec", err, experiments.CodeInvalid,
		"invalid spec: 2 problem(s): experiments.e.epochs: 0 is out of range; allowed: 1 to 10000 (line 5, column 13); "+
			"experiments.e.batch_size: 0 is out of range; allowed: 1 to 1024 (line 6, column 17)")
	wantProblems := []experiments.Problem{
		{Path: "experiments.e.epochs", Message: "0 is out of range; allowed: 1 to 10000", Line: 5, Column: 13},
		{Path: "experiments.e.batch_size", Message: "0 is out of range; allowed: 1 to 1024", Line: 6, Column: 17},
	}
	if got := experiments.SpecProblems(err); !reflect.DeepEqual(got, wantProblems) {
		t.Errorf("problems %+v", got)
	}

	// Details of another shape are kept as sent, and are no spec problems.
	_, _, err = c.Runs(ctx, experiments.RunFilter{State: "done"})
	if ee := wantAPIError(t, "bad state", err, experiments.CodeInvalid,
		`query parameter state: unknown state "done"; allowed: queued, running, succeeded, failed, cancelled`); ee != nil {
		if d, ok := ee.Details.(json.RawMessage); !ok || !strings.Contains(string(d), `"parameter":"state"`) {
			t.Errorf("details %T %s", ee.Details, ee.Details)
		}
		if experiments.SpecProblems(err) != nil {
			t.Error("parameter details read as spec problems")
		}
	}

	_, err = c.Experiment(ctx, 99)
	wantAPIError(t, "missing experiment", err, experiments.CodeNotFound, "experiment 99 not found")
	if !experiments.IsNotFound(err) {
		t.Error("IsNotFound is false")
	}
	_, err = c.Run(ctx, 99)
	wantAPIError(t, "missing run", err, experiments.CodeNotFound, "run 99 not found")
	err = c.Do(ctx, Request{Method: http.MethodGet, Path: "api/nothing"}, nil)
	wantAPIError(t, "unknown route", err, experiments.CodeNotFound, "no route for GET /api/nothing")

	cancel := Request{Method: http.MethodPost, Path: "api/runs/1/cancel"}
	var r experiments.Run
	if err := c.Do(ctx, cancel, &r); err != nil || r.State != experiments.StateCancelled {
		t.Fatalf("cancel: %+v, %v", r, err)
	}
	err = c.Do(ctx, cancel, nil)
	wantAPIError(t, "cancel twice", err, experiments.CodeConflict, "run 1 is already cancelled")

	_, err = c.Submit(ctx, []byte(twoSpec+"#"+strings.Repeat("x", 1024)+"\n"), "")
	wantAPIError(t, "too large", err, experiments.CodeTooLarge, "request body too large: the limit is 1024 bytes")

	err = c.Do(ctx, Request{Method: http.MethodPost, Path: "api/experiments", ContentType: "text/plain", Body: []byte(twoSpec), Want: 201}, nil)
	wantAPIError(t, "media type", err, "unsupported_media_type",
		`unsupported Content-Type "text/plain"; send application/yaml, application/x-yaml, text/yaml (the spec as the body) or application/json ({"spec": "...", "experiment": "name"})`)

	err = c.Do(ctx, Request{Method: http.MethodDelete, Path: "api/experiments"}, nil)
	wantAPIError(t, "method", err, "method_not_allowed", "method DELETE is not allowed on /api/experiments")

	// An artifact whose file leads outside the run's folder.
	if err := e.store.AddArtifact(ctx, &experiments.Artifact{RunID: 2, Name: "out.txt", Kind: "plot", SHA256: strings.Repeat("0", 64)}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.arts, "2"), 0o755)
	os.Symlink("/etc/hostname", filepath.Join(e.arts, "2", "out.txt"))
	err = c.Do(ctx, Request{Method: http.MethodGet, Path: "api/runs/2/artifacts/out.txt"}, nil)
	wantAPIError(t, "escaping artifact", err, "forbidden", `artifact "out.txt" resolves outside the run's artifact folder`)

	e.store.Close()
	_, err = c.Experiment(ctx, 1)
	wantAPIError(t, "closed store", err, experiments.CodeInternal, "internal server error")

	wrong := e.client(t, Options{Token: strings.Repeat("x", 32)})
	_, err = wrong.Experiment(ctx, 1)
	wantAPIError(t, "wrong token", err, "unauthorized", "missing or invalid bearer token")
	_, err = wrong.Experiment(ctx, 1)
	wantAPIError(t, "wrong token again", err, "too_many_requests", "too many failed authentication attempts from this address; retry in 60 s")
}

// Answers that are not the API's, and servers that cannot be reached.
func TestTransportErrors(t *testing.T) {
	ctx := context.Background()
	fake := func(status int, body string, wait time.Duration) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(wait)
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	call := func(base string, opts Options) error {
		c, err := New(base, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Experiment(ctx, 1)
		return err
	}

	err := call(fake(http.StatusBadGateway, "<html>upstream down</html>\n", 0), Options{})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 502 || err.Error() != "server answered 502 Bad Gateway: <html>upstream down</html>" {
		t.Errorf("not JSON: %T %v", err, err)
	}
	if experiments.CodeOf(err) != experiments.CodeInternal || experiments.IsNotFound(err) {
		t.Errorf("a proxy's page has code %q", experiments.CodeOf(err))
	}
	if err := call(fake(http.StatusNotFound, `{"error":{"code":"not_found"}}`, 0), Options{}); err == nil ||
		err.Error() != `server answered 404 Not Found: {"error":{"code":"not_found"}}` || experiments.IsNotFound(err) {
		t.Errorf("envelope without a message: %v", err)
	}
	if err := call(fake(http.StatusOK, "not json", 0), Options{}); err == nil || err.Error() != "unexpected answer from server: not json" {
		t.Errorf("garbage: %v", err)
	}
	if err := call(fake(http.StatusOK, strings.Repeat(" ", 11), 0), Options{MaxAnswer: 10}); err == nil ||
		err.Error() != "the answer to GET /api/experiments/1 is larger than 10 bytes" {
		t.Errorf("large answer: %v", err)
	}
	var ue *url.Error
	if err := call(fake(http.StatusOK, "{}", 200*time.Millisecond), Options{Timeout: 20 * time.Millisecond}); !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("timeout: %T %v", err, err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err = call("http://"+addr, Options{})
	if !errors.As(err, &ue) || err.Error() != `Get "http://`+addr+`/api/experiments/1": dial tcp `+addr+": connect: connection refused" {
		t.Errorf("refused: %T %v", err, err)
	}

	for _, bad := range []string{"ftp://x", "http://", "127.0.0.1:8080", "::", ""} {
		if _, err := New(bad, Options{}); err == nil || err.Error() != `server URL "`+bad+`": want http(s)://host:port` {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
}

// The token goes in the Authorization header, and only when set.
func TestBearerToken(t *testing.T) {
	var got []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Write([]byte("{}"))
	}))
	defer s.Close()
	for _, tok := range []string{"secret", ""} {
		c, _ := New(s.URL+"/prefix/", Options{Token: tok})
		if err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "api/health"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, []string{"Bearer secret", ""}) {
		t.Errorf("Authorization headers %q", got)
	}
}

// Open streams an answer past MaxAnswer, which Do refuses, and turns an
// error answer into the domain error as Do does.
func TestOpen(t *testing.T) {
	big := strings.Repeat("0123456789", 100)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/runs/1/artifacts/big.bin" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"artifact \"x\" of run 1 not found"}}`))
			return
		}
		w.Write([]byte(big))
	}))
	defer s.Close()
	c, _ := New(s.URL, Options{MaxAnswer: 100})
	ctx := context.Background()
	body, err := c.Open(ctx, Request{Method: http.MethodGet, Path: "api/runs/1/artifacts/big.bin"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || string(got) != big {
		t.Errorf("streamed %d bytes, %v; want %d", len(got), err, len(big))
	}
	if err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/runs/1/artifacts/big.bin"}, nil); err == nil ||
		err.Error() != "the answer to GET /api/runs/1/artifacts/big.bin is larger than 100 bytes" {
		t.Errorf("Do of the same: %v", err)
	}
	_, err = c.Open(ctx, Request{Method: http.MethodGet, Path: "api/runs/1/artifacts/x"})
	var ee *experiments.Error
	if !errors.As(err, &ee) || ee.Code != experiments.CodeNotFound || err.Error() != `artifact "x" of run 1 not found` {
		t.Errorf("missing artifact: %T %v", err, err)
	}
}
