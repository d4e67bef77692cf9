// xraylab expand: every run a spec would queue, with its resolved settings.

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"xraylab/experiments"
)

// expandedRun is one line of `xraylab expand`: the run spec as it would be
// stored, with its place in the experiment and its model's resize policy
// (pad or fit, README "Models as coded") also at the top.
type expandedRun struct {
	Index  int    `json:"index"`
	Label  string `json:"label"`
	Resize string `json:"resize"`
	experiments.RunSpec
}

func cmdExpand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("expand", flag.ContinueOnError)
	only := fs.String("experiment", "", "expand only this experiment of the file")
	asJSON := fs.Bool("json", false, "print the runs as a JSON array instead of a table")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: xraylab expand FILE [--experiment NAME] [--json]")
		return errUsage
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	spec, err := experiments.ParseSpec(text)
	if err != nil {
		return err
	}
	selected, err := spec.Select(*only)
	if err != nil {
		return err
	}
	var runs []expandedRun
	for _, e := range selected {
		for i, rs := range e.Expand() {
			runs = append(runs, expandedRun{Index: i, Label: rs.Label(), Resize: rs.Model.Resize, RunSpec: rs})
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	return writeExpandTable(stdout, selected, runs)
}

// writeExpandTable prints one row a run, grouped by experiment.
func writeExpandTable(w io.Writer, selected []*experiments.ExperimentSpec, runs []expandedRun) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range selected {
		fmt.Fprintf(tw, "experiment %q: %d runs\n", e.Name, e.GridSize())
		fmt.Fprintln(tw, "#\tmodel\tpre\tHE\tseed\tsplit\tsize\tresize\tepochs\tbatch\taug\tscores\ttopk\tselect\tparams")
		for _, r := range runs {
			if r.Experiment != e.Name {
				continue
			}
			sel := r.Model.CheckpointSelect
			if r.Model.SelectScore != "" {
				sel += ":" + r.Model.SelectScore
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n",
				r.Index, r.Model.Name, r.Preprocessing, r.HistEq, r.Seed, r.SplitSeed, r.ImageSize, r.Resize,
				r.Epochs, r.BatchSize, r.Model.Augmentation, strings.Join(r.Model.Scores, ","), topKColumn(r.Model), sel, formatParams(r.Model.Params))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// formatParams writes name=value pairs sorted by name ("-" when none).
func formatParams(p map[string]float64) string {
	if len(p) == 0 {
		return "-"
	}
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%g", n, p[n])
	}
	return strings.Join(parts, " ")
}

// topKColumn is the k values, then the shares of topk_frac where set
// ("200;frac=0.01,0.05").
func topKColumn(m experiments.ModelSpec) string {
	out := joinInts(m.TopK)
	if len(m.TopKFrac) > 0 {
		parts := make([]string, len(m.TopKFrac))
		for i, f := range m.TopKFrac {
			parts[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		out += ";frac=" + strings.Join(parts, ",")
	}
	return out
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
