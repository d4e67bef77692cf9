package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
	"xraylab/experiments/report"
)

const ensembleSpec = `
experiments:
  ens:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 2
    batch_size: 8
    models:
      - {name: pixelgauss, topk: [20]}
      - {name: cae, params: {width: 0.125, lr: 0.003}, topk: [20], augmentation: none}
    ensembles:
      - name: both
        members: [{model: pixelgauss, score: mean}, {model: cae, score: mse}]
      - name: self
        members: [{model: pixelgauss, score: mean}, {model: pixelgauss, score: mean}]
      - name: weighted
        members: [{model: pixelgauss, score: mean_top20}, {model: cae, score: mse}]
        normalise: rank
        combine: weighted
`

// Ensembles submitted with their members wait for them, then are runs of
// their own: scores, metrics, figures and a row of the comparison table.
func TestEnsemblesEndToEnd(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 2) // two workers: an ensemble leased early would run beside its members
	ctx := context.Background()
	id := testenv.Submit(t, m, ensembleSpec)
	runs := e.WaitAll(t, id, 4*time.Minute)
	if len(runs) != 5 {
		t.Fatalf("%d runs, want 2 model runs and 3 ensembles", len(runs))
	}
	byModel := map[string]*experiments.Run{}
	for _, r := range runs {
		if r.State != experiments.StateSucceeded {
			t.Fatalf("run %d (%s): %s %s", r.ID, r.Model, r.State, r.Error)
		}
		byModel[r.Model] = r
	}
	pg, cae := byModel["pixelgauss"], byModel["cae"]
	for _, name := range []string{"both", "self", "weighted"} {
		en := byModel[name]
		if en == nil {
			t.Fatalf("no ensemble run %s among %v", name, runs)
		}
		// Leased only after its members ended ("self" has one member run).
		members := []*experiments.Run{pg, cae}
		if name == "self" {
			members = members[:1]
		}
		for _, mem := range members {
			if en.Started.Before(*mem.Finished) {
				t.Errorf("ensemble %s started %s, before member run %d finished %s", name, en.Started, mem.ID, mem.Finished)
			}
		}
		arts, err := e.Store.Artifacts(ctx, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, a := range arts {
			have[a.Name] = true
		}
		for _, want := range []string{"scores.csv", "roc.png", "roc.svg", "histogram.png", local.EnsembleFile, "heatmaps.png"} {
			if !have[want] {
				t.Errorf("ensemble %s lacks artifact %s (has %v)", name, want, have)
			}
		}
	}

	// A run with itself, z-scored: the run's own figures (z-scoring is an
	// increasing affine map, so rankings, study means and maxima keep).
	self := byModel["self"]
	for _, part := range []string{"val", "test"} {
		for _, agg := range []string{eval.AggImage, eval.AggStudyMean, eval.AggStudyMax} {
			metrics := []string{eval.MetricROCAUC}
			if agg == eval.AggImage {
				metrics = append(metrics, eval.MetricAP)
			}
			for _, met := range metrics {
				want := pg.Metrics[eval.ScoreKey(part, "mean", agg, met).String()]
				got := self.Metrics[eval.ScoreKey(part, "zscore_mean", agg, met).String()]
				if math.Abs(got-want) > 1e-12 || want == 0 {
					t.Errorf("%s %s %s: ensemble with itself %v, the run %v", part, agg, met, got, want)
				}
			}
		}
	}
	for _, k := range []string{"test/pixel_roc_auc", "test/pixel_aupro", "test/pixel_images"} {
		want, got := pg.Metrics[k], self.Metrics[k]
		if math.Abs(got-want) > 1e-4 || want == 0 {
			t.Errorf("%s: ensemble with itself %v, the run %v", k, got, want)
		}
	}

	// The weighted ensemble's weights: on the grid, summing to 1, and at
	// least as good on validation as either member alone (both are grid
	// points; rank normalisation keeps each member's validation ranking).
	var rec local.EnsembleRecord
	b, err := os.ReadFile(filepath.Join(e.Dir, "artifacts", strconv.FormatInt(byModel["weighted"].ID, 10), local.EnsembleFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Members) != 2 || math.Abs(rec.Members[0].Weight+rec.Members[1].Weight-1) > 1e-12 {
		t.Fatalf("weights %+v", rec.Members)
	}
	for _, w := range []float64{rec.Members[0].Weight * 10, rec.Members[1].Weight * 10} {
		if math.Abs(w-math.Round(w)) > 1e-9 {
			t.Errorf("weight %v is off the grid of tenths", w/10)
		}
	}
	best := math.Max(pg.Metrics["val/mean_top20/roc_auc"], cae.Metrics["val/mse/roc_auc"])
	if got := byModel["weighted"].Metrics["val/rank_weighted/roc_auc"]; got < best-1e-12 || got != rec.ValROCAUC {
		t.Errorf("weighted validation ROC-AUC %v (recorded %v); the better member alone has %v", got, rec.ValROCAUC, best)
	}
	if !strings.Contains(rec.WeightSearch, "grid") {
		t.Errorf("weight search not recorded: %q", rec.WeightSearch)
	}

	// Both members have maps: the ensemble's map is their mean, measured.
	var both local.EnsembleRecord
	b, err = os.ReadFile(filepath.Join(e.Dir, "artifacts", strconv.FormatInt(byModel["both"].ID, 10), local.EnsembleFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &both); err != nil {
		t.Fatal(err)
	}
	if len(both.MapMembers) != 2 || both.MapMembers[0] != pg.ID || both.MapMembers[1] != cae.ID || both.Members[1].MapNorm == nil {
		t.Errorf("map members %v (members %+v), want runs %d and %d", both.MapMembers, both.Members, pg.ID, cae.ID)
	}
	if n := byModel["both"].Metrics["test/pixel_images"]; n == 0 || n != pg.Metrics["test/pixel_images"] {
		t.Errorf("ensemble pixel metrics over %v images, the members' over %v", n, pg.Metrics["test/pixel_images"])
	}

	// Table 1: each ensemble is its own model row.
	table, err := report.BuildTable(runs, report.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]report.TableRow{}
	for _, r := range table.Rows {
		rows[r.Model+" "+r.Score] = r
	}
	for _, k := range []string{"both zscore_mean", "self zscore_mean", "weighted rank_weighted"} {
		r, ok := rows[k]
		if !ok || r.Cells[0] == nil {
			t.Errorf("table has no figure for %s (rows %v)", k, table.Rows)
			continue
		}
		name := strings.Fields(k)
		if want := byModel[name[0]].Metrics["test/"+name[1]+"/roc_auc"]; r.Cells[0].Mean != want {
			t.Errorf("table %s: %v, the run's test ROC-AUC %v", k, r.Cells[0].Mean, want)
		}
	}
}

// An ensemble whose member did not succeed is leased once the member has
// ended and fails, saying which member and why.
func TestEnsembleOfCancelledMemberFails(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	queueOnly := experiments.NewManager(e.Store, e.Hub, nil, "test")
	id := testenv.Submit(t, queueOnly, `
experiments:
  fail:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 1
    batch_size: 8
    models: [{name: pixelgauss, topk: [20]}]
    ensembles:
      - members: [{model: pixelgauss, score: mean}, {model: pixelgauss, score: mean_top20}]
`)
	runs, _, err := e.Store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	if err := e.Store.CancelQueued(ctx, runs[0].ID); err != nil {
		t.Fatal(err)
	}
	e.Serve(t, 1)
	got := e.WaitAll(t, id, time.Minute)[1]
	want := "ensemble pixelgauss.mean+pixelgauss.mean_top20: member pixelgauss.mean (run " + strconv.FormatInt(runs[0].ID, 10) +
		", pixelgauss/raw/noHE/seed42) is cancelled; an ensemble needs every member succeeded"
	if got.State != experiments.StateFailed || got.Error != want {
		t.Errorf("ensemble %s %q, want failed %q", got.State, got.Error, want)
	}
}

// Members named by run id: refused at submission when they are on
// different splits or do not exist; runs of two experiments on one split
// combine.
func TestEnsembleOfRunsByID(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	ctx := context.Background()
	spec := func(name, seeds, split string) string {
		return `
experiments:
  ` + name + `:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 32
    epochs: 1
    batch_size: 8
    models: [{name: pixelgauss, topk: [20]}]
    seeds: ` + seeds + split + `
`
	}
	a := e.WaitAll(t, testenv.Submit(t, m, spec("a", "[42, 4242]", "")), time.Minute)
	b := e.WaitAll(t, testenv.Submit(t, m, spec("b", "[7]", "\n    split_seed: 42")), time.Minute)
	ens := func(x, y int64) string {
		return fmt.Sprintf("experiments:\n  ens:\n    ensembles: [{name: ab, members: [{run: %d, score: mean}, {run: %d, score: mean_top20}]}]\n", x, y)
	}
	for _, c := range []struct {
		spec, want string
	}{
		{ens(a[0].ID, a[1].ID), fmt.Sprintf("ensemble ab: members run %d (pixelgauss/raw/noHE/seed42) and run %d (pixelgauss/raw/noHE/seed4242) are on different splits (split seeds 42 and 4242); an ensemble combines scores of the same images", a[0].ID, a[1].ID)},
		{ens(a[0].ID, 999), "ensemble ab: member run999.mean_top20: there is no run 999"},
		{strings.Replace(ens(a[0].ID, b[0].ID), "mean_top20", "mse", 1), fmt.Sprintf("ensemble ab: member run%d.mse: run %d (pixelgauss/raw/noHE/seed7) has no score \"mse\"; it has: mean, mean_top20", b[0].ID, b[0].ID)},
	} {
		_, _, err := m.Submit(ctx, []byte(c.spec), "")
		if err == nil || err.Error() != c.want || experiments.CodeOf(err) != experiments.CodeInvalid {
			t.Errorf("submit %s:\n got %v\nwant %s", c.spec, err, c.want)
		}
	}
	// a's seed-42 run and b's run share split seed 42: they combine.
	runs := e.WaitAll(t, testenv.Submit(t, m, ens(a[0].ID, b[0].ID)), time.Minute)
	if len(runs) != 1 || runs[0].State != experiments.StateSucceeded {
		t.Fatalf("ensemble of runs by id: %+v", runs)
	}
	spec2, err := experiments.DecodeRunSpec(runs[0].Params)
	if err != nil || spec2.SplitSeed != 42 || spec2.Seed != 42 || spec2.Dataset.Synthetic == nil {
		t.Errorf("ensemble run spec %+v, %v: want the members' data", spec2, err)
	}
	if _, ok := runs[0].Metrics["test/zscore_mean/roc_auc"]; !ok {
		t.Errorf("no test ROC-AUC: %v", runs[0].Metrics)
	}
	// An ensemble is no member.
	_, _, err = m.Submit(ctx, []byte(ens(runs[0].ID, a[0].ID)), "")
	if want := fmt.Sprintf("ensemble ab: member run%d.mean: run %d is itself an ensemble; members must be model runs", runs[0].ID, runs[0].ID); err == nil || err.Error() != want {
		t.Errorf("ensemble of an ensemble: %v, want %s", err, want)
	}
}
