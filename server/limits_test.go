package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"xraylab/experiments"
)

// gatedService is the real manager with submissions held at a gate, so a
// test decides how many are in flight at once.
type gatedService struct {
	*experiments.Manager
	entered chan struct{}
	release chan struct{}
}

func (g *gatedService) Submit(ctx context.Context, spec []byte, only string) ([]*experiments.Experiment, [][]*experiments.Run, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Manager.Submit(ctx, spec, only)
}

func gatedEnv(t *testing.T, guard func(*Config)) (*env, *gatedService) {
	t.Helper()
	var g *gatedService
	e := newEnv(t, func(c *Config) {
		g = &gatedService{Manager: c.Service.(*experiments.Manager), entered: make(chan struct{}, 16), release: make(chan struct{})}
		c.Service = g
		guard(c)
	})
	return e, g
}

const body429Submissions = `{"error":{"code":"too_many_requests","message":"too many concurrent submissions from this client: at most 2 at a time; retry when one has finished"}}`

func TestConcurrencyLimit(t *testing.T) {
	limit := NewConcurrencyLimit(2)
	e, g := gatedEnv(t, func(c *Config) { c.WriteGuard = limit.Handler() })
	spec := readFile(t, "two.yaml")
	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() {
			code, _, body := e.call("POST", "/api/experiments", "", spec)
			results <- result{code, body}
		}()
	}
	<-g.entered
	<-g.entered
	if n := limit.InFlight("0.0.0.0"); n != 2 {
		t.Fatalf("%d in flight, want 2", n)
	}
	// A third is refused at once, before reaching the service.
	code, h, body := e.call("POST", "/api/experiments", "", spec)
	if code != 429 || body != body429Submissions || h.Get("Retry-After") != "1" {
		t.Fatalf("third submission: %d %s Retry-After %q", code, body, h.Get("Retry-After"))
	}
	close(g.release)
	for i := 0; i < 2; i++ {
		if r := <-results; r.code != 201 {
			t.Fatalf("held submission: %d %s", r.code, r.body)
		}
	}
	if n := limit.InFlight("0.0.0.0"); n != 0 {
		t.Fatalf("%d still in flight after both finished", n)
	}
	// A failing request releases its slot too.
	for i := 0; i < 3; i++ {
		if code, _, _ := e.call("POST", "/api/experiments", "", []byte("experiments: [")); code != 400 {
			t.Fatalf("bad spec %d: %d", i, code)
		}
	}
	if code, _, body := e.call("POST", "/api/experiments", "", spec); code != 201 {
		t.Fatalf("after failures: %d %s", code, body)
	}
}

// BearerGuard's write guard applies the limit after authentication.
func TestBearerGuardLimitsConcurrentSubmissions(t *testing.T) {
	e, g := gatedEnv(t, func(c *Config) {
		c.ReadGuard, c.WriteGuard = BearerGuard(testToken, GuardOptions{Addr: "127.0.0.1:1", MaxConcurrentSubmissions: 2})
	})
	spec := readFile(t, "two.yaml")
	done := make(chan int, 2)
	for i := 0; i < 2; i++ {
		go func() {
			code, _, _ := e.call("POST", "/api/experiments", bearer, spec)
			done <- code
		}()
	}
	<-g.entered
	<-g.entered
	if code, _, body := e.call("POST", "/api/experiments", "", spec); code != 401 || body != body401 {
		t.Fatalf("unauthenticated while full: %d %s, want 401", code, body)
	}
	if code, _, body := e.call("POST", "/api/experiments", bearer, spec); code != 429 || body != body429Submissions {
		t.Fatalf("third authenticated submission: %d %s", code, body)
	}
	// Reads are not limited.
	if code, _, _ := e.call("GET", "/api/runs", "", nil); code != 200 {
		t.Fatalf("read while submissions are full: %d", code)
	}
	close(g.release)
	for i := 0; i < 2; i++ {
		if code := <-done; code != 201 {
			t.Fatalf("held submission: %d", code)
		}
	}
}

// SSE clients that vanish leave neither subscriptions nor goroutines
// behind, over real TCP connections.
func TestEventsVanishingClientsLeakNoGoroutines(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		<-served
	}()
	url := "http://" + ln.Addr().String() + "/api/events"
	open := func() io.ReadCloser {
		// One connection per client and no idle pool, so closing the body
		// closes the socket as a vanishing browser tab would.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "retry: 2000\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		return resp.Body
	}
	settle := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// fasthttp keeps idle worker goroutines for seconds, so the total
	// count says little; count the goroutines running a stream instead.
	streams := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "server.(*Server).events.func")
	}

	const clients = 40
	var bodies []io.ReadCloser
	for i := 0; i < clients; i++ {
		bodies = append(bodies, open())
	}
	settle("all subscriptions", func() bool { return e.hub.Subscribers() == clients })
	if n := streams(); n != clients {
		t.Fatalf("%d stream goroutines with %d streams open: the count is wrong", n, clients)
	}
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Add(1)
		go func() { defer wg.Done(); b.Close() }()
	}
	wg.Wait()
	settle("every subscription to end", func() bool { return e.hub.Subscribers() == 0 })
	settle("every stream goroutine to end", func() bool { return streams() == 0 })

	// The server still streams to a new client after all that.
	b := open()
	e.hub.Publish(experiments.Event{Type: "state", RunID: 7, ExperimentID: 1, State: experiments.StateQueued})
	r := sseReader{bufio.NewReader(b)}
	got, err := r.next(nil)
	b.Close()
	if err != nil || !strings.Contains(got, `"run_id":7`) {
		t.Fatalf("stream after the churn: %q %v", got, err)
	}
}
