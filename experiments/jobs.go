package experiments

import (
	"context"
	"errors"
	"time"
)

// Backends a run can be executed by.
const (
	BackendLocal = "local"
	BackendSlurm = "slurm"
)

// Job is a run's cluster job as the server last saw it.
type Job struct {
	RunID      int64      `json:"run_id"`
	State      State      `json:"state"` // the run's state
	Attempts   int        `json:"attempts"`
	Backend    string     `json:"backend"` // "local" when no cluster job was recorded
	JobID      string     `json:"job_id,omitempty"`
	Node       string     `json:"node,omitempty"`
	SlurmState string     `json:"slurm_state,omitempty"`
	Heartbeat  *time.Time `json:"heartbeat,omitempty"`
	WorkerPID  int        `json:"worker_pid,omitempty"`
}

// JobStore is the persistence of cluster jobs; registry implements it.
// Methods return *Error with CodeNotFound for a missing run and
// CodeConflict when a run that must be running is not.
type JobStore interface {
	// StartJob records, before submission, that a job of backend is being
	// submitted for the running run, with the sha256 of its token; job id,
	// node, scheduler state, heartbeat and pid start empty.
	StartJob(ctx context.Context, runID int64, backend string, tokenHash [32]byte) error
	// SetJobID records the scheduler's id of the running run's job.
	SetJobID(ctx context.Context, runID int64, jobID string) error
	// SetJobState records the scheduler's state and node ("" keeps the
	// node) of the run's job, whatever the run's state.
	SetJobState(ctx context.Context, runID int64, slurmState, node string) error
	// RecordHeartbeat records a worker's call on a running run.
	RecordHeartbeat(ctx context.Context, runID int64, node string, pid int, at time.Time) error
	// JobToken returns the token hash of the run's current job (ok false
	// when none) and the run's state.
	JobToken(ctx context.Context, runID int64) (hash [32]byte, ok bool, state State, err error)
	// ClearJobToken forgets the token: the job may write no more.
	ClearJobToken(ctx context.Context, runID int64) error
	Job(ctx context.Context, runID int64) (*Job, error)
	// RequeueRun moves a running run back to queued with reason as its
	// error, keeping its attempt count and clearing its token.
	RequeueRun(ctx context.Context, runID int64, reason string) error
	// RunningJobs lists running runs that have a job of backend.
	RunningJobs(ctx context.Context, backend string) ([]*Job, error)
}

// ErrRequeued is what Execute returns (wrapped in a *RequeueError) when
// the run's job died and the run went back to the queue: the runner must
// then record nothing, since the run is no longer its to finish.
var ErrRequeued = errors.New("run requeued")
