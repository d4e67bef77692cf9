package experiments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Executor runs one leased run to its end. The local executor trains in
// this process; other backends (a cluster scheduler) can stand behind the
// same interface without the queue changing.
type Executor interface {
	// Execute trains and evaluates the run on device. It returns nil on
	// success, ctx.Err() when cancelled, or the error that failed the run.
	Execute(ctx context.Context, run *Run, spec RunSpec, device string) error
}

// RunnerOptions configure the worker pool.
type RunnerOptions struct {
	// Devices lists one entry per worker slot ("cpu" today); a run holds
	// one slot from lease to finish. Empty means one "cpu" slot.
	Devices []string
	// Poll is how often idle workers look for queued runs when nobody
	// wakes them (a run submitted by another process). Default 2 s.
	Poll time.Duration
	// Experiments, when not empty, limits the pool to these experiments'
	// runs (xraylab run leaves the rest of a shared queue alone).
	Experiments []int64
	// Ensembles, when set, executes ensemble runs (which read their
	// members' stored scores and need no cluster); nil: the Executor does.
	Ensembles Executor
	Logger    *slog.Logger
}

// Runner is the worker pool: each slot leases the oldest queued run,
// executes it, and records how it ended. A failing run never stops others.
type Runner struct {
	store  Store
	hub    *Hub
	exec   Executor
	opts   RunnerOptions
	log    *slog.Logger
	wake   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]*activeRun
}

type activeRun struct {
	cancel    context.CancelFunc
	cancelled bool // by a user, as opposed to shutdown
	done      chan struct{}
}

// NewRunner builds a runner; Start begins work.
func NewRunner(store Store, hub *Hub, exec Executor, opts RunnerOptions) *Runner {
	if len(opts.Devices) == 0 {
		opts.Devices = []string{"cpu"}
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Runner{store: store, hub: hub, exec: exec, opts: opts, log: opts.Logger,
		wake: make(chan struct{}, 1), active: map[int64]*activeRun{}}
}

// Recover puts runs left running by a dead process back in the queue.
// Call it once at start-up, before Start, while no worker holds a lease.
func (r *Runner) Recover(ctx context.Context) error {
	runs, err := r.store.RequeueRunning(ctx)
	if err != nil {
		return fmt.Errorf("requeue runs of a previous process: %w", err)
	}
	for _, run := range runs {
		r.log.Info("requeued run left running by a previous process", "run", run.ID, "attempts", run.Attempts)
		r.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: StateQueued, Message: "requeued after restart"})
	}
	return nil
}

// Start launches one worker per device slot; they stop when ctx is done.
func (r *Runner) Start(ctx context.Context) {
	host, _ := os.Hostname()
	for i, dev := range r.opts.Devices {
		name := fmt.Sprintf("%s:%d:%s%d", host, os.Getpid(), dev, i)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.work(ctx, name, dev)
		}()
	}
}

// Wait blocks until every worker has stopped.
func (r *Runner) Wait() { r.wg.Wait() }

// Wake tells idle workers that runs were queued.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Cancel stops a run this runner is executing and waits up to timeout for
// it to end. It reports whether the run was active here.
func (r *Runner) Cancel(runID int64, timeout time.Duration) bool {
	r.mu.Lock()
	a, ok := r.active[runID]
	if ok {
		a.cancelled = true
		a.cancel()
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-a.done:
	case <-time.After(timeout):
	}
	return true
}

func (r *Runner) work(ctx context.Context, name, device string) {
	ticker := time.NewTicker(r.opts.Poll)
	defer ticker.Stop()
	for ctx.Err() == nil {
		run, err := r.store.LeaseRun(ctx, name, r.opts.Experiments...)
		if err != nil && ctx.Err() == nil {
			r.log.Error("lease a run", "worker", name, "err", err)
		}
		if run == nil {
			select {
			case <-ctx.Done():
			case <-r.wake:
				r.Wake() // pass the news on to the next idle worker
			case <-ticker.C:
			}
			continue
		}
		r.execute(ctx, run, device)
	}
}

func (r *Runner) execute(ctx context.Context, run *Run, device string) {
	runCtx, cancel := context.WithCancel(ctx)
	a := &activeRun{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.active[run.ID] = a
	r.mu.Unlock()
	defer func() {
		cancel()
		r.mu.Lock()
		delete(r.active, run.ID)
		r.mu.Unlock()
		close(a.done)
	}()

	r.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: StateRunning})
	r.log.Info("run started", "run", run.ID, "attempt", run.Attempts, "device", device)
	err := r.safeExecute(runCtx, run, device)

	r.mu.Lock()
	userCancelled := a.cancelled
	r.mu.Unlock()
	state, msg := StateSucceeded, ""
	switch {
	case err == nil:
	case errors.Is(err, ErrRequeued):
		// The executor put the run back in the queue (its cluster job
		// died); recording an outcome here would clobber the next attempt.
		r.log.Warn("run requeued", "run", run.ID, "err", err)
		r.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: StateQueued, Message: err.Error()})
		r.Wake()
		return
	case userCancelled:
		state, msg = StateCancelled, "cancelled by user"
	case ctx.Err() != nil:
		// Shutdown: leave the run running; the next start requeues it and
		// it resumes from its last checkpoint.
		r.log.Info("run interrupted by shutdown; it resumes at next start", "run", run.ID)
		return
	default:
		state, msg = StateFailed, err.Error()
	}
	if !r.finish(ctx, run, state, msg) {
		return
	}
	r.log.Info("run finished", "run", run.ID, "state", state, "error", msg)
	r.hub.Publish(Event{Type: "state", RunID: run.ID, ExperimentID: run.ExperimentID, State: state, Message: msg})
}

// finish records how a run ended, even if the run's context is gone. A
// database that cannot take the write (a full disk, a read-only file
// system) is retried every Poll until it can, so the run does not stay
// "running" once there is room again; meanwhile this worker leases
// nothing. At shutdown the run is left running, and the next start
// requeues it. It reports whether the outcome was recorded.
func (r *Runner) finish(ctx context.Context, run *Run, state State, msg string) bool {
	for try := 1; ; try++ {
		err := r.store.FinishRun(context.WithoutCancel(ctx), run.ID, state, msg)
		if err == nil {
			if try > 1 {
				r.log.Info("recorded the run's outcome after retrying", "run", run.ID, "tries", try)
			}
			return true
		}
		if CodeOf(err) != CodeInternal {
			// Not found or not running any more: retrying cannot help.
			r.log.Error("record run outcome", "run", run.ID, "state", state, "error", msg, "err", err)
			return false
		}
		if try == 1 {
			// The run's own error goes to the log here: it may be the only
			// place it is kept.
			r.log.Error("cannot record run outcome; retrying until the database takes it",
				"run", run.ID, "state", state, "error", msg, "err", err, "every", r.opts.Poll)
		}
		select {
		case <-ctx.Done():
			r.log.Warn("run outcome not recorded before shutdown; the run is requeued at next start", "run", run.ID, "err", err)
			return false
		case <-time.After(r.opts.Poll):
		}
	}
}

// safeExecute turns a panic in a run into that run's failure.
func (r *Runner) safeExecute(ctx context.Context, run *Run, device string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("run panicked", "run", run.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	spec, err := DecodeRunSpec(run.Params)
	if err != nil {
		return err
	}
	exec := r.exec
	if spec.Ensemble != nil && r.opts.Ensembles != nil {
		exec = r.opts.Ensembles
	}
	err = exec.Execute(ctx, run, spec, device)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() == nil {
		// A cancellation that is not ours is a failure of the run.
		return fmt.Errorf("run aborted: %w", err)
	}
	return err
}
