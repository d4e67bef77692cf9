package registry

import (
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkLeaseRun leases (and puts back) one of 1,000 queued runs, with
// 0 or 200 ensemble runs ahead of it in lease order that wait on a
// running member: what the lease's member check costs.
func BenchmarkLeaseRun(b *testing.B) {
	for _, waiting := range []int{0, 200} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b)
			zero := 0
			params, err := json.Marshal(experiments.RunSpec{Model: experiments.ModelSpec{Name: "ens"},
				Ensemble: &experiments.EnsembleSpec{Name: "ens", Members: []experiments.EnsembleMember{{Index: &zero, Score: "mse"}, {Index: &zero, Score: "mse_top200"}}}})
			if err != nil {
				b.Fatal(err)
			}
			e := &experiments.Experiment{Name: "e", SpecText: "x", SpecHash: "h", Version: "v"}
			runs := []*experiments.Run{{Index: 0, Model: "cae", Params: json.RawMessage(`{}`)}}
			for i := 1; i <= waiting; i++ {
				runs = append(runs, &experiments.Run{Index: i, Model: "ens", Params: params})
			}
			if err := s.CreateExperiment(ctx, e, runs); err != nil {
				b.Fatal(err)
			}
			if r, err := s.LeaseRun(ctx, "w"); err != nil || r.ID != runs[0].ID {
				b.Fatalf("lease the member: %v, %v", r, err)
			}
			for _, r := range runs[1:] {
				if err := s.MoveRunToTop(ctx, r.ID); err != nil {
					b.Fatal(err)
				}
			}
			mustCreate(b, s, "plain", 1000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := s.LeaseRun(ctx, "w")
				if err != nil || r == nil || r.Model == "ens" {
					b.Fatalf("lease: %+v, %v", r, err)
				}
				if _, err := s.w.ExecContext(ctx, "UPDATE runs SET state = 'queued' WHERE id = ?", r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
