package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"xraylab/experiments/eval"
	"xraylab/experiments/report"
)

// Reports draws an experiment's comparison table, figures and report
// (report.Reports implements it; results are cached there).
type Reports interface {
	Table(ctx context.Context, id int64, opts report.TableOptions) (*report.Table, error)
	TableImage(ctx context.Context, id int64, opts report.TableOptions, format string) ([]byte, error)
	ROCImage(ctx context.Context, id int64, score, format string) ([]byte, error)
	HTML(ctx context.Context, id int64) ([]byte, error)
}

// reportOf returns the report service and the :id of the experiment asked.
func (s *Server) reportOf(c *fiber.Ctx) (Reports, int64, error) {
	if s.cfg.Reports == nil {
		return nil, 0, notFound("this server has no report service")
	}
	id, err := idParam(c, "experiment")
	return s.cfg.Reports, id, err
}

// experimentTable serves GET /api/experiments/:id/table in the paper's
// Table 1 layout: ?format=json|csv|markdown|latex|png|svg,
// ?split=test|val, ?metric=roc_auc|ap, ?aggregate=image|study_mean|study_max.
func (s *Server) experimentTable(c *fiber.Ctx) error {
	rep, id, err := s.reportOf(c)
	if err != nil {
		return err
	}
	format, err := enumQuery(c, "format", "json", "json", "csv", "markdown", "latex", "png", "svg")
	if err != nil {
		return err
	}
	var opts report.TableOptions
	if opts.Split, err = enumQuery(c, "split", "test", "test", "val"); err != nil {
		return err
	}
	if opts.Metric, err = enumQuery(c, "metric", eval.MetricROCAUC, eval.MetricROCAUC, eval.MetricAP); err != nil {
		return err
	}
	if opts.Aggregate, err = enumQuery(c, "aggregate", eval.AggImage, eval.AggImage, eval.AggStudyMean, eval.AggStudyMax); err != nil {
		return err
	}
	if format == "png" || format == "svg" {
		b, err := rep.TableImage(c.UserContext(), id, opts, format)
		if err != nil {
			return err
		}
		return sendFigure(c, format, b)
	}
	t, err := rep.Table(c.UserContext(), id, opts)
	if err != nil {
		return err
	}
	var body []byte
	ct := fiber.MIMEApplicationJSON
	switch format {
	case "json":
		body, err = t.JSON()
	case "csv":
		body, err = t.CSV()
		ct = "text/csv; charset=utf-8"
	case "markdown":
		body, err = t.Markdown()
		ct = "text/markdown; charset=utf-8"
	case "latex":
		body, err = t.LaTeX()
		ct = "application/x-latex; charset=utf-8"
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	return c.Send(body)
}

// experimentROC serves GET /api/experiments/:id/roc.png?score=NAME (and
// roc.svg): one score's test ROC curves across the experiment's runs.
func (s *Server) experimentROC(c *fiber.Ctx) error {
	rep, id, err := s.reportOf(c)
	if err != nil {
		return err
	}
	score := c.Query("score")
	if score == "" {
		return invalid(paramDetails{"score", "", "a score name, e.g. mse"}, "query parameter score is required")
	}
	format := "png"
	if c.Params("ext") == "svg" {
		format = "svg"
	}
	b, err := rep.ROCImage(c.UserContext(), id, score, format)
	if err != nil {
		return err
	}
	return sendFigure(c, format, b)
}

// experimentReport serves the self-contained HTML report.
func (s *Server) experimentReport(c *fiber.Ctx) error {
	rep, id, err := s.reportOf(c)
	if err != nil {
		return err
	}
	b, err := rep.HTML(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	if c.Query("download") != "" {
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="experiment-`+c.Params("id")+`-report.html"`)
	}
	return c.Send(b)
}

func sendFigure(c *fiber.Ctx, format string, b []byte) error {
	ct := "image/png"
	if format == "svg" {
		ct = "image/svg+xml"
		// An SVG must not run script in the dashboard's origin.
		c.Set(fiber.HeaderContentSecurityPolicy, "sandbox")
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(b)
}
