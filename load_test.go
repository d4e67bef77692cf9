package main

// Load test of the real binary on loopback, run only with XRAYLAB_LOAD=1
// (`make load`): it is bounded in requests and time but is a measurement,
// not a unit test. It reports requests per second and p50/p99 latencies of
// the run list at 1,000 and 10,000 runs, a mixed workload of concurrent
// clients while metrics are written, metric ingestion points per second,
// and checks that SSE clients that vanish leave no connection behind.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
)

// seedRuns adds finished runs to the database until it holds total runs,
// 100 per experiment, each with a short training curve.
func seedRuns(t *testing.T, dbPath string, total int) {
	t.Helper()
	store, err := registry.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	_, have, err := store.ListRuns(ctx, experiments.RunFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	params := []byte(`{"experiment":"seeded","dataset":{"mura":{"root":"/nonexistent","body_part":"XR_HAND","parts":["train"]}},"image_size":32,"epochs":1,"batch_size":8,"checkpoint_every":1,"model":{"name":"pixelgauss","scores":["mean"],"topk":[20],"augmentation":"none"},"preprocessing":"raw","histogram_equalization":false,"seed":1}`)
	for have < total {
		n := min(100, total-have)
		e := &experiments.Experiment{Name: fmt.Sprintf("seeded-%d", have/100), SpecText: "seeded", SpecHash: strings.Repeat("0", 64), Version: "load"}
		runs := make([]*experiments.Run, n)
		for i := range runs {
			runs[i] = &experiments.Run{Index: i, Model: "pixelgauss", Params: params, Seed: int64(i), State: experiments.StateQueued}
		}
		if err := store.CreateExperiment(ctx, e, runs); err != nil {
			t.Fatal(err)
		}
		for range runs {
			r, err := store.LeaseRun(ctx, "seeder", e.ID)
			if err != nil || r == nil {
				t.Fatalf("lease: %v %v", r, err)
			}
			pts := make([]experiments.MetricPoint, 20)
			for i := range pts {
				pts[i] = experiments.MetricPoint{Key: "train/mse", Step: i + 1, Epoch: 1, Value: 1 / float64(i+1), Time: time.Now()}
			}
			if err := store.AppendMetrics(ctx, r.ID, pts); err != nil {
				t.Fatal(err)
			}
			if err := store.SetFinalMetrics(ctx, r.ID, map[string]float64{"test/mean/roc_auc": 0.5 + float64(r.ID%50)/100}); err != nil {
				t.Fatal(err)
			}
			if err := store.FinishRun(ctx, r.ID, experiments.StateSucceeded, ""); err != nil {
				t.Fatal(err)
			}
		}
		have += n
	}
}

// latencies summarises request durations.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies{}, l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (l latencies) String() string {
	return fmt.Sprintf("n=%d p50=%v p99=%v", len(l), l.pct(0.5).Round(10*time.Microsecond), l.pct(0.99).Round(10*time.Microsecond))
}

var loadClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func timedGet(url string) (time.Duration, int, error) {
	start := time.Now()
	resp, err := loadClient.Get(url)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, nil
}

// listLatency measures n sequential first pages and n pages at random
// offsets of the run list.
func listLatency(t *testing.T, base string, runs, n int, rng *rand.Rand) (first, deep latencies) {
	t.Helper()
	for i := 0; i < n; i++ {
		d, code, err := timedGet(base + "/api/runs?limit=50")
		if err != nil || code != 200 {
			t.Fatalf("run list: %d %v", code, err)
		}
		first = append(first, d)
		d, code, err = timedGet(fmt.Sprintf("%s/api/runs?limit=50&offset=%d", base, rng.Intn(runs-50)))
		if err != nil || code != 200 {
			t.Fatalf("run list: %d %v", code, err)
		}
		deep = append(deep, d)
	}
	return first, deep
}

// openFDs counts the server process's open file descriptors.
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

func TestLoad(t *testing.T) {
	if os.Getenv("XRAYLAB_LOAD") != "1" {
		t.Skip("set XRAYLAB_LOAD=1 (make load) to run the load test")
	}
	rng := rand.New(rand.NewSource(1))
	bin := buildBinary(t)
	dir := t.TempDir()
	varDir := filepath.Join(dir, "var")
	os.MkdirAll(varDir, 0o755)
	os.WriteFile(filepath.Join(varDir, "token"), []byte(crashToken+"\n"), 0o600)
	dbPath := filepath.Join(varDir, "xraylab.db")
	logPath := filepath.Join(dir, "serve.log")

	// The run list at 1,000 and at 10,000 runs.
	var p50 [2]time.Duration
	for i, total := range []int{1000, 10000} {
		start := time.Now()
		seedRuns(t, dbPath, total)
		seeded := time.Since(start)
		p := startServe(t, bin, varDir, logPath)
		for j := 0; j < 20; j++ { // warm the page cache and connections
			timedGet(p.base + "/api/runs?limit=50")
		}
		first, deep := listLatency(t, p.base, total, 300, rng)
		p50[i] = first.pct(0.5)
		t.Logf("%d runs (seeded in %s): first page %s; random offsets %s", total, seeded.Round(time.Millisecond), first, deep)
		if i == 1 {
			mixedLoad(t, p, dbPath, rng)
			vanishingStreams(t, p)
		}
		if err := p.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	// Generous, since this shares a loaded machine: a list that scanned
	// the table would be ~10× slower at 10× the runs.
	if p50[1] > 3*p50[0]+2*time.Millisecond {
		t.Errorf("run list p50 grew from %v at 1,000 runs to %v at 10,000", p50[0], p50[1])
	}
}

// mixedLoad runs concurrent clients (run list, run, metrics, submissions)
// for a bounded time and number of requests while a writer appends metric
// points, then reports throughput and latencies.
func mixedLoad(t *testing.T, p *proc, dbPath string, rng *rand.Rand) {
	const (
		clients     = 32
		maxRequests = 20000
		duration    = 10 * time.Second
	)
	// Metric ingestion through a second store on the same file, batched
	// like a training epoch (one transaction per batch of points), into
	// runs of an experiment of its own.
	writer, err := registry.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	e := &experiments.Experiment{Name: "ingest", SpecText: "ingest", SpecHash: strings.Repeat("1", 64), Version: "load"}
	var wruns []*experiments.Run
	for i := 0; i < 4; i++ {
		wruns = append(wruns, &experiments.Run{Index: i, Model: "cae", Params: []byte(`{}`), Seed: int64(i), State: experiments.StateQueued})
	}
	if err := writer.CreateExperiment(context.Background(), e, wruns); err != nil {
		t.Fatal(err)
	}
	var points atomic.Int64
	var wg sync.WaitGroup
	for _, r := range wruns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for step := 1; ctx.Err() == nil; step += 100 {
				batch := make([]experiments.MetricPoint, 100)
				for i := range batch {
					batch[i] = experiments.MetricPoint{Key: "train/mse", Step: step + i, Epoch: step/100 + 1, Value: 0.1, Time: time.Now()}
				}
				if err := writer.AppendMetrics(context.Background(), r.ID, batch); err != nil {
					t.Errorf("append metrics: %v", err)
					return
				}
				points.Add(100)
			}
		}()
	}

	type sample struct {
		kind string
		d    time.Duration
		code int
	}
	samples := make(chan sample, maxRequests)
	var issued atomic.Int64
	spec := "experiments:\n  load:\n    dataset: {mura: {root: /nonexistent}}\n    models: [{name: pixelgauss}]\n"
	start := time.Now()
	for c := 0; c < clients; c++ {
		crng := rand.New(rand.NewSource(rng.Int63()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && issued.Add(1) <= maxRequests {
				var kind, url string
				switch x := crng.Intn(100); {
				case x < 40:
					kind, url = "list", fmt.Sprintf("%s/api/runs?limit=50&offset=%d", p.base, crng.Intn(9950))
				case x < 70:
					kind, url = "run", fmt.Sprintf("%s/api/runs/%d", p.base, 1+crng.Intn(10000))
				case x < 95:
					kind, url = "metrics", fmt.Sprintf("%s/api/runs/%d/metrics", p.base, 1+crng.Intn(10000))
				default:
					kind = "submit"
				}
				t0 := time.Now()
				var code int
				if kind == "submit" {
					req, _ := http.NewRequest("POST", p.base+"/api/experiments", strings.NewReader(spec))
					req.Header.Set("Content-Type", "application/yaml")
					req.Header.Set("Authorization", "Bearer "+crashToken)
					resp, err := loadClient.Do(req)
					if err != nil {
						t.Errorf("submit: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				} else {
					_, c, err := timedGet(url)
					if err != nil {
						t.Errorf("%s: %v", kind, err)
						return
					}
					code = c
				}
				samples <- sample{kind, time.Since(t0), code}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(samples)
	by := map[string]latencies{}
	codes := map[string]map[int]int{}
	total := 0
	for s := range samples {
		by[s.kind] = append(by[s.kind], s.d)
		if codes[s.kind] == nil {
			codes[s.kind] = map[int]int{}
		}
		codes[s.kind][s.code]++
		total++
	}
	t.Logf("mixed load: %d clients, %d requests in %s = %.0f req/s", clients, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	for _, k := range []string{"list", "run", "metrics", "submit"} {
		t.Logf("  %-8s %s statuses %v", k, by[k], codes[k])
	}
	t.Logf("  metric ingestion meanwhile: %d points in %s = %.0f points/s (4 writers, 100-point batches)",
		points.Load(), elapsed.Round(time.Millisecond), float64(points.Load())/elapsed.Seconds())
	for k, cs := range codes {
		for code, n := range cs {
			if code >= 500 || (k != "submit" && code != 200) || (k == "submit" && code != 201 && code != 429) {
				t.Errorf("%s: %d answers with status %d", k, n, code)
			}
		}
	}
}

// vanishingStreams opens many SSE clients, drops them, and checks that the
// server closes every connection within two heartbeats (15 s each).
func vanishingStreams(t *testing.T, p *proc) {
	pid := p.cmd.Process.Pid
	time.Sleep(time.Second)
	loadClient.CloseIdleConnections()
	base := openFDs(pid)
	const n = 200
	var bodies []io.Closer
	for i := 0; i < n; i++ {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(p.base + "/api/events?token=" + crashToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	open := openFDs(pid)
	for _, b := range bodies {
		b.Close()
	}
	start := time.Now()
	for openFDs(pid) > base+5 {
		if time.Since(start) > 40*time.Second {
			t.Fatalf("server holds %d descriptors 40 s after %d SSE clients vanished (%d before, %d with them open)", openFDs(pid), n, base, open)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("SSE: %d descriptors before, %d with %d streams open, back to %d %s after they vanished",
		base, open, n, openFDs(pid), time.Since(start).Round(100*time.Millisecond))
}
