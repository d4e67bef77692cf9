package experiments

import (
	"context"
	"encoding/json"
	"time"
)

// Manager is the front door of the domain: it validates and queues
// experiments, cancels runs, and hands out event subscriptions. The server
// and the CLI use it; the runner does the work.
type Manager struct {
	store     Store
	hub       *Hub
	runner    *Runner
	version   string
	dataRoots []string
	localData bool
}

// SetDataRoots limits the MURA folders specs may name to these roots (none
// = any path).
func (m *Manager) SetDataRoots(roots []string) { m.dataRoots = roots }

// SetLocalData says whether runs read their datasets on this machine;
// then a submission whose MURA root is missing or not a folder is refused
// (see CheckDatasetFolders).
func (m *Manager) SetLocalData(local bool) { m.localData = local }

// NewManager wires a manager. runner may be nil for a process that only
// queues work (runs are then executed by whichever process runs workers).
func NewManager(store Store, hub *Hub, runner *Runner, version string) *Manager {
	return &Manager{store: store, hub: hub, runner: runner, version: version}
}

// Submit validates spec, expands the selected experiments (all when only is
// "") and records each with its runs, queued, in one transaction apiece.
func (m *Manager) Submit(ctx context.Context, spec []byte, only string) ([]*Experiment, [][]*Run, error) {
	return m.submit(ctx, spec, only, 0)
}

func (m *Manager) submit(ctx context.Context, spec []byte, only string, priority int) ([]*Experiment, [][]*Run, error) {
	parsed, err := ParseSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckDataRoots(parsed, m.dataRoots); err != nil {
		return nil, nil, err
	}
	selected, err := parsed.Select(only)
	if err != nil {
		return nil, nil, err
	}
	// Only the experiments being queued need their data now: a file's other
	// suites (the paper's, on a MURA folder this machine may lack) do not.
	if m.localData {
		if err := CheckDatasetFolders(selected); err != nil {
			return nil, nil, err
		}
	}
	var exps []*Experiment
	var allRuns [][]*Run
	for _, es := range selected {
		e := &Experiment{Name: es.Name, SpecText: parsed.Text, SpecHash: parsed.Hash, Version: m.version, Priority: priority}
		var runs []*Run
		specs := es.Expand()
		if err := ResolveEnsembles(ctx, m.store, specs); err != nil {
			return nil, nil, err
		}
		for i, rs := range specs {
			params, err := json.Marshal(rs)
			if err != nil {
				return nil, nil, &Error{Code: CodeInternal, Message: "encode run params", Err: err}
			}
			runs = append(runs, &Run{Index: i, Model: rs.Model.Name, Params: params, Seed: rs.Seed, State: StateQueued})
		}
		if err := m.store.CreateExperiment(ctx, e, runs); err != nil {
			return nil, nil, err
		}
		for _, r := range runs {
			m.hub.Publish(Event{Type: "state", RunID: r.ID, ExperimentID: e.ID, State: StateQueued})
		}
		exps = append(exps, e)
		allRuns = append(allRuns, runs)
	}
	if m.runner != nil {
		m.runner.Wake()
	}
	return exps, allRuns, nil
}

// Cancel cancels a queued run at once, or a running one at its next batch
// (waiting a few seconds for it to stop). Finished runs are a conflict.
func (m *Manager) Cancel(ctx context.Context, runID int64) (*Run, error) {
	run, err := m.store.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	switch {
	case run.State == StateQueued:
		if err := m.store.CancelQueued(ctx, runID); err != nil {
			return nil, err
		}
		m.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: StateCancelled, Message: "cancelled by user"})
	case run.State == StateRunning:
		if m.runner == nil || !m.runner.Cancel(runID, 10*time.Second) {
			return nil, Errorf(CodeConflict, "run %d is running in another process (%s); cancel it there", runID, run.Worker)
		}
	default:
		return nil, Errorf(CodeConflict, "run %d is already %s", runID, run.State)
	}
	return m.store.GetRun(ctx, runID)
}

// Subscribe returns a stream of run events and its cancel function.
func (m *Manager) Subscribe() (<-chan Event, func()) { return m.hub.Subscribe() }

// Hub returns the manager's event hub.
func (m *Manager) Hub() *Hub { return m.hub }

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

// Requeue records a bundle's experiment again with exactly its recorded
// runs (the stored run specs, not a new expansion of the spec), all queued,
// so they can be executed and compared with the record.
func (m *Manager) Requeue(ctx context.Context, b *Bundle) (*Experiment, []*Run, error) {
	e := &Experiment{Name: b.Experiment.Name, SpecText: b.Experiment.SpecText, SpecHash: b.Experiment.SpecHash, Version: m.version}
	var runs []*Run
	for _, br := range b.Runs {
		params, err := json.Marshal(br.Spec)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, &Run{Index: br.Index, Model: br.Spec.Model.Name, Params: params, Seed: br.Spec.Seed, State: StateQueued})
	}
	if err := m.store.CreateExperiment(ctx, e, runs); err != nil {
		return nil, nil, err
	}
	if m.runner != nil {
		m.runner.Wake()
	}
	return e, runs, nil
}
