package main

// Crash safety of the real binary: it is killed with SIGKILL at random
// points (mid-epoch, right after an epoch ends, when metrics and the
// checkpoint are written, while a run starts and data is generated),
// restarted, and at the end the database and the runs must be whole.
//
// XRAYLAB_KILLS sets the number of kills (default 8; `make soak` uses
// more), XRAYLAB_CRASH_SEED the seed of the kill schedule (default 1).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/registry"
)

// runStates returns every run's state through the API.
func runStates(base string) (map[int64]string, error) {
	resp, err := http.Get(base + "/api/runs?limit=1000")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var page struct {
		Items []struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, r := range page.Items {
		out[r.ID] = r.State
	}
	return out, nil
}

func allTerminal(states map[int64]string, want int) bool {
	if len(states) < want {
		return false
	}
	for _, s := range states {
		if !experiments.State(s).Terminal() {
			return false
		}
	}
	return true
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary")
	}
	kills := envInt("XRAYLAB_KILLS", 8)
	seed := int64(envInt("XRAYLAB_CRASH_SEED", 1))
	rng := rand.New(rand.NewSource(seed))
	bin := buildBinary(t)
	dir := t.TempDir()
	varDir := filepath.Join(dir, "var")
	newVar(t, varDir)
	logPath := filepath.Join(dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("server log (tail):\n%s", tail(out, 6000))
		}
	})

	// lateSpec comes halfway through the kills, and whenever all is done.
	spec, lateSpec := readSpec(t, "crash.yaml"), readSpec(t, "crash-late.yaml")
	began := time.Now()
	accepted := map[int64][]int64{}
	wantRuns := 0
	accept := func(m map[int64][]int64) {
		for id, runs := range m {
			accepted[id] = runs
			wantRuns += len(runs)
		}
	}
	modes := map[string]int{}
	restarts, idle := 0, false
	for k := 0; k < kills; k++ {
		p := startServe(t, bin, varDir, logPath, "--workers", "2")
		restarts++
		switch {
		case k == 0:
			accept(submitHTTP(t, p.base, spec))
		case k == kills/2 || idle:
			// Halfway, and whenever everything has finished, more work
			// arrives, so every kill finds something to interrupt.
			late := strings.Replace(lateSpec, "late:", fmt.Sprintf("late-%d:", k), 1)
			accept(submitHTTP(t, p.base, late))
		}
		// Pick where to strike.
		var mode string
		switch rng.Intn(4) {
		case 0:
			mode = "random delay"
			time.Sleep(time.Duration(200+rng.Intn(2800)) * time.Millisecond)
		case 1:
			// Right after the last batch of an epoch: validation scoring,
			// the metric write and the checkpoint come next.
			mode = "epoch end"
			waitEvent(p.base, 20*time.Second, func(ev experiments.Event) bool {
				return ev.Type == "progress" && ev.Batches > 0 && ev.Batch == ev.Batches
			})
			time.Sleep(time.Duration(rng.Intn(60)) * time.Millisecond)
		case 2:
			mode = "mid-epoch"
			waitEvent(p.base, 20*time.Second, func(ev experiments.Event) bool {
				return ev.Type == "progress" && ev.Batch > 0 && ev.Batch < ev.Batches
			})
			time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		default:
			mode = "run start"
			waitEvent(p.base, 20*time.Second, func(ev experiments.Event) bool {
				return ev.Type == "state" && ev.State == experiments.StateRunning
			})
			time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		}
		states, err := runStates(p.base)
		idle = err == nil && allTerminal(states, wantRuns)
		p.kill()
		modes[mode]++
	}
	killed := restarts

	// The last start runs everything to its end.
	p := startServe(t, bin, varDir, logPath, "--workers", "2")
	restarts++
	deadline := time.Now().Add(10 * time.Minute)
	for {
		states, err := runStates(p.base)
		if err == nil && allTerminal(states, wantRuns) {
			break
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("runs not finished 10 minutes after the last restart: %v (%v)", states, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("graceful stop after the soak: %v", err)
	}

	stats := verifyStore(t, filepath.Join(varDir, "xraylab.db"), accepted)
	t.Logf("crash soak: seed %d, %d kills (%v), %d starts, %d experiments, %d runs (%s), %d attempts in all, %d metric points checked, %s",
		seed, killed, modes, restarts, len(accepted), wantRuns, stats.states, stats.attempts, stats.points, time.Since(began).Round(time.Second))
}

type storeStats struct {
	states   string
	attempts int
	points   int
}

// verifyStore checks, with the server stopped, that the database is whole
// and every accepted run ended properly with its metric series intact.
func verifyStore(t *testing.T, dbPath string, accepted map[int64][]int64) storeStats {
	t.Helper()
	store := openStore(t, dbPath)
	defer store.Close()
	ctx := context.Background()
	if err := store.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var st storeStats
	counts := map[experiments.State]int{}
	ids := make([]int64, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, expID := range ids {
		want := accepted[expID]
		if _, err := store.GetExperiment(ctx, expID); err != nil {
			t.Fatalf("accepted experiment %d: %v", expID, err)
		}
		runs, total, err := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: expID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(want) {
			t.Fatalf("experiment %d has %d runs, %d were accepted", expID, total, len(want))
		}
		for i, r := range runs {
			if r.ID != want[i] {
				t.Fatalf("experiment %d: run %d where %d was accepted", expID, r.ID, want[i])
			}
			counts[r.State]++
			st.attempts += r.Attempts
			switch r.State {
			case experiments.StateSucceeded:
				st.points += checkSeries(t, ctx, store, r)
			case experiments.StateFailed:
				if r.Error == "" {
					t.Errorf("run %d failed without a message", r.ID)
				}
				t.Logf("run %d failed: %s", r.ID, r.Error)
			case experiments.StateCancelled:
			default:
				t.Errorf("run %d is still %s", r.ID, r.State)
			}
		}
	}
	var parts []string
	for _, s := range experiments.States {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	st.states = strings.Join(parts, ", ")
	return st
}

// checkSeries: train/* steps are exactly 1..epochs×batches, each once and
// in its epoch; val/* has one point per epoch at the epoch's last step;
// the run has its final test metrics. It returns the points checked.
func checkSeries(t *testing.T, ctx context.Context, store *registry.Store, r *experiments.Run) int {
	t.Helper()
	spec, err := experiments.DecodeRunSpec(r.Params)
	if err != nil {
		t.Fatal(err)
	}
	points, err := store.Metrics(ctx, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][]experiments.MetricPoint{}
	for _, p := range points {
		series[p.Key] = append(series[p.Key], p)
	}
	batches := 0
	for key, ps := range series {
		if strings.HasPrefix(key, "val/") {
			if len(ps) != spec.Epochs {
				t.Errorf("run %d: %s has %d points for %d epochs", r.ID, key, len(ps), spec.Epochs)
				continue
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i].Step < ps[j].Step })
			batches = ps[0].Step
			for i, p := range ps {
				if p.Epoch != i+1 || p.Step != (i+1)*batches {
					t.Errorf("run %d: %s point %d is epoch %d step %d, want epoch %d step %d", r.ID, key, i, p.Epoch, p.Step, i+1, (i+1)*batches)
				}
			}
		}
	}
	if batches == 0 {
		t.Errorf("run %d (%s) has no validation series", r.ID, r.Model)
		return len(points)
	}
	for key, ps := range series {
		if !strings.HasPrefix(key, "train/") {
			continue
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].Step < ps[j].Step })
		if len(ps) != spec.Epochs*batches {
			t.Errorf("run %d: %s has %d points, want %d epochs × %d batches", r.ID, key, len(ps), spec.Epochs, batches)
			continue
		}
		for i, p := range ps {
			if p.Step != i+1 || p.Epoch != i/batches+1 {
				t.Errorf("run %d: %s point %d is step %d epoch %d, want step %d epoch %d", r.ID, key, i, p.Step, p.Epoch, i+1, i/batches+1)
				break
			}
		}
	}
	hasTest := false
	for k := range r.Metrics {
		hasTest = hasTest || strings.HasPrefix(k, "test/")
	}
	if !hasTest {
		t.Errorf("run %d succeeded without final test metrics: %v", r.ID, r.Metrics)
	}
	return len(points)
}

// A run whose artifact folder is deleted while it trains fails with a
// message naming the problem; the server keeps serving.
func TestDeletedArtifactFolderFailsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildBinary(t)
	varDir := filepath.Join(t.TempDir(), "var")
	newVar(t, varDir)
	p, _ := serveOn(t, bin, varDir)
	spec := strings.Replace(strings.Replace(readSpec(t, "crash-late.yaml"), "epochs: 3", "epochs: 200", 1), "seeds: [7, 8]", "seeds: [7]", 1)
	runID := submitOne(t, p.base, spec)
	waitTraining(t, p.base, runID)
	if err := os.RemoveAll(filepath.Join(varDir, "artifacts", strconv.FormatInt(runID, 10))); err != nil {
		t.Fatal(err)
	}
	run := waitEnd(t, p.base, runID, 2*time.Minute)
	if run.State != "failed" || !strings.Contains(run.Error, "checkpoint") || !strings.Contains(run.Error, "no such file or directory") {
		t.Fatalf("run ended %s: %q; want failed naming the checkpoint and the missing folder", run.State, run.Error)
	}
	checkHealthy(t, p.base)
	t.Logf("run %d: %s: %s", runID, run.State, run.Error)
}

// A database that cannot be opened for writing is a clear start-up error,
// not a crash. (The process runs as root here, so file modes cannot make
// the file read-only; what can be arranged without privileges is a path
// that is not a database file. TestStorageFailures mounts read-only and
// full file systems.)
func TestUnusableDatabaseIsAStartupError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildBinary(t)
	cases := []struct {
		name    string
		prepare func(varDir string) error
		want    string
	}{
		{"database path is a folder", func(v string) error { return os.MkdirAll(filepath.Join(v, "xraylab.db"), 0o755) },
			"is a directory, not a database file"},
		{"not a database", func(v string) error {
			return os.WriteFile(filepath.Join(v, "xraylab.db"), bytes.Repeat([]byte("not sqlite "), 1000), 0o644)
		}, "is not an SQLite database"},
		{"var is a file", func(v string) error {
			os.RemoveAll(v)
			return os.WriteFile(v, []byte("x"), 0o644)
		}, "not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			varDir := filepath.Join(t.TempDir(), "var")
			os.MkdirAll(varDir, 0o755)
			if err := c.prepare(varDir); err != nil {
				t.Fatal(err)
			}
			code, out, err := serveExit(t, bin, varDir)
			if code != 1 || !strings.Contains(out, c.want) || strings.Contains(out, "panic") {
				t.Fatalf("exit %d (%v), want 1 with %q:\n%s", code, err, c.want, out)
			}
		})
	}
}
