// xraylab report: an experiment's runs table, comparison table or report.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/experiments/report"
)

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	varDir := fs.String("var", "var", "folder holding the database and artifacts")
	format := fs.String("format", "text", "text (runs table), json, csv, markdown, latex, png, svg (the comparison table) or html (the report)")
	out := fs.String("out", "", "write to this file instead of standard output (required for png, svg)")
	split := fs.String("split", "test", "table figures from the test or val split")
	metric := fs.String("metric", eval.MetricROCAUC, "table metric: roc_auc or ap")
	aggregate := fs.String("aggregate", eval.AggImage, "table level: image, study_mean or study_max")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab report EXPERIMENT_ID [--format text|json|csv|markdown|latex|png|svg|html] [--out FILE] [--var DIR]")
		return errUsage
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("experiment id must be a positive integer, got %q", fs.Arg(0))
	}
	choices := map[string][]string{
		"format": {"text", "json", "csv", "markdown", "latex", "png", "svg", "html"}, "split": {"test", "val"},
		"metric": {eval.MetricROCAUC, eval.MetricAP}, "aggregate": {eval.AggImage, eval.AggStudyMean, eval.AggStudyMax},
	}
	for name, v := range map[string]string{"format": *format, "split": *split, "metric": *metric, "aggregate": *aggregate} {
		if !slices.Contains(choices[name], v) {
			return fmt.Errorf("--%s %q: must be one of %s", name, v, strings.Join(choices[name], ", "))
		}
	}
	if (*format == "png" || *format == "svg") && *out == "" {
		return fmt.Errorf("--format %s writes an image: give --out FILE", *format)
	}
	store, p, err := openVar(*varDir)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	reports := report.NewReports(store, p.artifacts)
	opts := report.TableOptions{Split: *split, Metric: *metric, Aggregate: *aggregate}
	var body []byte
	switch *format {
	case "text":
		e, err := store.GetExperiment(ctx, id)
		if err != nil {
			return err
		}
		runs, _, err := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
		if err != nil {
			return err
		}
		body = []byte(fmt.Sprintf("experiment %q (id %d), created %s, %d runs\n\n%s", e.Name, e.ID, e.Created.Format(time.RFC3339), e.Runs, report.RunsTable(runs)))
	case "png", "svg":
		body, err = reports.TableImage(ctx, id, opts, *format)
	case "html":
		body, err = reports.HTML(ctx, id)
	default:
		t, terr := reports.Table(ctx, id, opts)
		if terr != nil {
			return terr
		}
		body, err = map[string]func() ([]byte, error){"json": t.JSON, "csv": t.CSV, "markdown": t.Markdown, "latex": t.LaTeX}[*format]()
	}
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(body)
		return err
	}
	return os.WriteFile(*out, body, 0o644)
}
