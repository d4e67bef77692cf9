package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"xraylab/experiments"
)

// Queue control: priorities, pause, retry and bulk cancel. The lease
// order itself lives with LeaseRun (runs.go).

var _ experiments.QueueStore = (*Store)(nil)

// SetExperimentPriority changes experiment id's priority, and with it the
// effective priority of its runs that have no override.
func (s *Store) SetExperimentPriority(ctx context.Context, id int64, priority int) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE experiments SET priority = ? WHERE id = ?", priority, id)
		if err != nil {
			return internal(fmt.Sprintf("set priority of experiment %d", id), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(fmt.Sprintf("set priority of experiment %d", id), err)
		} else if n == 0 {
			return experimentNotFound(id)
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE runs SET priority = ? WHERE experiment_id = ? AND priority_override IS NULL", priority, id); err != nil {
			return internal(fmt.Sprintf("set priority of experiment %d's runs", id), err)
		}
		return nil
	})
}

// SetRunPriority sets a queued run's priority override, or clears it (the
// run follows its experiment again) when priority is nil. A run that is
// not queued is a conflict.
func (s *Store) SetRunPriority(ctx context.Context, id int64, priority *int) error {
	var v any
	if priority != nil {
		v = *priority
	}
	return s.updateQueued(ctx, id, "set its priority",
		`UPDATE runs SET priority_override = ?1,
		        priority = coalesce(?1, (SELECT priority FROM experiments WHERE experiments.id = runs.experiment_id))
		 WHERE id = ?2 AND state = 'queued'`, v, id)
}

// MoveRunToTop gives queued run id the override one above the highest
// priority of the other queued runs (or keeps its own, if higher), so it
// is the next run leased. The write transaction holds the database's
// write lock, so no other process queues or moves a run in between.
func (s *Store) MoveRunToTop(ctx context.Context, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		cur, err := runState(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != experiments.StateQueued {
			return experiments.Errorf(experiments.CodeConflict, "run %d is %s, not queued: cannot move it to the top", id, cur)
		}
		var own int
		var top sql.NullInt64
		if err := tx.QueryRowContext(ctx,
			"SELECT priority, (SELECT max(priority) FROM runs WHERE state = 'queued' AND id <> ?1) FROM runs WHERE id = ?1",
			id).Scan(&own, &top); err != nil {
			return internal(fmt.Sprintf("read priorities around run %d", id), err)
		}
		p := own
		if top.Valid && int(top.Int64)+1 > own {
			p = int(top.Int64) + 1
		}
		if _, err := tx.ExecContext(ctx, "UPDATE runs SET priority_override = ?, priority = ? WHERE id = ?", p, p, id); err != nil {
			return internal(fmt.Sprintf("move run %d to the top", id), err)
		}
		return nil
	})
}

// updateQueued runs an UPDATE that applies only to a queued run; when it
// changes nothing, the run is missing (not found) or not queued (conflict).
func (s *Store) updateQueued(ctx context.Context, id int64, what, query string, args ...any) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return internal(fmt.Sprintf("run %d: %s", id, what), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(fmt.Sprintf("run %d: %s", id, what), err)
		} else if n == 1 {
			return nil
		}
		cur, err := runState(ctx, tx, id)
		if err != nil {
			return err
		}
		return experiments.Errorf(experiments.CodeConflict, "run %d is %s, not queued: cannot %s", id, cur, what)
	})
}

func runState(ctx context.Context, q querier, id int64) (experiments.State, error) {
	var cur string
	err := q.QueryRowContext(ctx, "SELECT state FROM runs WHERE id = ?", id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", runNotFound(id)
	}
	if err != nil {
		return "", internal(fmt.Sprintf("read state of run %d", id), err)
	}
	return experiments.State(cur), nil
}

// QueuedRuns returns the queued runs in the order LeaseRun takes them and
// their total (archived ones are not in the queue). Limit 0 means no limit.
func (s *Store) QueuedRuns(ctx context.Context, limit, offset int) ([]*experiments.Run, int, error) {
	if limit < 0 || offset < 0 {
		return nil, 0, invalid("limit and offset must not be negative (got %d, %d)", limit, offset)
	}
	var runs []*experiments.Run
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM runs WHERE state = 'queued' AND archived IS NULL AND "+runExperimentVisible).Scan(&total); err != nil {
			return internal("count queued runs", err)
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+runColumns+" FROM runs INDEXED BY runs_lease WHERE state = 'queued' AND archived IS NULL AND "+runExperimentVisible+" ORDER BY "+leaseOrder+" LIMIT ? OFFSET ?",
			sqlLimit(limit), offset)
		if err != nil {
			return internal("list queued runs", err)
		}
		if runs, err = collectRuns(rows); err != nil {
			return internal("list queued runs", err)
		}
		return fillOutcomes(ctx, tx, runs)
	})
	if err != nil {
		return nil, 0, err
	}
	return runs, total, nil
}

// SetQueuePaused pauses (no run is leased; running runs finish) or resumes
// the queue. It is stored, so a pause holds across restarts.
func (s *Store) SetQueuePaused(ctx context.Context, paused bool) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE queue SET paused = ?, updated = ? WHERE id = 1", paused, now().UnixNano()); err != nil {
			return internal("pause or resume the queue", err)
		}
		return nil
	})
}

// QueuePaused reports whether the queue is paused.
func (s *Store) QueuePaused(ctx context.Context) (bool, error) {
	var paused bool
	if err := s.r.QueryRowContext(ctx, "SELECT paused FROM queue WHERE id = 1").Scan(&paused); err != nil {
		return false, internal("read the queue state", err)
	}
	return paused, nil
}

// RetryRun puts a failed or cancelled run back to queued — same row, same
// parameters and seed — and records how its last attempt ended in
// run_attempts. Its error, worker, times, job and final metrics are
// cleared; its attempt count stays and the next lease raises it. Metric
// points are left to the executor, which drops those past the checkpoint
// it resumes from (all of them when it starts over).
func (s *Store) RetryRun(ctx context.Context, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		cur, err := runState(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != experiments.StateFailed && cur != experiments.StateCancelled {
			return experiments.Errorf(experiments.CodeConflict, "run %d is %s: only failed or cancelled runs can be retried", id, cur)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO run_attempts (run_id, attempt, state, error, worker, started, finished, retried)
			 SELECT id, attempts, state, error, worker, started, finished, ? FROM runs WHERE id = ?`,
			now().UnixNano(), id); err != nil {
			return internal(fmt.Sprintf("record attempt of run %d", id), err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE runs SET state = 'queued', error = '', worker = '', started = NULL, finished = NULL,
			        job_id = '', node = '', slurm_state = '', heartbeat = NULL, worker_pid = 0, token_hash = NULL
			 WHERE id = ?`, id); err != nil {
			return internal(fmt.Sprintf("requeue run %d", id), err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM final_metrics WHERE run_id = ?", id); err != nil {
			return internal(fmt.Sprintf("clear final metrics of run %d", id), err)
		}
		return nil
	})
}

// Attempts lists run id's retried attempts, oldest first.
func (s *Store) Attempts(ctx context.Context, id int64) ([]experiments.Attempt, error) {
	out := []experiments.Attempt{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx,
			"SELECT attempt, state, error, worker, started, finished, retried FROM run_attempts WHERE run_id = ? ORDER BY retried", id)
		if err != nil {
			return internal(fmt.Sprintf("read attempts of run %d", id), err)
		}
		defer rows.Close()
		for rows.Next() {
			var a experiments.Attempt
			var state string
			var started, finished sql.NullInt64
			var retried int64
			if err := rows.Scan(&a.Attempt, &state, &a.Error, &a.Worker, &started, &finished, &retried); err != nil {
				return internal(fmt.Sprintf("read attempts of run %d", id), err)
			}
			a.State, a.Started, a.Finished, a.Retried = experiments.State(state), ptrNanos(started), ptrNanos(finished), fromNanos(retried)
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelQueuedOf cancels every queued run of experiment experimentID in
// one statement and returns their IDs in order; running and finished runs
// are left alone.
func (s *Store) CancelQueuedOf(ctx context.Context, experimentID int64) ([]int64, error) {
	ids := []int64{}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM experiments WHERE id = ?", experimentID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return experimentNotFound(experimentID)
		}
		if err != nil {
			return internal(fmt.Sprintf("look up experiment %d", experimentID), err)
		}
		rows, err := tx.QueryContext(ctx,
			"UPDATE runs SET state = 'cancelled', error = '', finished = ? WHERE experiment_id = ? AND state = 'queued' RETURNING id",
			now().UnixNano(), experimentID)
		if err != nil {
			return internal(fmt.Sprintf("cancel queued runs of experiment %d", experimentID), err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return internal(fmt.Sprintf("cancel queued runs of experiment %d", experimentID), err)
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}
