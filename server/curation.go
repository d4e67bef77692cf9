package server

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
)

// Curation: tags, rename, archive and restore, purge. Every route is a
// write (behind Config.WriteGuard); reads of tags and archive state come
// with the runs and experiments themselves.

func (s *Server) curationRoutes(api fiber.Router, w func(fiber.Handler) []fiber.Handler) {
	api.Post("/runs/:id/tags", w(s.setRunTags)...)
	api.Delete("/runs/:id/tags", w(s.deleteRunTag)...)
	api.Post("/runs/:id/archive", w(s.archiveRun(true))...)
	api.Post("/runs/:id/restore", w(s.archiveRun(false))...)
	api.Delete("/runs/:id", w(s.purgeRun)...)
	api.Post("/experiments/:id/tags", w(s.setExperimentTags)...)
	api.Delete("/experiments/:id/tags", w(s.deleteExperimentTag)...)
	api.Patch("/experiments/:id", w(s.renameExperiment)...)
	api.Post("/experiments/:id/archive", w(s.archiveExperiment(true))...)
	api.Post("/experiments/:id/restore", w(s.archiveExperiment(false))...)
	api.Delete("/experiments/:id", w(s.purgeExperiment)...)
}

// archivedQuery reads ?archived=false|true|only (default false: hidden).
func archivedQuery(c *fiber.Ctx) (experiments.ArchivedMode, error) {
	v, err := enumQuery(c, "archived", "false", "false", "true", "only")
	if err != nil {
		return 0, err
	}
	return map[string]experiments.ArchivedMode{"false": experiments.ArchivedHidden,
		"true": experiments.ArchivedIncluded, "only": experiments.ArchivedOnly}[v], nil
}

// strictJSON decodes the body into v, refusing unknown fields and
// anything after the object.
func strictJSON(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(nil, "malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(nil, "malformed JSON body: data after the object")
	}
	return nil
}

// tagsBody reads {"tags": {"key": "value", ...}}.
func tagsBody(c *fiber.Ctx) (map[string]string, error) {
	var req struct {
		Tags map[string]string `json:"tags"`
	}
	if err := strictJSON(c, &req); err != nil {
		return nil, err
	}
	if req.Tags == nil {
		return nil, invalid(nil, `JSON body: field tags is required ({"tags": {"key": "value"}})`)
	}
	return req.Tags, nil
}

// tagKeyQuery reads the ?key= of a tag deletion.
func tagKeyQuery(c *fiber.Ctx) (string, error) {
	k := utils.CopyString(c.Query("key"))
	if k == "" {
		return "", invalid(paramDetails{"key", "", "a tag key"}, "query parameter key is required: the tag to delete")
	}
	return k, nil
}

// respondRun and respondExperiment answer a mutation with the resource as
// it now is.
func (s *Server) respondRun(c *fiber.Ctx, id int64) error {
	r, err := s.cfg.Store.GetRun(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) respondExperiment(c *fiber.Ctx, id int64) error {
	e, err := s.cfg.Store.GetExperiment(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(viewExperiment(e, false))
}

func (s *Server) setRunTags(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	tags, err := tagsBody(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.SetRunTags(c.UserContext(), id, tags); err != nil {
		return err
	}
	return s.respondRun(c, id)
}

func (s *Server) deleteRunTag(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	k, err := tagKeyQuery(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteRunTag(c.UserContext(), id, k); err != nil {
		return err
	}
	return s.respondRun(c, id)
}

func (s *Server) setExperimentTags(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	tags, err := tagsBody(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.SetExperimentTags(c.UserContext(), id, tags); err != nil {
		return err
	}
	return s.respondExperiment(c, id)
}

func (s *Server) deleteExperimentTag(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	k, err := tagKeyQuery(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteExperimentTag(c.UserContext(), id, k); err != nil {
		return err
	}
	return s.respondExperiment(c, id)
}

func (s *Server) renameExperiment(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	var req struct {
		Name *string `json:"name"`
	}
	if err := strictJSON(c, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return invalid(nil, `JSON body: field name is required ({"name": "new-name"})`)
	}
	if err := s.cfg.Store.RenameExperiment(c.UserContext(), id, *req.Name); err != nil {
		return err
	}
	return s.respondExperiment(c, id)
}

func (s *Server) archiveRun(archived bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := idParam(c, "run")
		if err != nil {
			return err
		}
		if err := s.cfg.Store.SetRunArchived(c.UserContext(), id, archived); err != nil {
			return err
		}
		return s.respondRun(c, id)
	}
}

func (s *Server) archiveExperiment(archived bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := idParam(c, "experiment")
		if err != nil {
			return err
		}
		if err := s.cfg.Store.SetExperimentArchived(c.UserContext(), id, archived); err != nil {
			return err
		}
		return s.respondExperiment(c, id)
	}
}

// purgeRun deletes the run's records, then its artifact folder. The rows
// go first, in one transaction that refuses a running run, so no
// executor writes files for a run that is being purged.
func (s *Server) purgeRun(c *fiber.Ctx) error {
	id, err := idParam(c, "run")
	if err != nil {
		return err
	}
	if err := s.cfg.Store.PurgeRun(c.UserContext(), id); err != nil {
		return err
	}
	if err := s.removeArtifacts(id); err != nil {
		return err
	}
	return c.JSON(experiments.Purged{Runs: []int64{id}})
}

func (s *Server) purgeExperiment(c *fiber.Ctx) error {
	id, err := idParam(c, "experiment")
	if err != nil {
		return err
	}
	ids, err := s.cfg.Store.PurgeExperiment(c.UserContext(), id)
	if err != nil {
		return err
	}
	for _, rid := range ids {
		if err := s.removeArtifacts(rid); err != nil {
			return err
		}
	}
	if s.cfg.ArtifactsDir != "" {
		// The experiment's cached tables, figures and reports.
		if err := os.RemoveAll(filepath.Join(s.cfg.ArtifactsDir, "experiments", strconv.FormatInt(id, 10))); err != nil {
			return err
		}
	}
	return c.JSON(experiments.Purged{ExperimentID: id, Runs: ids})
}

// removeArtifacts deletes ArtifactsDir/<id>.
func (s *Server) removeArtifacts(id int64) error {
	if s.cfg.ArtifactsDir == "" {
		return nil
	}
	return os.RemoveAll(filepath.Join(s.cfg.ArtifactsDir, strconv.FormatInt(id, 10)))
}
