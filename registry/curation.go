package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"xraylab/experiments"
)

// Curation: tags, rename, archive and purge (experiments.CurationStore).

var _ experiments.CurationStore = (*Store)(nil)

// SetRunTags adds or replaces tags of run id.
func (s *Store) SetRunTags(ctx context.Context, id int64, tags map[string]string) error {
	if err := experiments.CheckTags(tags); err != nil {
		return err
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, id); err != nil {
			return err
		}
		return upsertTags(ctx, tx, "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", id, tags)
	})
}

// SetExperimentTags adds or replaces tags of experiment id.
func (s *Store) SetExperimentTags(ctx context.Context, id int64, tags map[string]string) error {
	if err := experiments.CheckTags(tags); err != nil {
		return err
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := experimentExists(ctx, tx, id); err != nil {
			return err
		}
		return upsertTags(ctx, tx, "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value", id, tags)
	})
}

func upsertTags(ctx context.Context, tx *sql.Tx, query string, id int64, tags map[string]string) error {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, query, id, k, tags[k]); err != nil {
			return internal(fmt.Sprintf("write tag %s", k), err)
		}
	}
	return nil
}

// DeleteRunTag removes one tag of run id.
func (s *Store) DeleteRunTag(ctx context.Context, id int64, key string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, id); err != nil {
			return err
		}
		return deleteTag(ctx, tx, "DELETE FROM run_tags WHERE run_id = ? AND key = ?", id, key, "run")
	})
}

// DeleteExperimentTag removes one tag of experiment id.
func (s *Store) DeleteExperimentTag(ctx context.Context, id int64, key string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := experimentExists(ctx, tx, id); err != nil {
			return err
		}
		return deleteTag(ctx, tx, "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", id, key, "experiment")
	})
}

func deleteTag(ctx context.Context, tx *sql.Tx, query string, id int64, key, what string) error {
	res, err := tx.ExecContext(ctx, query, id, key)
	if err != nil {
		return internal(fmt.Sprintf("delete tag %s of %s %d", key, what, id), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal(fmt.Sprintf("delete tag %s of %s %d", key, what, id), err)
	} else if n == 0 {
		return experiments.Errorf(experiments.CodeNotFound, "%s %d has no tag %q", what, id, key)
	}
	return nil
}

// experimentTags reads an experiment's tags (nil when it has none).
func experimentTags(ctx context.Context, q querier, id int64) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", id)
	if err != nil {
		return nil, internal(fmt.Sprintf("read tags of experiment %d", id), err)
	}
	defer rows.Close()
	var tags map[string]string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, internal(fmt.Sprintf("read tags of experiment %d", id), err)
		}
		if tags == nil {
			tags = map[string]string{}
		}
		tags[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, internal(fmt.Sprintf("read tags of experiment %d", id), err)
	}
	return tags, nil
}

func experimentExists(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM experiments WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return experimentNotFound(id)
	}
	if err != nil {
		return internal(fmt.Sprintf("look up experiment %d", id), err)
	}
	return nil
}

// RenameExperiment gives experiment id a new name. Its runs' params keep
// the name they were submitted under (the record of what ran).
func (s *Store) RenameExperiment(ctx context.Context, id int64, name string) error {
	if err := experiments.CheckExperimentName(name); err != nil {
		return err
	}
	return s.updateOne(ctx, "UPDATE experiments SET name = ? WHERE id = ?", []any{name, id}, experimentNotFound(id))
}

// SetRunArchived archives run id (now) or restores it.
func (s *Store) SetRunArchived(ctx context.Context, id int64, archived bool) error {
	return s.updateOne(ctx, "UPDATE runs SET archived = ? WHERE id = ?", []any{archiveTime(archived), id}, runNotFound(id))
}

// SetExperimentArchived archives experiment id (now) or restores it.
func (s *Store) SetExperimentArchived(ctx context.Context, id int64, archived bool) error {
	return s.updateOne(ctx, "UPDATE experiments SET archived = ? WHERE id = ?", []any{archiveTime(archived), id}, experimentNotFound(id))
}

func archiveTime(archived bool) any {
	if archived {
		return now().UnixNano()
	}
	return nil
}

// updateOne runs an UPDATE of one row by id; missing is the error when
// there is no such row.
func (s *Store) updateOne(ctx context.Context, query string, args []any, missing error) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return internal(missing.Error(), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(missing.Error(), err)
		} else if n == 0 {
			return missing
		}
		return nil
	})
}

// PurgeRun deletes run id and everything recorded about it (metrics,
// artifacts' records, dataset, tags, attempts); a running run is refused.
func (s *Store) PurgeRun(ctx context.Context, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := runState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st == experiments.StateRunning {
			return experiments.Errorf(experiments.CodeConflict, "run %d is running: cancel it before purging it", id)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM runs WHERE id = ?", id); err != nil {
			return internal(fmt.Sprintf("purge run %d", id), err)
		}
		return nil
	})
}

// PurgeExperiment deletes experiment id with its runs and notes and
// returns the runs' IDs; it is refused while any of its runs is running.
func (s *Store) PurgeExperiment(ctx context.Context, id int64) ([]int64, error) {
	ids := []int64{}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := experimentExists(ctx, tx, id); err != nil {
			return err
		}
		var running []int64
		rows, err := tx.QueryContext(ctx, "SELECT id, state FROM runs WHERE experiment_id = ? ORDER BY id", id)
		if err != nil {
			return internal(fmt.Sprintf("read runs of experiment %d", id), err)
		}
		for rows.Next() {
			var rid int64
			var st string
			if err := rows.Scan(&rid, &st); err != nil {
				rows.Close()
				return internal(fmt.Sprintf("read runs of experiment %d", id), err)
			}
			ids = append(ids, rid)
			if experiments.State(st) == experiments.StateRunning {
				running = append(running, rid)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal(fmt.Sprintf("read runs of experiment %d", id), err)
		}
		if len(running) > 0 {
			return experiments.Errorf(experiments.CodeConflict, "experiment %d has %d running run(s) (%s): cancel them before purging it", id, len(running), joinIDs(running))
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM experiments WHERE id = ?", id); err != nil {
			return internal(fmt.Sprintf("purge experiment %d", id), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func joinIDs(ids []int64) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(id)
	}
	return s
}
