package experiments

import (
	"context"
	"encoding/json"
	"time"
)

// State is a run's place in its life: queued → running → succeeded | failed
// | cancelled. A running run whose process died goes back to queued.
type State string

const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// States lists every state in display order.
var States = []State{StateQueued, StateRunning, StateSucceeded, StateFailed, StateCancelled}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Terminal reports whether a run in state s is finished for good.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Experiment is one submitted experiment: its spec text and hash, the binary
// that accepted it, and (when read back) its runs' counts by state.
type Experiment struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	SpecText string        `json:"spec"`
	SpecHash string        `json:"spec_hash"`
	Version  string        `json:"version"`
	Created  time.Time     `json:"created"`
	Counts   map[State]int `json:"counts,omitempty"`
	Runs     int           `json:"runs"`
	Best     *BestFigure   `json:"best,omitempty"`
	Priority int           `json:"priority,omitempty"` // lease order; see queue.go
	// Tags are researchers' key/value labels; Archived is when it was
	// archived (nil = not), which hides it and its runs (curation.go).
	Tags     map[string]string `json:"tags,omitempty"`
	Archived *time.Time        `json:"archived,omitempty"`
}

// BestFigure is the highest test ROC-AUC among an experiment's finished runs.
type BestFigure struct {
	RunID int64   `json:"run_id"`
	Key   string  `json:"key"`
	Value float64 `json:"value"`
}

// Run is one grid point of an experiment: its parameters (the expanded
// RunSpec as JSON), seed, state and outcome.
type Run struct {
	ID           int64              `json:"id"`
	ExperimentID int64              `json:"experiment_id"`
	Index        int                `json:"index"`
	Model        string             `json:"model"`
	Params       json.RawMessage    `json:"params"`
	Seed         int64              `json:"seed"`
	State        State              `json:"state"`
	Attempts     int                `json:"attempts"`
	Worker       string             `json:"worker,omitempty"`
	Error        string             `json:"error,omitempty"`
	Created      time.Time          `json:"created"`
	Started      *time.Time         `json:"started,omitempty"`
	Finished     *time.Time         `json:"finished,omitempty"`
	Metrics      map[string]float64 `json:"metrics,omitempty"`
	Dataset      string             `json:"dataset_fingerprint,omitempty"`
	// Priority is the effective one: PriorityOverride, else the experiment's.
	Priority         int  `json:"priority,omitempty"`
	PriorityOverride *int `json:"priority_override,omitempty"`
	// Tags and Archived as on Experiment; a run is also hidden while its
	// experiment is archived.
	Tags     map[string]string `json:"tags,omitempty"`
	Archived *time.Time        `json:"archived,omitempty"`
}

// MetricPoint is one value of a metric series. (RunID, Key, Step) is unique:
// writing the same point twice (after a resume) replaces it.
type MetricPoint struct {
	Key   string    `json:"key"`
	Step  int       `json:"step"`
	Epoch int       `json:"epoch"`
	Value float64   `json:"value"`
	Time  time.Time `json:"time"`
}

// Artifact is a file a run produced, stored under the run's artifact folder.
type Artifact struct {
	ID      int64     `json:"id"`
	RunID   int64     `json:"run_id"`
	Name    string    `json:"name"` // path relative to the run's folder
	Kind    string    `json:"kind"` // "checkpoint", "scores", "plot", "example", ...
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// DatasetRecord is what a run records about the data it used, so a
// reviewer can tell whether they hold the same data.
type DatasetRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Summary     json.RawMessage `json:"summary"`
}

// RunFilter selects runs; zero fields match everything (archived runs
// and runs of archived experiments are left out unless Archived says).
type RunFilter struct {
	ExperimentID int64
	State        State
	Model        string
	// Filter is a search expression and OrderBy a sort key ("KEY [ASC|DESC]",
	// "" = by id), both in the language of package experiments/search.
	Filter   string
	OrderBy  string
	Archived ArchivedMode
	Limit    int
	Offset   int
}

// RunSink is what executing a run writes. It is the part of Store that an
// executor needs, small enough that a worker on another machine can
// implement it over the REST API.
type RunSink interface {
	SetDataset(ctx context.Context, runID int64, d DatasetRecord) error
	AppendMetrics(ctx context.Context, runID int64, points []MetricPoint) error
	DeleteMetricsAfter(ctx context.Context, runID int64, epoch int) error
	SetFinalMetrics(ctx context.Context, runID int64, metrics map[string]float64) error
	// AddArtifact records a file already written to the run's folder.
	AddArtifact(ctx context.Context, a *Artifact) error
	// Metrics reads the run's series back (for its training-curve plot).
	Metrics(ctx context.Context, runID int64, key string) ([]MetricPoint, error)
}

// Publisher receives run events (the Hub, or a worker's link to a server).
type Publisher interface {
	Publish(Event)
}

// Store is the persistence the experiments package needs. registry wraps
// SQLite to implement it. Methods return *Error with CodeNotFound for
// missing rows and CodeConflict for illegal state changes.
type Store interface {
	// CreateExperiment records e and its runs (all queued) in one
	// transaction, filling in their IDs and creation times.
	CreateExperiment(ctx context.Context, e *Experiment, runs []*Run) error
	GetExperiment(ctx context.Context, id int64) (*Experiment, error)
	// ListExperiments returns experiments newest first, with counts, and
	// the total number matching search (a substring of the name; "" = all).
	ListExperiments(ctx context.Context, search string, limit, offset int) ([]*Experiment, int, error)

	GetRun(ctx context.Context, id int64) (*Run, error)
	// ListRuns returns runs in ID order and the total matching the filter.
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, int, error)

	// LeaseRun atomically moves the first queued run in lease order
	// (highest priority, then oldest; of the given experiments, or of any
	// when none are given) to running for worker, raising its attempt
	// count; (nil, nil) when none is queued or the queue is paused.
	LeaseRun(ctx context.Context, worker string, experimentIDs ...int64) (*Run, error)
	// FinishRun moves a running run to a terminal state.
	FinishRun(ctx context.Context, id int64, state State, message string) error
	// CancelQueued cancels a queued run; CodeConflict if it is not queued.
	CancelQueued(ctx context.Context, id int64) error
	// RequeueRunning puts every running run back to queued (called at
	// start-up, when no worker can still hold a lease) and returns them.
	RequeueRunning(ctx context.Context) ([]*Run, error)

	// AppendMetrics writes points in one transaction; a point with the same
	// key and step as an existing one replaces it.
	AppendMetrics(ctx context.Context, runID int64, points []MetricPoint) error
	// Metrics returns a run's series, all keys when key is "".
	Metrics(ctx context.Context, runID int64, key string) ([]MetricPoint, error)
	// DeleteMetricsAfter removes points of epochs after epoch (used when a
	// run resumes from a checkpoint, so nothing is doubled).
	DeleteMetricsAfter(ctx context.Context, runID int64, epoch int) error
	// SetFinalMetrics replaces the run's final metrics.
	SetFinalMetrics(ctx context.Context, runID int64, metrics map[string]float64) error

	AddArtifact(ctx context.Context, a *Artifact) error
	Artifacts(ctx context.Context, runID int64) ([]*Artifact, error)

	SetDataset(ctx context.Context, runID int64, d DatasetRecord) error
	Dataset(ctx context.Context, runID int64) (*DatasetRecord, error)

	QueueStore
	CurationStore

	Close() error
}
