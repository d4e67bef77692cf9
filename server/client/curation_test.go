package client

import (
	"context"
	"reflect"
	"testing"

	"xraylab/experiments"
)

func TestCurationRoundTrips(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, Options{})
	ctx := context.Background()
	if _, err := c.Submit(ctx, []byte(twoSpec), ""); err != nil { // alpha: runs 1, 2; beta: run 3
		t.Fatal(err)
	}
	r, err := c.SetRunTags(ctx, 2, map[string]string{"stage": "final", "who": "ana"})
	if err != nil || !reflect.DeepEqual(r.Tags, map[string]string{"stage": "final", "who": "ana"}) {
		t.Fatalf("tags: %+v %v", r, err)
	}
	if r, err = c.DeleteRunTag(ctx, 2, "who"); err != nil || !reflect.DeepEqual(r.Tags, map[string]string{"stage": "final"}) {
		t.Fatalf("delete tag: %+v %v", r, err)
	}
	_, err = c.DeleteRunTag(ctx, 2, "who")
	wantAPIError(t, "delete missing tag", err, experiments.CodeNotFound, `run 2 has no tag "who"`)
	runs, total, err := c.Runs(ctx, experiments.RunFilter{Filter: "tags.stage = 'final' OR experiment = 'beta'", OrderBy: "id DESC"})
	if err != nil || total != 2 || runs[0].ID != 3 || runs[1].ID != 2 {
		t.Fatalf("search: %d runs, %v", total, err)
	}
	_, _, err = c.Runs(ctx, experiments.RunFilter{Filter: "nope = 1"})
	wantAPIError(t, "bad filter", err, experiments.CodeInvalid,
		`filter: unknown key "nope"; known: params.<name>, metrics.<key>, tags.<key>, state, model, experiment, experiment_id, id, seed, created at position 1`)

	x, err := c.SetExperimentTags(ctx, 1, map[string]string{"paper": "t1"})
	if err != nil || x.Tags["paper"] != "t1" {
		t.Fatalf("experiment tags: %+v %v", x, err)
	}
	if x, err = c.DeleteExperimentTag(ctx, 1, "paper"); err != nil || x.Tags != nil {
		t.Fatalf("delete experiment tag: %+v %v", x, err)
	}
	if x, err = c.RenameExperiment(ctx, 1, "alpha-2"); err != nil || x.Name != "alpha-2" {
		t.Fatalf("rename: %+v %v", x, err)
	}

	if r, err = c.ArchiveRun(ctx, 1, true); err != nil || r.Archived == nil {
		t.Fatalf("archive: %+v %v", r, err)
	}
	if x, err = c.ArchiveExperiment(ctx, 2, true); err != nil || x.Archived == nil {
		t.Fatalf("archive experiment: %+v %v", x, err)
	}
	if runs, total, _ := c.Runs(ctx, experiments.RunFilter{}); total != 1 || runs[0].ID != 2 {
		t.Errorf("visible runs: %d", total)
	}
	if _, total, _ := c.Runs(ctx, experiments.RunFilter{Archived: experiments.ArchivedOnly}); total != 2 {
		t.Errorf("archived runs: %d", total)
	}
	if list, total, _ := c.ExperimentsWhere(ctx, experiments.ExperimentFilter{Archived: experiments.ArchivedIncluded}); total != 2 || list[0].ID != 2 {
		t.Errorf("experiments with archived: %d", total)
	}
	if r, err = c.ArchiveRun(ctx, 1, false); err != nil || r.Archived != nil {
		t.Fatalf("restore: %+v %v", r, err)
	}

	p, err := c.PurgeRun(ctx, 1)
	if err != nil || !reflect.DeepEqual(p.Runs, []int64{1}) {
		t.Fatalf("purge: %+v %v", p, err)
	}
	p, err = c.PurgeExperiment(ctx, 2)
	if err != nil || p.ExperimentID != 2 || !reflect.DeepEqual(p.Runs, []int64{3}) {
		t.Fatalf("purge experiment: %+v %v", p, err)
	}
	_, err = c.Run(ctx, 1)
	wantAPIError(t, "purged run", err, experiments.CodeNotFound, "run 1 not found")
}
