package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"xraylab/experiments"
)

// Metrics are what GET /metrics exposes in the Prometheus text format:
// runs by state, queue depth and pause, runs started and finished, the
// seconds of training steps, and HTTP request latency by route. The
// gauges are read from the store at each scrape, so they count runs of
// every process sharing the database; the counters and histograms count
// what this process saw.
type Metrics struct {
	reg      *prometheus.Registry
	started  prometheus.Counter
	finished *prometheus.CounterVec
	steps    prometheus.Histogram
	requests *prometheus.HistogramVec
}

// NewMetrics builds the metrics of a server over store. Feed it with
// ObserveEvent (Hub.Observe) and ObserveStep (the local executor's OnStep).
func NewMetrics(store experiments.Store) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xraylab_runs_started_total", Help: "Runs this process started executing (each attempt counts).",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xraylab_runs_finished_total", Help: "Runs that reached a final state in this process, by state.",
		}, []string{"state"}),
		steps: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xraylab_train_step_seconds", Help: "Duration of one training step (one batch) of the local executor.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms to 33 s
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xraylab_http_request_duration_seconds", Help: "HTTP request latency by method, route and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "code"}),
	}
	for _, st := range experiments.States {
		if st.Terminal() {
			m.finished.WithLabelValues(string(st)) // exposed as 0 before the first one
		}
	}
	m.reg.MustRegister(m.started, m.finished, m.steps, m.requests, &storeCollector{store: store},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveEvent counts runs started and finished from run state events.
func (m *Metrics) ObserveEvent(e experiments.Event) {
	if e.Type != "state" {
		return
	}
	switch {
	case e.State == experiments.StateRunning:
		m.started.Inc()
	case e.State.Terminal():
		m.finished.WithLabelValues(string(e.State)).Inc()
	}
}

// ObserveStep records the duration of one training step.
func (m *Metrics) ObserveStep(d time.Duration) { m.steps.Observe(d.Seconds()) }

// observeRequests times every request by its route pattern (not its path,
// which would make a series per run id). Event streams last as long as
// the client stays, so they are left out.
func (s *Server) observeRequests(c *fiber.Ctx) error {
	start := time.Now()
	self := c.Route()
	err := c.Next()
	path := c.Route().Path
	if r := c.Route(); r == self || prefixMiddleware(r.Path, c.Path()) { // no route past the middlewares matched
		path = "unmatched"
	}
	if path != eventsPath {
		// Fiber's strings alias its reused buffers; label values are kept.
		s.metrics.requests.WithLabelValues(utils.CopyString(c.Method()), path, strconv.Itoa(c.Response().StatusCode())).
			Observe(time.Since(start).Seconds())
	}
	return err
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
}

// storeCollector reads runs by state, queue depth and pause from the store
// at scrape time.
type storeCollector struct{ store experiments.Store }

var (
	runsDesc   = prometheus.NewDesc("xraylab_runs", "Runs in the database by state.", []string{"state"}, nil)
	depthDesc  = prometheus.NewDesc("xraylab_queue_depth", "Queued runs waiting for a worker.", nil, nil)
	pausedDesc = prometheus.NewDesc("xraylab_queue_paused", "1 while the queue is paused (no run is leased), else 0.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runsDesc
	ch <- depthDesc
	ch <- pausedDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, st := range experiments.States {
		_, n, err := c.store.ListRuns(ctx, experiments.RunFilter{State: st, Limit: 1})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(runsDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(n), string(st))
		if st == experiments.StateQueued {
			ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n))
		}
	}
	paused, err := c.store.QueuePaused(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pausedDesc, err)
		return
	}
	v := 0.0
	if paused {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, v)
}

// prefixMiddleware tells a middleware mounted on a prefix (app.Use("/api"),
// whose route is the last one a request passed through when no handler
// matched it) from a handler's route: a handler's pattern without
// parameters is the request's whole path.
func prefixMiddleware(pattern, path string) bool {
	return !strings.ContainsAny(pattern, ":*") && !strings.EqualFold(strings.TrimSuffix(pattern, "/"), strings.TrimSuffix(path, "/"))
}
