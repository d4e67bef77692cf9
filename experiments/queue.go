package experiments

import (
	"context"
	"time"
)

// Queue control: runs are leased by effective priority (the run's
// override, else its experiment's), highest first, then oldest. The queue
// can be paused (leasing stops, running runs finish); a failed or
// cancelled run can be retried, keeping its earlier attempts.

// Priorities a user may set, at submission or later. "Move to top" may
// give a run one more than the highest queued priority, beyond MaxPriority.
const (
	MinPriority = -1000
	MaxPriority = 1000
)

// CheckPriority refuses a priority outside [MinPriority, MaxPriority].
func CheckPriority(p int) error {
	if p < MinPriority || p > MaxPriority {
		return Errorf(CodeInvalid, "priority %d is out of range: it must be an integer from %d to %d", p, MinPriority, MaxPriority)
	}
	return nil
}

// Attempt is an earlier execution of a run that was retried: how it ended.
type Attempt struct {
	Attempt  int        `json:"attempt"`
	State    State      `json:"state"`
	Error    string     `json:"error,omitempty"`
	Worker   string     `json:"worker,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Retried  time.Time  `json:"retried"`
}

// QueueStore is the part of Store behind queue control.
type QueueStore interface {
	// CreateExperiment stores e.Priority; these change it later.
	SetExperimentPriority(ctx context.Context, id int64, priority int) error
	// SetRunPriority sets (nil: clears) a queued run's override.
	SetRunPriority(ctx context.Context, id int64, priority *int) error
	// MoveRunToTop gives a queued run an override above every other
	// queued run's effective priority.
	MoveRunToTop(ctx context.Context, id int64) error
	// QueuedRuns returns queued runs in lease order and their total.
	QueuedRuns(ctx context.Context, limit, offset int) ([]*Run, int, error)
	// SetQueuePaused pauses or resumes leasing; QueuePaused reads it.
	SetQueuePaused(ctx context.Context, paused bool) error
	QueuePaused(ctx context.Context) (bool, error)
	// RetryRun puts a failed or cancelled run back to queued, recording
	// how its last attempt ended; CodeConflict for any other state.
	RetryRun(ctx context.Context, id int64) error
	// Attempts lists a run's retried attempts, oldest first.
	Attempts(ctx context.Context, runID int64) ([]Attempt, error)
	// CancelQueuedOf cancels every queued run of an experiment and
	// returns their IDs; running runs are left alone.
	CancelQueuedOf(ctx context.Context, experimentID int64) ([]int64, error)
}

// SubmitWithPriority is Submit with the experiments' priority.
func (m *Manager) SubmitWithPriority(ctx context.Context, spec []byte, only string, priority int) ([]*Experiment, [][]*Run, error) {
	if err := CheckPriority(priority); err != nil {
		return nil, nil, err
	}
	return m.submit(ctx, spec, only, priority)
}

// SetExperimentPriority changes an experiment's priority and returns it.
func (m *Manager) SetExperimentPriority(ctx context.Context, id int64, priority int) (*Experiment, error) {
	if err := CheckPriority(priority); err != nil {
		return nil, err
	}
	if err := m.store.SetExperimentPriority(ctx, id, priority); err != nil {
		return nil, err
	}
	return m.store.GetExperiment(ctx, id)
}

// SetRunPriority sets (nil: clears) a queued run's priority override.
func (m *Manager) SetRunPriority(ctx context.Context, id int64, priority *int) (*Run, error) {
	if priority != nil {
		if err := CheckPriority(*priority); err != nil {
			return nil, err
		}
	}
	if err := m.store.SetRunPriority(ctx, id, priority); err != nil {
		return nil, err
	}
	return m.store.GetRun(ctx, id)
}

// MoveRunToTop makes a queued run the next one leased.
func (m *Manager) MoveRunToTop(ctx context.Context, id int64) (*Run, error) {
	if err := m.store.MoveRunToTop(ctx, id); err != nil {
		return nil, err
	}
	return m.store.GetRun(ctx, id)
}

// Queue returns whether the queue is paused and its queued runs in lease
// order, with their total.
func (m *Manager) Queue(ctx context.Context, limit, offset int) (bool, []*Run, int, error) {
	paused, err := m.store.QueuePaused(ctx)
	if err != nil {
		return false, nil, 0, err
	}
	runs, total, err := m.store.QueuedRuns(ctx, limit, offset)
	return paused, runs, total, err
}

// SetPaused pauses or resumes the queue. Pausing lets running runs finish.
func (m *Manager) SetPaused(ctx context.Context, paused bool) error {
	if err := m.store.SetQueuePaused(ctx, paused); err != nil {
		return err
	}
	if !paused && m.runner != nil {
		m.runner.Wake()
	}
	return nil
}

// Retry queues a failed or cancelled run again: same settings and seed,
// its last attempt kept in its history. The next lease raises its attempt
// count; on execution the run resumes from its last checkpoint, whose
// resume drops the metric points past it, so no point is counted twice.
func (m *Manager) Retry(ctx context.Context, id int64) (*Run, error) {
	if err := m.store.RetryRun(ctx, id); err != nil {
		return nil, err
	}
	run, err := m.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	m.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: StateQueued, Message: "retried by user"})
	if m.runner != nil {
		m.runner.Wake()
	}
	return run, nil
}

// Attempts lists a run's earlier, retried attempts.
func (m *Manager) Attempts(ctx context.Context, id int64) ([]Attempt, error) {
	return m.store.Attempts(ctx, id)
}

// CancelQueuedOf cancels every queued run of an experiment; running runs
// go on. It returns the cancelled runs' IDs.
func (m *Manager) CancelQueuedOf(ctx context.Context, experimentID int64) ([]int64, error) {
	ids, err := m.store.CancelQueuedOf(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		m.hub.Publish(Event{Type: "state", RunID: id, ExperimentID: experimentID, State: StateCancelled, Message: "cancelled by user"})
	}
	return ids, nil
}
