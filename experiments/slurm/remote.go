package slurm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/local"
	"xraylab/server/client"
)

// A worker on a cluster node executes one run with a local.Executor whose
// sink and publisher are a RemoteSink: every write goes to the server's
// worker API (/api/worker/runs/:id/...), authenticated by the run's token.

// RemoteOptions configure a RemoteSink.
type RemoteOptions struct {
	Server string // the server's base URL
	RunID  int64
	Token  string // the run's token
	// ArtifactsDir is the executor's artifact folder: AddArtifact uploads
	// ArtifactsDir/<run id>/<name>.
	ArtifactsDir string
	Client       *http.Client // nil = a client with a 2-minute timeout
	// ChunkSize is the largest upload request body (0 = 1 MiB, below the
	// server's default body limit of 2 MiB).
	ChunkSize int
	// MaxPoints is the most metric points per request (0 = 5000).
	MaxPoints int
	// RetryFor is how long a call keeps retrying while the server does
	// not answer or answers 429/5xx (0 = 2 minutes).
	RetryFor time.Duration
	Logger   *slog.Logger
}

// RemoteSink is a RunSink and Publisher that writes to a server's worker
// API through the REST client (server/client), which turns the server's
// error answers back into domain errors. Events are sent by a background
// goroutine so that training never waits on the network; Close flushes
// them.
type RemoteSink struct {
	api  *client.Client
	path string // the run's worker API below the base URL
	opts RemoteOptions
	log  *slog.Logger

	events   chan experiments.Event
	sent     chan struct{}
	closeOne sync.Once
	dropped  int64
	mu       sync.Mutex
}

var (
	_ experiments.RunSink   = (*RemoteSink)(nil)
	_ experiments.Publisher = (*RemoteSink)(nil)
)

// NewRemoteSink checks opts and starts the event sender.
func NewRemoteSink(opts RemoteOptions) (*RemoteSink, error) {
	api, err := client.New(opts.Server, client.Options{Token: opts.Token, Timeout: 2 * time.Minute, HTTPClient: opts.Client})
	if err != nil {
		return nil, err
	}
	if opts.RunID < 1 {
		return nil, fmt.Errorf("run id %d: want a positive id", opts.RunID)
	}
	if opts.Token == "" {
		return nil, errors.New("run token is empty")
	}
	if opts.ArtifactsDir == "" {
		return nil, errors.New("remote sink: ArtifactsDir is required")
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1 << 20
	}
	if opts.MaxPoints <= 0 {
		opts.MaxPoints = 5000
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &RemoteSink{api: api, path: "api/worker/runs/" + strconv.FormatInt(opts.RunID, 10), opts: opts,
		log: opts.Logger, events: make(chan experiments.Event, 256), sent: make(chan struct{})}
	go s.sendEvents(s.events)
	return s, nil
}

// retryable says whether a call that failed this way may succeed later:
// the server was busy or failed inside (429, 5xx, whether or not behind a
// proxy that answers in its own words), or it could not be reached. A
// cancelled or expired context is final, as is any other answer.
func retryable(err error) bool {
	var ee *experiments.Error
	if errors.As(err, &ee) {
		return ee.Code == codeTooManyRequests || ee.Code == experiments.CodeInternal
	}
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error // *url.Error from net/http, or the connection failing mid-answer
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

// codeTooManyRequests is the code the server gives a 429 (see package
// server's doc); it is HTTP's, not the domain's, so the domain has no
// constant for it.
const codeTooManyRequests experiments.Code = "too_many_requests"

// call sends req, a request of the run's worker API (its Path below the
// run's), retrying while the error is retryable, and decodes a JSON answer
// into out when out is not nil.
func (s *RemoteSink) call(ctx context.Context, req client.Request, out any) error {
	req = s.runs(req)
	where := s.api.URL(req.Path).Path
	deadline := time.Now().Add(s.opts.RetryFor)
	wait := 250 * time.Millisecond
	for {
		err := s.api.Do(ctx, req, out)
		if err == nil || !retryable(err) || time.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("%s %s: %w", req.Method, where, err)
			}
			return nil
		}
		s.log.Warn("server call failed; retrying", "method", req.Method, "path", where, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", req.Method, where, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// runs puts req's path below the run's worker API.
func (s *RemoteSink) runs(req client.Request) client.Request {
	req.Path = s.path + "/" + req.Path
	return req
}

// callJSON sends in as JSON; want is the status of success (as the
// server's worker routes answer: 200 with a body, 201 for a new artifact,
// 204 without).
func (s *RemoteSink) callJSON(ctx context.Context, method, path string, want int, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", method, path, err)
	}
	return s.call(ctx, client.Request{Method: method, Path: path, ContentType: "application/json", Body: body, Want: want}, out)
}

func (s *RemoteSink) checkRun(runID int64) error {
	if runID != s.opts.RunID {
		return fmt.Errorf("remote sink of run %d cannot write run %d", s.opts.RunID, runID)
	}
	return nil
}

// Start announces the worker and returns its assignment.
func (s *RemoteSink) Start(ctx context.Context, info experiments.WorkerInfo) (*experiments.WorkerAssignment, error) {
	var a experiments.WorkerAssignment
	if err := s.callJSON(ctx, http.MethodPost, "start", http.StatusOK, info, &a); err != nil {
		return nil, err
	}
	if a.Run == nil || a.Run.ID != s.opts.RunID {
		return nil, fmt.Errorf("start: the server sent no run %d", s.opts.RunID)
	}
	return &a, nil
}

// Heartbeat tells the server the worker is alive.
func (s *RemoteSink) Heartbeat(ctx context.Context, info experiments.WorkerInfo) error {
	return s.callJSON(ctx, http.MethodPost, "heartbeat", http.StatusNoContent, info, nil)
}

// Finish reports how the run ended.
func (s *RemoteSink) Finish(ctx context.Context, rep experiments.WorkerReport) error {
	return s.callJSON(ctx, http.MethodPost, "finish", http.StatusNoContent, rep, nil)
}

// SetDataset implements RunSink.
func (s *RemoteSink) SetDataset(ctx context.Context, runID int64, d experiments.DatasetRecord) error {
	if err := s.checkRun(runID); err != nil {
		return err
	}
	return s.callJSON(ctx, http.MethodPut, "dataset", http.StatusNoContent, d, nil)
}

// AppendMetrics implements RunSink: points go in batches of MaxPoints.
func (s *RemoteSink) AppendMetrics(ctx context.Context, runID int64, points []experiments.MetricPoint) error {
	if err := s.checkRun(runID); err != nil {
		return err
	}
	for start := 0; start < len(points); start += s.opts.MaxPoints {
		part := points[start:min(start+s.opts.MaxPoints, len(points))]
		batch := experiments.WireMetrics{Points: make([]experiments.WireMetricPoint, len(part))}
		for i, p := range part {
			batch.Points[i] = experiments.WireMetricPoint{Key: p.Key, Step: p.Step, Epoch: p.Epoch, Value: experiments.WireFloat(p.Value), Time: p.Time}
		}
		if err := s.callJSON(ctx, http.MethodPost, "metrics", http.StatusNoContent, batch, nil); err != nil {
			return err
		}
	}
	return nil
}

// Metrics implements RunSink: the run's series as the server holds them
// (all keys when key is "").
func (s *RemoteSink) Metrics(ctx context.Context, runID int64, key string) ([]experiments.MetricPoint, error) {
	if err := s.checkRun(runID); err != nil {
		return nil, err
	}
	var q url.Values
	if key != "" {
		q = url.Values{"key": {key}}
	}
	var m experiments.WireMetrics
	if err := s.call(ctx, client.Request{Method: http.MethodGet, Path: "metrics", Query: q}, &m); err != nil {
		return nil, err
	}
	return m.MetricPoints(), nil
}

// DeleteMetricsAfter implements RunSink.
func (s *RemoteSink) DeleteMetricsAfter(ctx context.Context, runID int64, epoch int) error {
	if err := s.checkRun(runID); err != nil {
		return err
	}
	return s.call(ctx, client.Request{Method: http.MethodDelete, Path: "metrics",
		Query: url.Values{"after_epoch": {strconv.Itoa(epoch)}}, Want: http.StatusNoContent}, nil)
}

// SetFinalMetrics implements RunSink.
func (s *RemoteSink) SetFinalMetrics(ctx context.Context, runID int64, metrics map[string]float64) error {
	if err := s.checkRun(runID); err != nil {
		return err
	}
	m := experiments.WireFinalMetrics{Metrics: make(map[string]experiments.WireFloat, len(metrics))}
	for k, v := range metrics {
		m.Metrics[k] = experiments.WireFloat(v)
	}
	return s.callJSON(ctx, http.MethodPut, "final-metrics", http.StatusNoContent, m, nil)
}

// escapeName escapes each segment of a slash-separated artifact name.
func escapeName(name string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// AddArtifact implements RunSink: it uploads the file in chunks, hashing
// it on the way, and commits it under a.Name once size and sha256 match
// what the executor recorded.
func (s *RemoteSink) AddArtifact(ctx context.Context, a *experiments.Artifact) error {
	if err := s.checkRun(a.RunID); err != nil {
		return err
	}
	path := filepath.Join(s.opts.ArtifactsDir, strconv.FormatInt(a.RunID, 10), filepath.FromSlash(a.Name))
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload artifact %s: %w", a.Name, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, s.opts.ChunkSize)
	var offset int64
	for {
		n, rerr := io.ReadFull(f, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("upload artifact %s: %w", a.Name, rerr)
		}
		if n > 0 || offset == 0 {
			if err := s.uploadChunk(ctx, a.Name, offset, buf[:n]); err != nil {
				return fmt.Errorf("upload artifact %s: %w", a.Name, err)
			}
			h.Write(buf[:n])
			offset += int64(n)
		}
		if rerr != nil {
			break
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if offset != a.Size || sum != a.SHA256 {
		return fmt.Errorf("upload artifact %s: the file changed while it was uploaded (%d bytes, sha256 %s; recorded %d, %s)",
			a.Name, offset, sum, a.Size, a.SHA256)
	}
	var got experiments.Artifact
	if err := s.callJSON(ctx, http.MethodPost, "artifacts", http.StatusCreated, experiments.WireArtifact{Name: a.Name, Kind: a.Kind, Size: a.Size, SHA256: a.SHA256}, &got); err != nil {
		return fmt.Errorf("commit artifact %s: %w", a.Name, err)
	}
	a.ID, a.Created = got.ID, got.Created
	return nil
}

// uploadChunk sends one chunk. A retried chunk that the server already
// appended (its answer was lost) shows as a conflict whose details carry
// the upload's size: that is success.
func (s *RemoteSink) uploadChunk(ctx context.Context, name string, offset int64, chunk []byte) error {
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	err := s.call(ctx, client.Request{Method: http.MethodPost, Path: "uploads/" + escapeName(name), Query: q,
		ContentType: "application/octet-stream", Body: chunk}, nil)
	var ee *experiments.Error
	if errors.As(err, &ee) && ee.Code == experiments.CodeConflict {
		var d struct {
			Size int64 `json:"size"`
		}
		if raw, ok := ee.Details.(json.RawMessage); ok && json.Unmarshal(raw, &d) == nil && d.Size == offset+int64(len(chunk)) && offset > 0 {
			return nil
		}
	}
	return err
}

// Download fetches an artifact of the run to dst, checking its size and
// sha256; dst appears complete or not at all.
func (s *RemoteSink) Download(ctx context.Context, a *experiments.Artifact, dst string) error {
	body, err := s.api.Open(ctx, s.runs(client.Request{Method: http.MethodGet, Path: "artifacts/" + escapeName(a.Name)}))
	if err != nil {
		return fmt.Errorf("download %s: %w", a.Name, err)
	}
	defer body.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("download %s: %w", a.Name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return fmt.Errorf("download %s: %w", a.Name, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", a.Name, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != a.Size || sum != a.SHA256 {
		return fmt.Errorf("download %s: got %d bytes with sha256 %s, want %d bytes with %s", a.Name, n, sum, a.Size, a.SHA256)
	}
	return os.Rename(tmp.Name(), dst)
}

// Publish implements Publisher without blocking: when the server is
// slower than training, events are dropped (the next one supersedes them).
func (s *RemoteSink) Publish(ev experiments.Event) {
	if ev.Loss != nil && (math.IsNaN(*ev.Loss) || math.IsInf(*ev.Loss, 0)) {
		ev.Loss = nil
	}
	if math.IsNaN(ev.ETASeconds) || math.IsInf(ev.ETASeconds, 0) {
		ev.ETASeconds = 0
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		return // closed
	}
	select {
	case s.events <- ev:
	default:
		s.dropped++
	}
}

func (s *RemoteSink) sendEvents(events <-chan experiments.Event) {
	defer close(s.sent)
	for ev := range events {
		// An event is worth little later: one quick try each.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		body, _ := json.Marshal(ev)
		if err := s.api.Do(ctx, s.runs(client.Request{Method: http.MethodPost, Path: "events",
			ContentType: "application/json", Body: body, Want: http.StatusNoContent}), nil); err != nil {
			s.log.Debug("send event", "err", err)
		}
		cancel()
	}
}

// Close stops taking events and waits (up to timeout) until those taken
// are sent.
func (s *RemoteSink) Close(timeout time.Duration) {
	s.closeOne.Do(func() {
		s.mu.Lock()
		close(s.events)
		s.events = nil
		if s.dropped > 0 {
			s.log.Info("progress events dropped while the server was slow", "events", s.dropped)
		}
		s.mu.Unlock()
	})
	select {
	case <-s.sent:
	case <-time.After(timeout):
	}
}

// WorkerOptions configure RunWorker.
type WorkerOptions struct {
	Server string // the server's base URL
	RunID  int64
	Token  string // the run's token
	// VarDir is the node-local folder for data, caches and artifacts.
	VarDir      string
	LoadWorkers int          // image loading goroutines; 0 = GOMAXPROCS
	Client      *http.Client // nil = default
	Logger      *slog.Logger
}

// RunWorker executes one run for a server: it fetches the run, downloads
// its last checkpoint if it has one, trains and evaluates it with a
// local.Executor that writes to the server, and reports how it ended. It
// returns nil when the run succeeded and that was reported, the run's
// error when it failed (and that was reported), and ctx's error, without
// a report, when ctx ended first (the job is being cancelled or preempted:
// the server decides what becomes of the run).
func RunWorker(ctx context.Context, opts WorkerOptions) error {
	if opts.VarDir == "" {
		return errors.New("worker: the var folder is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("run", opts.RunID)
	artifacts := filepath.Join(opts.VarDir, "artifacts")
	sink, err := NewRemoteSink(RemoteOptions{Server: opts.Server, RunID: opts.RunID, Token: opts.Token,
		ArtifactsDir: artifacts, Client: opts.Client, Logger: log})
	if err != nil {
		return err
	}
	defer sink.Close(10 * time.Second)
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	info := experiments.WorkerInfo{Node: host, PID: os.Getpid(), JobID: os.Getenv("SLURM_JOB_ID")}
	asg, err := sink.Start(ctx, info)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	run := asg.Run
	log.Info("worker started", "node", host, "attempt", run.Attempts)

	// The server is the truth: what an earlier attempt left on this node
	// goes, and the run resumes from the server's checkpoint or from scratch.
	runDir := filepath.Join(artifacts, strconv.FormatInt(run.ID, 10))
	if err := os.RemoveAll(runDir); err != nil {
		return fmt.Errorf("worker: clear %s: %w", runDir, err)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("worker: %w", err)
	}

	runErr := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("run panicked", "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("internal error: %v", p)
			}
		}()
		if asg.Checkpoint != nil {
			if err := sink.Download(ctx, asg.Checkpoint, filepath.Join(runDir, local.CheckpointName)); err != nil {
				return err
			}
			log.Info("downloaded checkpoint", "bytes", asg.Checkpoint.Size)
		}
		spec, err := experiments.DecodeRunSpec(run.Params)
		if err != nil {
			return err
		}
		beatCtx, stopBeat := context.WithCancel(ctx)
		defer stopBeat()
		go heartbeat(beatCtx, sink, info, time.Duration(asg.HeartbeatSeconds*float64(time.Second)), log)
		exec := local.NewExecutor(sink, sink, local.Options{DataDir: filepath.Join(opts.VarDir, "data"),
			ArtifactsDir: artifacts, CacheDir: filepath.Join(opts.VarDir, "cache"), LoadWorkers: opts.LoadWorkers,
			DataRoots: asg.DataRoots, Logger: log})
		return exec.Execute(ctx, run, spec, "cpu")
	}()
	sink.Close(10 * time.Second)
	if ctx.Err() != nil {
		log.Warn("worker interrupted; the server decides what becomes of the run", "err", runErr)
		return ctx.Err()
	}
	rep := experiments.WorkerReport{State: experiments.StateSucceeded}
	if runErr != nil {
		rep = experiments.WorkerReport{State: experiments.StateFailed, Error: runErr.Error()}
	}
	if err := sink.Finish(ctx, rep); err != nil {
		return errors.Join(runErr, fmt.Errorf("worker: report the outcome: %w", err))
	}
	log.Info("worker finished", "state", rep.State, "error", rep.Error)
	return runErr
}

// heartbeat beats every interval until ctx ends.
func heartbeat(ctx context.Context, sink *RemoteSink, info experiments.WorkerInfo, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sink.Heartbeat(ctx, info); err != nil && ctx.Err() == nil {
				log.Warn("heartbeat", "err", err)
			}
		}
	}
}
