package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"xraylab/experiments"
)

// Notes on experiments (experiments.Note): the researcher's Markdown that
// the dashboard and the HTML report show.

var _ experiments.NoteReader = (*Store)(nil)

// AddNote adds a note to an experiment and returns it with its ID and times.
func (s *Store) AddNote(ctx context.Context, experimentID int64, body string) (*experiments.Note, error) {
	if err := experiments.CheckNoteBody(body); err != nil {
		return nil, err
	}
	n := &experiments.Note{ExperimentID: experimentID, Body: body, Created: now()}
	n.Updated = n.Created
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM experiments WHERE id = ?", experimentID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return experimentNotFound(experimentID)
		}
		if err != nil {
			return internal(fmt.Sprintf("look up experiment %d", experimentID), err)
		}
		err = tx.QueryRowContext(ctx,
			"INSERT INTO notes (experiment_id, body, created, updated) VALUES (?, ?, ?, ?) RETURNING id",
			experimentID, body, n.Created.UnixNano(), n.Updated.UnixNano()).Scan(&n.ID)
		if err != nil {
			return internal(fmt.Sprintf("add note to experiment %d", experimentID), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// UpdateNote replaces a note's body and returns the note as it now is.
func (s *Store) UpdateNote(ctx context.Context, id int64, body string) (*experiments.Note, error) {
	if err := experiments.CheckNoteBody(body); err != nil {
		return nil, err
	}
	var n *experiments.Note
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = scanNote(tx.QueryRowContext(ctx,
			"UPDATE notes SET body = ?, updated = ? WHERE id = ? RETURNING "+noteColumns,
			body, now().UnixNano(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return experiments.Errorf(experiments.CodeNotFound, "note %d not found", id)
		}
		if err != nil {
			return internal(fmt.Sprintf("update note %d", id), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// DeleteNote removes a note.
func (s *Store) DeleteNote(ctx context.Context, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM notes WHERE id = ?", id)
		if err != nil {
			return internal(fmt.Sprintf("delete note %d", id), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal(fmt.Sprintf("delete note %d", id), err)
		} else if n == 0 {
			return experiments.Errorf(experiments.CodeNotFound, "note %d not found", id)
		}
		return nil
	})
}

// Notes returns an experiment's notes oldest first; CodeNotFound for a
// missing experiment.
func (s *Store) Notes(ctx context.Context, experimentID int64) ([]*experiments.Note, error) {
	out := []*experiments.Note{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM experiments WHERE id = ?", experimentID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return experimentNotFound(experimentID)
		}
		if err != nil {
			return internal(fmt.Sprintf("look up experiment %d", experimentID), err)
		}
		rows, err := tx.QueryContext(ctx,
			"SELECT "+noteColumns+" FROM notes WHERE experiment_id = ? ORDER BY id", experimentID)
		if err != nil {
			return internal(fmt.Sprintf("read notes of experiment %d", experimentID), err)
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNote(rows)
			if err != nil {
				return internal(fmt.Sprintf("read notes of experiment %d", experimentID), err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			return internal(fmt.Sprintf("read notes of experiment %d", experimentID), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const noteColumns = "id, experiment_id, body, created, updated"

func scanNote(sc scanner) (*experiments.Note, error) {
	var n experiments.Note
	var created, updated int64
	if err := sc.Scan(&n.ID, &n.ExperimentID, &n.Body, &created, &updated); err != nil {
		return nil, err
	}
	n.Created, n.Updated = fromNanos(created), fromNanos(updated)
	return &n, nil
}
