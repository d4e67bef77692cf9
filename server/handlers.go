package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// yamlTypes are the Content-Types accepted for a raw YAML spec.
var yamlTypes = map[string]bool{
	"application/yaml":   true,
	"application/x-yaml": true,
	"text/yaml":          true,
}

const acceptedTypes = "application/yaml, application/x-yaml, text/yaml (the spec as the body) or application/json ({\"spec\": \"...\", \"experiment\": \"name\"})"

// submitRequest is the JSON form of a submission.
type submitRequest struct {
	Spec       string `json:"spec"`
	Experiment string `json:"experiment"`
}

func (s *Server) submit(c *fiber.Ctx) error {
	spec, only, err := readSubmission(c)
	if err != nil {
		return err
	}
	if q := c.Query("experiment"); q != "" {
		if only != "" && only != q {
			return invalid(nil, "experiment named twice: %q in the query and %q in the body", q, only)
		}
		only = utils.CopyString(q)
	}
	priority, prioritised, err := priorityQuery(c)
	if err != nil {
		return err
	}
	var exps []*experiments.Experiment
	var runs [][]*experiments.Run
	switch {
	case !prioritised:
		exps, runs, err = s.cfg.Service.Submit(c.UserContext(), spec, only)
	case s.cfg.Queue == nil:
		return invalid(nil, "query parameter priority: this server has no queue control")
	default:
		exps, runs, err = s.cfg.Queue.SubmitWithPriority(c.UserContext(), spec, only, priority)
	}
	if err != nil {
		return err
	}
	if len(exps) != len(runs) {
		return fmt.Errorf("service returned %d experiments but %d run lists", len(exps), len(runs))
	}
	out := make([]experiments.Submitted, len(exps))
	for i, e := range exps {
		ids := make([]int64, len(runs[i]))
		for j, r := range runs[i] {
			ids[j] = r.ID
		}
		out[i] = experiments.Submitted{ID: e.ID, Name: e.Name, RunIDs: ids}
	}
	if len(out) == 1 {
		c.Location("/api/experiments/" + strconv.FormatInt(out[0].ID, 10))
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"experiments": out})
}

// readSubmission returns a copy of the spec and the experiment named in a
// JSON body, by Content-Type.
func readSubmission(c *fiber.Ctx) ([]byte, string, error) {
	ct := string(c.Request().Header.ContentType())
	if ct == "" {
		return nil, "", &httpError{Status: fiber.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "missing Content-Type; send " + acceptedTypes}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, "", &httpError{Status: fiber.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: fmt.Sprintf("malformed Content-Type %q; send %s", ct, acceptedTypes)}
	}
	body := c.Body()
	switch {
	case yamlTypes[mt]:
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, "", invalid(nil, "empty request body: send the spec YAML")
		}
		return bytes.Clone(body), "", nil
	case mt == "application/json":
		var req submitRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, "", invalid(nil, "malformed JSON body: %s", jsonProblem(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, "", invalid(nil, "malformed JSON body: data after the object")
		}
		if req.Spec == "" {
			return nil, "", invalid(nil, "JSON body: field spec is required (the YAML text)")
		}
		// Decoded strings are fresh allocations, not Fiber's buffer.
		return []byte(req.Spec), req.Experiment, nil
	}
	return nil, "", &httpError{Status: fiber.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
		Message: fmt.Sprintf("unsupported Content-Type %q; send %s", mt, acceptedTypes)}
}

// jsonProblem words a decoding error for a client.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == io.EOF:
		return "empty body"
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: expected %s, got %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// experimentView is an experiment as the API shows it: counts for every
// state (zeros included) so clients need no defaults; spec only on detail.
type experimentView struct {
	ID       int64                     `json:"id"`
	Name     string                    `json:"name"`
	Spec     string                    `json:"spec,omitempty"`
	SpecHash string                    `json:"spec_hash"`
	Version  string                    `json:"version"`
	Created  time.Time                 `json:"created"`
	Runs     int                       `json:"runs"`
	Counts   map[experiments.State]int `json:"counts"`
	Best     *experiments.BestFigure   `json:"best"`
	Priority int                       `json:"priority,omitempty"`
	Tags     map[string]string         `json:"tags,omitempty"`
	Archived *time.Time                `json:"archived,omitempty"`
}

func viewExperiment(e *experiments.Experiment, withSpec bool) experimentView {
	v := experimentView{ID: e.ID, Name: e.Name, SpecHash: e.SpecHash, Version: e.Version,
		Created: e.Created, Runs: e.Runs, Best: e.Best, Priority: e.Priority, Counts: map[experiments.State]int{},
		Tags: e.Tags, Archived: e.Archived}
	if withSpec {
		v.Spec = e.SpecText
	}
	for _, st := range experiments.States {
		v.Counts[st] = e.Counts[st]
	}
	return v
}

// pageOf is the envelope of every paginated list.
type pageOf[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func (s *Server) listExperiments(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	archived, err := archivedQuery(c)
	if err != nil {
		return err
	}
	exps, total, err := s.cfg.Store.ListExperimentsWhere(c.UserContext(), experiments.ExperimentFilter{
		Search: c.Query("search"), Archived: archived, Limit: p.limit, Offset: p.offset})
	if err != nil {
		return err
	}
	items := make([]experimentView, len(exps))
	for i, e := range exps {
		items[i] = viewExperiment(e, false)
	}
	return c.JSON(pageOf[experimentView]{items, total, p.limit, p.offset})
}

func (s *Server) getExperiment(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	e, err := s.cfg.Store.GetExperiment(c.UserContext(), id)
	if experiments.IsNotFound(err) {
		return notFound("experiment %d not found", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(viewExperiment(e, true))
}

func (s *Server) listRuns(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	exp, err := idQuery(c, "experiment")
	if err != nil {
		return err
	}
	st, err := stateQuery(c)
	if err != nil {
		return err
	}
	archived, err := archivedQuery(c)
	if err != nil {
		return err
	}
	// filter and order_by are parsed by the store; their errors are 400s
	// with the position of the problem.
	f := experiments.RunFilter{ExperimentID: exp, State: st, Model: utils.CopyString(c.Query("model")),
		Filter: utils.CopyString(c.Query("filter")), OrderBy: utils.CopyString(c.Query("order_by")), Archived: archived,
		Limit: p.limit, Offset: p.offset}
	runs, total, err := s.cfg.Store.ListRuns(c.UserContext(), f)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []*experiments.Run{}
	}
	return c.JSON(pageOf[*experiments.Run]{runs, total, p.limit, p.offset})
}

// lookupRun reads :id and the run it names, with the API's 400 and 404.
func (s *Server) lookupRun(c *fiber.Ctx) (*experiments.Run, error) {
	id, err := idParam(c, "run")
	if err != nil {
		return nil, err
	}
	r, err := s.cfg.Store.GetRun(c.UserContext(), id)
	if experiments.IsNotFound(err) {
		return nil, notFound("run %d not found", id)
	}
	return r, err
}

func (s *Server) getRun(c *fiber.Ctx) error {
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// seriesPoint is a metric point inside its series (the key is the map key).
type seriesPoint struct {
	Step  int       `json:"step"`
	Epoch int       `json:"epoch"`
	Value float64   `json:"value"`
	Time  time.Time `json:"time"`
}

// runMetrics answers {"run_id": N, "series": {"<key>": [points by step]}}:
// grouped by key because every consumer (charts, tables) wants one series
// at a time. ?key= restricts it to one key.
func (s *Server) runMetrics(c *fiber.Ctx) error {
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	points, err := s.cfg.Store.Metrics(c.UserContext(), r.ID, c.Query("key"))
	if err != nil {
		return err
	}
	series := map[string][]seriesPoint{}
	for _, p := range points {
		series[p.Key] = append(series[p.Key], seriesPoint{p.Step, p.Epoch, p.Value, p.Time})
	}
	for _, ps := range series {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Step < ps[j].Step })
	}
	return c.JSON(fiber.Map{"run_id": r.ID, "series": series})
}

func (s *Server) cancelRun(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	r, err := s.cfg.Service.Cancel(c.UserContext(), id)
	if experiments.IsNotFound(err) {
		return notFound("run %d not found", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// runDataset answers what data a run used: {"run_id", "fingerprint",
// "summary"}, 404 until the run has recorded it.
func (s *Server) runDataset(c *fiber.Ctx) error {
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	d, err := s.cfg.Store.Dataset(c.UserContext(), r.ID)
	if experiments.IsNotFound(err) {
		return notFound("run %d has no dataset record yet", r.ID)
	}
	if err != nil {
		return err
	}
	return c.JSON(struct {
		RunID int64 `json:"run_id"`
		*experiments.DatasetRecord
	}{r.ID, d})
}
