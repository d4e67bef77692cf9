package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"xraylab/experiments"
	"xraylab/experiments/search"
)

// searchFixture: two experiments of four runs each with real RunSpec
// params, final metrics and tags.
func searchFixture(t testing.TB, s *Store) (a, b *experiments.Experiment, runs []*experiments.Run) {
	t.Helper()
	ctx := context.Background()
	mk := func(name string, models []string, sizes []int) (*experiments.Experiment, []*experiments.Run) {
		e := &experiments.Experiment{Name: name, SpecText: "x", SpecHash: "h", Version: "v"}
		var rs []*experiments.Run
		for i, m := range models {
			spec := experiments.RunSpec{Experiment: name, ImageSize: sizes[i], Epochs: 3, Preprocessing: "crop", HistEq: i%2 == 1,
				Seed: int64(40 + i), Model: experiments.ModelSpec{Name: m, Augmentation: "none", Params: map[string]float64{"lr": 0.001 * float64(i+1)}}}
			p, _ := json.Marshal(spec)
			rs = append(rs, &experiments.Run{Index: i, Model: m, Params: p, Seed: spec.Seed})
		}
		if err := s.CreateExperiment(ctx, e, rs); err != nil {
			t.Fatal(err)
		}
		return e, rs
	}
	a, ra := mk("alpha", []string{"cae", "vae", "cae", "pixelgauss"}, []int{64, 64, 128, 64})
	b, rb := mk("beta", []string{"cae", "bae", "vae", "cae"}, []int{128, 64, 64, 64})
	runs = append(ra, rb...)
	for i, r := range runs {
		m := map[string]float64{"test/recon/roc_auc": 0.5 + 0.05*float64(i), "test/recon/ap": 0.9 - 0.1*float64(i)}
		if i == 7 {
			m = map[string]float64{"test/recon/ap": 0.2} // no roc_auc
		}
		if i == 6 {
			m["test/recon/roc_auc"] = math.NaN()
		}
		if err := s.SetFinalMetrics(ctx, r.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetRunTags(ctx, runs[1].ID, map[string]string{"stage": "final", "note": "good"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunTags(ctx, runs[5].ID, map[string]string{"stage": "draft"}); err != nil {
		t.Fatal(err)
	}
	return a, b, runs
}

func TestSearchRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_, _, runs := searchFixture(t, s)
	id := func(is ...int) []int64 {
		out := []int64{}
		for _, i := range is {
			out = append(out, runs[i].ID)
		}
		return out
	}
	for _, c := range []struct {
		filter, order string
		want          []int64
	}{
		{"model = 'cae'", "", id(0, 2, 4, 7)},
		{"model != 'cae'", "", id(1, 3, 5, 6)},
		{"experiment = 'beta' AND model = 'cae'", "", id(4, 7)},
		{"experiment LIKE 'al%'", "", id(0, 1, 2, 3)},
		// roc_auc of run i is 0.5 + 0.05 i; run 6 is NaN, run 7 has none.
		{"metrics.`test/recon/roc_auc` > 0.6", "", id(3, 4, 5)},
		{"metrics.`test/recon/roc_auc` >= 0.6", "", id(2, 3, 4, 5)},
		{"metrics.`test/recon/roc_auc` != 0.5", "", id(1, 2, 3, 4, 5)},
		{"metrics.`test/recon/roc_auc` IN (0.5, 0.55)", "", id(0, 1)},
		{"tags.stage = 'final'", "", id(1)},
		{"tags.stage != 'final'", "", id(5)},
		{"tags.stage IN ('final', 'draft') OR seed = 40", "", id(0, 1, 4, 5)},
		{"params.image_size = 128", "", id(2, 4)},
		{"params.histogram_equalization = true", "", id(1, 3, 5, 7)},
		{"params.lr < 0.0025", "", id(0, 1, 4, 5)},
		{"params.augmentation = 'none' AND params.preprocessing = 'crop' AND seed IN (43)", "", id(3, 7)},
		{"(model = 'vae' OR model = 'bae') AND experiment = 'beta'", "", id(5, 6)},
		{"state = 'queued'", "", id(0, 1, 2, 3, 4, 5, 6, 7)},
		{"created < '2000-01-01'", "", id()},
		{"created > '2000-01-01T00:00:00Z'", "", id(0, 1, 2, 3, 4, 5, 6, 7)},
		{fmt.Sprintf("id = %d OR experiment_id = %d", runs[0].ID, runs[7].ExperimentID), "", id(0, 4, 5, 6, 7)},
		// Ordering: missing and NaN (NULL) values last either way.
		{"", "metrics.`test/recon/roc_auc` DESC", id(5, 4, 3, 2, 1, 0, 6, 7)},
		{"", "metrics.`test/recon/roc_auc`", id(0, 1, 2, 3, 4, 5, 6, 7)},
		{"model = 'cae'", "params.image_size DESC", id(2, 4, 0, 7)},
		{"", "tags.stage ASC", id(5, 1, 0, 2, 3, 4, 6, 7)},
		{"", "experiment DESC", id(4, 5, 6, 7, 0, 1, 2, 3)},
		{"", "id DESC", id(7, 6, 5, 4, 3, 2, 1, 0)},
	} {
		got, total, err := s.ListRuns(ctx, experiments.RunFilter{Filter: c.filter, OrderBy: c.order})
		if err != nil {
			t.Errorf("%q %q: %v", c.filter, c.order, err)
			continue
		}
		if !reflect.DeepEqual(ids(got), c.want) || total != len(c.want) {
			t.Errorf("%q order %q: %v (total %d), want %v", c.filter, c.order, ids(got), total, c.want)
		}
	}
	got, _, err := s.ListRuns(ctx, experiments.RunFilter{ExperimentID: runs[0].ExperimentID, Filter: "tags.note = 'good'"})
	if err != nil || len(got) != 1 || got[0].Tags["stage"] != "final" || got[0].Tags["note"] != "good" {
		t.Fatalf("tags read back: %+v %v", got, err)
	}
	_, _, err = s.ListRuns(ctx, experiments.RunFilter{Filter: "metrics.x > 'a'"})
	wantErr(t, err, experiments.CodeInvalid, `filter: metrics.x is a number; got the string "a" at position 13`)
	_, _, err = s.ListRuns(ctx, experiments.RunFilter{OrderBy: "nope"})
	wantErr(t, err, experiments.CodeInvalid, `order_by: unknown key "nope"; known: params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created at position 1`)
}

// A value that looks like SQL stays a value.
func TestSearchValuesAreParameters(t *testing.T) {
	s := openTest(t)
	searchFixture(t, s)
	got, total, err := s.ListRuns(context.Background(), experiments.RunFilter{Filter: `model = 'x'' OR 1=1 --' OR tags.` + "`a'b`" + ` = 'y'`})
	if err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("%d runs, %v", total, err)
	}
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e, runs := mustCreate(t, s, "t", 1)
	if err := s.SetRunTags(ctx, runs[0].ID, map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunTags(ctx, runs[0].ID, map[string]string{"a": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRunTag(ctx, runs[0].ID, "b"); err != nil {
		t.Fatal(err)
	}
	r, _ := s.GetRun(ctx, runs[0].ID)
	if !reflect.DeepEqual(r.Tags, map[string]string{"a": "3"}) {
		t.Errorf("run tags %v", r.Tags)
	}
	wantErr(t, s.DeleteRunTag(ctx, runs[0].ID, "b"), experiments.CodeNotFound, `run 1 has no tag "b"`)
	wantErr(t, s.SetRunTags(ctx, 99, map[string]string{"a": "1"}), experiments.CodeNotFound, "run 99 not found")
	wantErr(t, s.SetRunTags(ctx, runs[0].ID, map[string]string{"a b": "1"}), experiments.CodeInvalid, `tag key "a b": only letters, digits and _ . - / : are allowed`)
	wantErr(t, s.SetRunTags(ctx, runs[0].ID, map[string]string{"a": "x\ny"}), experiments.CodeInvalid, "tag a: the value must be text without control characters")
	wantErr(t, s.SetRunTags(ctx, runs[0].ID, nil), experiments.CodeInvalid, "no tags given")

	if err := s.SetExperimentTags(ctx, e.ID, map[string]string{"paper": "table1"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetExperiment(ctx, e.ID)
	if got.Tags["paper"] != "table1" {
		t.Errorf("experiment tags %v", got.Tags)
	}
	wantErr(t, s.DeleteExperimentTag(ctx, e.ID, "nope"), experiments.CodeNotFound, `experiment 1 has no tag "nope"`)
	wantErr(t, s.SetExperimentTags(ctx, 5, map[string]string{"a": "1"}), experiments.CodeNotFound, "experiment 5 not found")
	if err := s.DeleteExperimentTag(ctx, e.ID, "paper"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetExperiment(ctx, e.ID); got.Tags != nil {
		t.Errorf("tags after delete %v", got.Tags)
	}

	if err := s.RenameExperiment(ctx, e.ID, "renamed"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetExperiment(ctx, e.ID); got.Name != "renamed" {
		t.Errorf("name %q", got.Name)
	}
	wantErr(t, s.RenameExperiment(ctx, e.ID, "a b"), experiments.CodeInvalid, `experiment name "a b": use 1 to 64 letters, digits, '-', '_' or '.'`)
	wantErr(t, s.RenameExperiment(ctx, 9, "x"), experiments.CodeNotFound, "experiment 9 not found")
}

func TestArchive(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a, ra := mustCreate(t, s, "a", 3)
	b, rb := mustCreate(t, s, "b", 2)
	if err := s.SetRunArchived(ctx, ra[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetExperimentArchived(ctx, b.ID, true); err != nil {
		t.Fatal(err)
	}
	list := func(mode experiments.ArchivedMode) []int64 {
		rs, total, err := s.ListRuns(ctx, experiments.RunFilter{Archived: mode})
		if err != nil || total != len(rs) {
			t.Fatal(err)
		}
		return ids(rs)
	}
	if got := list(experiments.ArchivedHidden); !reflect.DeepEqual(got, []int64{ra[1].ID, ra[2].ID}) {
		t.Errorf("hidden: %v", got)
	}
	if got := list(experiments.ArchivedOnly); !reflect.DeepEqual(got, []int64{ra[0].ID, rb[0].ID, rb[1].ID}) {
		t.Errorf("only: %v", got)
	}
	if got := list(experiments.ArchivedIncluded); len(got) != 5 {
		t.Errorf("included: %v", got)
	}
	exps, total, _ := s.ListExperiments(ctx, "", 0, 0)
	if total != 1 || exps[0].ID != a.ID || exps[0].Runs != 2 {
		t.Errorf("experiments: %d, %+v", total, exps)
	}
	exps, _, _ = s.ListExperimentsWhere(ctx, experiments.ExperimentFilter{Archived: experiments.ArchivedOnly})
	if len(exps) != 1 || exps[0].ID != b.ID || exps[0].Archived == nil {
		t.Errorf("archived experiments: %+v", exps)
	}
	// Archived runs leave the queue: the lease skips them.
	q, n, _ := s.QueuedRuns(ctx, 0, 0)
	if n != 2 || !reflect.DeepEqual(ids(q), []int64{ra[1].ID, ra[2].ID}) {
		t.Errorf("queue: %v of %d", ids(q), n)
	}
	for _, want := range []int64{ra[1].ID, ra[2].ID} {
		r, err := s.LeaseRun(ctx, "w")
		if err != nil || r == nil || r.ID != want {
			t.Fatalf("lease: %+v %v, want %d", r, err, want)
		}
	}
	if r, err := s.LeaseRun(ctx, "w"); r != nil || err != nil {
		t.Fatalf("lease of archived: %+v %v", r, err)
	}
	// Restored, they are queued again.
	if err := s.SetExperimentArchived(ctx, b.ID, false); err != nil {
		t.Fatal(err)
	}
	if r, err := s.LeaseRun(ctx, "w"); err != nil || r == nil || r.ID != rb[0].ID || r.Archived != nil {
		t.Fatalf("lease after restore: %+v %v", r, err)
	}
	wantErr(t, s.SetRunArchived(ctx, 99, true), experiments.CodeNotFound, "run 99 not found")
	wantErr(t, s.SetExperimentArchived(ctx, 99, true), experiments.CodeNotFound, "experiment 99 not found")
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	e, runs := mustCreate(t, s, "p", 3)
	if err := s.SetFinalMetrics(ctx, runs[1].ID, map[string]float64{"m": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunTags(ctx, runs[1].ID, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	leased, _ := s.LeaseRun(ctx, "w") // runs[0] is running
	wantErr(t, s.PurgeRun(ctx, leased.ID), experiments.CodeConflict, "run 1 is running: cancel it before purging it")
	_, err := s.PurgeExperiment(ctx, e.ID)
	wantErr(t, err, experiments.CodeConflict, "experiment 1 has 1 running run(s) (1): cancel them before purging it")
	if err := s.PurgeRun(ctx, runs[1].ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetRun(ctx, runs[1].ID)
	wantErr(t, err, experiments.CodeNotFound, "run 2 not found")
	var n int
	s.r.QueryRow("SELECT (SELECT count(*) FROM final_metrics) + (SELECT count(*) FROM run_tags)").Scan(&n)
	if n != 0 {
		t.Errorf("%d metric or tag rows left", n)
	}
	if err := s.FinishRun(ctx, leased.ID, experiments.StateFailed, "x"); err != nil {
		t.Fatal(err)
	}
	got, err := s.PurgeExperiment(ctx, e.ID)
	if err != nil || !reflect.DeepEqual(got, []int64{runs[0].ID, runs[2].ID}) {
		t.Fatalf("purge experiment: %v %v", got, err)
	}
	if _, err := s.GetExperiment(ctx, e.ID); !experiments.IsNotFound(err) {
		t.Errorf("experiment after purge: %v", err)
	}
	wantErr(t, s.PurgeRun(ctx, 42), experiments.CodeNotFound, "run 42 not found")
}

// Pages of a metric order, taken at every size and offset, are slices of
// the whole order: the runs with the metric, then those without.
func TestSearchMetricOrderPages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	searchFixture(t, s)
	for _, order := range []string{"metrics.`test/recon/roc_auc` DESC", "metrics.`test/recon/roc_auc` ASC"} {
		for _, filter := range []string{"", "model != 'vae'"} {
			all, total, err := s.ListRuns(ctx, experiments.RunFilter{Filter: filter, OrderBy: order})
			if err != nil || len(all) != total {
				t.Fatal(err)
			}
			for limit := 1; limit <= total+1; limit++ {
				for offset := 0; offset <= total; offset++ {
					page, n, err := s.ListRuns(ctx, experiments.RunFilter{Filter: filter, OrderBy: order, Limit: limit, Offset: offset})
					if err != nil || n != total {
						t.Fatal(err)
					}
					want := ids(all)[offset:min(total, offset+limit)]
					if !reflect.DeepEqual(ids(page), want) {
						t.Fatalf("%q %q limit %d offset %d: %v, want %v", filter, order, limit, offset, ids(page), want)
					}
				}
			}
		}
	}
}

// The page of a metric order is read from final_metrics_key_value in
// order: no sort, no scan of runs.
func TestMetricOrderPlan(t *testing.T) {
	s := openTest(t)
	searchFixture(t, s)
	q, err := runQueries(experiments.RunFilter{Filter: "model = 'cae'", OrderBy: "metrics.`test/recon/roc_auc` DESC"})
	if err != nil {
		t.Fatal(err)
	}
	withSQL, _, _ := metricPageSQL(q)
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+withSQL, append(append([]any{q.metric}, q.args...), 50, 0)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		plan = append(plan, detail)
	}
	p := strings.Join(plan, "\n")
	if strings.Contains(p, "TEMP B-TREE") || strings.Contains(p, "SCAN runs") || !strings.Contains(p, "final_metrics_key_value") {
		t.Errorf("plan:\n%s", p)
	}
}

// The largest expression the parser allows runs in SQLite.
func TestSearchAtTheLimits(t *testing.T) {
	s := openTest(t)
	searchFixture(t, s)
	expr := strings.Repeat("(", search.MaxDepth) + strings.TrimSuffix(strings.Repeat("metrics.`test/recon/ap` > 0.85 OR ", search.MaxConditions), " OR ") + strings.Repeat(")", search.MaxDepth)
	got, total, err := s.ListRuns(context.Background(), experiments.RunFilter{Filter: expr})
	if err != nil || total != 1 || len(got) != 1 {
		t.Fatalf("%d runs, %v", total, err)
	}
}
