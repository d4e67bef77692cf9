package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
)

// The worker API: what a run's job on a cluster node calls while it
// executes that run. Every route is under /api/worker/runs/:id and needs
// "Authorization: Bearer <run token>": the token the server generated when
// it submitted the job, which it keeps only hashed and which writes to
// that one run only while it is running. The server's own bearer token
// does not open these routes, and a run token opens nothing else.
//
//	POST   /start                 {"node","pid","job_id"} → {"run","checkpoint","heartbeat_seconds"}
//	POST   /heartbeat             {"node","pid","job_id"} → 204
//	POST   /metrics               {"points":[{"key","step","epoch","value","time"}]} → 204
//	GET    /metrics?key=          {"points":[...]} (the run's series, for its plots)
//	DELETE /metrics?after_epoch=N → 204 (a resumed run drops points past its checkpoint)
//	PUT    /final-metrics         {"metrics":{"<key>": value}} → 204
//	PUT    /dataset               {"fingerprint","summary"} → 204
//	POST   /uploads/<name>?offset=N  the next chunk of a file (raw body) → {"size"}
//	POST   /artifacts             {"name","kind","size","sha256"} → 201 the artifact
//	GET    /artifacts/<name>      an artifact of the run (the checkpoint to resume from)
//	POST   /events                a progress event → 204
//	POST   /finish                {"state":"succeeded"|"failed","error"} → 204
//
// Metric values are numbers or "NaN", "+Inf", "-Inf". Uploads go in
// chunks below the body limit; /artifacts commits a complete upload after
// checking its size and sha256. Beside them, GET /api/runs/:id/job (a read
// route) shows a run's backend, job id, node, Slurm state and heartbeat.

// WorkerService is what the worker API needs beyond the store;
// slurm.Executor implements it.
type WorkerService interface {
	// AuthenticateWorker reports whether token is the current token of
	// run runID and the run is running.
	AuthenticateWorker(ctx context.Context, runID int64, token string) (bool, error)
	WorkerStart(ctx context.Context, runID int64, info experiments.WorkerInfo) (*experiments.WorkerAssignment, error)
	WorkerHeartbeat(ctx context.Context, runID int64, info experiments.WorkerInfo) error
	// WorkerEvent publishes a worker's progress event as the run's.
	WorkerEvent(ctx context.Context, runID int64, ev experiments.Event) error
	// WorkerFinish takes the worker's final report on its run.
	WorkerFinish(ctx context.Context, runID int64, rep experiments.WorkerReport) error
	// RunJob returns the run's cluster job as recorded.
	RunJob(ctx context.Context, runID int64) (*experiments.Job, error)
}

// workerUnauthorized is the one answer to a missing or wrong run token.
const workerUnauthorized = "missing or invalid run token"

// uploadsDir is the folder, inside a run's artifact folder, of uploads
// not yet committed; no artifact may live under it.
const uploadsDir = ".uploads"

// EnableWorkerAPI adds the worker API and GET /api/runs/:id/job, served by
// svc. Call it once, right after New. (Routes are matched in the order
// they were added: with Config.Frontend set, its catch-all GET would answer
// the worker's two GET routes first, so a server with a frontend must add
// these routes from routes(), before the frontend.)
func (s *Server) EnableWorkerAPI(svc WorkerService) {
	s.workerRoutes(s.app.Group("/api"), func(h fiber.Handler) []fiber.Handler {
		return append(append([]fiber.Handler{}, s.guard.read...), h)
	}, svc)
}

// workerRoutes adds the worker API under api; r wraps read routes in the
// read guard.
func (s *Server) workerRoutes(api fiber.Router, r func(fiber.Handler) []fiber.Handler, svc WorkerService) {
	s.workerAPI = true
	w := &workerAPI{s: s, svc: svc, failures: newFailureLimiter(DefaultMaxFailures, time.Now)}
	api.Get("/runs/:id/job", r(w.job)...)
	g := api.Group("/worker/runs/:id", w.auth)
	g.Post("/start", w.start)
	g.Post("/heartbeat", w.heartbeat)
	g.Post("/metrics", w.appendMetrics)
	g.Get("/metrics", w.metrics)
	g.Delete("/metrics", w.deleteMetrics)
	g.Put("/final-metrics", w.finalMetrics)
	g.Put("/dataset", w.dataset)
	g.Post("/uploads/*", w.upload)
	g.Post("/artifacts", w.commit)
	g.Get("/artifacts/*", w.download)
	g.Post("/events", w.event)
	g.Post("/finish", w.finish)
}

type workerAPI struct {
	s        *Server
	svc      WorkerService
	failures *failureLimiter
}

// auth admits a request carrying the run's token; the run id is then in
// Locals("run"). Wrong tokens count against the client's allowance, as
// with the server's own token, and the right one passes even then.
func (w *workerAPI) auth(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	h := c.Get(fiber.HeaderAuthorization)
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" {
		return workerDenied(c)
	}
	ok := false
	if strings.EqualFold(scheme, "Bearer") {
		if ok, err = w.svc.AuthenticateWorker(c.UserContext(), id, strings.TrimSpace(token)); err != nil {
			return err
		}
	}
	if !ok {
		// The run's own token always passes; only failures are throttled.
		return w.failures.refuse(c, workerDenied)
	}
	c.Locals("run", id)
	return c.Next()
}

func workerDenied(c *fiber.Ctx) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="xraylab-worker"`)
	return &httpError{Status: fiber.StatusUnauthorized, Code: codeUnauthorized, Message: workerUnauthorized}
}

func runOf(c *fiber.Ctx) int64 { return c.Locals("run").(int64) }

// decodeJSON decodes a JSON body strictly into v.
func decodeJSON(c *fiber.Ctx, v any) error {
	if mt, _, err := mime.ParseMediaType(string(c.Request().Header.ContentType())); err != nil || mt != fiber.MIMEApplicationJSON {
		return &httpError{Status: fiber.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "send the body as application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(nil, "malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(nil, "malformed JSON body: data after the value")
	}
	return nil
}

func (w *workerAPI) start(c *fiber.Ctx) error {
	var info experiments.WorkerInfo
	if err := decodeJSON(c, &info); err != nil {
		return err
	}
	a, err := w.svc.WorkerStart(c.UserContext(), runOf(c), info)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (w *workerAPI) heartbeat(c *fiber.Ctx) error {
	var info experiments.WorkerInfo
	if err := decodeJSON(c, &info); err != nil {
		return err
	}
	if err := w.svc.WorkerHeartbeat(c.UserContext(), runOf(c), info); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (w *workerAPI) appendMetrics(c *fiber.Ctx) error {
	var m experiments.WireMetrics
	if err := decodeJSON(c, &m); err != nil {
		return err
	}
	for i, p := range m.Points {
		if p.Key == "" {
			return invalid(nil, "points[%d]: key is required", i)
		}
	}
	if err := w.s.cfg.Store.AppendMetrics(c.UserContext(), runOf(c), m.MetricPoints()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (w *workerAPI) metrics(c *fiber.Ctx) error {
	points, err := w.s.cfg.Store.Metrics(c.UserContext(), runOf(c), c.Query("key"))
	if err != nil {
		return err
	}
	out := experiments.WireMetrics{Points: make([]experiments.WireMetricPoint, len(points))}
	for i, p := range points {
		out.Points[i] = experiments.WireMetricPoint{Key: p.Key, Step: p.Step, Epoch: p.Epoch, Value: experiments.WireFloat(p.Value), Time: p.Time}
	}
	return c.JSON(out)
}

func (w *workerAPI) deleteMetrics(c *fiber.Ctx) error {
	v := c.Query("after_epoch")
	epoch, err := strconv.Atoi(v)
	if err != nil || epoch < 0 {
		const allowed = "an integer >= 0"
		return invalid(paramDetails{"after_epoch", strings.Clone(v), allowed},
			"query parameter after_epoch: must be %s, got %q", allowed, v)
	}
	if err := w.s.cfg.Store.DeleteMetricsAfter(c.UserContext(), runOf(c), epoch); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (w *workerAPI) finalMetrics(c *fiber.Ctx) error {
	var m experiments.WireFinalMetrics
	if err := decodeJSON(c, &m); err != nil {
		return err
	}
	if m.Metrics == nil {
		return invalid(nil, "JSON body: field metrics is required")
	}
	if err := w.s.cfg.Store.SetFinalMetrics(c.UserContext(), runOf(c), m.Map()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (w *workerAPI) dataset(c *fiber.Ctx) error {
	var d experiments.DatasetRecord
	if err := decodeJSON(c, &d); err != nil {
		return err
	}
	if d.Fingerprint == "" {
		return invalid(nil, "JSON body: field fingerprint is required")
	}
	if err := w.s.cfg.Store.SetDataset(c.UserContext(), runOf(c), d); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// runDir is the run's artifact folder.
func (w *workerAPI) runDir(runID int64) (string, error) {
	if w.s.cfg.ArtifactsDir == "" {
		return "", errors.New("server: Config.ArtifactsDir is not set")
	}
	return filepath.Join(w.s.cfg.ArtifactsDir, strconv.FormatInt(runID, 10)), nil
}

// uploadPath is where the upload of an artifact name collects.
func (w *workerAPI) uploadPath(runID int64, name string) (string, error) {
	dir, err := w.runDir(runID)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(dir, uploadsDir, hex.EncodeToString(sum[:])), nil
}

// checkArtifactName refuses names that could leave the run's folder or
// land among uploads.
func checkArtifactName(name string) error {
	reject := func(why string) error {
		return invalid(map[string]string{"name": name}, "artifact name %q: %s", name, why)
	}
	switch {
	case name == "":
		return reject("required")
	case strings.ContainsRune(name, 0) || strings.Contains(name, `\`):
		return reject("NUL bytes and backslashes are not allowed")
	case path.Clean(name) != name || !filepath.IsLocal(name) || !fs.ValidPath(name):
		return reject(`must be a clean relative path (no "..", empty or "." segments)`)
	case name == uploadsDir || strings.HasPrefix(name, uploadsDir+"/"):
		return reject(uploadsDir + " is reserved for uploads in progress")
	}
	return nil
}

// upload writes one chunk: offset 0 starts the file over, any other
// offset must be the size received so far (else 409 with that size).
func (w *workerAPI) upload(c *fiber.Ctx) error {
	name, err := artifactName(c.Params("*"))
	if err != nil {
		return err
	}
	if err := checkArtifactName(name); err != nil {
		return err
	}
	v := c.Query("offset")
	offset, err := strconv.ParseInt(v, 10, 64)
	if err != nil || offset < 0 {
		const allowed = "an integer >= 0"
		return invalid(paramDetails{"offset", strings.Clone(v), allowed}, "query parameter offset: must be %s, got %q", allowed, v)
	}
	p, err := w.uploadPath(runOf(c), name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if offset == 0 {
		flags |= os.O_TRUNC
	} else {
		st, err := os.Stat(p)
		size := int64(0)
		if err == nil {
			size = st.Size()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if size != offset {
			return &experiments.Error{Code: experiments.CodeConflict, Details: fiber.Map{"size": size},
				Message: fmt.Sprintf("upload of %q has %d bytes, not %d: send from offset %d", name, size, offset, size)}
		}
	}
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(c.Body())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	return c.JSON(fiber.Map{"size": offset + int64(len(c.Body()))})
}

// commit moves a complete upload into place as an artifact, once its size
// and sha256 are those the worker names.
func (w *workerAPI) commit(c *fiber.Ctx) error {
	var a experiments.WireArtifact
	if err := decodeJSON(c, &a); err != nil {
		return err
	}
	if err := checkArtifactName(a.Name); err != nil {
		return err
	}
	if a.Kind == "" {
		return invalid(nil, "artifact %q: kind is required", a.Name)
	}
	runID := runOf(c)
	p, err := w.uploadPath(runID, a.Name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return experiments.Errorf(experiments.CodeConflict, "artifact %q: nothing was uploaded under that name", a.Name)
	}
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != a.Size || sum != a.SHA256 {
		return experiments.Errorf(experiments.CodeConflict,
			"artifact %q: the upload has %d bytes with sha256 %s, not %d bytes with %s", a.Name, n, sum, a.Size, a.SHA256)
	}
	dir, err := w.runDir(runID)
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(a.Name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(p, dst); err != nil {
		return err
	}
	art := &experiments.Artifact{RunID: runID, Name: a.Name, Kind: a.Kind, Size: a.Size, SHA256: a.SHA256}
	if err := w.s.cfg.Store.AddArtifact(c.UserContext(), art); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(art)
}

func (w *workerAPI) download(c *fiber.Ctx) error {
	name, err := artifactName(c.Params("*"))
	if err != nil {
		return err
	}
	f, size, err := w.s.openArtifact(c, runOf(c), name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	return c.SendStream(f, int(size))
}

func (w *workerAPI) event(c *fiber.Ctx) error {
	var ev experiments.Event
	if err := decodeJSON(c, &ev); err != nil {
		return err
	}
	if err := w.svc.WorkerEvent(c.UserContext(), runOf(c), ev); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (w *workerAPI) finish(c *fiber.Ctx) error {
	var rep experiments.WorkerReport
	if err := decodeJSON(c, &rep); err != nil {
		return err
	}
	if err := w.svc.WorkerFinish(c.UserContext(), runOf(c), rep); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// job answers GET /api/runs/:id/job.
func (w *workerAPI) job(c *fiber.Ctx) error {
	r, err := w.s.lookupRun(c)
	if err != nil {
		return err
	}
	j, err := w.svc.RunJob(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	return c.JSON(j)
}
