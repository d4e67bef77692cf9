package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xraylab/experiments"
)

// putInState brings a fresh queued run to state st through legal moves.
func putInState(t *testing.T, s *Store, id int64, st experiments.State) {
	t.Helper()
	ctx := context.Background()
	switch st {
	case experiments.StateQueued:
		return
	case experiments.StateCancelled:
		if err := s.CancelQueued(ctx, id); err != nil {
			t.Fatal(err)
		}
		return
	}
	r, err := s.LeaseRun(ctx, "w1")
	if err != nil || r == nil || r.ID != id {
		t.Fatalf("lease: %+v, %v (want run %d)", r, err, id)
	}
	if st != experiments.StateRunning {
		if err := s.FinishRun(ctx, id, st, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStateMachine(t *testing.T) {
	ctx := context.Background()
	type move struct {
		name string
		do   func(s *Store, id int64) error
	}
	finish := func(st experiments.State, msg string) move {
		return move{"finish " + string(st), func(s *Store, id int64) error { return s.FinishRun(ctx, id, st, msg) }}
	}
	cancel := move{"cancel", func(s *Store, id int64) error { return s.CancelQueued(ctx, id) }}

	for _, tc := range []struct {
		from    experiments.State
		move    move
		to      experiments.State // state afterwards
		code    experiments.Code  // "" when the move is legal
		message string
	}{
		{experiments.StateQueued, cancel, experiments.StateCancelled, "", ""},
		{experiments.StateQueued, finish(experiments.StateSucceeded, ""), experiments.StateQueued, experiments.CodeConflict, "run 1 is queued, not running"},
		{experiments.StateRunning, finish(experiments.StateSucceeded, ""), experiments.StateSucceeded, "", ""},
		{experiments.StateRunning, finish(experiments.StateFailed, "out of memory"), experiments.StateFailed, "", ""},
		{experiments.StateRunning, finish(experiments.StateCancelled, "cancelled by user"), experiments.StateCancelled, "", ""},
		{experiments.StateRunning, finish(experiments.StateQueued, ""), experiments.StateRunning, experiments.CodeInvalid, `run 1: cannot finish as "queued": not a terminal state (succeeded, failed, cancelled)`},
		{experiments.StateRunning, finish("paused", ""), experiments.StateRunning, experiments.CodeInvalid, `run 1: cannot finish as "paused": not a terminal state (succeeded, failed, cancelled)`},
		{experiments.StateRunning, cancel, experiments.StateRunning, experiments.CodeConflict, "run 1 is running, not queued"},
		{experiments.StateSucceeded, finish(experiments.StateFailed, "late"), experiments.StateSucceeded, experiments.CodeConflict, "run 1 is succeeded, not running"},
		{experiments.StateSucceeded, cancel, experiments.StateSucceeded, experiments.CodeConflict, "run 1 is succeeded, not queued"},
		{experiments.StateFailed, finish(experiments.StateSucceeded, ""), experiments.StateFailed, experiments.CodeConflict, "run 1 is failed, not running"},
		{experiments.StateFailed, cancel, experiments.StateFailed, experiments.CodeConflict, "run 1 is failed, not queued"},
		{experiments.StateCancelled, cancel, experiments.StateCancelled, experiments.CodeConflict, "run 1 is cancelled, not queued"},
		{experiments.StateCancelled, finish(experiments.StateFailed, ""), experiments.StateCancelled, experiments.CodeConflict, "run 1 is cancelled, not running"},
	} {
		t.Run(string(tc.from)+"/"+tc.move.name, func(t *testing.T) {
			s := openTest(t)
			_, runs := mustCreate(t, s, "sm", 1)
			id := runs[0].ID
			putInState(t, s, id, tc.from)
			before, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.move.do(s, id)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("legal move failed: %v", err)
				}
			} else {
				wantErr(t, err, tc.code, tc.message)
			}
			after, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if after.State != tc.to {
				t.Errorf("state = %s, want %s", after.State, tc.to)
			}
			if tc.code != "" && !reflect.DeepEqual(after, before) {
				t.Errorf("refused move changed the run:\n%+v\n%+v", before, after)
			}
			if tc.code == "" && (after.Finished == nil || after.Finished.Location() != time.UTC) {
				t.Errorf("finish time not set: %v", after.Finished)
			}
		})
	}
}

func TestLeaseFinishRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "lease", 3)

	before := time.Now().UTC()
	r, err := s.LeaseRun(ctx, "worker-a")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != runs[0].ID || r.State != experiments.StateRunning || r.Worker != "worker-a" || r.Attempts != 1 ||
		r.Started == nil || r.Started.Before(before) || r.Finished != nil {
		t.Errorf("leased run: %+v", r)
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("GetRun after lease\n%+v\nwant\n%+v", got, r)
	}

	if err := s.FinishRun(ctx, r.ID, experiments.StateFailed, "nan loss at epoch 3"); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != experiments.StateFailed || got.Error != "nan loss at epoch 3" || got.Worker != "worker-a" ||
		got.Finished == nil || got.Finished.Before(*got.Started) {
		t.Errorf("finished run: %+v", got)
	}

	// Leases go in id order; with none queued the answer is (nil, nil).
	for _, want := range runs[1:] {
		r, err := s.LeaseRun(ctx, "worker-b")
		if err != nil || r == nil || r.ID != want.ID {
			t.Fatalf("lease: %+v, %v; want run %d", r, err, want.ID)
		}
	}
	r, err = s.LeaseRun(ctx, "worker-b")
	if r != nil || err != nil {
		t.Errorf("empty queue: %+v, %v", r, err)
	}
	_, err = s.LeaseRun(ctx, "")
	wantErr(t, err, experiments.CodeInvalid, "lease: worker name is empty")
}

func TestRequeueRunning(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "requeue", 4)
	// runs 0, 1 and 2 leased; run 1 finishes; 0 and 2 are left running by a
	// "dead" process; run 3 never started.
	for i := 0; i < 3; i++ {
		if _, err := s.LeaseRun(ctx, fmt.Sprintf("w%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, runs[1].ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDataset(ctx, runs[2].ID, experiments.DatasetRecord{Fingerprint: "fp-2"}); err != nil {
		t.Fatal(err)
	}

	back, err := s.RequeueRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[0].ID != runs[0].ID || back[1].ID != runs[2].ID {
		t.Fatalf("requeued %+v, want runs %d and %d", back, runs[0].ID, runs[2].ID)
	}
	for _, r := range back {
		if r.State != experiments.StateQueued || r.Attempts != 1 || r.Worker != "" || r.Started != nil {
			t.Errorf("requeued run: %+v", r)
		}
		got, err := s.GetRun(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("returned run differs from stored:\n%+v\n%+v", r, got)
		}
	}
	if back[1].Dataset != "fp-2" {
		t.Errorf("requeued run lost its dataset fingerprint: %q", back[1].Dataset)
	}
	// Nothing running now: a second call returns nothing.
	if again, err := s.RequeueRunning(ctx); err != nil || len(again) != 0 {
		t.Errorf("second requeue: %v, %v", again, err)
	}
	// The oldest requeued run is leased first and its attempt count rises.
	r, err := s.LeaseRun(ctx, "w9")
	if err != nil || r.ID != runs[0].ID || r.Attempts != 2 {
		t.Errorf("lease after requeue: %+v, %v", r, err)
	}
	if got, _ := s.GetRun(ctx, runs[1].ID); got.State != experiments.StateSucceeded {
		t.Errorf("a succeeded run was touched: %s", got.State)
	}
}

// leaseAll drains the queue from several goroutines and returns how often
// each run was handed out.
func leaseAll(t *testing.T, stores []*Store, workersPerStore int) map[int64]int {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workersPerStore)
	for si, s := range stores {
		for w := 0; w < workersPerStore; w++ {
			wg.Add(1)
			go func(s *Store, name string) {
				defer wg.Done()
				for {
					r, err := s.LeaseRun(ctx, name)
					if err != nil {
						errs <- err
						return
					}
					if r == nil {
						return
					}
					if r.Worker != name || r.State != experiments.StateRunning {
						errs <- fmt.Errorf("%s got %+v", name, r)
					}
					mu.Lock()
					seen[r.ID]++
					mu.Unlock()
				}
			}(s, fmt.Sprintf("s%d-w%d", si, w))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return seen
}

func TestConcurrentLeaseNeverDoubles(t *testing.T) {
	const n = 60
	check := func(t *testing.T, s *Store, seen map[int64]int, runs []*experiments.Run) {
		t.Helper()
		if len(seen) != n {
			t.Errorf("%d distinct runs leased, want %d", len(seen), n)
		}
		for _, r := range runs {
			if seen[r.ID] != 1 {
				t.Errorf("run %d leased %d times", r.ID, seen[r.ID])
			}
		}
		list, total, err := s.ListRuns(context.Background(), experiments.RunFilter{State: experiments.StateRunning})
		if err != nil || total != n {
			t.Fatalf("running: %d, %v", total, err)
		}
		for _, r := range list {
			if r.Attempts != 1 {
				t.Errorf("run %d has %d attempts, want 1", r.ID, r.Attempts)
			}
		}
	}
	t.Run("one store", func(t *testing.T) {
		s := openTest(t)
		_, runs := mustCreate(t, s, "conc", n)
		check(t, s, leaseAll(t, []*Store{s}, 8), runs)
	})
	t.Run("two stores on one file", func(t *testing.T) {
		// Two stores stand for two processes: they share no Go lock, only
		// SQLite's, so this proves the lease is atomic in the database.
		path := filepath.Join(t.TempDir(), "x.db")
		a, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		_, runs := mustCreate(t, a, "conc", n)
		check(t, a, leaseAll(t, []*Store{a, b}, 4), runs)
		if err := b.IntegrityCheck(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestListRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e1, r1 := mustCreate(t, s, "one", 6, "cae", "vae", "pixelgauss") // ids 1..6
	e2, r2 := mustCreate(t, s, "two", 4, "cae")                      // ids 7..10
	// Lease runs 1 and 2; run 1 succeeds with final metrics and a dataset.
	for i := 0; i < 2; i++ {
		if _, err := s.LeaseRun(ctx, "w"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetFinalMetrics(ctx, r1[0].ID, map[string]float64{"test/recon/roc_auc": 0.75, "test/recon/ap": 0.8}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDataset(ctx, r1[0].ID, experiments.DatasetRecord{Fingerprint: "sha256:abc"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, r1[0].ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CancelQueued(ctx, r2[3].ID); err != nil {
		t.Fatal(err)
	}

	idsOf := func(rs []*experiments.Run) []int64 {
		var ids []int64
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	all := append(idsOf(r1), idsOf(r2)...)
	for _, tc := range []struct {
		name  string
		f     experiments.RunFilter
		want  []int64
		total int
	}{
		{"all", experiments.RunFilter{}, all, 10},
		{"page 1", experiments.RunFilter{Limit: 4}, all[:4], 10},
		{"page 3", experiments.RunFilter{Limit: 4, Offset: 8}, all[8:], 10},
		{"past the end", experiments.RunFilter{Limit: 4, Offset: 12}, nil, 10},
		{"experiment", experiments.RunFilter{ExperimentID: e2.ID}, idsOf(r2), 4},
		{"experiment page", experiments.RunFilter{ExperimentID: e1.ID, Limit: 2, Offset: 2}, idsOf(r1[2:4]), 6},
		{"state queued", experiments.RunFilter{State: experiments.StateQueued}, append(idsOf(r1[2:]), idsOf(r2[:3])...), 7},
		{"state running", experiments.RunFilter{State: experiments.StateRunning}, []int64{r1[1].ID}, 1},
		{"model", experiments.RunFilter{Model: "vae"}, []int64{r1[1].ID, r1[4].ID}, 2},
		{"model and experiment", experiments.RunFilter{ExperimentID: e2.ID, Model: "cae"}, idsOf(r2), 4},
		{"all three", experiments.RunFilter{ExperimentID: e1.ID, Model: "cae", State: experiments.StateSucceeded}, []int64{r1[0].ID}, 1},
		{"no match", experiments.RunFilter{Model: "bigan"}, nil, 0},
		{"missing experiment", experiments.RunFilter{ExperimentID: 99}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, total, err := s.ListRuns(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := idsOf(list); !reflect.DeepEqual(got, tc.want) || total != tc.total {
				t.Errorf("got %v (total %d), want %v (total %d)", got, total, tc.want, tc.total)
			}
			// Listed runs must equal what GetRun returns, outcomes included.
			for _, r := range list {
				one, err := s.GetRun(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(one, r) {
					t.Errorf("listed run %d differs from GetRun:\n%+v\n%+v", r.ID, r, one)
				}
			}
		})
	}

	got, err := s.GetRun(ctx, r1[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Metrics, map[string]float64{"test/recon/roc_auc": 0.75, "test/recon/ap": 0.8}) || got.Dataset != "sha256:abc" {
		t.Errorf("outcomes: metrics %v, dataset %q", got.Metrics, got.Dataset)
	}

	for _, tc := range []struct {
		f    experiments.RunFilter
		want string
	}{
		{experiments.RunFilter{Limit: -1}, "limit and offset must not be negative (got -1, 0)"},
		{experiments.RunFilter{Offset: -5}, "limit and offset must not be negative (got 0, -5)"},
		{experiments.RunFilter{State: "done"}, `unknown run state "done"; known: queued, running, succeeded, failed, cancelled`},
	} {
		_, _, err := s.ListRuns(ctx, tc.f)
		wantErr(t, err, experiments.CodeInvalid, tc.want)
	}
}

// More runs than one chunk of fillOutcomes must all get their outcomes.
func TestListRunsOutcomesAcrossChunks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, runs := mustCreate(t, s, "many", 1203)
	for _, i := range []int{0, 499, 500, 1001, 1202} {
		if err := s.SetFinalMetrics(ctx, runs[i].ID, map[string]float64{"k": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := s.ListRuns(ctx, experiments.RunFilter{})
	if err != nil || total != 1203 || len(list) != 1203 {
		t.Fatalf("%d of %d runs, %v", len(list), total, err)
	}
	n := 0
	for i, r := range list {
		if r.Metrics != nil {
			n++
			if r.Metrics["k"] != float64(i) {
				t.Errorf("run %d has metrics %v", i, r.Metrics)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d runs have metrics, want 5", n)
	}
}

// The run list, the lease and the experiment summaries must be answered
// through indexes, never by scanning every run or sorting, so they stay fast
// as runs accumulate.
func TestQueryPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustCreate(t, s, "plan", 10, "cae", "vae")
	plan := func(t *testing.T, q string, args ...any) string {
		t.Helper()
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	check := func(t *testing.T, name, p string, allowScan bool) {
		t.Helper()
		if strings.Contains(p, "TEMP B-TREE") && !strings.Contains(name, "best") {
			t.Errorf("%s sorts in a temporary b-tree:\n%s", name, p)
		}
		if !allowScan && strings.Contains(p, "SCAN ") {
			t.Errorf("%s scans a table:\n%s", name, p)
		}
	}
	for _, f := range []experiments.RunFilter{
		{}, {ExperimentID: 1}, {State: experiments.StateQueued}, {Model: "cae"},
		{ExperimentID: 1, State: experiments.StateQueued}, {ExperimentID: 1, Model: "cae"},
		{State: experiments.StateQueued, Model: "cae"}, {ExperimentID: 1, State: experiments.StateQueued, Model: "cae"},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			q, err := runQueries(f)
			if err != nil {
				t.Fatal(err)
			}
			countSQL, pageSQL, args := q.countSQL, q.pageSQL, q.args
			unfiltered := len(args) == 0 // reading every run is what was asked
			check(t, "count", plan(t, countSQL, args...), unfiltered)
			check(t, "page", plan(t, pageSQL, append(args, 50, 0)...), unfiltered)
		})
	}
	// The lease UPDATE's plan is read on the writer (the read pool refuses it).
	var lease []string
	rows, err := s.w.QueryContext(ctx, "EXPLAIN QUERY PLAN "+fmt.Sprintf(leaseSQL, " AND experiment_id IN (?)"), "w", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		lease = append(lease, detail)
	}
	rows.Close()
	// The one scan allowed is json_each over a queued run's own ensemble
	// members (a few items of its params), not a table.
	lease = slices.DeleteFunc(lease, func(l string) bool { return strings.HasPrefix(l, "SCAN m VIRTUAL TABLE") })
	check(t, "lease", strings.Join(lease, "\n"), false)
	check(t, "counts", plan(t, countsSQL, 1), false)
	check(t, "best", plan(t, bestSQL, 1), false)
	// Search conditions on one metric or tag reach runs through their
	// key's index, not by reading every final metric or tag.
	for _, filter := range []string{
		"metrics.`test/recon/roc_auc` > 0.6", "tags.stage = 'final'",
		"metrics.`test/recon/roc_auc` > 0.6 AND tags.stage = 'final'", "model = 'cae' AND state = 'queued'",
	} {
		t.Run(filter, func(t *testing.T) {
			q, err := runQueries(experiments.RunFilter{Filter: filter})
			if err != nil {
				t.Fatal(err)
			}
			p := plan(t, q.pageSQL, append(q.args, 50, 0)...)
			if strings.Contains(p, "SCAN final_metrics") || strings.Contains(p, "SCAN run_tags") {
				t.Errorf("%s scans metrics or tags:\n%s", filter, p)
			}
			if strings.Contains(filter, "metrics") && !strings.Contains(p, "final_metrics_key_value") {
				t.Errorf("%s does not use final_metrics_key_value:\n%s", filter, p)
			}
			if strings.Contains(filter, "tags") && !strings.Contains(p, "run_tags_key_value") {
				t.Errorf("%s does not use run_tags_key_value:\n%s", filter, p)
			}
		})
	}
}

// A lease limited to some experiments skips older queued runs of others.
func TestLeaseRunForExperiments(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a, _ := mustCreate(t, s, "a", 2)
	b, bRuns := mustCreate(t, s, "b", 1)
	r, err := s.LeaseRun(ctx, "w", b.ID)
	if err != nil || r == nil || r.ID != bRuns[0].ID {
		t.Fatalf("lease for b: %+v, %v; want run %d", r, err, bRuns[0].ID)
	}
	if r, err := s.LeaseRun(ctx, "w", b.ID); r != nil || err != nil {
		t.Fatalf("second lease for b: %+v, %v; want none", r, err)
	}
	r, err = s.LeaseRun(ctx, "w", b.ID, a.ID)
	if err != nil || r == nil || r.ExperimentID != a.ID {
		t.Fatalf("lease for a or b: %+v, %v", r, err)
	}
}
