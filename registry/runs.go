package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"xraylab/experiments"
	"xraylab/experiments/search"
)

// runColumns ends in the run's priority override, its effective priority
// (the override, else its experiment's) and its archive time.
const runColumns = `id, experiment_id, idx, model, params, seed, state, attempts, worker, error, created, started, finished, priority_override, priority, archived`

func scanRun(sc scanner) (*experiments.Run, error) {
	var r experiments.Run
	var params, state string
	var created int64
	var started, finished, override, archived sql.NullInt64
	if err := sc.Scan(&r.ID, &r.ExperimentID, &r.Index, &r.Model, &params, &r.Seed, &state,
		&r.Attempts, &r.Worker, &r.Error, &created, &started, &finished, &override, &r.Priority, &archived); err != nil {
		return nil, err
	}
	if override.Valid {
		p := int(override.Int64)
		r.PriorityOverride = &p
	}
	r.Params = []byte(params)
	r.State = experiments.State(state)
	r.Created = fromNanos(created)
	r.Started = ptrNanos(started)
	r.Finished = ptrNanos(finished)
	r.Archived = ptrNanos(archived)
	return &r, nil
}

func collectRuns(rows *sql.Rows) ([]*experiments.Run, error) {
	defer rows.Close()
	var out []*experiments.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// fillOutcomes sets each run's final Metrics, Dataset fingerprint and Tags, in
// chunks that stay far below SQLite's limit on bound parameters.
func fillOutcomes(ctx context.Context, q querier, runs []*experiments.Run) error {
	const chunk = 500
	for start := 0; start < len(runs); start += chunk {
		part := runs[start:min(start+chunk, len(runs))]
		byID := make(map[int64]*experiments.Run, len(part))
		ids := make([]any, len(part))
		for i, r := range part {
			byID[r.ID] = r
			ids[i] = r.ID
			r.Metrics, r.Dataset, r.Tags = nil, "", nil
		}
		in := "(" + placeholders(len(part)) + ")"

		rows, err := q.QueryContext(ctx, "SELECT run_id, key, value FROM final_metrics WHERE run_id IN "+in, ids...)
		if err != nil {
			return internal("read final metrics", err)
		}
		for rows.Next() {
			var id int64
			var key string
			var v sql.NullFloat64
			if err := rows.Scan(&id, &key, &v); err != nil {
				rows.Close()
				return internal("read final metrics", err)
			}
			r := byID[id]
			if r.Metrics == nil {
				r.Metrics = map[string]float64{}
			}
			r.Metrics[key] = fromNullFloat(v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal("read final metrics", err)
		}

		rows, err = q.QueryContext(ctx, "SELECT run_id, fingerprint FROM datasets WHERE run_id IN "+in, ids...)
		if err != nil {
			return internal("read dataset fingerprints", err)
		}
		for rows.Next() {
			var id int64
			var fp string
			if err := rows.Scan(&id, &fp); err != nil {
				rows.Close()
				return internal("read dataset fingerprints", err)
			}
			byID[id].Dataset = fp
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal("read dataset fingerprints", err)
		}

		rows, err = q.QueryContext(ctx, "SELECT run_id, key, value FROM run_tags WHERE run_id IN "+in, ids...)
		if err != nil {
			return internal("read run tags", err)
		}
		for rows.Next() {
			var id int64
			var k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				rows.Close()
				return internal("read run tags", err)
			}
			r := byID[id]
			if r.Tags == nil {
				r.Tags = map[string]string{}
			}
			r.Tags[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal("read run tags", err)
		}
	}
	return nil
}

// GetRun returns a run with its final metrics and dataset fingerprint.
func (s *Store) GetRun(ctx context.Context, id int64) (*experiments.Run, error) {
	var r *experiments.Run
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return runNotFound(id)
		}
		if err != nil {
			return internal(fmt.Sprintf("read run %d", id), err)
		}
		return fillOutcomes(ctx, tx, []*experiments.Run{r})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ListRuns returns the runs matching f in ID order, with their final
// metrics and dataset fingerprints, and the total number matching f.
// Limit 0 means no limit.
func (s *Store) ListRuns(ctx context.Context, f experiments.RunFilter) ([]*experiments.Run, int, error) {
	if f.Limit < 0 || f.Offset < 0 {
		return nil, 0, invalid("limit and offset must not be negative (got %d, %d)", f.Limit, f.Offset)
	}
	if f.State != "" && !f.State.Valid() {
		return nil, 0, invalid("unknown run state %q; known: %s", f.State, stateList())
	}
	q, err := runQueries(f)
	if err != nil {
		return nil, 0, err
	}
	var runs []*experiments.Run
	var total int
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, q.countSQL, q.args...).Scan(&total); err != nil {
			return internal("count runs", err)
		}
		var err error
		if q.metric != "" {
			runs, err = metricPage(ctx, tx, q, f.Limit, f.Offset)
		} else {
			runs, err = queryRuns(ctx, tx, q.pageSQL, append(append(q.args, q.orderArgs...), sqlLimit(f.Limit), f.Offset)...)
		}
		if err != nil {
			return err
		}
		return fillOutcomes(ctx, tx, runs)
	})
	if err != nil {
		return nil, 0, err
	}
	return runs, total, nil
}

func queryRuns(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]*experiments.Run, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, internal("list runs", err)
	}
	runs, err := collectRuns(rows)
	if err != nil {
		return nil, internal("list runs", err)
	}
	return runs, nil
}

// runQuery is ListRuns' SQL for a filter: the WHERE clause and its
// arguments, the count, and the page in order (ORDER BY arguments come
// after args, then LIMIT and OFFSET). metric is set when the order is a
// final metric, which metricPage serves instead of pageSQL.
type runQuery struct {
	where     string
	args      []any
	countSQL  string
	pageSQL   string
	orderArgs []any
	metric    string
	desc      bool
}

// runQueries builds ListRuns' queries for f. A search filter or order
// that does not parse is CodeInvalid with its position.
func runQueries(f experiments.RunFilter) (runQuery, error) {
	var q runQuery
	var conds []string
	if f.ExperimentID != 0 {
		conds, q.args = append(conds, "experiment_id = ?"), append(q.args, f.ExperimentID)
	}
	if f.State != "" {
		conds, q.args = append(conds, "state = ?"), append(q.args, string(f.State))
	}
	if f.Model != "" {
		conds, q.args = append(conds, "model = ?"), append(q.args, f.Model)
	}
	if f.Filter != "" {
		cond, fargs, err := compileFilter(f.Filter)
		if err != nil {
			return q, err
		}
		if cond != "" {
			conds, q.args = append(conds, cond), append(q.args, fargs...)
		}
	}
	order, oargs, o, err := compileOrder(f.OrderBy)
	if err != nil {
		return q, err
	}
	if o != nil && o.Key.Kind == search.Metric {
		q.metric, q.desc = o.Key.Name, o.Desc
	}
	// Archive conditions carry no arguments: a list with no other filter
	// still reads every run, in id order.
	switch f.Archived {
	case experiments.ArchivedHidden:
		conds = append(conds, "archived IS NULL", runExperimentVisible)
	case experiments.ArchivedOnly:
		conds = append(conds, "(archived IS NOT NULL OR NOT "+runExperimentVisible+")")
	}
	if len(conds) > 0 {
		q.where = " WHERE " + strings.Join(conds, " AND ")
	}
	q.countSQL = "SELECT count(*) FROM runs" + q.where
	q.pageSQL = "SELECT " + runColumns + " FROM runs" + q.where + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	q.orderArgs = oargs
	return q, nil
}

// metricPage reads a page ordered by a final metric in two steps, so that
// the common case reads only the page: first the runs that have the
// metric, in the order of the index final_metrics_key_value (value, then
// run id, both in the asked direction: no sort), then, when the page
// reaches past them, the runs without it (or with NaN) in id order.
func metricPage(ctx context.Context, tx *sql.Tx, q runQuery, limit, offset int) ([]*experiments.Run, error) {
	withSQL, countSQL, withoutSQL := metricPageSQL(q)
	args := append([]any{q.metric}, q.args...)
	with, err := queryRuns(ctx, tx, withSQL, append(args, sqlLimit(limit), offset)...)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(with) == limit {
		return with, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, countSQL, args...).Scan(&n); err != nil {
		return nil, internal("count runs with a metric", err)
	}
	rest := -1
	if limit > 0 {
		rest = limit - len(with)
	}
	more, err := queryRuns(ctx, tx, withoutSQL, append(append([]any{q.metric}, q.args...), rest, max(0, offset-n))...)
	if err != nil {
		return nil, err
	}
	return append(with, more...), nil
}

// metricPageSQL builds metricPage's queries: the page of runs with the
// metric, their count, and the page of runs without it. Each takes the
// metric's key first, then q.args (and the pages LIMIT and OFFSET).
func metricPageSQL(q runQuery) (withSQL, countSQL, withoutSQL string) {
	dir := " ASC"
	if q.desc {
		dir = " DESC"
	}
	join := " FROM final_metrics f INDEXED BY final_metrics_key_value JOIN runs ON runs.id = f.run_id"
	has := "f.key = ? AND f.value IS NOT NULL"
	rest := ""
	if q.where != "" {
		rest = " AND " + strings.TrimPrefix(q.where, " WHERE ")
	}
	withSQL = "SELECT " + qualified(runColumns) + join + " WHERE " + has + rest + " ORDER BY f.value" + dir + ", f.run_id" + dir + " LIMIT ? OFFSET ?"
	countSQL = "SELECT count(*)" + join + " WHERE " + has + rest
	withoutSQL = "SELECT " + runColumns + " FROM runs WHERE NOT EXISTS (SELECT 1 FROM final_metrics f WHERE f.run_id = runs.id AND " + has + ")" +
		rest + " ORDER BY runs.id LIMIT ? OFFSET ?"
	return withSQL, countSQL, withoutSQL
}

// qualified prefixes each of runColumns with runs.
func qualified(cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = "runs." + p
	}
	return strings.Join(parts, ", ")
}

// runExperimentVisible holds for a run whose experiment is not archived
// (a lookup by the experiment's primary key).
const runExperimentVisible = `(SELECT archived FROM experiments WHERE experiments.id = runs.experiment_id) IS NULL`

// leaseSQL picks and leases in one statement; %s narrows the pick to some
// experiments when asked. The pick is the first queued run in lease order
// (leaseOrder), and none while the queue is paused; archived runs and
// runs of archived experiments are skipped. INDEXED BY keeps the
// pick on runs_lease, which yields queued runs already in that order, even
// when an experiment filter makes another index look cheaper.
//
// An ensemble run (params $.ensemble.members) is not picked while any of
// its member runs — by index in its own experiment, or by id — is queued
// or running; once all have ended it is leased, and its executor fails it
// if one did not succeed.
const leaseSQL = `
	UPDATE runs SET state = 'running', worker = ?, started = ?, finished = NULL,
	                error = '', attempts = attempts + 1
	WHERE id = (SELECT id FROM runs AS q INDEXED BY runs_lease WHERE state = 'queued'%s
	            AND (SELECT paused FROM queue WHERE id = 1) = 0
	            AND NOT EXISTS (SELECT 1 FROM json_each(q.params, '$.ensemble.members') AS m
	                WHERE (SELECT state FROM runs WHERE id = json_extract(m.value, '$.run')) IN ('queued', 'running')
	                   OR (SELECT state FROM runs WHERE experiment_id = q.experiment_id
	                          AND idx = json_extract(m.value, '$.index')) IN ('queued', 'running'))
	            AND q.archived IS NULL
	            AND (SELECT archived FROM experiments WHERE experiments.id = q.experiment_id) IS NULL
	            ORDER BY ` + leaseOrder + ` LIMIT 1)
	RETURNING ` + runColumns

// leaseOrder is the order queued runs are leased in: highest effective
// priority first, then the oldest (runs.priority is the effective one).
const leaseOrder = `priority DESC, id`

// LeaseRun moves the first queued run in lease order — highest effective
// priority, then oldest — (of the given experiments, or of any when none
// are given) to running for worker, sets its start time and raises its
// attempt count; (nil, nil) when none is queued or the queue is paused.
// The pick and the update are one statement under the write lock, so two
// workers — even in two processes — never get the same run.
func (s *Store) LeaseRun(ctx context.Context, worker string, experimentIDs ...int64) (*experiments.Run, error) {
	if worker == "" {
		return nil, invalid("lease: worker name is empty")
	}
	args := []any{worker, now().UnixNano()}
	filter := ""
	if len(experimentIDs) > 0 {
		filter = " AND experiment_id IN (?" + strings.Repeat(", ?", len(experimentIDs)-1) + ")"
		for _, id := range experimentIDs {
			args = append(args, id)
		}
	}
	query := fmt.Sprintf(leaseSQL, filter)
	var r *experiments.Run
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// Stamped once the writer is held, so a run's start never precedes
		// the commit of whatever made it leasable (an ensemble's members).
		args[1] = now().UnixNano()
		var err error
		r, err = scanRun(tx.QueryRowContext(ctx, query, args...))
		if errors.Is(err, sql.ErrNoRows) {
			r = nil
			return nil
		}
		if err != nil {
			return internal("lease run", err)
		}
		// A requeued run may already hold a dataset record or final metrics.
		return fillOutcomes(ctx, tx, []*experiments.Run{r})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// FinishRun moves a running run to a terminal state, recording message
// (the error of a failed run; may be empty) and the finish time.
func (s *Store) FinishRun(ctx context.Context, id int64, state experiments.State, message string) error {
	if !state.Terminal() {
		return invalid("run %d: cannot finish as %q: not a terminal state (succeeded, failed, cancelled)", id, state)
	}
	return s.transition(ctx, id, experiments.StateRunning, state, message)
}

// CancelQueued cancels a queued run. A run in any other state gives
// CodeConflict (a running run is cancelled through the runner, which ends
// it with FinishRun).
func (s *Store) CancelQueued(ctx context.Context, id int64) error {
	return s.transition(ctx, id, experiments.StateQueued, experiments.StateCancelled, "")
}

// transition moves run id from state from to the terminal state to.
func (s *Store) transition(ctx context.Context, id int64, from, to experiments.State, message string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE runs SET state = ?, error = ?, finished = ? WHERE id = ? AND state = ?",
			string(to), message, now().UnixNano(), id, string(from))
		if err != nil {
			return internal(fmt.Sprintf("move run %d to %s", id, to), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(fmt.Sprintf("move run %d to %s", id, to), err)
		} else if n == 1 {
			return nil
		}
		var cur string
		err = tx.QueryRowContext(ctx, "SELECT state FROM runs WHERE id = ?", id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return runNotFound(id)
		}
		if err != nil {
			return internal(fmt.Sprintf("read state of run %d", id), err)
		}
		return experiments.Errorf(experiments.CodeConflict, "run %d is %s, not %s", id, cur, from)
	})
}

// RequeueRunning puts every running run back to queued, clearing its
// worker and start time but keeping its attempt count (the next lease
// raises it), and returns those runs, in ID order, as they now are.
func (s *Store) RequeueRunning(ctx context.Context) ([]*experiments.Run, error) {
	var runs []*experiments.Run
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			"UPDATE runs SET state = 'queued', worker = '', started = NULL WHERE state = 'running' RETURNING "+runColumns)
		if err != nil {
			return internal("requeue running runs", err)
		}
		if runs, err = collectRuns(rows); err != nil {
			return internal("requeue running runs", err)
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
		return fillOutcomes(ctx, tx, runs)
	})
	if err != nil {
		return nil, err
	}
	return runs, nil
}

func stateList() string {
	names := make([]string, len(experiments.States))
	for i, s := range experiments.States {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
