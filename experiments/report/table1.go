package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/nets"
)

// The comparison table in the layout of the paper's Table 1: rows model ×
// score, columns preprocessing (raw, crop, full) × histogram equalisation
// (without, with), cells mean ± sample std (n) over seeds, the best cell
// per model bold, and per model the configuration chosen on validation
// ROC-AUC with its test figure.

// ResultRow is one figure of one run: a score's metric on a split for one
// seed of a grid point.
type ResultRow struct {
	Model         string  `json:"model"`
	Score         string  `json:"score"`
	Preprocessing string  `json:"preprocessing"`
	HistEq        bool    `json:"histogram_equalization"`
	Seed          int64   `json:"seed"`
	Split         string  `json:"split"`
	Value         float64 `json:"value"`
}

// Cell is the figure of one (model, score, preprocessing, HE, split) across
// seeds: mean ± sample standard deviation and n, with the seeds counted.
type Cell struct {
	Model         string `json:"model"`
	Score         string `json:"score"`
	Preprocessing string `json:"preprocessing"`
	HistEq        bool   `json:"histogram_equalization"`
	Split         string `json:"split"`
	eval.Summary
	Seeds []int64 `json:"seeds"`
}

type cellKey struct {
	model, score, pre string
	he                bool
	split             string
}

// Aggregate summarises rows per (model, score, preprocessing, HE, split)
// with Summarize, in order of first appearance. Every row counts: the
// caller passes one row per seed (BuildTable rejects duplicates).
func Aggregate(rows []ResultRow) []Cell {
	index := map[cellKey]int{}
	var cells []Cell
	var values [][]float64
	for _, r := range rows {
		k := cellKey{r.Model, r.Score, r.Preprocessing, r.HistEq, r.Split}
		i, ok := index[k]
		if !ok {
			i = len(cells)
			index[k] = i
			cells = append(cells, Cell{Model: r.Model, Score: r.Score, Preprocessing: r.Preprocessing, HistEq: r.HistEq, Split: r.Split})
			values = append(values, nil)
		}
		values[i] = append(values[i], r.Value)
		cells[i].Seeds = append(cells[i].Seeds, r.Seed)
	}
	for i := range cells {
		cells[i].Summary = eval.Summarize(values[i])
	}
	return cells
}

// TableOptions chooses the figure a table shows. Empty fields take the
// paper's choice: test split, ROC-AUC, image level.
type TableOptions struct {
	Split     string // "test" | "val"
	Metric    string // "roc_auc" | "ap"
	Aggregate string // "image" | "study_mean" | "study_max"
}

// Column is one preprocessing × histogram-equalisation setting.
type Column struct {
	Preprocessing string `json:"preprocessing"`
	HistEq        bool   `json:"histogram_equalization"`
}

// Label is the column's short name, e.g. "full + HE".
func (c Column) Label() string {
	if c.HistEq {
		return c.Preprocessing + " + HE"
	}
	return c.Preprocessing
}

// TableCell is a table entry; Best marks the best mean of its model.
type TableCell struct {
	eval.Summary
	Best bool `json:"best"`
}

// RowChoice is the column a row's score would pick on validation ROC-AUC.
type RowChoice struct {
	Preprocessing string        `json:"preprocessing"`
	HistEq        bool          `json:"histogram_equalization"`
	Validation    eval.Summary  `json:"validation"`
	Test          *eval.Summary `json:"test"` // nil when no test figure exists
}

// TableRow is one model × score line; Cells align with Table.Columns and
// are nil where no succeeded run gives a figure.
type TableRow struct {
	Model    string       `json:"model"`
	Score    string       `json:"score"`
	Cells    []*TableCell `json:"cells"`
	Selected *RowChoice   `json:"selected"`
}

// Selection is the paper's model selection: the (preprocessing, HE, score)
// of a model with the highest mean validation ROC-AUC, and its test figure.
// Validation is nil when no succeeded run of the model has one.
type Selection struct {
	Model         string        `json:"model"`
	Score         string        `json:"score"`
	Preprocessing string        `json:"preprocessing"`
	HistEq        bool          `json:"histogram_equalization"`
	Validation    *eval.Summary `json:"validation"`
	Test          *eval.Summary `json:"test"`
}

// Table is an experiment's comparison table.
type Table struct {
	ExperimentID int64       `json:"experiment_id"`
	Split        string      `json:"split"`
	Metric       string      `json:"metric"`
	Aggregate    string      `json:"aggregate"`
	Columns      []Column    `json:"columns"`
	Rows         []TableRow  `json:"rows"`
	Selection    []Selection `json:"selection"`
}

// preprocessingOrder is the paper's column order.
var preprocessingOrder = map[string]int{"raw": 0, "crop": 1, "full": 2}

// modelIdent is one distinct model configuration of an experiment.
type modelIdent struct {
	label  string
	scores []string
}

// BuildTable builds the comparison table of an experiment's runs from
// their final metrics (keys as eval.Key) and params (RunSpec JSON). Only
// succeeded runs give figures; every run's grid point makes its row and
// column exist, so failed ones show as empty cells. Models come in run
// order, scores in the model's score order, columns raw, crop, full, each
// without then with HE (only those present). Two configurations of the
// same model name are told apart as "name #1", "name #2". The per-model
// selection ranks mean validation ROC-AUC at the table's aggregation level
// (first in row, then column order on ties) and reports the chosen cell's
// test figure of the table's metric.
func BuildTable(runs []*experiments.Run, opts TableOptions) (*Table, error) {
	if opts.Split == "" {
		opts.Split = "test"
	}
	if opts.Metric == "" {
		opts.Metric = eval.MetricROCAUC
	}
	if opts.Aggregate == "" {
		opts.Aggregate = eval.AggImage
	}
	if opts.Split != "test" && opts.Split != "val" {
		return nil, experiments.Errorf(experiments.CodeInvalid, "table split %q: must be test or val", opts.Split)
	}
	if opts.Metric != eval.MetricROCAUC && opts.Metric != eval.MetricAP {
		return nil, experiments.Errorf(experiments.CodeInvalid, "table metric %q: must be %s or %s", opts.Metric, eval.MetricROCAUC, eval.MetricAP)
	}
	if opts.Aggregate != eval.AggImage && opts.Aggregate != eval.AggStudyMean && opts.Aggregate != eval.AggStudyMax {
		return nil, experiments.Errorf(experiments.CodeInvalid, "table aggregate %q: must be %s, %s or %s", opts.Aggregate, eval.AggImage, eval.AggStudyMean, eval.AggStudyMax)
	}
	if len(runs) == 0 {
		return nil, experiments.Errorf(experiments.CodeInvalid, "a table needs at least one run")
	}
	t := &Table{ExperimentID: runs[0].ExperimentID, Split: opts.Split, Metric: opts.Metric, Aggregate: opts.Aggregate}

	// Pass 1: decode params, find model configurations and columns.
	specs := make([]experiments.RunSpec, len(runs))
	identOf := make([]int, len(runs))
	identIndex := map[string]int{}
	var idents []modelIdent
	var names []string // model name per ident
	colSet := map[Column]bool{}
	for i, r := range runs {
		if r.ExperimentID != t.ExperimentID {
			return nil, experiments.Errorf(experiments.CodeInvalid, "runs %d and %d belong to different experiments (%d, %d)", runs[0].ID, r.ID, t.ExperimentID, r.ExperimentID)
		}
		spec, err := experiments.DecodeRunSpec(r.Params)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", r.ID, err)
		}
		specs[i] = spec
		canon, err := json.Marshal(spec.Model)
		if err != nil {
			return nil, fmt.Errorf("run %d: model spec: %w", r.ID, err)
		}
		k, ok := identIndex[string(canon)]
		if !ok {
			k = len(idents)
			identIndex[string(canon)] = k
			idents = append(idents, modelIdent{label: spec.Model.Name, scores: nets.ExpandScores(spec.Model.Scores, spec.Model.TopK, spec.Model.TopKFrac...)})
			names = append(names, spec.Model.Name)
		}
		identOf[i] = k
		colSet[Column{spec.Preprocessing, spec.HistEq}] = true
	}
	sameName := map[string]int{}
	for _, n := range names {
		sameName[n]++
	}
	nth := map[string]int{}
	for k := range idents {
		if n := names[k]; sameName[n] > 1 {
			nth[n]++
			idents[k].label = fmt.Sprintf("%s #%d", n, nth[n])
		}
	}
	for c := range colSet {
		t.Columns = append(t.Columns, c)
	}
	sort.Slice(t.Columns, func(a, b int) bool {
		ca, cb := t.Columns[a], t.Columns[b]
		if ca.Preprocessing != cb.Preprocessing {
			oa, okA := preprocessingOrder[ca.Preprocessing]
			ob, okB := preprocessingOrder[cb.Preprocessing]
			if okA != okB {
				return okA // known names first
			}
			if okA {
				return oa < ob
			}
			return ca.Preprocessing < cb.Preprocessing
		}
		return !ca.HistEq && cb.HistEq
	})

	// Pass 2: the figures of succeeded runs, one row per run × score.
	var shown, valAUC, testFig []ResultRow
	seen := map[string]int64{}
	for i, r := range runs {
		if r.State != experiments.StateSucceeded {
			continue
		}
		spec := specs[i]
		id := &idents[identOf[i]]
		point := fmt.Sprintf("%s/%s/HE=%t/seed %d", id.label, spec.Preprocessing, spec.HistEq, spec.Seed)
		if prev, dup := seen[point]; dup {
			return nil, experiments.Errorf(experiments.CodeInvalid, "runs %d and %d are the same grid point (%s); a table counts each seed once", prev, r.ID, point)
		}
		seen[point] = r.ID
		// Scores the params do not list but the metrics carry still count.
		for _, s := range scoresInMetrics(r.Metrics, opts.Aggregate) {
			if !slices.Contains(id.scores, s) {
				id.scores = append(id.scores, s)
			}
		}
		for _, s := range id.scores {
			row := ResultRow{Model: id.label, Score: s, Preprocessing: spec.Preprocessing, HistEq: spec.HistEq, Seed: spec.Seed}
			add := func(dst *[]ResultRow, split, metric string) {
				if v, ok := r.Metrics[eval.ScoreKey(split, s, opts.Aggregate, metric).String()]; ok && !math.IsNaN(v) {
					rr := row
					rr.Split, rr.Value = split, v
					*dst = append(*dst, rr)
				}
			}
			add(&shown, opts.Split, opts.Metric)
			add(&valAUC, "val", eval.MetricROCAUC)
			add(&testFig, "test", opts.Metric)
		}
	}
	lookup := func(rows []ResultRow) map[cellKey]eval.Summary {
		m := map[cellKey]eval.Summary{}
		for _, c := range Aggregate(rows) {
			m[cellKey{c.Model, c.Score, c.Preprocessing, c.HistEq, ""}] = c.Summary
		}
		return m
	}
	shownBy, valBy, testBy := lookup(shown), lookup(valAUC), lookup(testFig)

	for _, id := range idents {
		first := len(t.Rows)
		sel := Selection{Model: id.label}
		for _, s := range id.scores {
			row := TableRow{Model: id.label, Score: s, Cells: make([]*TableCell, len(t.Columns))}
			for ci, c := range t.Columns {
				k := cellKey{id.label, s, c.Preprocessing, c.HistEq, ""}
				if sum, ok := shownBy[k]; ok {
					row.Cells[ci] = &TableCell{Summary: sum}
				}
				v, ok := valBy[k]
				if !ok {
					continue
				}
				var test *eval.Summary
				if ts, ok := testBy[k]; ok {
					test = &ts
				}
				if row.Selected == nil || v.Mean > row.Selected.Validation.Mean {
					row.Selected = &RowChoice{Preprocessing: c.Preprocessing, HistEq: c.HistEq, Validation: v, Test: test}
				}
				if sel.Validation == nil || v.Mean > sel.Validation.Mean {
					vv := v
					sel = Selection{Model: id.label, Score: s, Preprocessing: c.Preprocessing, HistEq: c.HistEq, Validation: &vv, Test: test}
				}
			}
			t.Rows = append(t.Rows, row)
		}
		markBest(t.Rows[first:])
		t.Selection = append(t.Selection, sel)
	}
	return t, nil
}

// markBest bolds the highest mean among a model's rows (every tie).
func markBest(rows []TableRow) {
	best := math.Inf(-1)
	for _, r := range rows {
		for _, c := range r.Cells {
			if c != nil && c.Mean > best {
				best = c.Mean
			}
		}
	}
	for _, r := range rows {
		for _, c := range r.Cells {
			if c != nil && c.Mean == best {
				c.Best = true
			}
		}
	}
}

// scoresInMetrics lists, sorted, the score names in a run's metric keys at
// the aggregation level.
func scoresInMetrics(metrics map[string]float64, aggregate string) []string {
	set := map[string]bool{}
	for k := range metrics {
		key, err := eval.Parse(k)
		if err != nil || key.Score == "" || (key.Split != eval.SplitTest && key.Split != eval.SplitVal) || key.Aggregate != aggregate {
			continue
		}
		if aggregate != eval.AggImage || key.Metric == eval.MetricROCAUC || key.Metric == eval.MetricAP {
			set[key.Score] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// JSON is the table as served by GET /api/experiments/:id/table.
func (t *Table) JSON() ([]byte, error) {
	return json.Marshal(t)
}

// Title says what the cells are, e.g. "Test ROC-AUC, image level".
func (t *Table) Title() string {
	split := map[string]string{"test": "Test", "val": "Validation"}[t.Split]
	metric := map[string]string{eval.MetricROCAUC: "ROC-AUC", eval.MetricAP: "average precision"}[t.Metric]
	level := map[string]string{eval.AggImage: "image level", eval.AggStudyMean: "study level (mean of image scores)", eval.AggStudyMax: "study level (max of image scores)"}[t.Aggregate]
	return fmt.Sprintf("%s %s, %s; mean ± std (n) over seeds, best per model in bold", split, metric, level)
}

// cellText is a cell as shown: "0.570 ± 0.019 (4)", or "–" when missing.
func cellText(c *TableCell) string {
	if c == nil || c.N == 0 {
		return "–"
	}
	return summaryText(&c.Summary)
}

func summaryText(s *eval.Summary) string {
	if s == nil || s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%d)", meanStd(s.Mean, s.Std, s.N), s.N)
}

// meanStd is "0.570 ± 0.019"; one seed has no spread to show: "0.570 ± —".
func meanStd(mean, std float64, n int) string {
	if n == 1 {
		return fmt.Sprintf("%.3f ± —", mean)
	}
	return fmt.Sprintf("%.3f ± %.3f", mean, std)
}

// texText is summaryText in LaTeX.
func texText(s *eval.Summary) string {
	return strings.NewReplacer("±", "$\\pm$", "—", "---", "–", "--").Replace(summaryText(s))
}

// selectionText describes one model's validation-based choice.
func (s Selection) text() string {
	if s.Validation == nil {
		return "no succeeded run with a validation ROC-AUC"
	}
	c := Column{s.Preprocessing, s.HistEq}
	return fmt.Sprintf("%s, score %s: test %s (validation ROC-AUC %s)", c.Label(), s.Score, summaryText(s.Test), summaryText(s.Validation))
}

// CSV is the table in tidy form, one line per cell: split, metric,
// aggregate, model, score, preprocessing, histogram_equalization, mean,
// std, n, best, selected (the model's validation-chosen cell). A missing
// cell has empty mean and std and n 0.
func (t *Table) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"split", "metric", "aggregate", "model", "score", "preprocessing", "histogram_equalization", "mean", "std", "n", "best", "selected"})
	chosen := map[string]Selection{}
	for _, s := range t.Selection {
		chosen[s.Model] = s
	}
	for _, r := range t.Rows {
		for ci, col := range t.Columns {
			c := r.Cells[ci]
			mean, std, n, best := "", "", "0", "false"
			if c != nil {
				mean = strconv.FormatFloat(c.Mean, 'g', -1, 64)
				std = strconv.FormatFloat(c.Std, 'g', -1, 64)
				n = strconv.Itoa(c.N)
				best = strconv.FormatBool(c.Best)
			}
			s := chosen[r.Model]
			sel := s.Validation != nil && s.Score == r.Score && s.Preprocessing == col.Preprocessing && s.HistEq == col.HistEq
			w.Write([]string{t.Split, t.Metric, t.Aggregate, r.Model, r.Score, col.Preprocessing, strconv.FormatBool(col.HistEq), mean, std, n, best, strconv.FormatBool(sel)})
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// Markdown is the table as a GitHub-flavoured Markdown table followed by
// the validation-based selection.
func (t *Table) Markdown() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\n| Model | Score |", t.Title())
	for _, c := range t.Columns {
		fmt.Fprintf(&b, " %s |", mdEscape(c.Label()))
	}
	b.WriteString("\n|---|---|")
	for range t.Columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s | %s |", mdEscape(r.Model), mdEscape(r.Score))
		for _, c := range r.Cells {
			if c != nil && c.Best {
				fmt.Fprintf(&b, " **%s** |", cellText(c))
			} else {
				fmt.Fprintf(&b, " %s |", cellText(c))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nSelected on mean validation ROC-AUC (as in the paper):\n\n")
	for _, s := range t.Selection {
		fmt.Fprintf(&b, "- %s: %s\n", mdEscape(s.Model), mdEscape(s.text()))
	}
	return []byte(b.String()), nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}

// LaTeX is the table as a booktabs tabular (two header lines:
// preprocessing, then without/with HE), best cells in \textbf, followed by
// a tabular of the validation-based selection.
func (t *Table) LaTeX() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%% %s\n", latexEscape(t.Title()))
	fmt.Fprintf(&b, "\\begin{tabular}{ll%s}\n\\toprule\n", strings.Repeat("c", len(t.Columns)))
	// Group consecutive columns of one preprocessing under a spanner.
	b.WriteString(" & ")
	var rules []string
	for i := 0; i < len(t.Columns); {
		j := i
		for j < len(t.Columns) && t.Columns[j].Preprocessing == t.Columns[i].Preprocessing {
			j++
		}
		fmt.Fprintf(&b, " & \\multicolumn{%d}{c}{%s}", j-i, latexEscape(t.Columns[i].Preprocessing))
		rules = append(rules, fmt.Sprintf("\\cmidrule(lr){%d-%d}", i+3, j+2))
		i = j
	}
	b.WriteString(" \\\\\n" + strings.Join(rules, "") + "\nModel & Score")
	for _, c := range t.Columns {
		if c.HistEq {
			b.WriteString(" & with HE")
		} else {
			b.WriteString(" & without HE")
		}
	}
	b.WriteString(" \\\\\n")
	prev := ""
	for i, r := range t.Rows {
		model := ""
		if i == 0 || r.Model != prev {
			b.WriteString("\\midrule\n")
			model = latexEscape(r.Model)
		}
		prev = r.Model
		fmt.Fprintf(&b, "%s & %s", model, latexEscape(r.Score))
		for _, c := range r.Cells {
			txt := "--"
			if c != nil && c.N > 0 {
				txt = texText(&c.Summary)
				if c.Best {
					txt = "\\textbf{" + txt + "}"
				}
			}
			b.WriteString(" & " + txt)
		}
		b.WriteString(" \\\\\n")
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n\n")
	b.WriteString("% Configuration selected on mean validation ROC-AUC, with its test figure\n")
	b.WriteString("\\begin{tabular}{lllcc}\n\\toprule\nModel & Score & Setting & Validation ROC-AUC & Test \\\\\n\\midrule\n")
	for _, s := range t.Selection {
		if s.Validation == nil {
			fmt.Fprintf(&b, "%s & -- & -- & -- & -- \\\\\n", latexEscape(s.Model))
			continue
		}
		fmt.Fprintf(&b, "%s & %s & %s & %s & %s \\\\\n", latexEscape(s.Model), latexEscape(s.Score),
			latexEscape(Column{s.Preprocessing, s.HistEq}.Label()), texText(s.Validation), texText(s.Test))
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n")
	return []byte(b.String()), nil
}

// latexEscape escapes LaTeX's special characters.
func latexEscape(s string) string {
	return strings.NewReplacer(
		`\`, `\textbackslash{}`, "_", `\_`, "%", `\%`, "&", `\&`, "#", `\#`, "$", `\$`,
		"{", `\{`, "}", `\}`, "~", `\textasciitilde{}`, "^", `\textasciicircum{}`, "±", `$\pm$`,
	).Replace(s)
}
