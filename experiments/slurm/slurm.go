// Package slurm is the slurm backend of the runner
// (experiments.Executor): each leased run becomes one Slurm job whose batch
// script runs `xraylab worker` on a node. The worker fetches the run from
// this server, trains with a local.Executor whose sink is the server's
// worker API (RemoteSink), and reports how the run ended. The server stays
// the only writer of its database; the executor here submits, watches
// (squeue, sacct, the worker's heartbeat) and cancels (scancel).
package slurm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/local"
)

// RequeueError says why a run went back to the queue.
type RequeueError struct {
	RunID   int64
	Attempt int    // the attempt that died
	Reason  string // e.g. "Slurm job 12 ended TIMEOUT on node3 without a report from its worker"
}

func (e *RequeueError) Error() string {
	return fmt.Sprintf("run %d requeued after attempt %d: %s", e.RunID, e.Attempt, e.Reason)
}

// Is makes errors.Is(err, ErrRequeued) true.
func (e *RequeueError) Is(target error) bool { return target == experiments.ErrRequeued }

// Commands runs the Slurm client commands; tests substitute fakes.
type Commands interface {
	// Run runs name with args, stdin as its standard input (nil = none),
	// and returns its standard output. A command that fails returns a
	// *CommandError holding its exit status and standard error.
	Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error)
}

// CommandError is a failed Slurm command.
type CommandError struct {
	Name     string
	ExitCode int // -1 when it did not run or was killed
	Stderr   string
	Err      error
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s failed (exit %d): %s", e.Name, e.ExitCode, msg)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ExecCommands runs the real commands: from Dir when it is set, else from
// the PATH.
type ExecCommands struct {
	Dir string
	Env []string // added to this process's environment
}

// Run implements Commands.
func (c ExecCommands) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	path := name
	if c.Dir != "" {
		path = filepath.Join(c.Dir, name)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return stdout.Bytes(), &CommandError{Name: name, ExitCode: code, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// Options configure the slurm backend.
type Options struct {
	// Resources every job asks for (partition, account, time, ...).
	Resources experiments.SlurmResources
	// ServerURL is how workers on the nodes reach this server
	// ("http://head:8080"); required.
	ServerURL string
	// Binary is the path of xraylab on the nodes ("" = this executable's
	// path, right when nodes share the file system it lives on).
	Binary string
	// NodeVar is the workers' --var folder on the nodes: data, caches and
	// artifacts before upload ("" = $TMPDIR/xraylab-worker-<uid>, node-local).
	NodeVar string
	// LogDir is the folder, on the nodes, of the jobs' output files
	// xraylab-run<ID>-<job>.out ("" = /tmp).
	LogDir string
	// Retries is how many times a run whose job died (node failure, time
	// limit, out of memory, preemption, a killed worker) is requeued
	// before it fails with the Slurm reason; 0 = never.
	Retries int
	// Poll is how often squeue is asked about a job (0 = 5 s).
	Poll time.Duration
	// Heartbeat is the workers' heartbeat interval (0 = 15 s);
	// HeartbeatTimeout is how long a running job may stay silent before it
	// is cancelled and counted as dead (0 = 8 heartbeats, at least 1 min).
	Heartbeat        time.Duration
	HeartbeatTimeout time.Duration
	// DataRoots are the server's --data-root folders: workers read MURA
	// data only through an os.Root on one of them (none = any path).
	DataRoots []string
	// Commands runs sbatch, squeue, sacct and scancel (nil = ExecCommands{}).
	Commands Commands
	Logger   *slog.Logger
}

// Executor is the experiments.Executor of the slurm backend and the service
// behind the server's worker API.
type Executor struct {
	store experiments.Store
	jobs  experiments.JobStore
	hub   experiments.Publisher
	opts  Options
	cmd   Commands
	log   *slog.Logger

	mu     sync.Mutex
	active map[int64]*slurmJob
}

// slurmJob is a run whose job this executor is waiting on.
type slurmJob struct {
	runID, experimentID int64
	report              chan experiments.WorkerReport // the worker's final word (buffered 1)
	jobID               string
	lastBeat            time.Time
	node                string
	pid                 int
}

// NewExecutor checks opts and builds the executor. jobs is usually
// the same registry store as store.
func NewExecutor(store experiments.Store, jobs experiments.JobStore, hub experiments.Publisher, opts Options) (*Executor, error) {
	if err := opts.Resources.Validate(func(f string) string { return "slurm " + f }); err != nil {
		return nil, err
	}
	u, err := url.Parse(opts.ServerURL)
	if opts.ServerURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slurm server URL %q: want the http(s)://host:port at which nodes reach this server", opts.ServerURL)
	}
	if opts.Retries < 0 || opts.Retries > 100 {
		return nil, fmt.Errorf("slurm retries %d: want 0 to 100", opts.Retries)
	}
	if opts.Binary == "" {
		if opts.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("slurm: find this executable for the nodes: %w", err)
		}
	}
	if !filepath.IsAbs(opts.Binary) {
		return nil, fmt.Errorf("slurm binary %q: want an absolute path on the nodes", opts.Binary)
	}
	for _, p := range []struct{ name, v string }{{"node var", opts.NodeVar}, {"log dir", opts.LogDir}} {
		if p.v != "" && !filepath.IsAbs(p.v) {
			return nil, fmt.Errorf("slurm %s %q: want an absolute path on the nodes", p.name, p.v)
		}
		if strings.ContainsAny(p.v, "\n\r\x00%") {
			return nil, fmt.Errorf("slurm %s %q: must not hold line breaks, NUL or %%", p.name, p.v)
		}
	}
	if opts.LogDir == "" {
		opts.LogDir = "/tmp"
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = max(time.Minute, 8*opts.Heartbeat)
	}
	if opts.HeartbeatTimeout <= opts.Heartbeat {
		return nil, fmt.Errorf("slurm heartbeat timeout %s must be longer than the heartbeat interval %s", opts.HeartbeatTimeout, opts.Heartbeat)
	}
	if opts.Commands == nil {
		opts.Commands = ExecCommands{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Executor{store: store, jobs: jobs, hub: hub, opts: opts, cmd: opts.Commands, log: opts.Logger,
		active: map[int64]*slurmJob{}}, nil
}

// Recover cancels the jobs of runs a previous server left running (their
// workers would write to runs about to be requeued) and voids their
// tokens. Call it at start-up before Runner.Recover requeues those runs;
// they resume from their last uploaded checkpoint.
func (x *Executor) Recover(ctx context.Context) error {
	jobs, err := x.jobs.RunningJobs(ctx, experiments.BackendSlurm)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if _, err := x.cmd.Run(ctx, "scancel", []string{j.JobID}, nil); err != nil && !unknownJob(err) {
			return fmt.Errorf("cancel Slurm job %s of run %d left by a previous server: %w", j.JobID, j.RunID, err)
		}
		x.log.Info("cancelled the job of a run left running by a previous server", "run", j.RunID, "job", j.JobID)
		if err := x.jobs.ClearJobToken(ctx, j.RunID); err != nil {
			return err
		}
		if err := x.jobs.SetJobState(ctx, j.RunID, "CANCELLED", ""); err != nil {
			return err
		}
	}
	return nil
}

// NewRunToken returns a fresh run token (64 hex characters) and its sha256.
func NewRunToken() (string, [32]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", [32]byte{}, fmt.Errorf("generate run token: %w", err)
	}
	token := hex.EncodeToString(raw)
	return token, sha256.Sum256([]byte(token)), nil
}

// Execute submits the run as a Slurm job and waits for it: nil when the
// worker reported success, the worker's error when it reported failure,
// a *RequeueError when the job died and the run went back to the queue,
// an error naming the Slurm reason when it died once too often, and
// ctx.Err() after cancelling the job when ctx ends.
func (x *Executor) Execute(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, device string) error {
	token, hash, err := NewRunToken()
	if err != nil {
		return err
	}
	j := &slurmJob{runID: run.ID, experimentID: run.ExperimentID, report: make(chan experiments.WorkerReport, 1)}
	x.mu.Lock()
	x.active[run.ID] = j
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.active, run.ID)
		x.mu.Unlock()
		// The job is over for this server: its token writes no more.
		if err := x.jobs.ClearJobToken(context.WithoutCancel(ctx), run.ID); err != nil {
			x.log.Error("void run token", "run", run.ID, "err", err)
		}
	}()
	if err := x.jobs.StartJob(ctx, run.ID, experiments.BackendSlurm, hash); err != nil {
		return err
	}
	res := x.opts.Resources.Merge(spec.Slurm)
	args := append([]string{"--parsable", fmt.Sprintf("--job-name=xraylab-run%d", run.ID),
		fmt.Sprintf("--output=%s/xraylab-run%d-%%j.out", strings.TrimRight(x.opts.LogDir, "/"), run.ID),
		"--no-requeue"}, res.SbatchArgs()...)
	out, err := x.cmd.Run(ctx, "sbatch", args, x.script(run.ID, token))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("submit Slurm job: %w", err)
	}
	jobID, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";") // "id;cluster" on federations
	if _, err := strconv.ParseUint(jobID, 10, 64); err != nil {
		return fmt.Errorf("submit Slurm job: sbatch --parsable printed %q, not a job id", strings.TrimSpace(string(out)))
	}
	x.mu.Lock()
	j.jobID = jobID
	x.mu.Unlock()
	if err := x.jobs.SetJobID(ctx, run.ID, jobID); err != nil {
		x.scancel(ctx, run.ID, jobID)
		return err
	}
	x.log.Info("submitted Slurm job", "run", run.ID, "job", jobID, "attempt", run.Attempts)
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID,
		Message: fmt.Sprintf("submitted as Slurm job %s (attempt %d)", jobID, run.Attempts)})
	return x.wait(ctx, run, j)
}

// script is the batch script: it writes the token to a file only the job
// can read (the token travels inside the script, which Slurm keeps from
// other users, never on a command line) and runs the worker.
func (x *Executor) script(runID int64, token string) []byte {
	nodeVar := `"${TMPDIR:-/tmp}/xraylab-worker-$(id -u)"`
	if x.opts.NodeVar != "" {
		nodeVar = shellQuote(x.opts.NodeVar)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n# xraylab run %d: written by the slurm backend of the server at %s\n", runID, x.opts.ServerURL)
	b.WriteString("set -u\numask 077\n")
	b.WriteString("token_file=$(mktemp \"${TMPDIR:-/tmp}/xraylab-token.XXXXXX\") || exit 1\n")
	b.WriteString("trap 'rm -f \"$token_file\"' EXIT\n")
	fmt.Fprintf(&b, "cat > \"$token_file\" <<'XRAYLAB_TOKEN'\n%s\nXRAYLAB_TOKEN\n", token)
	fmt.Fprintf(&b, "%s worker --run %d --server %s --token-file \"$token_file\" --var %s\n",
		shellQuote(x.opts.Binary), runID, shellQuote(x.opts.ServerURL), nodeVar)
	return []byte(b.String())
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jobStatus is the scheduler's view of a job.
type jobStatus struct {
	State  string // RUNNING, PENDING, COMPLETED, TIMEOUT, ...
	Reason string // squeue's reason or sacct's exit code
	Node   string
}

// terminalSlurmStates are the states of a job that will not run again.
var terminalSlurmStates = map[string]bool{
	"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true, "OUT_OF_MEMORY": true,
	"NODE_FAIL": true, "PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true, "REVOKED": true, "SPECIAL_EXIT": true,
}

// errJobUnknown means neither squeue nor sacct knows the job.
var errJobUnknown = errors.New("job unknown to Slurm")

// unknownJob tells "no such job" apart from a scheduler that does not
// answer.
func unknownJob(err error) bool {
	var ce *CommandError
	return errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Stderr), "invalid job id")
}

// status asks squeue (which keeps finished jobs for MinJobAge) and then
// sacct (the accounting database, when the cluster has one).
func (x *Executor) status(ctx context.Context, jobID string) (jobStatus, error) {
	out, err := x.cmd.Run(ctx, "squeue", []string{"--noheader", "--states=all", "--jobs=" + jobID, "--format=%T|%r|%N"}, nil)
	if err == nil {
		if line := firstLine(out); line != "" {
			f := strings.SplitN(line, "|", 3)
			for len(f) < 3 {
				f = append(f, "")
			}
			return jobStatus{State: f[0], Reason: f[1], Node: f[2]}, nil
		}
	} else if !unknownJob(err) {
		return jobStatus{}, err
	}
	out, err = x.cmd.Run(ctx, "sacct", []string{"--noheader", "--parsable2", "--allocations", "--jobs=" + jobID,
		"--format=State,ExitCode,NodeList"}, nil)
	if err != nil {
		// No accounting (a cluster without slurmdbd) answers like this too.
		return jobStatus{}, errJobUnknown
	}
	line := firstLine(out)
	if line == "" {
		return jobStatus{}, errJobUnknown
	}
	f := strings.SplitN(line, "|", 3)
	for len(f) < 3 {
		f = append(f, "")
	}
	state, _, _ := strings.Cut(f[0], " ") // "CANCELLED by 1000"
	return jobStatus{State: state, Reason: "exit " + f[1], Node: f[2]}, nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}

// wait watches the job until the worker reports, the job ends, the worker
// falls silent, or ctx ends.
func (x *Executor) wait(ctx context.Context, run *experiments.Run, j *slurmJob) error {
	ticker := time.NewTicker(x.opts.Poll)
	defer ticker.Stop()
	var last jobStatus
	var runningSince time.Time
	unknown := 0
	for {
		select {
		case <-ctx.Done():
			x.scancel(ctx, run.ID, j.jobID)
			return ctx.Err()
		case rep := <-j.report:
			return x.reported(ctx, run, j, rep)
		case <-ticker.C:
		}
		st, err := x.status(ctx, j.jobID)
		switch {
		case ctx.Err() != nil:
			continue
		case errors.Is(err, errJobUnknown):
			// A job purged from squeue on a cluster without accounting;
			// asked again before it counts as lost.
			if unknown++; unknown < 3 {
				continue
			}
			return x.died(ctx, run, j, fmt.Sprintf("Slurm job %s vanished: neither squeue nor sacct knows it", j.jobID))
		case err != nil:
			// The controller does not answer: the job may still be fine.
			x.log.Warn("ask Slurm about a job", "run", run.ID, "job", j.jobID, "err", err)
			continue
		}
		unknown = 0
		if st.State != last.State || (st.Node != "" && st.Node != last.Node) {
			if err := x.jobs.SetJobState(ctx, run.ID, st.State, st.Node); err != nil {
				x.log.Error("record job state", "run", run.ID, "job", j.jobID, "err", err)
			}
			msg := fmt.Sprintf("Slurm job %s %s", j.jobID, st.State)
			if st.Node != "" {
				msg += " on " + st.Node
			}
			x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: msg})
			last = st
		}
		if terminalSlurmStates[st.State] {
			// The worker reports before it exits, so a report is already
			// here if there is one.
			select {
			case rep := <-j.report:
				return x.reported(ctx, run, j, rep)
			default:
			}
			reason := fmt.Sprintf("Slurm job %s ended %s", j.jobID, st.State)
			if st.Reason != "" && st.Reason != "None" {
				reason += " (" + st.Reason + ")"
			}
			if st.Node != "" {
				reason += " on " + st.Node
			}
			return x.died(ctx, run, j, reason+" without a report from its worker")
		}
		if st.State == "RUNNING" {
			now := time.Now()
			if runningSince.IsZero() {
				runningSince = now
			}
			x.mu.Lock()
			alive := j.lastBeat
			x.mu.Unlock()
			if alive.Before(runningSince) {
				alive = runningSince
			}
			if silent := now.Sub(alive); silent > x.opts.HeartbeatTimeout {
				x.scancel(ctx, run.ID, j.jobID)
				return x.died(ctx, run, j, fmt.Sprintf("Slurm job %s on %s: no heartbeat from its worker for %s; job cancelled",
					j.jobID, st.Node, silent.Round(time.Second)))
			}
		}
	}
}

// reported turns the worker's final word into Execute's result and, on
// the way, records the job's final state when Slurm has it within a poll
// or two.
func (x *Executor) reported(ctx context.Context, run *experiments.Run, j *slurmJob, rep experiments.WorkerReport) error {
	deadline := time.Now().Add(min(10*time.Second, 3*x.opts.Poll))
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := x.status(ctx, j.jobID)
		if err == nil && terminalSlurmStates[st.State] {
			if err := x.jobs.SetJobState(ctx, run.ID, st.State, st.Node); err != nil {
				x.log.Error("record job state", "run", run.ID, "job", j.jobID, "err", err)
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(x.opts.Poll / 2):
		}
	}
	if rep.State == experiments.StateSucceeded {
		return nil
	}
	return errors.New(rep.Error)
}

// died requeues the run, or fails it once it has had its retries.
func (x *Executor) died(ctx context.Context, run *experiments.Run, j *slurmJob, reason string) error {
	if run.Attempts > x.opts.Retries {
		return fmt.Errorf("%s; gave up after %d attempt(s)", reason, run.Attempts)
	}
	msg := fmt.Sprintf("%s; requeued after attempt %d of %d", reason, run.Attempts, x.opts.Retries+1)
	if err := x.jobs.RequeueRun(context.WithoutCancel(ctx), run.ID, msg); err != nil {
		return fmt.Errorf("%s; requeue failed: %w", reason, err)
	}
	x.log.Warn("job died; run requeued", "run", run.ID, "job", j.jobID, "reason", reason, "attempt", run.Attempts)
	return &RequeueError{RunID: run.ID, Attempt: run.Attempts, Reason: reason}
}

// scancel cancels the job, even when ctx is already done.
func (x *Executor) scancel(ctx context.Context, runID int64, jobID string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := x.cmd.Run(cctx, "scancel", []string{jobID}, nil); err != nil && !unknownJob(err) {
		x.log.Error("scancel", "run", runID, "job", jobID, "err", err)
		return
	}
	x.log.Info("cancelled Slurm job", "run", runID, "job", jobID)
	if err := x.jobs.SetJobState(cctx, runID, "CANCELLED", ""); err != nil {
		x.log.Error("record job state", "run", runID, "job", jobID, "err", err)
	}
}

// The worker API's side of the executor (server.WorkerService).

// AuthenticateWorker reports whether token is the token of the run's
// current job and the run is running. Tokens are compared by their
// sha256, in constant time.
func (x *Executor) AuthenticateWorker(ctx context.Context, runID int64, token string) (bool, error) {
	want, ok, state, err := x.jobs.JobToken(ctx, runID)
	if experiments.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	got := sha256.Sum256([]byte(token))
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return ok && match && state == experiments.StateRunning, nil
}

// activeJob returns the job this executor waits on for the run.
func (x *Executor) activeJob(runID int64) (*slurmJob, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	j, ok := x.active[runID]
	if !ok {
		return nil, experiments.Errorf(experiments.CodeConflict, "run %d has no job this server is waiting on", runID)
	}
	return j, nil
}

// beat notes a sign of life from the run's worker.
func (x *Executor) beat(ctx context.Context, runID int64, info experiments.WorkerInfo) error {
	j, err := x.activeJob(runID)
	if err != nil {
		return err
	}
	if info.PID < 0 || len(info.Node) > 256 {
		return experiments.Errorf(experiments.CodeInvalid, "heartbeat: pid must be >= 0 and node at most 256 characters")
	}
	now := time.Now()
	x.mu.Lock()
	j.lastBeat, j.pid = now, info.PID
	if info.Node != "" {
		j.node = info.Node
	}
	x.mu.Unlock()
	return x.jobs.RecordHeartbeat(ctx, runID, info.Node, info.PID, now)
}

// WorkerStart records the worker's node and process and returns its run
// and the checkpoint to resume from.
func (x *Executor) WorkerStart(ctx context.Context, runID int64, info experiments.WorkerInfo) (*experiments.WorkerAssignment, error) {
	if err := x.beat(ctx, runID, info); err != nil {
		return nil, err
	}
	run, err := x.store.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	run.Metrics = nil // a requeued run's stale figures are no business of the worker
	arts, err := x.store.Artifacts(ctx, runID)
	if err != nil {
		return nil, err
	}
	a := &experiments.WorkerAssignment{Run: run, HeartbeatSeconds: x.opts.Heartbeat.Seconds(), DataRoots: x.opts.DataRoots}
	for _, art := range arts {
		if art.Name == local.CheckpointName {
			a.Checkpoint = art
		}
	}
	return a, nil
}

// WorkerHeartbeat records a heartbeat.
func (x *Executor) WorkerHeartbeat(ctx context.Context, runID int64, info experiments.WorkerInfo) error {
	return x.beat(ctx, runID, info)
}

// WorkerEvent publishes a worker's progress event as the run's own: the
// run and experiment ids are the server's, and state events are the
// server's alone.
func (x *Executor) WorkerEvent(ctx context.Context, runID int64, ev experiments.Event) error {
	j, err := x.activeJob(runID)
	if err != nil {
		return err
	}
	if ev.Type != "progress" {
		return experiments.Errorf(experiments.CodeInvalid, "event type %q: workers send progress events only", ev.Type)
	}
	ev.RunID, ev.ExperimentID, ev.State = runID, j.experimentID, ""
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	x.hub.Publish(ev)
	return nil
}

// WorkerFinish hands the worker's report to the Execute waiting on it.
func (x *Executor) WorkerFinish(ctx context.Context, runID int64, rep experiments.WorkerReport) error {
	if err := rep.Validate(); err != nil {
		return err
	}
	j, err := x.activeJob(runID)
	if err != nil {
		return err
	}
	select {
	case j.report <- rep:
		return nil
	default:
		return experiments.Errorf(experiments.CodeConflict, "run %d: its worker already reported", runID)
	}
}

// RunJob returns the run's job as recorded.
func (x *Executor) RunJob(ctx context.Context, runID int64) (*experiments.Job, error) {
	return x.jobs.Job(ctx, runID)
}
