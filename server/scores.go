package server

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"xraylab/experiments"
	"xraylab/experiments/eval"
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
	f, size, err := s.openScores(c, r)
	if err != nil {
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

// openScores opens run r's scores.csv; 404 until the run has written it.
func (s *Server) openScores(c *fiber.Ctx, r *experiments.Run) (*os.File, int64, error) {
	f, size, err := s.openArtifact(c, r.ID, "scores.csv")
	if experiments.IsNotFound(err) {
		return nil, 0, notFound("run %d has no scores yet (state %s)", r.ID, r.State)
	}
	return f, size, err
}

// readScores reads run r's scores.csv; 404 until the run has written it.
func (s *Server) readScores(c *fiber.Ctx, r *experiments.Run) (*report.ScoreTable, error) {
	f, _, err := s.openScores(c, r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return report.ReadScoresCSV(f)
}

// rocPoint is one corner of a ROC curve; the first one's threshold is
// "+Inf" (no image called abnormal).
type rocPoint struct {
	FPR       float64               `json:"fpr"`
	TPR       float64               `json:"tpr"`
	Threshold experiments.WireFloat `json:"threshold"`
}

// runROC serves GET /api/runs/:id/roc?score=NAME&split=test|val: the ROC
// curve and its AUC of one score on one split of the run's scores.csv,
// computed as the run's recorded figures are (eval.ROC), so that
// what the dashboard draws is what the run reports; scores it refuses
// (NaN, a split with one class) are a 400 naming why.
func (s *Server) runROC(c *fiber.Ctx) error {
	split, err := enumQuery(c, "split", "test", "test", "val")
	if err != nil {
		return err
	}
	score := utils.CopyString(c.Query("score"))
	if score == "" {
		return invalid(paramDetails{"score", "", "a score name of the run, e.g. mean"}, "query parameter score is required")
	}
	r, err := s.lookupRun(c)
	if err != nil {
		return err
	}
	t, err := s.readScores(c, r)
	if err != nil {
		return err
	}
	if !slices.Contains(t.Scores, score) {
		list := strings.Join(t.Scores, ", ")
		return invalid(paramDetails{"score", score, list}, "run %d has no score %q; it has: %s", r.ID, score, list)
	}
	var scores []float64
	var labels []int
	for _, row := range t.Rows {
		if row.Part == split {
			scores = append(scores, row.Scores[score])
			labels = append(labels, row.Label)
		}
	}
	curve, auc, err := eval.ROC(scores, labels)
	if err != nil {
		return &experiments.Error{Code: experiments.CodeOf(err),
			Message: fmt.Sprintf("run %d has no ROC curve of score %s on its %s images: %v", r.ID, score, split, err)}
	}
	points := make([]rocPoint, len(curve.FPR))
	for i := range points {
		points[i] = rocPoint{curve.FPR[i], curve.TPR[i], experiments.WireFloat(curve.Threshold[i])}
	}
	return c.JSON(struct {
		RunID  int64      `json:"run_id"`
		Score  string     `json:"score"`
		Split  string     `json:"split"`
		AUC    float64    `json:"auc"`
		Points []rocPoint `json:"points"`
	}{r.ID, score, split, auc, points})
}
