package server

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
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

// callHost is call with the given Host header.
func (e *env) callHost(method, target, host, auth string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = host
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil {
		e.t.Fatalf("%s %s (Host %s): %v", method, target, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func body421(host string) string {
	return `{"error":{"code":"misdirected_request","message":"host \"` + host + `\" is not a name this server answers to without the token: ` +
		`use localhost, 127.0.0.1 or [::1] (any port), a name given to xraylab serve with --allowed-host, or send the token"}}`
}

// Open reads on a loopback address answer loopback names and
// --allowed-host names only: a DNS-rebinding page sends its own name.
func TestHostCheckOnOpenReads(t *testing.T) {
	e := authEnv(t, GuardOptions{Addr: "127.0.0.1:8080", AllowedHosts: []string{"Head.Cluster"}})
	if code, _, body := e.call("POST", "/api/experiments", bearer, readFile(t, "two.yaml")); code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	targets := []string{"/api/runs", "/api/runs/1", "/api/experiments/1", "/api/runs/1/artifacts/checkpoint.bin", "/api/events"}
	for _, host := range []string{"rebind.example:8080", "rebind.example", "127.0.0.1.nip.io:8080", "localhost.evil.example", "head.cluster.evil", "10.0.0.1:8080", "0.0.0.0:8080"} {
		for _, target := range targets {
			if code, body := e.callHost("GET", target, host, ""); code != 421 || body != body421(host) {
				t.Errorf("GET %s Host %s: %d %s, want 421", target, host, code, body)
			}
		}
		// With the token a request cannot come from a rebinding page.
		if code, body := e.callHost("GET", "/api/runs/1", host, bearer); code != 200 {
			t.Errorf("GET /api/runs/1 Host %s with the token: %d %s", host, code, body)
		}
		// A wrong token is refused as anywhere else.
		if code, body := e.callHost("GET", "/api/runs/1", host, "Bearer "+strings.Repeat("c", 64)); code != 401 || body != body401 {
			t.Errorf("GET /api/runs/1 Host %s with a wrong token: %d %s", host, code, body)
		}
	}
	for _, host := range []string{"localhost", "localhost:9999", "LocalHost.:8080", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "[::1]", "head.cluster:8080", "HEAD.CLUSTER"} {
		if code, body := e.callHost("GET", "/api/runs/1", host, ""); code != 200 {
			t.Errorf("GET /api/runs/1 Host %s: %d %s, want 200", host, code, body)
		}
	}
	// Health and the dashboard's files hold nothing to steal.
	if code, _ := e.callHost("GET", "/api/health", "rebind.example", ""); code != 200 {
		t.Errorf("health under another name: %d", code)
	}
}

// Where reads need the token, or the operator published them with
// --public-read on a non-loopback address, Host is not checked.
func TestHostNotCheckedWhereReadsNeedTheToken(t *testing.T) {
	e := authEnv(t, GuardOptions{Addr: "0.0.0.0:8080"})
	if code, body := e.callHost("GET", "/api/runs", "head:8080", bearer); code != 200 {
		t.Errorf("token read under head:8080: %d %s", code, body)
	}
	if code, body := e.callHost("GET", "/api/runs", "head:8080", ""); code != 401 || body != body401 {
		t.Errorf("token-less read under head:8080: %d %s", code, body)
	}
	e = authEnv(t, GuardOptions{Addr: "0.0.0.0:8080", PublicRead: true})
	if code, body := e.callHost("GET", "/api/runs", "head:8080", ""); code != 200 {
		t.Errorf("public read under head:8080: %d %s", code, body)
	}
}

func TestCheckAllowedHost(t *testing.T) {
	for _, ok := range []string{"head", "head.cluster", "Head-1.example.org", "10.0.0.5", "::1", "[fe80::1]", "my_host"} {
		if err := CheckAllowedHost(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	cases := map[string]string{
		"":                      "empty host name",
		"  ":                    "empty host name",
		"http://head":           `"http://head" is a URL; give the host name alone`,
		"head/x":                `"head/x" is not a host name (it holds a space, '/', '?', '#' or '@')`,
		"user@head":             `"user@head" is not a host name (it holds a space, '/', '?', '#' or '@')`,
		"head:8080":             `"head:8080" holds a port or brackets; give the host name alone (any port is accepted)`,
		"[head]":                `"[head]" holds a port or brackets; give the host name alone (any port is accepted)`,
		"a..b":                  `"a..b" is not a host name: empty or over-long label`,
		"h\u00e9te":             `"h` + "\u00e9" + `te" is not a host name: 'é' is not a letter, digit, '-' or '_'`,
		"head\tx":               `"head\tx" is not a host name (it holds a space, '/', '?', '#' or '@')`,
		strings.Repeat("a", 64): `"` + strings.Repeat("a", 64) + `" is not a host name: empty or over-long label`,
	}
	for v, want := range cases {
		if err := CheckAllowedHost(v); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", v, err, want)
		}
	}
}

// With runs executing on this machine, a MURA root that is missing or a
// file is refused at submission, naming the experiment and the problem.
func TestSubmitRefusesUnusableDatasetRoots(t *testing.T) {
	e := newEnv(t)
	e.mgr.SetLocalData(true)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		filepath.Join(dir, "missing"): "MURA root " + filepath.Join(dir, "missing") + ": no such folder",
		file:                          "MURA root " + file + ": not a folder",
	}
	for root, why := range cases {
		spec := "experiments:\n  real:\n    dataset: {mura: {root: '" + root + "'}}\n    models: [{name: pixelgauss}]\n"
		want := `{"error":{"code":"invalid","message":"experiment real: ` + why + `"}}`
		code, _, body := e.do("POST", "/api/experiments", "application/yaml", []byte(spec))
		if code != 400 || body != want {
			t.Errorf("root %s: %d %s\nwant 400 %s", root, code, body, want)
		}
	}
	if body := e.get("/api/runs", 200); !strings.Contains(body, `"total":0`) {
		t.Fatalf("refused submissions queued runs: %s", body)
	}
	spec := "experiments:\n  real:\n    dataset: {mura: {root: '" + dir + "'}}\n    models: [{name: pixelgauss}]\n"
	if code, _, body := e.do("POST", "/api/experiments", "application/yaml", []byte(spec)); code != 201 {
		t.Errorf("a folder: %d %s", code, body)
	}
	// Only the chosen experiment's data is checked (make run submits the
	// demo from a file whose paper suite names /data/MURA-v1.1).
	spec += "  elsewhere:\n    dataset: {mura: {root: '" + filepath.Join(dir, "missing") + "'}}\n    models: [{name: pixelgauss}]\n"
	if code, _, body := e.do("POST", "/api/experiments?experiment=real", "application/yaml", []byte(spec)); code != 201 {
		t.Errorf("another experiment's missing root refused the chosen one: %d %s", code, body)
	}
	if code, _, body := e.do("POST", "/api/experiments", "application/yaml", []byte(spec)); code != 400 || !strings.Contains(body, "experiment elsewhere: MURA root") {
		t.Errorf("the whole file with a missing root: %d %s", code, body)
	}
}
