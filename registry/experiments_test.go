package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"xraylab/experiments"
)

func TestCreateAndGetExperiment(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	before := time.Now().UTC()
	e, runs := mustCreate(t, s, "grid", 4, "cae", "vae")
	after := time.Now().UTC()

	if e.ID == 0 || e.Created.Location() != time.UTC || e.Created.Before(before) || e.Created.After(after) {
		t.Errorf("experiment not filled in: ID %d, Created %v (want between %v and %v, UTC)", e.ID, e.Created, before, after)
	}
	ids := map[int64]bool{}
	for i, r := range runs {
		if r.ID == 0 || ids[r.ID] || r.ExperimentID != e.ID || r.State != experiments.StateQueued || !r.Created.Equal(e.Created) {
			t.Errorf("run %d not filled in: %+v", i, r)
		}
		ids[r.ID] = true
	}

	got, err := s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	// What CreateExperiment filled in must be exactly what is read back.
	if !reflect.DeepEqual(got, e) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, e)
	}
	if got.Runs != 4 || !reflect.DeepEqual(got.Counts, map[experiments.State]int{experiments.StateQueued: 4}) {
		t.Errorf("counts = %v, runs = %d", got.Counts, got.Runs)
	}

	for i, want := range runs {
		r, err := s.GetRun(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("run %d read back\n%+v\nwant\n%+v", i, r, want)
		}
	}
}

func TestCreateExperimentRejects(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// with builds a three-run experiment named "bad" and lets mod spoil it.
	with := func(mod func(e *experiments.Experiment, runs []*experiments.Run)) func() (*experiments.Experiment, []*experiments.Run) {
		return func() (*experiments.Experiment, []*experiments.Run) {
			e, runs := newExperiment("bad", 3)
			mod(e, runs)
			return e, runs
		}
	}
	for _, tc := range []struct {
		name  string
		build func() (*experiments.Experiment, []*experiments.Run)
		want  string
	}{
		{"nil experiment", func() (*experiments.Experiment, []*experiments.Run) { return nil, nil }, "experiment is nil"},
		{"empty name", with(func(e *experiments.Experiment, _ []*experiments.Run) { e.Name = " " }), "experiment name is empty"},
		{"nil run", with(func(_ *experiments.Experiment, r []*experiments.Run) { r[1] = nil }), `experiment "bad": run 1 is nil`},
		{"duplicate index", with(func(_ *experiments.Experiment, r []*experiments.Run) { r[2].Index = 0 }), `experiment "bad": run index 0 appears twice`},
		{"bad params", with(func(_ *experiments.Experiment, r []*experiments.Run) { r[2].Params = json.RawMessage(`{"a":`) }), `experiment "bad": run index 2: params are not valid JSON`},
		{"no params", with(func(_ *experiments.Experiment, r []*experiments.Run) { r[0].Params = nil }), `experiment "bad": run index 0: params are not valid JSON`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, runs := tc.build()
			wantErr(t, s.CreateExperiment(ctx, e, runs), experiments.CodeInvalid, tc.want)
		})
	}
	if _, total, _ := s.ListExperiments(ctx, "", 0, 0); total != 0 {
		t.Errorf("rejected experiments were stored: %d", total)
	}
}

func TestExperimentWithoutRuns(t *testing.T) {
	s := openTest(t)
	e, _ := mustCreate(t, s, "empty", 0)
	got, err := s.GetExperiment(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Runs != 0 || len(got.Counts) != 0 || got.Best != nil {
		t.Errorf("empty experiment: %+v", got)
	}
}

func TestListExperiments(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	names := []string{"alpha", "beta_1", "beta%2", "gamma", "Beta3", `back\slash`}
	runsOf := map[string]int{}
	for i, n := range names {
		mustCreate(t, s, n, i)
		runsOf[n] = i
	}
	for _, tc := range []struct {
		search        string
		limit, offset int
		want          []string
		total         int
	}{
		{"", 0, 0, []string{`back\slash`, "Beta3", "gamma", "beta%2", "beta_1", "alpha"}, 6},
		{"", 2, 0, []string{`back\slash`, "Beta3"}, 6},
		{"", 2, 4, []string{"beta_1", "alpha"}, 6},
		{"", 2, 6, nil, 6},
		{"beta", 0, 0, []string{"Beta3", "beta%2", "beta_1"}, 3}, // LIKE ignores ASCII case
		{"a_", 0, 0, []string{"beta_1"}, 1},                      // '_' is literal, not "any one character"
		{"a%", 0, 0, []string{"beta%2"}, 1},                      // '%' is literal
		{`\`, 0, 0, []string{`back\slash`}, 1},
		{"%", 0, 0, []string{"beta%2"}, 1},
		{"zzz", 10, 0, nil, 0},
		{"beta", 1, 1, []string{"beta%2"}, 3},
	} {
		t.Run(fmt.Sprintf("%q/%d/%d", tc.search, tc.limit, tc.offset), func(t *testing.T) {
			list, total, err := s.ListExperiments(ctx, tc.search, tc.limit, tc.offset)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Name)
				if e.Runs != runsOf[e.Name] || e.Counts[experiments.StateQueued] != e.Runs {
					t.Errorf("%s: runs %d, counts %v", e.Name, e.Runs, e.Counts)
				}
			}
			if !reflect.DeepEqual(got, tc.want) || total != tc.total {
				t.Errorf("got %q (total %d), want %q (total %d)", got, total, tc.want, tc.total)
			}
		})
	}
	_, _, err := s.ListExperiments(ctx, "", -1, 0)
	wantErr(t, err, experiments.CodeInvalid, "limit and offset must not be negative (got -1, 0)")
}

func TestCountsAndBestFigure(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e, runs := mustCreate(t, s, "best", 5)
	other, otherRuns := mustCreate(t, s, "other", 1)

	// Run 0 succeeds with the best image-level figure, run 1 succeeds with
	// a lower one, run 2 fails with a higher one (must not count), run 3 is
	// still running, run 4 is cancelled before starting.
	final := []map[string]float64{
		{"test/recon/roc_auc": 0.91, "test/recon/ap": 0.99, "val/recon/roc_auc": 0.97, "test/recon/roc_auc_study": 0.95,
			"test/recon/study_max/roc_auc": 0.9999}, // study level: not an image-level figure
		{"test/recon/roc_auc": 0.80, "test/disc/roc_auc": 0.905},
		{"test/recon/roc_auc": 0.99},
		{"test/recon/roc_auc": 0.999},
		nil,
	}
	states := []experiments.State{experiments.StateSucceeded, experiments.StateSucceeded, experiments.StateFailed, experiments.StateRunning}
	for i := 0; i < 4; i++ {
		r, err := s.LeaseRun(ctx, "w")
		if err != nil || r.ID != runs[i].ID {
			t.Fatalf("lease %d: %v, %v", i, r, err)
		}
		if err := s.SetFinalMetrics(ctx, r.ID, final[i]); err != nil {
			t.Fatal(err)
		}
		if states[i].Terminal() {
			if err := s.FinishRun(ctx, r.ID, states[i], ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.CancelQueued(ctx, runs[4].ID); err != nil {
		t.Fatal(err)
	}
	// Another experiment's better figure must not leak in.
	if _, err := s.LeaseRun(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFinalMetrics(ctx, otherRuns[0].ID, map[string]float64{"test/x/roc_auc": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, otherRuns[0].ID, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}

	got, err := s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[experiments.State]int{
		experiments.StateSucceeded: 2, experiments.StateFailed: 1,
		experiments.StateRunning: 1, experiments.StateCancelled: 1,
	}
	if !reflect.DeepEqual(got.Counts, wantCounts) || got.Runs != 5 {
		t.Errorf("counts = %v, runs = %d; want %v, 5", got.Counts, got.Runs, wantCounts)
	}
	want := &experiments.BestFigure{RunID: runs[0].ID, Key: "test/recon/roc_auc", Value: 0.91}
	if !reflect.DeepEqual(got.Best, want) {
		t.Errorf("best = %+v, want %+v", got.Best, want)
	}
	list, _, err := s.ListExperiments(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !reflect.DeepEqual(list[1].Best, want) || list[0].ID != other.ID || list[0].Best.Value != 1 {
		t.Errorf("list best figures: %+v, %+v", list[0].Best, list[1].Best)
	}

	// A NaN figure never wins; ties go to the lower run id.
	if err := s.SetFinalMetrics(ctx, runs[0].ID, map[string]float64{"test/recon/roc_auc": math.NaN()}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFinalMetrics(ctx, runs[1].ID, map[string]float64{"test/a/roc_auc": 0.7, "test/b/roc_auc": 0.7}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	want = &experiments.BestFigure{RunID: runs[1].ID, Key: "test/a/roc_auc", Value: 0.7}
	if !reflect.DeepEqual(got.Best, want) {
		t.Errorf("best = %+v, want %+v", got.Best, want)
	}
}
