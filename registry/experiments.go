package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"xraylab/experiments"
)

// CreateExperiment records e and its runs, all queued, in one transaction.
// It fills e.ID, e.Created, e.Runs and e.Counts, and each run's ID,
// ExperimentID, State (queued), Attempts (0) and Created (e's time).
func (s *Store) CreateExperiment(ctx context.Context, e *experiments.Experiment, runs []*experiments.Run) error {
	if e == nil {
		return invalid("experiment is nil")
	}
	if strings.TrimSpace(e.Name) == "" {
		return invalid("experiment name is empty")
	}
	seen := map[int]bool{}
	for i, r := range runs {
		if r == nil {
			return invalid("experiment %q: run %d is nil", e.Name, i)
		}
		if seen[r.Index] {
			return invalid("experiment %q: run index %d appears twice", e.Name, r.Index)
		}
		seen[r.Index] = true
		if !json.Valid(r.Params) {
			return invalid("experiment %q: run index %d: params are not valid JSON", e.Name, r.Index)
		}
	}

	created := now()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO experiments (name, spec_text, spec_hash, version, created, priority)
			 VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			e.Name, e.SpecText, e.SpecHash, e.Version, created.UnixNano(), e.Priority).Scan(&e.ID)
		if err != nil {
			return internal("insert experiment", err)
		}
		stmt, err := tx.PrepareContext(ctx,
			`INSERT INTO runs (experiment_id, idx, model, params, seed, created, priority)
			 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return internal("prepare run insert", err)
		}
		defer stmt.Close()
		for _, r := range runs {
			if err := stmt.QueryRowContext(ctx, e.ID, r.Index, r.Model, string(r.Params), r.Seed,
				created.UnixNano(), e.Priority).Scan(&r.ID); err != nil {
				return internal(fmt.Sprintf("insert run index %d", r.Index), err)
			}
		}
		return nil
	})
	if err != nil {
		e.ID = 0
		for _, r := range runs {
			r.ID = 0
		}
		return err
	}
	e.Created = created
	e.Runs = len(runs)
	e.Counts = map[experiments.State]int{}
	if len(runs) > 0 {
		e.Counts[experiments.StateQueued] = len(runs)
	}
	e.Best = nil
	for _, r := range runs {
		r.ExperimentID = e.ID
		r.State = experiments.StateQueued
		r.Attempts = 0
		r.Worker, r.Error = "", ""
		r.Created = created
		r.Started, r.Finished = nil, nil
		r.Metrics, r.Dataset = nil, ""
		r.Priority, r.PriorityOverride = e.Priority, nil
	}
	return nil
}

// GetExperiment returns the experiment with its run counts by state, its
// total number of runs and its best test ROC-AUC.
func (s *Store) GetExperiment(ctx context.Context, id int64) (*experiments.Experiment, error) {
	var e *experiments.Experiment
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanExperiment(tx.QueryRowContext(ctx, experimentSelect+" WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return experimentNotFound(id)
		}
		if err != nil {
			return internal(fmt.Sprintf("read experiment %d", id), err)
		}
		return fillSummaries(ctx, tx, []*experiments.Experiment{e})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ListExperiments returns experiments newest first, each with its counts
// and best figure, and the total matching search: a case-insensitive (for
// ASCII) substring of the name, "" for all. limit 0 means no limit.
// Archived experiments are left out (ListExperimentsWhere shows them).
func (s *Store) ListExperiments(ctx context.Context, search string, limit, offset int) ([]*experiments.Experiment, int, error) {
	return s.ListExperimentsWhere(ctx, experiments.ExperimentFilter{Search: search, Limit: limit, Offset: offset})
}

// ListExperimentsWhere lists the experiments f selects, newest first.
func (s *Store) ListExperimentsWhere(ctx context.Context, f experiments.ExperimentFilter) ([]*experiments.Experiment, int, error) {
	if f.Limit < 0 || f.Offset < 0 {
		return nil, 0, invalid("limit and offset must not be negative (got %d, %d)", f.Limit, f.Offset)
	}
	var conds []string
	args := []any{}
	if f.Search != "" {
		conds = append(conds, `name LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(f.Search)+"%")
	}
	switch f.Archived {
	case experiments.ArchivedHidden:
		conds = append(conds, "archived IS NULL")
	case experiments.ArchivedOnly:
		conds = append(conds, "archived IS NOT NULL")
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var list []*experiments.Experiment
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM experiments"+where, args...).Scan(&total); err != nil {
			return internal("count experiments", err)
		}
		rows, err := tx.QueryContext(ctx,
			experimentSelect+where+" ORDER BY id DESC LIMIT ? OFFSET ?",
			append(args, sqlLimit(f.Limit), f.Offset)...)
		if err != nil {
			return internal("list experiments", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanExperiment(rows)
			if err != nil {
				return internal("list experiments", err)
			}
			list = append(list, e)
		}
		if err := rows.Err(); err != nil {
			return internal("list experiments", err)
		}
		return fillSummaries(ctx, tx, list)
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

const experimentSelect = `SELECT id, name, spec_text, spec_hash, version, created, priority, archived FROM experiments`

type scanner interface{ Scan(dest ...any) error }

func scanExperiment(sc scanner) (*experiments.Experiment, error) {
	var e experiments.Experiment
	var created int64
	var archived sql.NullInt64
	if err := sc.Scan(&e.ID, &e.Name, &e.SpecText, &e.SpecHash, &e.Version, &created, &e.Priority, &archived); err != nil {
		return nil, err
	}
	e.Created = fromNanos(created)
	e.Archived = ptrNanos(archived)
	return &e, nil
}

// countsSQL and bestSQL leave archived runs out.
const countsSQL = `SELECT state, count(*) FROM runs WHERE experiment_id = ? AND archived IS NULL GROUP BY state`

// bestSQL finds the highest image-level test ROC-AUC of a succeeded run: a
// final metric "test/<score>/roc_auc" (no further "/" in <score>: study-
// and pixel-level keys have more segments). The key range
// 'test/' <= key < 'test0' ('0' follows '/') lets the primary key narrow
// the scan; NaN values are stored as NULL and never win; ties go to the
// lowest run id, then the first key.
const bestSQL = `
	SELECT f.run_id, f.key, f.value
	FROM runs r JOIN final_metrics f ON f.run_id = r.id
	WHERE r.experiment_id = ? AND r.state = 'succeeded' AND r.archived IS NULL
	  AND f.key >= 'test/' AND f.key < 'test0'
	  AND substr(f.key, -8) = '/roc_auc'
	  AND instr(substr(f.key, 6, length(f.key) - 13), '/') = 0
	  AND f.value IS NOT NULL
	ORDER BY f.value DESC, f.run_id, f.key
	LIMIT 1`

// fillSummaries sets Counts, Runs, Best and Tags of each experiment.
func fillSummaries(ctx context.Context, q querier, list []*experiments.Experiment) error {
	for _, e := range list {
		tags, err := experimentTags(ctx, q, e.ID)
		if err != nil {
			return err
		}
		e.Tags = tags
		e.Counts = map[experiments.State]int{}
		e.Runs = 0
		rows, err := q.QueryContext(ctx, countsSQL, e.ID)
		if err != nil {
			return internal(fmt.Sprintf("count runs of experiment %d", e.ID), err)
		}
		for rows.Next() {
			var st string
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				rows.Close()
				return internal(fmt.Sprintf("count runs of experiment %d", e.ID), err)
			}
			e.Counts[experiments.State(st)] = n
			e.Runs += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal(fmt.Sprintf("count runs of experiment %d", e.ID), err)
		}

		var b experiments.BestFigure
		err = q.QueryRowContext(ctx, bestSQL, e.ID).Scan(&b.RunID, &b.Key, &b.Value)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			e.Best = nil
		case err != nil:
			return internal(fmt.Sprintf("best figure of experiment %d", e.ID), err)
		default:
			e.Best = &b
		}
	}
	return nil
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// sqlLimit maps "0 = no limit" to SQLite's "-1 = no limit".
func sqlLimit(limit int) int {
	if limit == 0 {
		return -1
	}
	return limit
}
