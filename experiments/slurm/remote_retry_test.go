package slurm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/slurm"
)

// answer is one scripted answer of a fake worker API.
type answer struct {
	status int
	body   string
}

// scripted serves the answers in order, one a request, and records the
// requests' method, path and query.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	got     []string
}

func (f *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r.Method+" "+r.URL.RequestURI())
	if len(f.answers) == 0 {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	if strings.HasPrefix(a.body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	w.Write([]byte(a.body))
}

func (f *scripted) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// newScriptedSink is a RemoteSink of run 1 on a fake server, logging to log.
func newScriptedSink(t *testing.T, server string, dir string, retryFor time.Duration, log *strings.Builder) *slurm.RemoteSink {
	t.Helper()
	s, err := slurm.NewRemoteSink(slurm.RemoteOptions{Server: server, RunID: 1, Token: "tok", ArtifactsDir: dir,
		ChunkSize: 7, RetryFor: retryFor, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(time.Second) })
	return s
}

const internalBody = `{"error":{"code":"internal","message":"internal server error"}}`

// Busy and failing servers are retried, behind a proxy or not; answers
// that say the request is wrong are not.
func TestRemoteSinkRetries(t *testing.T) {
	fake := &scripted{answers: []answer{
		{http.StatusBadGateway, "<html>upstream down</html>"},
		{http.StatusTooManyRequests, `{"error":{"code":"too_many_requests","message":"slow down"}}`},
		{http.StatusInternalServerError, internalBody},
		{http.StatusServiceUnavailable, "try later"},
		{http.StatusNoContent, ""},
		{http.StatusBadRequest, `{"error":{"code":"invalid","message":"report: a failed run needs its error"}}`},
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var log strings.Builder
	sink := newScriptedSink(t, srv.URL, t.TempDir(), time.Minute, &log)
	ctx := context.Background()
	if err := sink.Heartbeat(ctx, experiments.WorkerInfo{Node: "n"}); err != nil {
		t.Fatalf("heartbeat through 502, 429, 500, 503: %v", err)
	}
	if n := len(fake.requests()); n != 5 {
		t.Errorf("%d requests, want 5: %q", n, fake.requests())
	}
	if n := strings.Count(log.String(), "server call failed; retrying"); n != 4 {
		t.Errorf("%d retries logged, want 4:\n%s", n, log.String())
	}
	err := sink.Finish(ctx, experiments.WorkerReport{State: experiments.StateFailed})
	var ee *experiments.Error
	if !errors.As(err, &ee) || ee.Code != experiments.CodeInvalid ||
		err.Error() != "POST /api/worker/runs/1/finish: report: a failed run needs its error" {
		t.Errorf("a refused report: %T %v", err, err)
	}
	if n := len(fake.requests()); n != 6 {
		t.Errorf("the refused report was sent %d times", n-5)
	}
}

// A server that keeps failing is given up on after RetryFor, with its last
// error; a cancelled context is not retried at all.
func TestRemoteSinkGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var log strings.Builder
	// Tries at about 0, 0.25 s and 0.75 s; the next wait (1 s) ends past 1 s.
	sink := newScriptedSink(t, "http://"+addr, t.TempDir(), time.Second, &log)
	err = sink.Heartbeat(context.Background(), experiments.WorkerInfo{Node: "n"})
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "POST /api/worker/runs/1/heartbeat: Post \"http://"+addr) {
		t.Errorf("unreachable server: %T %v", err, err)
	}
	if n := strings.Count(log.String(), "server call failed; retrying"); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, log.String())
	}

	fake := &scripted{answers: []answer{{http.StatusInternalServerError, internalBody}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	log.Reset()
	sink = newScriptedSink(t, srv.URL, t.TempDir(), time.Minute, &log)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sink.Heartbeat(ctx, experiments.WorkerInfo{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if n := len(fake.requests()); n != 0 || strings.Contains(log.String(), "retrying") {
		t.Errorf("a cancelled call went out %d times:\n%s", n, log.String())
	}
}

// A chunk whose answer was lost is sent again; the server's conflict,
// whose details show the chunk already appended, counts as success. A
// conflict showing anything else is an error.
func TestRemoteSinkUploadConflict(t *testing.T) {
	dir := t.TempDir()
	content := "0123456789" // chunks of 7 and 3 bytes
	os.MkdirAll(filepath.Join(dir, "1"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "1", "f.bin"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	conflict := func(size int) answer {
		return answer{http.StatusConflict, fmt.Sprintf(`{"error":{"code":"conflict","message":"upload of \"f.bin\" has %d bytes, not 7: send from offset %d","details":{"size":%d}}}`, size, size, size)}
	}
	fake := &scripted{answers: []answer{
		{http.StatusOK, `{"size":7}`},
		{http.StatusBadGateway, "lost"}, // the chunk went in, its answer did not come back
		conflict(10),
		{http.StatusCreated, `{"id":5,"run_id":1,"name":"f.bin","kind":"x","size":10}`},
		{http.StatusOK, `{"size":7}`},
		conflict(3),
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var log strings.Builder
	sink := newScriptedSink(t, srv.URL, dir, time.Minute, &log)
	a := &experiments.Artifact{RunID: 1, Name: "f.bin", Kind: "x", Size: 10, SHA256: hex.EncodeToString(sum[:])}
	if err := sink.AddArtifact(context.Background(), a); err != nil || a.ID != 5 {
		t.Fatalf("upload through a lost answer: id %d, %v", a.ID, err)
	}
	want := []string{"POST /api/worker/runs/1/uploads/f.bin?offset=0", "POST /api/worker/runs/1/uploads/f.bin?offset=7",
		"POST /api/worker/runs/1/uploads/f.bin?offset=7", "POST /api/worker/runs/1/artifacts"}
	if got := fake.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	err := sink.AddArtifact(context.Background(), &experiments.Artifact{RunID: 1, Name: "f.bin", Kind: "x", Size: 10, SHA256: a.SHA256})
	if experiments.CodeOf(err) != experiments.CodeConflict || err.Error() !=
		`upload artifact f.bin: POST /api/worker/runs/1/uploads/f.bin: upload of "f.bin" has 3 bytes, not 7: send from offset 3` {
		t.Errorf("a real conflict: %v", err)
	}
}
