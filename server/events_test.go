package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
)

// waitFor polls cond until it holds or 5 s pass (a deadline, not a timing
// assertion: on a loaded machine it just waits longer).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sseReader reads an event stream frame by frame.
type sseReader struct{ r *bufio.Reader }

// frame returns the next frame's lines (without the blank line ending it).
func (s sseReader) frame() ([]string, error) {
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines, nil
		}
		lines = append(lines, line)
	}
}

// next returns the next frame that is an event, skipping comments and the
// retry hint; heartbeats counts the heartbeat comments skipped.
func (s sseReader) next(heartbeats *int) (string, error) {
	for {
		lines, err := s.frame()
		if err != nil {
			return "", err
		}
		if len(lines) > 0 && strings.HasPrefix(lines[0], "event: ") {
			return strings.Join(lines, "\n"), nil
		}
		for _, l := range lines {
			if l == ": heartbeat" && heartbeats != nil {
				*heartbeats++
			}
		}
	}
}

func openEvents(t *testing.T, client *http.Client, target string) (*http.Response, sseReader) {
	t.Helper()
	resp, err := client.Get("http://xraylab" + target)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %d %s", target, resp.StatusCode, b)
	}
	for k, v := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	r := sseReader{bufio.NewReader(resp.Body)}
	first, err := r.frame()
	if err != nil || strings.Join(first, "\n") != "retry: 2000\n: connected" {
		t.Fatalf("first frame %q, %v", first, err)
	}
	return resp, r
}

func TestEventsDeliverFilterAndUnsubscribe(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	client := e.serve()
	resp, r := openEvents(t, client, "/api/events?experiment=2")
	waitFor(t, "the subscription", func() bool { return e.hub.Subscribers() == 1 })

	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	loss := 0.125
	e.hub.Publish(experiments.Event{Type: "progress", RunID: 1, ExperimentID: 1, Epoch: 1, Time: at}) // filtered out
	progress := experiments.Event{Type: "progress", RunID: 3, ExperimentID: 2, Epoch: 2, Epochs: 5,
		Batch: 3, Batches: 10, Loss: &loss, ETASeconds: 12.5, Time: at}
	e.hub.Publish(progress)
	e.hub.Publish(experiments.Event{Type: "state", RunID: 3, ExperimentID: 2, State: experiments.StateSucceeded, Time: at})

	heartbeats := 0
	want := []string{
		`event: progress` + "\n" + `data: {"type":"progress","run_id":3,"experiment_id":2,"epoch":2,"epochs":5,"batch":3,"batches":10,"loss":0.125,"eta_seconds":12.5,"time":"2026-03-04T05:06:07Z"}`,
		`event: state` + "\n" + `data: {"type":"state","run_id":3,"experiment_id":2,"state":"succeeded","time":"2026-03-04T05:06:07Z"}`,
	}
	for _, w := range want {
		got, err := r.next(&heartbeats)
		if err != nil || got != w {
			t.Fatalf("got %q (%v)\nwant %q", got, err, w)
		}
	}
	// Idle, the stream carries heartbeats.
	go func() {
		time.Sleep(100 * time.Millisecond)
		e.hub.Publish(experiments.Event{Type: "state", RunID: 4, ExperimentID: 2, State: experiments.StateQueued, Time: at})
	}()
	if _, err := r.next(&heartbeats); err != nil || heartbeats == 0 {
		t.Fatalf("no heartbeat before the next event (%d, %v)", heartbeats, err)
	}

	// The client goes away: the next write fails and the subscription ends.
	resp.Body.Close()
	waitFor(t, "the subscription to end", func() bool { return e.hub.Subscribers() == 0 })
}

// Many clients that vanish leave no subscription behind.
func TestEventsManyVanishingClients(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Heartbeat = 10 * time.Millisecond })
	client := e.serve()
	var bodies []io.Closer
	for i := 0; i < 8; i++ {
		resp, _ := openEvents(t, client, "/api/events")
		bodies = append(bodies, resp.Body)
	}
	waitFor(t, "8 subscriptions", func() bool { return e.hub.Subscribers() == 8 })
	for _, b := range bodies {
		b.Close()
	}
	waitFor(t, "every subscription to end", func() bool { return e.hub.Subscribers() == 0 })
}

// A submission through the API reaches a subscriber as state events.
func TestEventsFromSubmission(t *testing.T) {
	e := newEnv(t)
	client := e.serve()
	resp, r := openEvents(t, client, "/api/events?experiment=1")
	defer resp.Body.Close()
	waitFor(t, "the subscription", func() bool { return e.hub.Subscribers() == 1 })
	post, err := client.Post("http://xraylab/api/experiments", "application/yaml", bytes.NewReader(readFile(t, "two.yaml")))
	if err != nil || post.StatusCode != 201 {
		t.Fatalf("submit: %v %v", post, err)
	}
	post.Body.Close()
	for _, id := range []string{"1", "2"} {
		got, err := r.next(nil)
		prefix := `event: state` + "\n" + `data: {"type":"state","run_id":` + id + `,"experiment_id":1,"state":"queued","time":"`
		if err != nil || !strings.HasPrefix(got, prefix) {
			t.Fatalf("got %q (%v), want prefix %q", got, err, prefix)
		}
	}
}

// Shutdown ends open streams instead of waiting for clients to leave.
func TestShutdownEndsStreams(t *testing.T) {
	e := newEnv(t) // default 15 s heartbeat: only Shutdown can end the stream in time
	client := e.serve()
	resp, r := openEvents(t, client, "/api/events")
	defer resp.Body.Close()
	waitFor(t, "the subscription", func() bool { return e.hub.Subscribers() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("shutdown ran into its deadline: the stream held it up")
	}
	if e.hub.Subscribers() != 0 {
		t.Fatalf("%d subscriptions left", e.hub.Subscribers())
	}
	if _, err := r.next(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after shutdown: %v, want EOF", err)
	}
}
