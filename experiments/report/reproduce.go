package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"xraylab/experiments"
)

// Difference is one recorded figure beside its reproduction.
type Difference struct {
	Run        string  `json:"run"` // the grid point
	Key        string  `json:"key"`
	Recorded   float64 `json:"recorded"`
	Reproduced float64 `json:"reproduced"`
	Diff       float64 `json:"diff"`
	OK         bool    `json:"ok"`
	Note       string  `json:"note,omitempty"`
}

// Compare pairs recorded runs with their reproductions (by grid index) and
// compares every final metric and the dataset fingerprint. A figure agrees
// when |recorded − reproduced| ≤ tolerance.
func Compare(recorded []*experiments.BundleRun, reproduced []*experiments.Run, tolerance float64) ([]Difference, bool) {
	byIndex := map[int]*experiments.Run{}
	for _, r := range reproduced {
		byIndex[r.Index] = r
	}
	var out []Difference
	allOK := true
	for _, rec := range recorded {
		label := rec.Spec.Label()
		rep := byIndex[rec.Index]
		switch {
		case rep == nil:
			out = append(out, Difference{Run: label, Key: "(run)", Note: "not reproduced"})
			allOK = false
			continue
		case rep.State != experiments.StateSucceeded:
			out = append(out, Difference{Run: label, Key: "(run)", Note: fmt.Sprintf("reproduction %s: %s", rep.State, rep.Error)})
			allOK = false
			continue
		}
		if rec.Dataset != rep.Dataset {
			out = append(out, Difference{Run: label, Key: "dataset_fingerprint", Note: fmt.Sprintf("recorded %.12s…, now %.12s…: not the same data", rec.Dataset, rep.Dataset)})
			allOK = false
		}
		keys := make([]string, 0, len(rec.Metrics))
		for k := range rec.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			want := rec.Metrics[k]
			got, ok := rep.Metrics[k]
			d := Difference{Run: label, Key: k, Recorded: want, Reproduced: got}
			if !ok {
				d.Note = "missing in the reproduction"
			} else {
				d.Diff = got - want
				d.OK = math.Abs(d.Diff) <= tolerance || (math.IsNaN(got) && math.IsNaN(want))
			}
			allOK = allOK && d.OK
			out = append(out, d)
		}
	}
	return out, allOK
}

// DifferencesTable renders a comparison as aligned text.
func DifferencesTable(diffs []Difference) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tfigure\trecorded\treproduced\tdifference\t")
	for _, d := range diffs {
		status := "ok"
		if !d.OK {
			status = "DIFFERS"
		}
		if d.Note != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t%s: %s\n", d.Run, d.Key, status, d.Note)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.6g\t%.6g\t%+.3g\t%s\n", d.Run, d.Key, d.Recorded, d.Reproduced, d.Diff, status)
	}
	tw.Flush()
	return b.String()
}
