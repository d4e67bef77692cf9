package report

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"xraylab/experiments"
	"xraylab/experiments/eval"
)

// RunsTable renders runs as a plain-text table: one row per run with its
// grid point, state and test ROC-AUC of every score (or its error).
func RunsTable(runs []*experiments.Run) string {
	scoreSet := map[string]bool{}
	for _, r := range runs {
		for k := range r.Metrics {
			// Image-level figures only: test/<score>/roc_auc.
			if key, err := eval.Parse(k); err == nil && key.Split == eval.SplitTest && key.Image() && key.Metric == eval.MetricROCAUC {
				scoreSet[key.Score] = true
			}
		}
	}
	scores := make([]string, 0, len(scoreSet))
	for s := range scoreSet {
		scores = append(scores, s)
	}
	sort.Strings(scores)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := []string{"run", "grid point", "state"}
	for _, s := range scores {
		header = append(header, "test AUC "+s)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range runs {
		label := r.Model
		if spec, err := experiments.DecodeRunSpec(r.Params); err == nil {
			label = spec.Label()
		}
		row := []string{fmt.Sprint(r.ID), label, string(r.State)}
		for _, s := range scores {
			if v, ok := r.Metrics[eval.ScoreKey(eval.SplitTest, s, eval.AggImage, eval.MetricROCAUC).String()]; ok {
				row = append(row, fmt.Sprintf("%.3f", v))
			} else {
				row = append(row, "–")
			}
		}
		if r.Error != "" {
			row = append(row, "error: "+r.Error)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	return b.String()
}
