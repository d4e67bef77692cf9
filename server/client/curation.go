package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"xraylab/experiments"
)

// Curation and queue control: the calls behind `xraylab runs`.

func archivedValue(m experiments.ArchivedMode) string {
	switch m {
	case experiments.ArchivedIncluded:
		return "true"
	case experiments.ArchivedOnly:
		return "only"
	}
	return ""
}

// JSON sends body as JSON (nil = no body) and decodes a 200 answer into out.
func (c *Client) JSON(ctx context.Context, method, path string, query url.Values, body, out any) error {
	req := Request{Method: method, Path: path, Query: query}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req.Body, req.ContentType = b, "application/json"
	}
	return c.Do(ctx, req, out)
}

func runPath(id int64, rest string) string { return "api/runs/" + strconv.FormatInt(id, 10) + rest }
func expPath(id int64, rest string) string {
	return "api/experiments/" + strconv.FormatInt(id, 10) + rest
}

func (c *Client) run(ctx context.Context, method, path string, q url.Values, body any) (*experiments.Run, error) {
	var r experiments.Run
	if err := c.JSON(ctx, method, path, q, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (c *Client) experiment(ctx context.Context, method, path string, q url.Values, body any) (*experiments.Experiment, error) {
	var e experiments.Experiment
	if err := c.JSON(ctx, method, path, q, body, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ExperimentsWhere lists the experiments f selects, newest first.
func (c *Client) ExperimentsWhere(ctx context.Context, f experiments.ExperimentFilter) ([]*experiments.Experiment, int, error) {
	q := url.Values{}
	if f.Search != "" {
		q.Set("search", f.Search)
	}
	if a := archivedValue(f.Archived); a != "" {
		q.Set("archived", a)
	}
	page(q, f.Limit, f.Offset)
	var out pageOf[*experiments.Experiment]
	err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/experiments", Query: q}, &out)
	return out.Items, out.Total, err
}

// SetRunTags adds or replaces tags of a run and returns the run.
func (c *Client) SetRunTags(ctx context.Context, id int64, tags map[string]string) (*experiments.Run, error) {
	return c.run(ctx, http.MethodPost, runPath(id, "/tags"), nil, map[string]any{"tags": tags})
}

// DeleteRunTag removes one tag of a run and returns the run.
func (c *Client) DeleteRunTag(ctx context.Context, id int64, key string) (*experiments.Run, error) {
	return c.run(ctx, http.MethodDelete, runPath(id, "/tags"), url.Values{"key": {key}}, nil)
}

// SetExperimentTags adds or replaces tags of an experiment.
func (c *Client) SetExperimentTags(ctx context.Context, id int64, tags map[string]string) (*experiments.Experiment, error) {
	return c.experiment(ctx, http.MethodPost, expPath(id, "/tags"), nil, map[string]any{"tags": tags})
}

// DeleteExperimentTag removes one tag of an experiment.
func (c *Client) DeleteExperimentTag(ctx context.Context, id int64, key string) (*experiments.Experiment, error) {
	return c.experiment(ctx, http.MethodDelete, expPath(id, "/tags"), url.Values{"key": {key}}, nil)
}

// RenameExperiment renames an experiment.
func (c *Client) RenameExperiment(ctx context.Context, id int64, name string) (*experiments.Experiment, error) {
	return c.experiment(ctx, http.MethodPatch, expPath(id, ""), nil, map[string]string{"name": name})
}

// ArchiveRun archives (true) or restores a run.
func (c *Client) ArchiveRun(ctx context.Context, id int64, archived bool) (*experiments.Run, error) {
	return c.run(ctx, http.MethodPost, runPath(id, "/"+archiveAction(archived)), nil, nil)
}

// ArchiveExperiment archives (true) or restores an experiment.
func (c *Client) ArchiveExperiment(ctx context.Context, id int64, archived bool) (*experiments.Experiment, error) {
	return c.experiment(ctx, http.MethodPost, expPath(id, "/"+archiveAction(archived)), nil, nil)
}

func archiveAction(archived bool) string {
	if archived {
		return "archive"
	}
	return "restore"
}

// PurgeRun deletes a run with its records and files.
func (c *Client) PurgeRun(ctx context.Context, id int64) (experiments.Purged, error) {
	var p experiments.Purged
	err := c.JSON(ctx, http.MethodDelete, runPath(id, ""), nil, nil, &p)
	return p, err
}

// PurgeExperiment deletes an experiment with its runs, records and files.
func (c *Client) PurgeExperiment(ctx context.Context, id int64) (experiments.Purged, error) {
	var p experiments.Purged
	err := c.JSON(ctx, http.MethodDelete, expPath(id, ""), nil, nil, &p)
	return p, err
}

// RunAction posts to /api/runs/ID/action (cancel, retry, top) and returns
// the run as it now is.
func (c *Client) RunAction(ctx context.Context, id int64, action string) (*experiments.Run, error) {
	return c.run(ctx, http.MethodPost, runPath(id, "/"+action), nil, nil)
}

// SetRunPriority sets (nil: clears) a queued run's priority override.
func (c *Client) SetRunPriority(ctx context.Context, id int64, priority *int) (*experiments.Run, error) {
	return c.run(ctx, http.MethodPost, runPath(id, "/priority"), nil, map[string]*int{"priority": priority})
}

// SetExperimentPriority sets an experiment's priority.
func (c *Client) SetExperimentPriority(ctx context.Context, id int64, priority int) (*experiments.Experiment, error) {
	return c.experiment(ctx, http.MethodPost, expPath(id, "/priority"), nil, map[string]int{"priority": priority})
}

// CancelQueuedOf cancels every queued run of an experiment and returns
// their IDs.
func (c *Client) CancelQueuedOf(ctx context.Context, id int64) ([]int64, error) {
	var out struct {
		Cancelled []int64 `json:"cancelled"`
	}
	err := c.JSON(ctx, http.MethodPost, expPath(id, "/cancel-queued"), nil, nil, &out)
	return out.Cancelled, err
}

// SetQueuePaused pauses or resumes the queue.
func (c *Client) SetQueuePaused(ctx context.Context, paused bool) error {
	action := "resume"
	if paused {
		action = "pause"
	}
	return c.JSON(ctx, http.MethodPost, "api/queue/"+action, nil, nil, nil)
}

// Queue reads whether the queue is paused and its runs in lease order
// (limit 0 = the server's default page).
func (c *Client) Queue(ctx context.Context, limit, offset int) (bool, []*experiments.Run, int, error) {
	q := url.Values{}
	page(q, limit, offset)
	var out struct {
		Paused bool               `json:"paused"`
		Items  []*experiments.Run `json:"items"`
		Total  int                `json:"total"`
	}
	err := c.Do(ctx, Request{Method: http.MethodGet, Path: "api/queue", Query: q}, &out)
	return out.Paused, out.Items, out.Total, err
}
