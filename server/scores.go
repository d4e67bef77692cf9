package server

import (
	"github.com/gofiber/fiber/v2"

	"xraylab/experiments"
	"xraylab/experiments/report"
)

// runScores serves a run's per-image scores (its scores.csv artifact) as
// JSON, or as the CSV itself with ?format=csv.
func (s *Server) runScores(c *fiber.Ctx) error {
	format, err := enumQuery(c, "format", "json", "json", "csv")
	if err != nil {
		return err
	}
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	f, size, err := s.openArtifact(c, r.ID, "scores.csv")
	if err != nil {
		if experiments.IsNotFound(err) {
			return notFound("run %d has no scores yet (state %s)", r.ID, r.State)
		}
		return err
	}
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="run-`+c.Params("id")+`-scores.csv"`)
		return c.SendStream(f, int(size))
	}
	defer f.Close()
	t, err := report.ReadScoresCSV(f)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		RunID int64 `json:"run_id"`
		*report.ScoreTable
	}{r.ID, t})
}
