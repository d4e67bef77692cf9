package registry

import (
	"context"
	"encoding/json"
	"testing"

	"xraylab/experiments"
)

// An ensemble run is not leased while a member — by index in its own
// experiment or by run id — is queued or running, even when it is first
// in lease order; once every member has ended (failed included) it is.
func TestLeaseWaitsForEnsembleMembers(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	_, other := mustCreate(t, s, "other", 1)
	zero, one := 0, 1
	spec := func(members ...experiments.EnsembleMember) json.RawMessage {
		b, err := json.Marshal(experiments.RunSpec{Model: experiments.ModelSpec{Name: "ens"},
			Ensemble: &experiments.EnsembleSpec{Name: "ens", Members: members}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := &experiments.Experiment{Name: "e", SpecText: "x", SpecHash: "h", Version: "v", Priority: 0}
	runs := []*experiments.Run{
		{Index: 0, Model: "pixelgauss", Params: json.RawMessage(`{}`)},
		{Index: 1, Model: "cae", Params: json.RawMessage(`{}`)},
		{Index: 2, Model: "ens", Params: spec(experiments.EnsembleMember{Index: &zero, Score: "mean"}, experiments.EnsembleMember{Index: &one, Score: "mse"})},
		{Index: 3, Model: "ens", Params: spec(experiments.EnsembleMember{Run: other[0].ID, Score: "mean"}, experiments.EnsembleMember{Index: &zero, Score: "mean"})},
	}
	if err := s.CreateExperiment(ctx, e, runs); err != nil {
		t.Fatal(err)
	}
	// The ensembles first in lease order: they must still wait.
	for _, r := range runs[2:] {
		if err := s.MoveRunToTop(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	lease := func() int64 {
		t.Helper()
		r, err := s.LeaseRun(ctx, "w")
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return 0
		}
		return r.ID
	}
	finish := func(id int64, st experiments.State) {
		t.Helper()
		if err := s.FinishRun(ctx, id, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Highest priority first among the leasable: "other" (priority 0,
	// oldest), then runs 0 and 1 of e.
	if got := lease(); got != other[0].ID {
		t.Fatalf("first lease %d, want run %d of the other experiment", got, other[0].ID)
	}
	if got := lease(); got != runs[0].ID {
		t.Fatalf("second lease %d, want member run %d", got, runs[0].ID)
	}
	if got := lease(); got != runs[1].ID {
		t.Fatalf("third lease %d, want member run %d", got, runs[1].ID)
	}
	if got := lease(); got != 0 {
		t.Fatalf("leased run %d while every ensemble's members run", got)
	}
	finish(other[0].ID, experiments.StateSucceeded)
	finish(runs[0].ID, experiments.StateFailed)
	// Run 3's members (other's run, index 0) have ended; run 2 still waits on index 1.
	if got := lease(); got != runs[3].ID {
		t.Fatalf("lease %d, want ensemble run %d whose members ended", got, runs[3].ID)
	}
	if got := lease(); got != 0 {
		t.Fatalf("leased run %d while member index 1 runs", got)
	}
	finish(runs[1].ID, experiments.StateCancelled)
	if got := lease(); got != runs[2].ID {
		t.Fatalf("lease %d, want ensemble run %d", got, runs[2].ID)
	}
}
