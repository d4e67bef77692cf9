package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestServeWarnings(t *testing.T) {
	const noRoot = "listening on 0.0.0.0:8080, not a loopback address, without --data-root: " +
		"anyone with the token can name any folder this process can read as a MURA dataset; give --data-root DIR to confine them"
	cases := []struct {
		addr   string
		roots  []string
		hosts  []string
		public bool
		want   []string
	}{
		{"127.0.0.1:8080", nil, nil, false, nil},
		{"localhost:8080", nil, []string{"head"}, false, nil},
		{"0.0.0.0:8080", []string{"/data"}, nil, false, nil},
		{"0.0.0.0:8080", nil, nil, false, []string{noRoot}},
		{"0.0.0.0:8080", nil, nil, true, []string{noRoot}},
		{":8080", nil, nil, false, []string{strings.Replace(noRoot, "0.0.0.0:8080", ":8080", 1)}},
		{"0.0.0.0:8080", []string{"/data"}, []string{"head"}, false,
			[]string{"--allowed-host has no effect: it widens token-less reads on a loopback --addr, and 0.0.0.0:8080 is not one"}},
	}
	for _, c := range cases {
		if got := serveWarnings(c.addr, c.roots, c.hosts, c.public); !reflect.DeepEqual(got, c.want) {
			t.Errorf("serveWarnings(%s, %v, %v, %v) = %q\nwant %q", c.addr, c.roots, c.hosts, c.public, got, c.want)
		}
	}
}

// The warning comes at start-up, before the listener: here the port is
// taken, so serve stops right after saying it.
func TestServeWarnsAtStartUpWithoutDataRoot(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, roots := range [][]string{nil, {"--data-root", t.TempDir()}} {
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--addr", addr, "--var", filepath.Join(t.TempDir(), "var")}, roots...)
		code := run(args, &out, &errb)
		warned := strings.Contains(errb.String(), "xraylab: warning: listening on "+addr+", not a loopback address, without --data-root: ")
		if code != 1 || !strings.Contains(errb.String(), "listen on "+addr) || warned != (roots == nil) {
			t.Errorf("serve %v: exit %d, warned %v\nstdout:\n%s\nstderr:\n%s", roots, code, warned, out.String(), errb.String())
		}
	}
}

func TestServeAllowedHostFlag(t *testing.T) {
	for v, want := range map[string]string{
		"head:8080":   `invalid value "head:8080" for flag -allowed-host: "head:8080" holds a port or brackets; give the host name alone (any port is accepted)`,
		"http://head": `invalid value "http://head" for flag -allowed-host: "http://head" is a URL; give the host name alone`,
		"":            `invalid value "" for flag -allowed-host: empty host name`,
	} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--allowed-host", v, "--var", t.TempDir()}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), want) {
			t.Errorf("--allowed-host %q: exit %d\n%s\nwant exit 2 and %s", v, code, errb.String(), want)
		}
	}
}

// getHost sends GET base+target with the given Host header and token
// ("" = none).
func getHost(t *testing.T, base, target, host, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+target, nil)
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The flags reach the server: --allowed-host widens the Host check of
// token-less reads, --data-root makes a missing dataset folder a 400 at
// submission, and readers without the token see the paths of a failed
// run relative to the data root.
func TestServeHostDataRootAndPaths(t *testing.T) {
	bin := buildBinary(t)
	varDir := filepath.Join(t.TempDir(), "var")
	newVar(t, varDir)
	data := t.TempDir()
	p := startServe(t, bin, varDir, filepath.Join(t.TempDir(), "serve.log"), "--allowed-host", "head.example", "--data-root", data)
	defer p.kill()
	port := strings.TrimPrefix(p.base, "http://127.0.0.1:")

	want421 := `{"error":{"code":"misdirected_request","message":"host \"rebind.example:` + port + `\" is not a name this server answers to without the token: ` +
		`use localhost, 127.0.0.1 or [::1] (any port), a name given to xraylab serve with --allowed-host, or send the token"}}`
	if code, body := getHost(t, p.base, "/api/runs", "rebind.example:"+port, ""); code != 421 || body != want421 {
		t.Errorf("rebinding host: %d %s", code, body)
	}
	for _, host := range []string{"head.example:" + port, "localhost:" + port, ""} {
		if code, body := getHost(t, p.base, "/api/runs", host, ""); code != 200 {
			t.Errorf("host %q: %d %s", host, code, body)
		}
	}
	if code, body := getHost(t, p.base, "/api/runs", "rebind.example:"+port, testToken); code != 200 {
		t.Errorf("rebinding host with the token: %d %s", code, body)
	}

	spec := func(root string) string {
		return "experiments:\n  real:\n    dataset: {mura: {root: '" + root + "'}}\n    models: [{name: pixelgauss}]\n    epochs: 1\n    image_size: 16\n"
	}
	missing := filepath.Join(data, "MURA-v1.1")
	code, body := submitStatus(t, p.base, spec(missing))
	if want := `{"error":{"code":"invalid","message":"experiment real: MURA root ` + missing + `: no such folder"}}`; code != 400 || body != want {
		t.Errorf("missing dataset folder: %d %s\nwant 400 %s", code, body, want)
	}
	empty := filepath.Join(data, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	id := submitOne(t, p.base, spec(empty))
	run := waitEnd(t, p.base, id, time.Minute) // as the owner sees it, with the token
	const why = "load dataset: MURA folder %s/train/XR_HAND: no such folder (expected the layout %s/train/XR_HAND/patientNNNNN/studyK_positive/imageM.png)"
	if want := fmt.Sprintf(why, empty, empty); run.State != "failed" || run.Error != want {
		t.Errorf("run with the token: %s %q\nwant failed %q", run.State, run.Error, want)
	}
	_, body = getHost(t, p.base, fmt.Sprintf("/api/runs/%d", id), "", "")
	if want := fmt.Sprintf(why, "empty", "empty"); !strings.Contains(body, `"error":"`+want+`"`) || strings.Contains(body, data) {
		t.Errorf("run without the token: %s\nwant error %q", body, want)
	}
}
