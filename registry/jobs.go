package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"xraylab/experiments"
)

// Cluster jobs (experiments.JobStore): the job that executes a run, what
// the scheduler says about it, the worker's heartbeat and the hash of the
// run token that lets that worker, and only it, write to the run.

var _ experiments.JobStore = (*Store)(nil)

const jobColumns = `id, state, attempts, backend, job_id, node, slurm_state, heartbeat, worker_pid`

func scanJob(sc scanner) (*experiments.Job, error) {
	var j experiments.Job
	var state string
	var hb sql.NullInt64
	if err := sc.Scan(&j.RunID, &state, &j.Attempts, &j.Backend, &j.JobID, &j.Node, &j.SlurmState, &hb, &j.WorkerPID); err != nil {
		return nil, err
	}
	j.State = experiments.State(state)
	if j.Backend == "" {
		j.Backend = experiments.BackendLocal
	}
	j.Heartbeat = ptrNanos(hb)
	return &j, nil
}

// StartJob records that a job of backend is being submitted for running
// run runID, with the sha256 of its token (recorded before submission, so
// that the worker's first call already authenticates). Job id, node,
// scheduler state, heartbeat and worker pid start empty. A run that is not
// running is a conflict: its lease is gone and no job may write to it.
func (s *Store) StartJob(ctx context.Context, runID int64, backend string, tokenHash [32]byte) error {
	if backend == "" || backend == experiments.BackendLocal {
		return invalid("run %d: a job needs a cluster backend, got %q", runID, backend)
	}
	return s.updateRunning(ctx, runID, "record job",
		`UPDATE runs SET backend = ?, job_id = '', node = '', slurm_state = '', heartbeat = NULL,
		        worker_pid = 0, token_hash = ? WHERE id = ? AND state = 'running'`,
		backend, tokenHash[:], runID)
}

// SetJobID records the scheduler's id of the running run's job.
func (s *Store) SetJobID(ctx context.Context, runID int64, jobID string) error {
	if jobID == "" {
		return invalid("run %d: empty job id", runID)
	}
	return s.updateRunning(ctx, runID, "record job id",
		"UPDATE runs SET job_id = ? WHERE id = ? AND state = 'running'", jobID, runID)
}

// SetJobState records the scheduler's view of the run's job: its state and
// node ("" keeps the node known so far). It applies in any run state, so a
// finished run keeps the job's last word (COMPLETED, CANCELLED, ...).
func (s *Store) SetJobState(ctx context.Context, runID int64, slurmState, node string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE runs SET slurm_state = ?, node = CASE WHEN ? = '' THEN node ELSE ? END WHERE id = ?",
			slurmState, node, node, runID)
		if err != nil {
			return internal(fmt.Sprintf("run %d: record job state", runID), err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return runNotFound(runID)
		}
		return nil
	})
}

// RecordHeartbeat records a worker's call: when, from which node and
// process. Only a running run takes heartbeats.
func (s *Store) RecordHeartbeat(ctx context.Context, runID int64, node string, pid int, at time.Time) error {
	t, err := nanos(at.UTC())
	if err != nil || t == nil {
		return invalid("run %d: heartbeat time %v is not storable", runID, at)
	}
	return s.updateRunning(ctx, runID, "record heartbeat",
		`UPDATE runs SET heartbeat = ?, node = CASE WHEN ? = '' THEN node ELSE ? END,
		        worker_pid = CASE WHEN ? > 0 THEN ? ELSE worker_pid END
		 WHERE id = ? AND state = 'running'`,
		t, node, node, pid, pid, runID)
}

// JobToken returns the token hash of the run's current job (ok is false
// when it has none: no job yet, or the job is over) and the run's state.
func (s *Store) JobToken(ctx context.Context, runID int64) (hash [32]byte, ok bool, state experiments.State, err error) {
	var raw []byte
	var st string
	err = s.r.QueryRowContext(ctx, "SELECT token_hash, state FROM runs WHERE id = ?", runID).Scan(&raw, &st)
	if errors.Is(err, sql.ErrNoRows) {
		return hash, false, "", runNotFound(runID)
	}
	if err != nil {
		return hash, false, "", internal(fmt.Sprintf("run %d: read job token", runID), err)
	}
	if len(raw) == len(hash) {
		copy(hash[:], raw)
		ok = true
	}
	return hash, ok, experiments.State(st), nil
}

// ClearJobToken forgets the run's token hash: its job may write no more.
func (s *Store) ClearJobToken(ctx context.Context, runID int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET token_hash = NULL WHERE id = ?", runID)
		if err != nil {
			return internal(fmt.Sprintf("run %d: clear job token", runID), err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return runNotFound(runID)
		}
		return nil
	})
}

// Job returns the run's job as last recorded (backend "local" and no job
// id for a run no cluster backend has touched).
func (s *Store) Job(ctx context.Context, runID int64) (*experiments.Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM runs WHERE id = ?", runID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, runNotFound(runID)
	}
	if err != nil {
		return nil, internal(fmt.Sprintf("run %d: read job", runID), err)
	}
	return j, nil
}

// RequeueRun puts a running run whose job died back in the queue with
// reason as its error (shown until the next lease clears it). The attempt
// count stays; the next lease raises it. The job's token dies with it.
func (s *Store) RequeueRun(ctx context.Context, runID int64, reason string) error {
	return s.updateRunning(ctx, runID, "requeue",
		`UPDATE runs SET state = 'queued', worker = '', started = NULL, error = ?, token_hash = NULL
		 WHERE id = ? AND state = 'running'`,
		reason, runID)
}

// RunningJobs returns the running runs that have a job of backend, in run
// id order: at start-up, the jobs a previous server left behind.
func (s *Store) RunningJobs(ctx context.Context, backend string) ([]*experiments.Job, error) {
	if backend == "" || backend == experiments.BackendLocal {
		return nil, invalid("running jobs: backend must be a cluster backend, got %q", backend)
	}
	rows, err := s.r.QueryContext(ctx,
		"SELECT "+jobColumns+" FROM runs WHERE state = 'running' AND backend = ? AND job_id <> '' ORDER BY id", backend)
	if err != nil {
		return nil, internal("list running jobs", err)
	}
	defer rows.Close()
	out := []*experiments.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, internal("list running jobs", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list running jobs", err)
	}
	return out, nil
}

// updateRunning runs an UPDATE that applies only to a running run; when it
// changes nothing, the run is missing (not found) or not running (conflict).
func (s *Store) updateRunning(ctx context.Context, runID int64, what, query string, args ...any) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return internal(fmt.Sprintf("run %d: %s", runID, what), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(fmt.Sprintf("run %d: %s", runID, what), err)
		} else if n == 1 {
			return nil
		}
		var cur string
		err = tx.QueryRowContext(ctx, "SELECT state FROM runs WHERE id = ?", runID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return runNotFound(runID)
		}
		if err != nil {
			return internal(fmt.Sprintf("run %d: %s", runID, what), err)
		}
		return experiments.Errorf(experiments.CodeConflict, "run %d is %s, not running: cannot %s", runID, cur, strings.TrimSpace(what))
	})
}
