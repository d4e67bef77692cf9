package experiments

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Curation: tags on runs and experiments, renaming an experiment,
// archiving (hide, restorable) and purging (delete for good).

// ArchivedMode says whether a listing shows archived experiments and runs.
type ArchivedMode int

const (
	ArchivedHidden   ArchivedMode = iota // the default: leave them out
	ArchivedIncluded                     // show them with the others
	ArchivedOnly                         // show only them
)

// ExperimentFilter selects experiments: Search is a case-insensitive (for
// ASCII) substring of the name; Limit 0 = no limit.
type ExperimentFilter struct {
	Search   string
	Archived ArchivedMode
	Limit    int
	Offset   int
}

// CurationStore is the persistence of curation.
type CurationStore interface {
	// ListExperimentsWhere is ListExperiments with the archive choice.
	ListExperimentsWhere(ctx context.Context, f ExperimentFilter) ([]*Experiment, int, error)
	// SetRunTags adds or replaces tags of a run; DeleteRunTag removes one
	// (CodeNotFound when the run lacks it). The same for experiments.
	SetRunTags(ctx context.Context, runID int64, tags map[string]string) error
	DeleteRunTag(ctx context.Context, runID int64, key string) error
	SetExperimentTags(ctx context.Context, id int64, tags map[string]string) error
	DeleteExperimentTag(ctx context.Context, id int64, key string) error
	RenameExperiment(ctx context.Context, id int64, name string) error
	// SetRunArchived archives (true) or restores a run; archived runs are
	// never leased. SetExperimentArchived does so for an experiment, which
	// hides its runs and keeps them from the queue.
	SetRunArchived(ctx context.Context, id int64, archived bool) error
	SetExperimentArchived(ctx context.Context, id int64, archived bool) error
	// PurgeRun deletes a run with everything recorded about it;
	// PurgeExperiment deletes an experiment and its runs and returns
	// their IDs. A running run refuses it (CodeConflict). Files on disk are
	// the caller's to remove.
	PurgeRun(ctx context.Context, id int64) error
	PurgeExperiment(ctx context.Context, id int64) ([]int64, error)
}

// Tag limits: keys name things in filters (tags.<key>), values are short
// labels.
const (
	MaxTagKey   = 100
	MaxTagValue = 1000
	MaxTags     = 100 // per request
)

// CheckTagKey accepts letters, digits and _ . - / : (1 to MaxTagKey bytes).
func CheckTagKey(k string) error {
	if k == "" || len(k) > MaxTagKey {
		return Errorf(CodeInvalid, "tag key %q: must be 1 to %d characters", k, MaxTagKey)
	}
	for _, r := range k {
		if !(r < utf8.RuneSelf && (r == '_' || r == '.' || r == '-' || r == '/' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))) {
			return Errorf(CodeInvalid, "tag key %q: only letters, digits and _ . - / : are allowed", k)
		}
	}
	return nil
}

// CheckTagValue accepts text of at most MaxTagValue bytes without control
// characters.
func CheckTagValue(k, v string) error {
	if len(v) > MaxTagValue {
		return Errorf(CodeInvalid, "tag %s: the value is longer than %d bytes", k, MaxTagValue)
	}
	if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return Errorf(CodeInvalid, "tag %s: the value must be text without control characters", k)
	}
	return nil
}

// CheckTags checks a set of tags to write.
func CheckTags(tags map[string]string) error {
	if len(tags) == 0 {
		return Errorf(CodeInvalid, "no tags given")
	}
	if len(tags) > MaxTags {
		return Errorf(CodeInvalid, "%d tags in one request; at most %d", len(tags), MaxTags)
	}
	for k, v := range tags {
		if err := CheckTagKey(k); err != nil {
			return err
		}
		if err := CheckTagValue(k, v); err != nil {
			return err
		}
	}
	return nil
}

// CheckExperimentName applies the spec's rule for experiment names to a
// rename.
func CheckExperimentName(name string) error {
	if !validName(name) {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("experiment name %q: use 1 to 64 letters, digits, '-', '_' or '.'", name)}
	}
	return nil
}
