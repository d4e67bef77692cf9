package main

// Helpers shared by the system tests of the real binary (crash_test.go,
// failures_test.go, load_test.go): building it, starting `xraylab serve`
// on a var folder, and the REST calls they make. Their specs live in
// testdata/.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
)

// testToken is written to the var folder before the first start, so the
// server uses it (and a server without auth ignores the header).
const testToken = "c7a5e0d1b2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9"

// readSpec returns testdata/name.
func readSpec(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildBinary builds xraylab once per test into its temporary folder.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xraylab")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// newVar creates varDir with testToken in it.
func newVar(t testing.TB, varDir string) {
	t.Helper()
	if err := os.MkdirAll(varDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(varDir, "token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openStore opens the database at path; the caller closes it.
func openStore(t testing.TB, path string) *registry.Store {
	t.Helper()
	store, err := registry.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// proc is one running `xraylab serve`.
type proc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // its exit error, once done is closed
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServe starts the binary on a free loopback port and waits for
// /api/health; its output is appended to logPath.
func startServe(t testing.TB, bin, varDir, logPath string, extra ...string) *proc {
	t.Helper()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--addr", addr, "--var", varDir}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, base: "http://" + addr, log: lf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			lf.Close()
			out, _ := os.ReadFile(logPath)
			t.Fatalf("xraylab serve exited at start: %v\n%s", p.err, tail(out, 3000))
		default:
		}
		resp, err := http.Get(p.base + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("xraylab serve did not answer /api/health within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process at once; it is safe to call after it exited.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.log.Close()
}

// stop asks for a graceful shutdown and returns the exit error.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.log.Close()
		return p.err
	case <-time.After(60 * time.Second):
		p.kill()
		return fmt.Errorf("did not stop within 60 s of SIGTERM")
	}
}

// serveOn starts the server on varDir, kills it at cleanup (before the
// cleanups registered earlier, unmounts among them), and shows its log
// when the test failed.
func serveOn(t *testing.T, bin, varDir string) (*proc, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "serve.log")
	p := startServe(t, bin, varDir, logPath)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("server log (tail):\n%s", tail(out, 6000))
		}
	})
	return p, logPath
}

// serveExit runs `xraylab serve` on varDir, which is expected to refuse to
// start, and returns its exit code (-1 if it did not exit by itself) and
// output.
func serveExit(t *testing.T, bin, varDir string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--var", varDir)
	out, err := cmd.CombinedOutput()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, string(out), err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// submitRequest is a spec submission with the token.
func submitRequest(base, spec string) *http.Request {
	req, _ := http.NewRequest("POST", base+"/api/experiments", strings.NewReader(spec))
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+testToken)
	return req
}

// submitStatus posts a spec and returns the status and body.
func submitStatus(t *testing.T, base, spec string) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(submitRequest(base, spec))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// submitHTTP posts a spec with the token and returns the queued
// experiments with their run IDs.
func submitHTTP(t *testing.T, base, spec string) map[int64][]int64 {
	t.Helper()
	status, body := submitStatus(t, base, spec)
	if status != 201 {
		t.Fatalf("submit: %d %s", status, body)
	}
	var out struct {
		Experiments []struct {
			ID     int64   `json:"id"`
			RunIDs []int64 `json:"run_ids"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	m := map[int64][]int64{}
	for _, e := range out.Experiments {
		m[e.ID] = e.RunIDs
	}
	return m
}

// submitOne submits a one-run spec and returns its run ID.
func submitOne(t *testing.T, base, spec string) int64 {
	t.Helper()
	for _, runs := range submitHTTP(t, base, spec) {
		if len(runs) == 1 {
			return runs[0]
		}
	}
	t.Fatalf("submit did not queue exactly one run")
	return 0
}

type runView struct {
	State string `json:"state"`
	Error string `json:"error"`
}

// getRun reads the run as its owner does, with the token (readers without
// it see server paths rewritten).
func getRun(t *testing.T, base string, id int64) runView {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/runs/%d", base, id), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("server gone: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/runs/%d: %d %s", id, resp.StatusCode, body)
	}
	var r runView
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET /api/runs/%d: %v", id, err)
	}
	return r
}

// waitEnd polls the run until it is finished.
func waitEnd(t *testing.T, base string, id int64, timeout time.Duration) runView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := getRun(t, base, id)
		if experiments.State(r.State).Terminal() {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s after %s", id, r.State, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEvent reads the server's event stream until match holds or the
// timeout passes; it reports whether it matched.
func waitEvent(base string, timeout time.Duration, match func(experiments.Event) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events?token="+testToken, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev experiments.Event
		if json.Unmarshal([]byte(data), &ev) == nil && match(ev) {
			return true
		}
	}
	return false
}

// waitTraining waits until the run has trained a batch.
func waitTraining(t *testing.T, base string, id int64) {
	t.Helper()
	if !waitEvent(base, 60*time.Second, func(ev experiments.Event) bool {
		return ev.RunID == id && ev.Type == "progress" && ev.Epoch >= 1 && ev.Batch > 0
	}) {
		t.Fatalf("run %d did not start training within 60 s", id)
	}
}

// checkHealthy: the server answers its health check and the run list.
func checkHealthy(t *testing.T, base string) {
	t.Helper()
	for _, path := range []string{"/api/health", "/api/runs?limit=10"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
}
