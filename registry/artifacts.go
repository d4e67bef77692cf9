package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"xraylab/experiments"
)

// AddArtifact records a file a run produced and fills a.ID (and a.Created
// when zero). Adding a name the run already has replaces that record,
// keeping its ID, as rewriting the file on disk does. The name must be a
// slash-separated path inside the run's folder: no "..", no leading "/".
func (s *Store) AddArtifact(ctx context.Context, a *experiments.Artifact) error {
	if a == nil {
		return invalid("artifact is nil")
	}
	if a.Name == "" || a.Name == "." || !fs.ValidPath(a.Name) || strings.Contains(a.Name, `\`) {
		return invalid("run %d: artifact name %q must be a slash-separated path inside the run's folder (no \"..\", no leading \"/\")", a.RunID, a.Name)
	}
	if a.Kind == "" {
		return invalid("run %d: artifact %q has an empty kind", a.RunID, a.Name)
	}
	if a.Size < 0 {
		return invalid("run %d: artifact %q has a negative size %d", a.RunID, a.Name, a.Size)
	}
	if !isSHA256Hex(a.SHA256) {
		return invalid("run %d: artifact %q: sha256 %q is not 64 lower-case hex digits", a.RunID, a.Name, a.SHA256)
	}
	created := a.Created.UTC()
	if a.Created.IsZero() {
		created = now()
	}
	createdNanos, err := nanos(created)
	if err != nil {
		return invalid("run %d: artifact %q: %v", a.RunID, a.Name, err)
	}
	var id int64
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, a.RunID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO artifacts (run_id, name, kind, size, sha256, created) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, name) DO UPDATE
			SET kind = excluded.kind, size = excluded.size, sha256 = excluded.sha256, created = excluded.created
			RETURNING id`, a.RunID, a.Name, a.Kind, a.Size, a.SHA256, createdNanos).Scan(&id)
		if err != nil {
			return internal(fmt.Sprintf("run %d: record artifact %q", a.RunID, a.Name), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.ID = id
	a.Created = created
	return nil
}

// Artifacts returns a run's artifacts ordered by name; CodeNotFound for a
// missing run.
func (s *Store) Artifacts(ctx context.Context, runID int64) ([]*experiments.Artifact, error) {
	out := []*experiments.Artifact{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx,
			"SELECT id, run_id, name, kind, size, sha256, created FROM artifacts WHERE run_id = ? ORDER BY name", runID)
		if err != nil {
			return internal(fmt.Sprintf("read artifacts of run %d", runID), err)
		}
		defer rows.Close()
		for rows.Next() {
			var a experiments.Artifact
			var created int64
			if err := rows.Scan(&a.ID, &a.RunID, &a.Name, &a.Kind, &a.Size, &a.SHA256, &created); err != nil {
				return internal(fmt.Sprintf("read artifacts of run %d", runID), err)
			}
			a.Created = fromNanos(created)
			out = append(out, &a)
		}
		if err := rows.Err(); err != nil {
			return internal(fmt.Sprintf("read artifacts of run %d", runID), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetDataset records (or replaces) what data the run used. The summary, if
// given, must be valid JSON.
func (s *Store) SetDataset(ctx context.Context, runID int64, d experiments.DatasetRecord) error {
	if d.Fingerprint == "" {
		return invalid("run %d: dataset fingerprint is empty", runID)
	}
	var summary any // NULL when absent
	if len(d.Summary) > 0 {
		if !json.Valid(d.Summary) {
			return invalid("run %d: dataset summary is not valid JSON", runID)
		}
		summary = string(d.Summary)
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO datasets (run_id, fingerprint, summary) VALUES (?, ?, ?)
			ON CONFLICT (run_id) DO UPDATE SET fingerprint = excluded.fingerprint, summary = excluded.summary`,
			runID, d.Fingerprint, summary); err != nil {
			return internal(fmt.Sprintf("run %d: record dataset", runID), err)
		}
		return nil
	})
}

// Dataset returns the run's dataset record; CodeNotFound when the run is
// missing or has recorded none.
func (s *Store) Dataset(ctx context.Context, runID int64) (*experiments.DatasetRecord, error) {
	var d experiments.DatasetRecord
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var summary sql.NullString
		err := tx.QueryRowContext(ctx, "SELECT fingerprint, summary FROM datasets WHERE run_id = ?", runID).
			Scan(&d.Fingerprint, &summary)
		if errors.Is(err, sql.ErrNoRows) {
			if err := runExists(ctx, tx, runID); err != nil {
				return err
			}
			return experiments.Errorf(experiments.CodeNotFound, "run %d has no dataset record", runID)
		}
		if err != nil {
			return internal(fmt.Sprintf("read dataset of run %d", runID), err)
		}
		if summary.Valid {
			d.Summary = json.RawMessage(summary.String)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
