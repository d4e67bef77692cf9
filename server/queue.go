package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// QueueService is queue control: priorities, pause and resume, retry and
// bulk cancel. experiments.Manager implements it.
type QueueService interface {
	// SubmitWithPriority is Service.Submit with the experiments' priority.
	SubmitWithPriority(ctx context.Context, spec []byte, only string, priority int) ([]*experiments.Experiment, [][]*experiments.Run, error)
	SetExperimentPriority(ctx context.Context, id int64, priority int) (*experiments.Experiment, error)
	// SetRunPriority sets (nil: clears) a queued run's override.
	SetRunPriority(ctx context.Context, id int64, priority *int) (*experiments.Run, error)
	MoveRunToTop(ctx context.Context, id int64) (*experiments.Run, error)
	// Queue reports whether the queue is paused and its queued runs in
	// lease order, with their total.
	Queue(ctx context.Context, limit, offset int) (bool, []*experiments.Run, int, error)
	SetPaused(ctx context.Context, paused bool) error
	Retry(ctx context.Context, id int64) (*experiments.Run, error)
	Attempts(ctx context.Context, id int64) ([]experiments.Attempt, error)
	CancelQueuedOf(ctx context.Context, experimentID int64) ([]int64, error)
}

// priorityAllowed words the priorities a client may send.
var priorityAllowed = fmt.Sprintf("an integer from %d to %d", experiments.MinPriority, experiments.MaxPriority)

func (s *Server) queueRoutes(api fiber.Router, r, w func(fiber.Handler) []fiber.Handler) {
	api.Get("/queue", r(s.getQueue)...)
	api.Post("/queue/pause", w(s.pauseQueue(true))...)
	api.Post("/queue/resume", w(s.pauseQueue(false))...)
	api.Post("/experiments/:id/priority", w(s.setExperimentPriority)...)
	api.Post("/experiments/:id/cancel-queued", w(s.cancelQueuedOf)...)
	api.Post("/runs/:id/priority", w(s.setRunPriority)...)
	api.Post("/runs/:id/top", w(s.moveRunToTop)...)
	api.Post("/runs/:id/retry", w(s.retryRun)...)
	api.Get("/runs/:id/attempts", r(s.runAttempts)...)
}

// priorityQuery reads the optional ?priority= of a submission.
func priorityQuery(c *fiber.Ctx) (int, bool, error) {
	v := c.Query("priority")
	if v == "" {
		return 0, false, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || experiments.CheckPriority(p) != nil {
		return 0, false, invalid(paramDetails{"priority", utils.CopyString(v), priorityAllowed},
			"query parameter priority: must be %s, got %q", priorityAllowed, v)
	}
	return p, true, nil
}

// priorityBody reads {"priority": N} (or, when nullable, {"priority":
// null}, which clears a run's override).
func priorityBody(c *fiber.Ctx, nullable bool) (*int, error) {
	var req struct {
		Priority json.RawMessage `json:"priority"`
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, invalid(nil, "malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid(nil, "malformed JSON body: data after the object")
	}
	want := priorityAllowed
	if nullable {
		want += ", or null to follow the experiment's"
	}
	raw := string(bytes.TrimSpace(req.Priority))
	switch {
	case raw == "":
		return nil, invalid(nil, "JSON body: field priority is required (%s)", want)
	case raw == "null" && nullable:
		return nil, nil
	}
	p, err := strconv.Atoi(raw)
	if err != nil {
		return nil, invalid(nil, "priority must be %s, got %s", want, raw)
	}
	if err := experiments.CheckPriority(p); err != nil {
		return nil, err
	}
	return &p, nil
}

// queueView is GET /api/queue: the pause state and a page of the queued
// runs in lease order.
type queueView struct {
	Paused bool `json:"paused"`
	pageOf[*experiments.Run]
}

func (s *Server) getQueue(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	paused, runs, total, err := s.cfg.Queue.Queue(c.UserContext(), p.limit, p.offset)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []*experiments.Run{}
	}
	return c.JSON(queueView{paused, pageOf[*experiments.Run]{runs, total, p.limit, p.offset}})
}

func (s *Server) pauseQueue(paused bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.cfg.Queue.SetPaused(c.UserContext(), paused); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"paused": paused})
	}
}

func (s *Server) setExperimentPriority(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	p, err := priorityBody(c, false)
	if err != nil {
		return err
	}
	e, err := s.cfg.Queue.SetExperimentPriority(c.UserContext(), id, *p)
	if err != nil {
		return err
	}
	return c.JSON(viewExperiment(e, false))
}

func (s *Server) cancelQueuedOf(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	ids, err := s.cfg.Queue.CancelQueuedOf(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"experiment_id": id, "cancelled": ids})
}

func (s *Server) setRunPriority(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	p, err := priorityBody(c, true)
	if err != nil {
		return err
	}
	r, err := s.cfg.Queue.SetRunPriority(c.UserContext(), id, p)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) moveRunToTop(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	r, err := s.cfg.Queue.MoveRunToTop(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) retryRun(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	r, err := s.cfg.Queue.Retry(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) runAttempts(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	items, err := s.cfg.Queue.Attempts(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"run_id": id, "items": items})
}
