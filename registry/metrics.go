package registry

import (
	"context"
	"database/sql"
	"fmt"

	"xraylab/experiments"
)

// AppendMetrics writes points in one transaction. A point whose key and
// step already exist for the run replaces the stored one, so a run that
// resumes and rewrites a step never doubles it. NaN values are kept (as
// NULL) and read back as NaN; a zero Time is stored as "no time".
func (s *Store) AppendMetrics(ctx context.Context, runID int64, points []experiments.MetricPoint) error {
	times := make([]any, len(points))
	for i, p := range points {
		if p.Key == "" {
			return invalid("run %d: metric point %d has an empty key", runID, i)
		}
		if p.Step < 0 || p.Epoch < 0 {
			return invalid("run %d: metric %q point %d: step and epoch must not be negative (got %d, %d)", runID, p.Key, i, p.Step, p.Epoch)
		}
		t, err := nanos(p.Time)
		if err != nil {
			return invalid("run %d: metric %q step %d: %v", runID, p.Key, p.Step, err)
		}
		times[i] = t
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO metrics (run_id, key, step, epoch, value, time) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, key, step) DO UPDATE
			SET epoch = excluded.epoch, value = excluded.value, time = excluded.time`)
		if err != nil {
			return internal("prepare metric insert", err)
		}
		defer stmt.Close()
		for i, p := range points {
			if _, err := stmt.ExecContext(ctx, runID, p.Key, p.Step, p.Epoch, p.Value, times[i]); err != nil {
				return internal(fmt.Sprintf("run %d: write metric %q step %d", runID, p.Key, p.Step), err)
			}
		}
		return nil
	})
}

// Metrics returns a run's series ordered by key then step; all keys when
// key is "". A run without points gives an empty slice; a missing run
// gives CodeNotFound.
func (s *Store) Metrics(ctx context.Context, runID int64, key string) ([]experiments.MetricPoint, error) {
	q := "SELECT key, step, epoch, value, time FROM metrics WHERE run_id = ?"
	args := []any{runID}
	if key != "" {
		q += " AND key = ?"
		args = append(args, key)
	}
	q += " ORDER BY key, step"
	out := []experiments.MetricPoint{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return internal(fmt.Sprintf("read metrics of run %d", runID), err)
		}
		defer rows.Close()
		for rows.Next() {
			var p experiments.MetricPoint
			var v sql.NullFloat64
			var t sql.NullInt64
			if err := rows.Scan(&p.Key, &p.Step, &p.Epoch, &v, &t); err != nil {
				return internal(fmt.Sprintf("read metrics of run %d", runID), err)
			}
			p.Value = fromNullFloat(v)
			p.Time = fromNullNanos(t)
			out = append(out, p)
		}
		if err := rows.Err(); err != nil {
			return internal(fmt.Sprintf("read metrics of run %d", runID), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteMetricsAfter removes the run's points of epochs after epoch, so a
// run resuming from the checkpoint of that epoch writes the later ones
// afresh.
func (s *Store) DeleteMetricsAfter(ctx context.Context, runID int64, epoch int) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM metrics WHERE run_id = ? AND epoch > ?", runID, epoch); err != nil {
			return internal(fmt.Sprintf("delete metrics of run %d after epoch %d", runID, epoch), err)
		}
		return nil
	})
}

// SetFinalMetrics replaces the run's final metrics with metrics (an empty
// map clears them).
func (s *Store) SetFinalMetrics(ctx context.Context, runID int64, metrics map[string]float64) error {
	for k := range metrics {
		if k == "" {
			return invalid("run %d: final metric with an empty key", runID)
		}
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM final_metrics WHERE run_id = ?", runID); err != nil {
			return internal(fmt.Sprintf("clear final metrics of run %d", runID), err)
		}
		if len(metrics) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO final_metrics (run_id, key, value) VALUES (?, ?, ?)")
		if err != nil {
			return internal("prepare final metric insert", err)
		}
		defer stmt.Close()
		for k, v := range metrics {
			if _, err := stmt.ExecContext(ctx, runID, k, v); err != nil {
				return internal(fmt.Sprintf("run %d: write final metric %q", runID, k), err)
			}
		}
		return nil
	})
}
