package main

// Load benchmark of the real binary on loopback (`make load`, one
// iteration: it is bounded in requests and time, a measurement rather than
// a unit test). It reports p50/p99 latencies of the run list at 1,000 and
// 10,000 runs, requests per second of a mixed workload of concurrent
// clients while metrics are written, metric ingestion points per second,
// and the time the server takes to drop SSE clients that vanish (it fails
// if they leave connections behind).

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
)

// seedRuns adds finished runs to the database until it holds total runs,
// 100 per experiment, each with a short training curve.
func seedRuns(t testing.TB, dbPath string, total int) {
	t.Helper()
	store := openStore(t, dbPath)
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
func listLatency(t testing.TB, base string, runs, n int, rng *rand.Rand) (first, deep latencies) {
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

// BenchmarkLoad measures a fresh var folder per iteration and reports the
// last one's figures.
func BenchmarkLoad(b *testing.B) {
	bin := buildBinary(b)
	spec := readSpec(b, "load-submit.yaml")
	for range b.N {
		measureLoad(b, bin, spec)
	}
}

func measureLoad(b *testing.B, bin, spec string) {
	rng := rand.New(rand.NewSource(1))
	dir := b.TempDir()
	varDir := filepath.Join(dir, "var")
	newVar(b, varDir)
	dbPath := filepath.Join(varDir, "xraylab.db")
	logPath := filepath.Join(dir, "serve.log")

	// The run list at 1,000 and at 10,000 runs.
	var p50 [2]time.Duration
	for i, total := range []int{1000, 10000} {
		start := time.Now()
		seedRuns(b, dbPath, total)
		seeded := time.Since(start)
		p := startServe(b, bin, varDir, logPath)
		for j := 0; j < 20; j++ { // warm the page cache and connections
			timedGet(p.base + "/api/runs?limit=50")
		}
		first, deep := listLatency(b, p.base, total, 300, rng)
		p50[i] = first.pct(0.5)
		b.Logf("%d runs (seeded in %s): first page %s; random offsets %s", total, seeded.Round(time.Millisecond), first, deep)
		at := fmt.Sprintf("%dk", total/1000)
		b.ReportMetric(ms(first.pct(0.5)), "list-"+at+"-p50-ms")
		b.ReportMetric(ms(first.pct(0.99)), "list-"+at+"-p99-ms")
		b.ReportMetric(ms(deep.pct(0.5)), "offset-"+at+"-p50-ms")
		b.ReportMetric(ms(deep.pct(0.99)), "offset-"+at+"-p99-ms")
		if i == 1 {
			mixedLoad(b, p, dbPath, rng, spec)
			vanishingStreams(b, p)
		}
		if err := p.stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
	}
	// Generous, since this shares a loaded machine: a list that scanned
	// the table would be ~10× slower at 10× the runs.
	if p50[1] > 3*p50[0]+2*time.Millisecond {
		b.Errorf("run list p50 grew from %v at 1,000 runs to %v at 10,000", p50[0], p50[1])
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// mixedLoad runs concurrent clients (run list, run, metrics, submissions)
// for a bounded time and number of requests while a writer appends metric
// points, then reports throughput and latencies.
func mixedLoad(b *testing.B, p *proc, dbPath string, rng *rand.Rand, spec string) {
	const (
		clients     = 32
		maxRequests = 20000
		duration    = 10 * time.Second
	)
	// Metric ingestion through a second store on the same file, batched
	// like a training epoch (one transaction per batch of points), into
	// runs of an experiment of its own.
	writer := openStore(b, dbPath)
	defer writer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	e := &experiments.Experiment{Name: "ingest", SpecText: "ingest", SpecHash: strings.Repeat("1", 64), Version: "load"}
	var wruns []*experiments.Run
	for i := 0; i < 4; i++ {
		wruns = append(wruns, &experiments.Run{Index: i, Model: "cae", Params: []byte(`{}`), Seed: int64(i), State: experiments.StateQueued})
	}
	if err := writer.CreateExperiment(context.Background(), e, wruns); err != nil {
		b.Fatal(err)
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
					b.Errorf("append metrics: %v", err)
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
					resp, err := loadClient.Do(submitRequest(p.base, spec))
					if err != nil {
						b.Errorf("submit: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				} else {
					_, c, err := timedGet(url)
					if err != nil {
						b.Errorf("%s: %v", kind, err)
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
	b.Logf("mixed load: %d clients, %d requests in %s = %.0f req/s", clients, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	for _, k := range []string{"list", "run", "metrics", "submit"} {
		b.Logf("  %-8s %s statuses %v", k, by[k], codes[k])
	}
	b.Logf("  metric ingestion meanwhile: %d points in %s = %.0f points/s (4 writers, 100-point batches)",
		points.Load(), elapsed.Round(time.Millisecond), float64(points.Load())/elapsed.Seconds())
	b.ReportMetric(float64(total)/elapsed.Seconds(), "mixed-req/s")
	b.ReportMetric(float64(points.Load())/elapsed.Seconds(), "ingest-points/s")
	for k, cs := range codes {
		for code, n := range cs {
			if code >= 500 || (k != "submit" && code != 200) || (k == "submit" && code != 201 && code != 429) {
				b.Errorf("%s: %d answers with status %d", k, n, code)
			}
		}
	}
}

// vanishingStreams opens many SSE clients, drops them, and checks that the
// server closes every connection within two heartbeats (15 s each).
func vanishingStreams(b *testing.B, p *proc) {
	pid := p.cmd.Process.Pid
	time.Sleep(time.Second)
	loadClient.CloseIdleConnections()
	base := openFDs(pid)
	const n = 200
	var bodies []io.Closer
	for i := 0; i < n; i++ {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(p.base + "/api/events?token=" + testToken)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	open := openFDs(pid)
	for _, body := range bodies {
		body.Close()
	}
	start := time.Now()
	for openFDs(pid) > base+5 {
		if time.Since(start) > 40*time.Second {
			b.Fatalf("server holds %d descriptors 40 s after %d SSE clients vanished (%d before, %d with them open)", openFDs(pid), n, base, open)
		}
		time.Sleep(250 * time.Millisecond)
	}
	released := time.Since(start)
	b.Logf("SSE: %d descriptors before, %d with %d streams open, back to %d %s after they vanished",
		base, open, n, openFDs(pid), released.Round(100*time.Millisecond))
	b.ReportMetric(released.Seconds(), "sse-release-s")
}
