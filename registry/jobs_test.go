package registry

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"xraylab/experiments"
)

func TestJobLifecycle(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, "jobs", 3)

	// A run no cluster backend touched reads as local.
	j, err := s.Job(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if j.Backend != experiments.BackendLocal || j.JobID != "" || j.Heartbeat != nil || j.State != experiments.StateQueued {
		t.Errorf("untouched run's job: %+v", j)
	}
	hash := sha256.Sum256([]byte("token-1"))
	if err := s.StartJob(ctx, 1, experiments.BackendSlurm, hash); err == nil || err.Error() != "run 1 is queued, not running: cannot record job" {
		t.Errorf("StartJob on a queued run = %v", err)
	}
	putInState(t, s, 1, experiments.StateRunning)
	if err := s.StartJob(ctx, 1, experiments.BackendLocal, hash); err == nil || err.Error() != `run 1: a job needs a cluster backend, got "local"` {
		t.Errorf("StartJob local = %v", err)
	}
	if err := s.StartJob(ctx, 1, experiments.BackendSlurm, hash); err != nil {
		t.Fatal(err)
	}
	got, ok, state, err := s.JobToken(ctx, 1)
	if err != nil || !ok || got != hash || state != experiments.StateRunning {
		t.Errorf("JobToken = %x %v %s %v", got, ok, state, err)
	}
	if err := s.SetJobID(ctx, 1, "4711"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobState(ctx, 1, "PENDING", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobState(ctx, 1, "RUNNING", "node3"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	if err := s.RecordHeartbeat(ctx, 1, "", 99, at); err != nil {
		t.Fatal(err)
	}
	j, _ = s.Job(ctx, 1)
	if j.Backend != "slurm" || j.JobID != "4711" || j.Node != "node3" || j.SlurmState != "RUNNING" || j.WorkerPID != 99 ||
		j.Heartbeat == nil || !j.Heartbeat.Equal(at) || j.Attempts != 1 {
		t.Errorf("job = %+v", j)
	}
	if jobs, err := s.RunningJobs(ctx, experiments.BackendSlurm); err != nil || len(jobs) != 1 || jobs[0].RunID != 1 {
		t.Errorf("RunningJobs = %v, %v", jobs, err)
	}

	// The job dies: the run goes back to the queue, its token with it.
	if err := s.RequeueRun(ctx, 1, "Slurm job 4711 ended NODE_FAIL"); err != nil {
		t.Fatal(err)
	}
	r, _ := s.GetRun(ctx, 1)
	if r.State != experiments.StateQueued || r.Attempts != 1 || r.Error != "Slurm job 4711 ended NODE_FAIL" || r.Worker != "" || r.Started != nil {
		t.Errorf("requeued run = %+v", r)
	}
	if _, ok, _, _ := s.JobToken(ctx, 1); ok {
		t.Error("a requeued run keeps its token")
	}
	if err := s.RequeueRun(ctx, 1, "again"); experiments.CodeOf(err) != experiments.CodeConflict {
		t.Errorf("requeue of a queued run = %v, want a conflict", err)
	}
	if err := s.RecordHeartbeat(ctx, 1, "n", 1, at); err == nil || err.Error() != "run 1 is queued, not running: cannot record heartbeat" {
		t.Errorf("heartbeat on a queued run = %v", err)
	}
	if jobs, _ := s.RunningJobs(ctx, experiments.BackendSlurm); len(jobs) != 0 {
		t.Errorf("RunningJobs after requeue = %v", jobs)
	}
	// The next lease raises the attempts and clears the error; the
	// scheduler's last word survives the run's end.
	r, _ = s.LeaseRun(ctx, "w")
	if r.ID != 1 || r.Attempts != 2 || r.Error != "" {
		t.Errorf("re-lease = %+v", r)
	}
	if err := s.StartJob(ctx, 1, experiments.BackendSlurm, sha256.Sum256([]byte("token-2"))); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, 1); j.JobID != "" || j.Node != "" || j.Heartbeat != nil || j.WorkerPID != 0 {
		t.Errorf("a new job starts empty: %+v", j)
	}
	if err := s.ClearJobToken(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, 1, experiments.StateSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobState(ctx, 1, "COMPLETED", "node4"); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, 1); j.SlurmState != "COMPLETED" || j.Node != "node4" || j.State != experiments.StateSucceeded {
		t.Errorf("finished run's job = %+v", j)
	}
}

func TestJobErrors(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, "jobs", 1)
	var h [32]byte
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"job of a missing run", func() error { _, err := s.Job(ctx, 9); return err }(), "run 9 not found"},
		{"token of a missing run", func() error { _, _, _, err := s.JobToken(ctx, 9); return err }(), "run 9 not found"},
		{"start on a missing run", s.StartJob(ctx, 9, "slurm", h), "run 9 not found"},
		{"state of a missing run", s.SetJobState(ctx, 9, "RUNNING", ""), "run 9 not found"},
		{"clear on a missing run", s.ClearJobToken(ctx, 9), "run 9 not found"},
		{"empty job id", s.SetJobID(ctx, 1, ""), "run 1: empty job id"},
		{"job id of a queued run", s.SetJobID(ctx, 1, "5"), "run 1 is queued, not running: cannot record job id"},
		{"running jobs of local", func() error { _, err := s.RunningJobs(ctx, "local"); return err }(),
			`running jobs: backend must be a cluster backend, got "local"`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
