package main

import (
	"bytes"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
