package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeClock is a settable clock for the failure limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// authEnv is a server guarded by BearerGuard over the real manager and
// registry.
func authEnv(t *testing.T, opts GuardOptions) *env {
	t.Helper()
	read, write := BearerGuard(testToken, opts)
	return newEnv(t, func(c *Config) { c.ReadGuard, c.WriteGuard = read, write })
}

// call sends one request with the given Authorization header ("" = none)
// and returns status, headers and body.
func (e *env) call(method, target, auth string, body []byte) (int, http.Header, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Host = testHost
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const (
	body401 = `{"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}`
	bearer  = "Bearer " + testToken
)

func TestBearerGuardWrites(t *testing.T) {
	e := authEnv(t, GuardOptions{Addr: "127.0.0.1:8080"})
	spec := readFile(t, "two.yaml")
	refused := []struct{ name, target, auth string }{
		{"no header", "/api/experiments", ""},
		{"wrong token", "/api/experiments", "Bearer " + strings.Repeat("f", 64)},
		{"token prefix", "/api/experiments", "Bearer " + testToken[:63]},
		{"token plus a byte", "/api/experiments", bearer + "0"},
		{"empty bearer", "/api/experiments", "Bearer "},
		{"basic scheme", "/api/experiments", "Basic " + testToken},
		{"bare token", "/api/experiments", testToken},
		{"query token", "/api/experiments?token=" + testToken, ""},
	}
	for _, c := range refused {
		code, h, body := e.call("POST", c.target, c.auth, spec)
		if code != 401 || body != body401 {
			t.Errorf("%s: %d %s, want 401 %s", c.name, code, body, body401)
		}
		if got := h.Get("WWW-Authenticate"); got != `Bearer realm="xraylab"` {
			t.Errorf("%s: WWW-Authenticate %q", c.name, got)
		}
	}
	// Nothing was queued by the refused requests.
	if body := e.get("/api/runs", 200); !strings.Contains(body, `"total":0`) {
		t.Fatalf("refused submissions queued runs: %s", body)
	}
	for _, auth := range []string{bearer, "bearer " + testToken, "  Bearer   " + testToken + "  "} {
		if code, _, body := e.call("POST", "/api/experiments", auth, spec); code != 201 {
			t.Fatalf("%q: %d %s", auth, code, body)
		}
	}
	// Cancel is a write too.
	if code, _, body := e.call("POST", "/api/runs/1/cancel", "", nil); code != 401 || body != body401 {
		t.Fatalf("cancel without token: %d %s", code, body)
	}
	if code, _, body := e.call("POST", "/api/runs/1/cancel", bearer, nil); code != 200 || !strings.Contains(body, `"state":"cancelled"`) {
		t.Fatalf("cancel with token: %d %s", code, body)
	}
	// Health is never guarded.
	if code, _, _ := e.call("GET", "/api/health", "", nil); code != 200 {
		t.Fatalf("health: %d", code)
	}
}

func TestBearerGuardReads(t *testing.T) {
	cases := []struct {
		name      string
		opts      GuardOptions
		openReads bool
	}{
		{"ipv4 loopback", GuardOptions{Addr: "127.0.0.1:8080"}, true},
		{"other loopback", GuardOptions{Addr: "127.0.0.2:8080"}, true},
		{"ipv6 loopback", GuardOptions{Addr: "[::1]:8080"}, true},
		{"localhost", GuardOptions{Addr: "localhost:8080"}, true},
		{"all interfaces", GuardOptions{Addr: "0.0.0.0:8080"}, false},
		{"empty host", GuardOptions{Addr: ":8080"}, false},
		{"lan address", GuardOptions{Addr: "192.168.1.7:8080"}, false},
		{"public read", GuardOptions{Addr: "0.0.0.0:8080", PublicRead: true}, true},
		{"private read on loopback", GuardOptions{Addr: "127.0.0.1:8080", PrivateRead: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := authEnv(t, c.opts)
			for _, target := range []string{"/api/runs", "/api/experiments", "/api/runs/1", "/api/runs/1/metrics", "/api/runs/1/roc?score=mean"} {
				code, _, body := e.call("GET", target, "", nil)
				switch {
				case c.openReads && code == 401:
					t.Errorf("GET %s without token: 401, want reads open", target)
				case !c.openReads && (code != 401 || body != body401):
					t.Errorf("GET %s without token: %d %s, want 401", target, code, body)
				}
				if code, _, body := e.call("GET", target, bearer, nil); code == 401 {
					t.Errorf("GET %s with token: %d %s", target, code, body)
				}
			}
			// ?token= is not accepted outside the event stream.
			if !c.openReads {
				if code, _, _ := e.call("GET", "/api/runs?token="+testToken, "", nil); code != 401 {
					t.Errorf("GET /api/runs?token=: %d, want 401", code)
				}
			}
		})
	}
}

// The event stream takes ?token= because EventSource cannot send headers.
func TestBearerGuardEventsQueryToken(t *testing.T) {
	e := authEnv(t, GuardOptions{Addr: "0.0.0.0:8080"})
	client := e.serve()
	resp, err := client.Get("http://xraylab/api/events")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(b) != body401 {
		t.Fatalf("events without token: %d %s", resp.StatusCode, b)
	}
	resp, err = client.Get("http://xraylab/api/events?token=" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("events with a wrong query token: %d", resp.StatusCode)
	}
	resp, _ = openEvents(t, client, "/api/events?token="+testToken)
	resp.Body.Close()
}

func TestBearerGuardRateLimitsFailures(t *testing.T) {
	clock := &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := authEnv(t, GuardOptions{Addr: "0.0.0.0:8080", MaxFailures: 3, Now: clock.now})
	wrong := "Bearer " + strings.Repeat("a", 64)
	for i := 0; i < 3; i++ {
		if code, _, _ := e.call("GET", "/api/runs", wrong, nil); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	// The bucket is empty: wrong tokens wait, and a refill of one failure
	// takes 20 s. The right token still passes: every local client shares
	// 127.0.0.1, and a local process sending wrong tokens must not lock the
	// owner out.
	want429 := `{"error":{"code":"too_many_requests","message":"too many failed authentication attempts from this address; retry in 20 s"}}`
	code, h, body := e.call("GET", "/api/runs", wrong, nil)
	if code != 429 || body != want429 || h.Get("Retry-After") != "20" {
		t.Fatalf("wrong token while limited: %d %s Retry-After %q", code, body, h.Get("Retry-After"))
	}
	for i := 0; i < 5; i++ {
		if code, _, body := e.call("GET", "/api/runs", bearer, nil); code != 200 {
			t.Fatalf("right token while limited (%d): %d %s", i, code, body)
		}
		if code, _, body := e.call("POST", "/api/runs/999/cancel", bearer, nil); code != 404 {
			t.Fatalf("write with the right token while limited (%d): %d %s", i, code, body)
		}
	}
	// Requests without a token are not guesses: plain 401, nothing charged.
	if code, _, _ := e.call("GET", "/api/runs", "", nil); code != 401 {
		t.Fatalf("no token while limited: %d", code)
	}
	clock.add(10 * time.Second)
	if code, h, _ := e.call("GET", "/api/runs", wrong, nil); code != 429 || h.Get("Retry-After") != "10" {
		t.Fatalf("after 10 s: %d Retry-After %q", code, h.Get("Retry-After"))
	}
	clock.add(10 * time.Second)
	// One refilled attempt: the next failure empties the bucket again.
	if code, _, _ := e.call("GET", "/api/runs", wrong, nil); code != 401 {
		t.Fatalf("refilled failure: %d", code)
	}
	if code, _, _ := e.call("GET", "/api/runs", wrong, nil); code != 429 {
		t.Fatalf("after the refilled failure: %d, want 429", code)
	}
	// A minute refills everything; successes never charge the bucket.
	clock.add(time.Minute)
	for i := 0; i < 10; i++ {
		if code, _, _ := e.call("GET", "/api/runs", bearer, nil); code != 200 {
			t.Fatalf("success %d: %d", i, code)
		}
	}
	for i := 0; i < 3; i++ {
		if code, _, _ := e.call("GET", "/api/runs", wrong, nil); code != 401 {
			t.Fatalf("failure %d after refill: %d", i+1, code)
		}
	}
}

func TestFailureLimiterPerClientAndPruned(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := newFailureLimiter(2, clock.now)
	l.fail("10.0.0.1")
	l.fail("10.0.0.1")
	if w := l.wait("10.0.0.1"); w != 30*time.Second {
		t.Fatalf("wait after 2 failures of 2: %v, want 30s", w)
	}
	if w := l.wait("10.0.0.2"); w != 0 {
		t.Fatalf("another client waits %v", w)
	}
	l.fail("10.0.0.2")
	if w := l.wait("10.0.0.2"); w != 0 {
		t.Fatalf("one failure of 2 waits %v", w)
	}
	// Full buckets are forgotten when the map is pruned.
	clock.add(time.Minute)
	l.mu.Lock()
	l.prune(clock.now())
	l.mu.Unlock()
	if n := l.tracked(); n != 0 {
		t.Fatalf("%d clients tracked after everything refilled", n)
	}
	// Memory stays bounded however many addresses fail, and the limited
	// client that failed last is still limited.
	l.bound = 100
	for i := 0; i < 1000; i++ {
		l.fail(fmt.Sprintf("2001:db8::%x", i))
		if n := l.tracked(); n > 100 {
			t.Fatalf("%d clients tracked, bound 100", n)
		}
	}
	l.fail("2001:db8::3e7")
	if w := l.wait("2001:db8::3e7"); w != 30*time.Second {
		t.Fatalf("last client waits %v after 2 failures", w)
	}
}

func TestEmptyTokenAcceptsNothing(t *testing.T) {
	read, write := BearerGuard("", GuardOptions{Addr: "0.0.0.0:1"})
	e := newEnv(t, func(c *Config) { c.ReadGuard, c.WriteGuard = read, write })
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if code, _, _ := e.call("GET", "/api/runs", auth, nil); code != 401 {
			t.Errorf("%q: %d, want 401", auth, code)
		}
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "var", "token")
	tok, created, err := LoadOrCreateToken(path)
	if err != nil || !created {
		t.Fatalf("first call: %q %v %v", tok, created, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q is not 32 bytes of hex", tok)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v; want 0600", fi.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != tok+"\n" {
		t.Fatalf("file holds %q", data)
	}
	again, created, err := LoadOrCreateToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("second call: %q %v %v, want %q false nil", again, created, err, tok)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want only the token", len(entries))
	}
	// Another token file gets another token.
	other, _, err := LoadOrCreateToken(filepath.Join(dir, "other"))
	if err != nil || other == tok {
		t.Fatalf("second token %q (%v) equals the first", other, err)
	}
}

func TestLoadOrCreateTokenRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	const n = 8
	toks := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			toks[i], created[i], err = LoadOrCreateToken(path)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	creators := 0
	for i := range toks {
		if toks[i] != toks[0] {
			t.Fatalf("callers got different tokens: %q", toks)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers created the file, want 1", creators)
	}
}

func TestReadTokenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	loose := write("loose", testToken, 0o644)
	group := write("group", testToken, 0o640)
	short := write("short", "abc\n", 0o600)
	spaced := write("spaced", testToken[:40]+" "+testToken[40:], 0o600)
	big := write("big", strings.Repeat("a", 2000), 0o600)
	good := write("good", "\n  "+testToken+"\r\n", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{loose, "token file " + loose + " has mode 0644: group and others must not have access (chmod 600 " + loose + ")"},
		{group, "token file " + group + " has mode 0640: group and others must not have access (chmod 600 " + group + ")"},
		{short, "token file " + short + ": token has 3 characters; want 32 to 1024"},
		{spaced, "token file " + spaced + ": token holds a space, control or non-ASCII character at position 41"},
		{big, "token file " + big + " is 2000 bytes: a token is at most 1024 characters"},
		{link, "token file " + link + " is not a regular file (L---------)"},
		{dir, "token file " + dir + " is not a regular file (d---------)"},
	}
	for _, c := range cases {
		if _, err := ReadToken(c.path); err == nil || err.Error() != c.want {
			t.Errorf("ReadToken(%s): %v\nwant %s", filepath.Base(c.path), err, c.want)
		}
		// LoadOrCreateToken must not replace a bad file with a new token.
		if _, created, err := LoadOrCreateToken(c.path); err == nil || created {
			t.Errorf("LoadOrCreateToken(%s) accepted it", filepath.Base(c.path))
		}
	}
	if got, err := ReadToken(good); err != nil || got != testToken {
		t.Fatalf("good file: %q %v", got, err)
	}
	_, err := ReadToken(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "token file "+filepath.Join(dir, "missing")+" does not exist: file does not exist" {
		t.Fatalf("missing file: %v", err)
	}
}

func TestCheckToken(t *testing.T) {
	cases := []struct{ token, want string }{
		{testToken, ""},
		{strings.Repeat("x", 32), ""},
		{strings.Repeat("x", 31), "token has 31 characters; want 32 to 1024"},
		{strings.Repeat("x", 1025), "token has 1025 characters; want 32 to 1024"},
		{strings.Repeat("x", 32) + "\t", "token holds a space, control or non-ASCII character at position 33"},
		{"é" + strings.Repeat("x", 32), "token holds a space, control or non-ASCII character at position 1"},
	}
	for _, c := range cases {
		err := CheckToken(c.token)
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("CheckToken(%.40q): %v, want %q", c.token, err, c.want)
		}
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:8080": true, "localhost:80": true, "LOCALHOST:80": true,
		"::1": true, "127.0.0.1": true,
		"0.0.0.0:8080": false, ":8080": false, "": false, "[::]:8080": false, "10.0.0.1:8080": false,
		"example.com:80": false, "localhost.example.com:80": false,
	}
	for addr, want := range cases {
		if got := IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
