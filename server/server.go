package server

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"xraylab/experiments"
)

// Service is what the server needs beyond reads: accepting specs,
// cancelling runs and subscribing to run events. experiments.Manager
// implements it.
type Service interface {
	// Submit validates spec (YAML), expands its grid and queues the runs.
	// only names the experiment to pick from a multi-experiment file ("" =
	// all). It returns one Experiment per queued experiment, with its runs.
	Submit(ctx context.Context, spec []byte, only string) ([]*experiments.Experiment, [][]*experiments.Run, error)
	// Cancel cancels a queued or running run and returns it as it now is.
	Cancel(ctx context.Context, runID int64) (*experiments.Run, error)
	// Subscribe returns a stream of events and the function that ends it.
	Subscribe() (<-chan experiments.Event, func())
}

// Defaults for the zero values of Config.
const (
	// 2 MiB: room for a spec at experiments.MaxSpecBytes even JSON-escaped,
	// so that the spec's own, clearer size error is the one clients see.
	DefaultBodyLimit = 2 << 20
	DefaultHeartbeat = 15 * time.Second
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Config wires a Server. Store and Service are required.
type Config struct {
	Store   experiments.Store
	Service Service
	// ArtifactsDir holds run artifacts as ArtifactsDir/<runID>/<Artifact.Name>.
	ArtifactsDir string
	// Version is reported by /api/health.
	Version string
	// BodyLimit is the largest request body in bytes (0 = DefaultBodyLimit);
	// larger bodies get 413.
	BodyLimit int
	// Logger receives request and error logs (nil = slog.Default()).
	Logger *slog.Logger
	// Notes stores the experiment pages' Markdown notes (nil = no notes
	// routes).
	Notes NoteStore
	// Reports draws tables, figures and reports of experiments (nil =
	// those endpoints answer 404).
	Reports Reports
	// Heatmaps renders runs' anomaly maps of test images on demand for
	// GET /api/runs/:id/heatmap (nil = that endpoint answers 404).
	Heatmaps Heatmaps
	// Workers serves the worker API of a cluster backend and GET
	// /api/runs/:id/job (nil = neither).
	Workers WorkerService
	// Frontend is the dashboard's static files, served at / with
	// index.html as the fallback for client-side routes (nil = none).
	Frontend fs.FS
	// Heartbeat is the interval of SSE keep-alive comments; it also bounds
	// how long a vanished client holds its subscription (0 = 15 s).
	Heartbeat time.Duration
	// Redactor rewrites server paths in what readers without the token
	// see (see NewRedactor; nil = shown as they are). A reader has the
	// token when BearerGuard admitted it on the token.
	Redactor *Redactor
	// ReadGuard and WriteGuard run before every read-only and every
	// mutating /api handler (not /api/health); nil = open. Access control
	// (bearer tokens) plugs in here: a guard returns an error to refuse.
	ReadGuard  fiber.Handler
	WriteGuard fiber.Handler
	// Queue serves queue control (priorities, pause, retry, bulk cancel;
	// nil = none of those routes).
	Queue QueueService
	// Metrics is what GET /metrics exposes (nil = the server's own, with
	// request latency and the store's gauges only).
	Metrics *Metrics
}

// Server is the Fiber app plus what a graceful shutdown needs: SSE streams
// never end on their own, so Shutdown must tell them to.
type Server struct {
	app     *fiber.App
	cfg     Config
	log     *slog.Logger
	quit    chan struct{}
	once    sync.Once
	guard   struct{ read, write []fiber.Handler }
	metrics *Metrics
	// workerAPI is set once the worker API's routes are added.
	workerAPI bool
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Service == nil {
		return nil, errors.New("server: Config.Service is required")
	}
	if cfg.BodyLimit < 0 {
		return nil, errors.New("server: Config.BodyLimit must not be negative")
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Store)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, quit: make(chan struct{}), metrics: cfg.Metrics}
	if cfg.ReadGuard != nil {
		s.guard.read = []fiber.Handler{cfg.ReadGuard}
	}
	if cfg.WriteGuard != nil {
		s.guard.write = []fiber.Handler{cfg.WriteGuard}
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "xraylab",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		// No WriteTimeout: it would cut SSE streams. Reads and idle
		// keep-alive connections are bounded so Shutdown is not held up.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second,
	})
	// logRequests sits outside recover so that a panic, turned into an
	// error by recover, is answered and logged like any other error.
	s.app.Use(s.observeRequests, s.logRequests, recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, p any) {
			s.log.Error("panic in handler", "method", c.Method(), "path", c.Path(), "panic", p, "stack", string(debug.Stack()))
		},
	}))
	s.routes()
	return s, nil
}

// App returns the Fiber app (for app.Test and for embedding).
func (s *Server) App() *fiber.App { return s.app }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections, ends every SSE stream and waits for
// in-flight requests until ctx is done, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() { close(s.quit) })
	return s.app.ShutdownWithContext(ctx)
}

func (s *Server) routes() {
	api := s.app.Group("/api")
	api.Use(s.redactReads)
	api.Get("/health", s.health)

	r := func(h fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, s.guard.read...), h) }
	w := func(h fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, s.guard.write...), h) }

	api.Post("/experiments", w(s.submit)...)
	api.Get("/experiments", r(s.listExperiments)...)
	api.Get("/experiments/:id", r(s.getExperiment)...)
	api.Get("/experiments/:id/table", r(s.experimentTable)...)
	api.Get("/experiments/:id/roc.:ext<regex(png|svg)>", r(s.experimentROC)...)
	api.Get("/experiments/:id/report", r(s.experimentReport)...)
	api.Get("/runs", r(s.listRuns)...)
	api.Get("/runs/:id", r(s.getRun)...)
	api.Get("/runs/:id/metrics", r(s.runMetrics)...)
	api.Get("/runs/:id/dataset", r(s.runDataset)...)
	api.Get("/runs/:id/scores", r(s.runScores)...)
	api.Get("/runs/:id/roc", r(s.runROC)...)
	api.Get("/runs/:id/heatmap", r(s.runHeatmap)...)
	api.Post("/runs/:id/cancel", w(s.cancelRun)...)
	api.Get("/runs/:id/artifacts", r(s.listArtifacts)...)
	api.Get("/runs/:id/artifacts/*", r(s.downloadArtifact)...)
	api.Get("/events", r(s.events)...)
	s.noteRoutes(api, r, w)
	s.curationRoutes(api, w)
	api.Get("/openapi.json", s.openAPI)
	if s.cfg.Workers != nil {
		s.workerRoutes(api, r, s.cfg.Workers)
	}
	if s.cfg.Queue != nil {
		s.queueRoutes(api, r, w)
	}
	s.app.Get("/metrics", r(s.metricsHandler())...)

	if s.cfg.Frontend != nil {
		s.app.Get("/*", s.frontend)
	}
	// Everything unmatched falls to Fiber's 404/405, which handleError
	// turns into JSON.
}

func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok", "version": s.cfg.Version})
}

// logRequests answers errors (so the logged status is the one sent) and
// logs each request; 5xx causes are logged by handleError.
func (s *Server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	s.log.Debug("request", "method", c.Method(), "path", c.Path(),
		"status", c.Response().StatusCode(), "duration", time.Since(start))
	return nil
}
