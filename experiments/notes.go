package experiments

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Note is a researcher's Markdown note on an experiment's page. Notes carry
// timestamps but no author: the dashboard has no accounts.
type Note struct {
	ID           int64     `json:"id"`
	ExperimentID int64     `json:"experiment_id"`
	Body         string    `json:"body"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// MaxNoteBytes bounds a note's body so a careless paste cannot bloat the
// database that every page of the experiment reads from.
const MaxNoteBytes = 64 << 10

// CheckNoteBody refuses an empty or oversized note body (CodeInvalid,
// CodeTooLarge); the server and the registry both check with it, so
// clients get the same messages whichever refuses.
func CheckNoteBody(body string) error {
	if strings.TrimSpace(body) == "" {
		return Errorf(CodeInvalid, "note body is empty")
	}
	if len(body) > MaxNoteBytes {
		return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("note body is %d bytes; the limit is %d", len(body), MaxNoteBytes)}
	}
	return nil
}

// NoteReader reads an experiment's notes, oldest first, with CodeNotFound
// for a missing experiment (registry.Store implements it).
type NoteReader interface {
	Notes(ctx context.Context, experimentID int64) ([]*Note, error)
}
