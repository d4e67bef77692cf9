package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/nets"
	"xraylab/plots"
)

// Reports draws an experiment's figures and reports. Each is cached under
// <artifacts>/experiments/<id>/ by a key over the request and the state of
// the experiment's runs, so a request never redraws what has not changed.
type Reports struct {
	store experiments.Store
	notes experiments.NoteReader // nil: the store keeps no notes
	dir   string
}

// NewReports serves reports of the runs whose artifacts live in
// artifactsDir. The HTML report shows the experiment's notes when store
// also reads notes (a experiments.NoteReader, as registry.Store is).
func NewReports(store experiments.Store, artifactsDir string) *Reports {
	notes, _ := store.(experiments.NoteReader)
	return &Reports{store: store, notes: notes, dir: artifactsDir}
}

// maxROCCurves keeps an overlay of one score across runs legible.
const maxROCCurves = 16

// figSide is the side of a square figure, as the runs' own figures.
const figSide = 5 * vg.Inch

func (r *Reports) runs(ctx context.Context, id int64) (*experiments.Experiment, []*experiments.Run, error) {
	e, err := r.store.GetExperiment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	runs, _, err := r.store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
	return e, runs, err
}

// Table builds the experiment's comparison table.
func (r *Reports) Table(ctx context.Context, id int64, opts TableOptions) (*Table, error) {
	_, runs, err := r.runs(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := BuildTable(runs, opts)
	if err != nil {
		return nil, err
	}
	t.ExperimentID = id
	return t, nil
}

// cached returns the file for key, drawing it with draw when absent.
func (r *Reports) cached(id int64, runs []*experiments.Run, name string, draw func() ([]byte, error), key ...string) ([]byte, error) {
	h := sha256.New()
	fmt.Fprintln(h, strings.Join(key, "\x00"))
	for _, run := range runs {
		fin := ""
		if run.Finished != nil {
			fin = run.Finished.Format(time.RFC3339Nano)
		}
		fmt.Fprintln(h, run.ID, run.State, fin)
	}
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	dir := filepath.Join(r.dir, "experiments", strconv.FormatInt(id, 10))
	path := filepath.Join(dir, base+"-"+hex.EncodeToString(h.Sum(nil))[:16]+ext)
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	b, err := draw()
	if err != nil {
		return nil, err
	}
	// Older drawings of the same figure are stale now.
	old, _ := filepath.Glob(filepath.Join(dir, base+"-????????????????"+ext))
	for _, o := range old {
		os.Remove(o)
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			os.Rename(tmp, path)
		}
	}
	return b, nil
}

// TableImage draws the table in the paper's Table 1 layout (png or svg).
func (r *Reports) TableImage(ctx context.Context, id int64, opts TableOptions, format string) ([]byte, error) {
	_, runs, err := r.runs(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.cached(id, runs, "table."+format, func() ([]byte, error) {
		t, err := BuildTable(runs, opts)
		if err != nil {
			return nil, err
		}
		return plots.RenderTable(tableFigure(t), format)
	}, opts.Split, opts.Metric, opts.Aggregate)
}

// tableFigure lays a Table out for plots.RenderTable: preprocessing
// variants as column groups, without/with HE as sub-columns, one block of
// rows per model.
func tableFigure(t *Table) plots.Table {
	var groups []string
	hasHE := map[bool]bool{}
	for _, c := range t.Columns {
		if len(groups) == 0 || groups[len(groups)-1] != c.Preprocessing {
			groups = append(groups, c.Preprocessing)
		}
		hasHE[c.HistEq] = true
	}
	var subs []string
	var heOrder []bool
	for _, he := range []bool{false, true} {
		if hasHE[he] {
			heOrder = append(heOrder, he)
			subs = append(subs, map[bool]string{false: "without HE", true: "with HE"}[he])
		}
	}
	col := map[Column]int{}
	for i, c := range t.Columns {
		col[c] = i
	}
	out := plots.Table{Caption: t.Title(), Groups: groups, Subgroups: subs}
	for _, row := range t.Rows {
		if len(out.Blocks) == 0 || out.Blocks[len(out.Blocks)-1].Name != row.Model {
			out.Blocks = append(out.Blocks, plots.TableBlock{Name: row.Model})
		}
		tr := plots.TableRow{Label: row.Score}
		for _, g := range groups {
			for _, he := range heOrder {
				var cell plots.Cell
				if i, ok := col[Column{Preprocessing: g, HistEq: he}]; ok && row.Cells[i] != nil {
					c := row.Cells[i]
					cell = plots.Cell{Mean: c.Mean, Std: c.Std, Valid: true, Bold: c.Best}
					if c.N == 1 {
						cell.Text = meanStd(c.Mean, c.Std, 1) // no spread over one seed
					}
				}
				tr.Cells = append(tr.Cells, cell)
			}
		}
		b := &out.Blocks[len(out.Blocks)-1]
		b.Rows = append(b.Rows, tr)
	}
	return out
}

// ROCImage overlays the test ROC curves of one score across the
// experiment's succeeded runs (at most 16), e.g. raw vs crop vs full.
func (r *Reports) ROCImage(ctx context.Context, id int64, score, format string) ([]byte, error) {
	e, runs, err := r.runs(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.cached(id, runs, "roc."+format, func() ([]byte, error) {
		curves, err := r.scoreCurves(runs, score)
		if err != nil {
			return nil, err
		}
		p, err := plots.ROC(fmt.Sprintf("%s: test ROC of %s", e.Name, score), curves)
		if err != nil {
			return nil, err
		}
		return plots.Render(p, figSide, figSide, format)
	}, score)
}

func (r *Reports) scoreCurves(runs []*experiments.Run, score string) ([]plots.Curve, error) {
	var curves []plots.Curve
	for _, run := range runs {
		if run.State != experiments.StateSucceeded || len(curves) == maxROCCurves {
			continue
		}
		spec, err := experiments.DecodeRunSpec(run.Params)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(filepath.Join(r.dir, strconv.FormatInt(run.ID, 10), "scores.csv"))
		if err != nil {
			continue // a run without scores has no curve to draw
		}
		t, err := ReadScoresCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", run.ID, err)
		}
		var scores []float64
		var labels []int
		for _, row := range t.Rows {
			if v, ok := row.Scores[score]; ok && row.Part == "test" {
				scores = append(scores, v)
				labels = append(labels, row.Label)
			}
		}
		if len(scores) == 0 {
			continue
		}
		c, auc, err := eval.ROC(scores, labels)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", run.ID, err)
		}
		he := "noHE"
		if spec.HistEq {
			he = "HE"
		}
		curves = append(curves, plots.Curve{Label: fmt.Sprintf("#%d %s %s %s s%d", run.ID, spec.Model.Name, spec.Preprocessing, he, spec.Seed), FPR: c.FPR, TPR: c.TPR, AUC: auc})
	}
	if len(curves) == 0 {
		return nil, experiments.Errorf(experiments.CodeNotFound, "no finished run has test scores named %q", score)
	}
	return curves, nil
}

// HTML renders a self-contained report (figures embedded), which opens
// offline: experiment and data record, spec, comparison table and the
// paper's validation-based selection, every run, and the figures of each
// model's selected configuration.
func (r *Reports) HTML(ctx context.Context, id int64) ([]byte, error) {
	e, runs, err := r.runs(ctx, id)
	if err != nil {
		return nil, err
	}
	var notes []*experiments.Note
	if r.notes != nil {
		if notes, err = r.notes.Notes(ctx, id); err != nil {
			return nil, err
		}
	}
	// A note added, edited or deleted makes a new report.
	key := make([]string, len(notes))
	for i, n := range notes {
		key[i] = fmt.Sprintf("note %d %d", n.ID, n.Updated.UnixNano())
	}
	// So does a rename (the report shows the name).
	key = append(key, "name "+e.Name)
	return r.cached(id, runs, "report.html", func() ([]byte, error) { return r.renderHTML(ctx, e, runs, notes) }, key...)
}

type reportRun struct {
	*experiments.Run
	Label   string
	Figures []template.URL
}

func (r *Reports) renderHTML(ctx context.Context, e *experiments.Experiment, runs []*experiments.Run, notes []*experiments.Note) ([]byte, error) {
	data := struct {
		E         *experiments.Experiment
		Notes     []*experiments.Note
		Generated time.Time
		Table     *Table
		TableErr  string
		Markdown  string
		Runs      []reportRun
		ROC       []template.URL
	}{E: e, Notes: notes, Generated: time.Now().UTC()}
	if t, err := BuildTable(runs, TableOptions{}); err == nil {
		data.Table = t
	} else {
		data.TableErr = err.Error()
	}
	selected := map[string]bool{}
	if data.Table != nil {
		for _, s := range data.Table.Selection {
			selected[fmt.Sprintf("%s/%s/%v", s.Model, s.Preprocessing, s.HistEq)] = true
		}
	}
	scores := map[string]bool{}
	for _, run := range runs {
		rr := reportRun{Run: run, Label: run.Model}
		if spec, err := experiments.DecodeRunSpec(run.Params); err == nil {
			rr.Label = spec.Label()
			if run.State == experiments.StateSucceeded && selected[fmt.Sprintf("%s/%s/%v", spec.Model.Name, spec.Preprocessing, spec.HistEq)] {
				// heatmaps-<map>.png: a GAN discriminator's saliency maps
				for _, name := range []string{"roc.png", "heatmaps.png", "heatmaps-" + nets.MapDGrad + ".png", "heatmaps-" + nets.MapDGradX + ".png"} {
					if b, err := os.ReadFile(filepath.Join(r.dir, strconv.FormatInt(run.ID, 10), name)); err == nil {
						rr.Figures = append(rr.Figures, dataURL(b))
					}
				}
			}
			for _, s := range spec.Model.Scores {
				scores[s] = true
			}
		}
		data.Runs = append(data.Runs, rr)
	}
	if data.Table != nil {
		seen := map[string]bool{}
		for _, row := range data.Table.Rows {
			if seen[row.Score] {
				continue
			}
			seen[row.Score] = true
			if b, err := r.ROCImage(ctx, e.ID, row.Score, "png"); err == nil {
				data.ROC = append(data.ROC, dataURL(b))
			}
		}
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func dataURL(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f3":      func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"pm":      meanStd,
	"col":     func(c Column) string { return c.Label() },
	"metrics": headlineKeys,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>xraylab report: {{.E.Name}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d2430}
table{border-collapse:collapse;margin:1em 0}th,td{border-bottom:1px solid #d5dae1;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}b{font-weight:700}
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:13px}img{max-width:100%;border:1px solid #e3e7ec;margin:.3em 0}
.meta td:first-child{color:#5b6573}.failed{color:#b42318}
.note{border-left:3px solid #d5dae1;padding:0 1em;margin:1em 0}.note pre{background:none;padding:0;white-space:pre-wrap;font:inherit}.note p{color:#5b6573;margin:0}
</style></head><body>
<h1>{{.E.Name}}</h1>
<table class="meta">
<tr><td>experiment</td><td>#{{.E.ID}}, created {{.E.Created.Format "2006-01-02 15:04 UTC"}}</td></tr>
<tr><td>spec hash</td><td><code>{{.E.SpecHash}}</code></td></tr>
<tr><td>recorded by</td><td><code>{{.E.Version}}</code></td></tr>
<tr><td>report generated</td><td>{{.Generated.Format "2006-01-02 15:04 UTC"}}</td></tr>
</table>
{{with .Notes}}<h2>Notes</h2>
{{range .}}<div class="note"><p>note #{{.ID}}, {{.Updated.UTC.Format "2006-01-02 15:04 UTC"}}</p><pre>{{.Body}}</pre></div>
{{end}}{{end}}<h2>Comparison</h2>
{{with .Table}}<p>{{.Title}}</p>
<table><tr><th>model</th><th>score</th>{{range .Columns}}<th>{{col .}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Model}}</td><td>{{.Score}}</td>{{range .Cells}}<td class="num">{{if .}}{{if .Best}}<b>{{pm .Mean .Std .N}}</b>{{else}}{{pm .Mean .Std .N}}{{end}} ({{.N}}){{else}}–{{end}}</td>{{end}}</tr>
{{end}}</table>
<h3>Selected on validation ROC-AUC (as in the paper)</h3>
<table><tr><th>model</th><th>score</th><th>preprocessing</th><th>HE</th><th>validation</th><th>test</th></tr>
{{range .Selection}}<tr><td>{{.Model}}</td><td>{{.Score}}</td><td>{{.Preprocessing}}</td><td>{{.HistEq}}</td><td class="num">{{with .Validation}}{{pm .Mean .Std .N}}{{end}}</td><td class="num">{{with .Test}}{{pm .Mean .Std .N}}{{else}}–{{end}}</td></tr>
{{end}}</table>{{else}}<p>No table yet: {{.TableErr}}</p>{{end}}
{{range .ROC}}<img src="{{.}}" alt="ROC curves">{{end}}
<h2>Runs</h2>
<table><tr><th>run</th><th>grid point</th><th>state</th><th>dataset</th><th>final metrics</th></tr>
{{range .Runs}}<tr><td>#{{.ID}}</td><td>{{.Label}}</td><td{{if eq .State "failed"}} class="failed"{{end}}>{{.State}}{{with .Error}}: {{.}}{{end}}</td><td><code>{{printf "%.12s" .Dataset}}</code></td>
<td>{{$m := .Metrics}}{{range metrics .Metrics}}{{.}} {{f3 (index $m .)}}<br>{{end}}</td></tr>
{{end}}</table>
<h2>Figures of the selected configurations</h2>
{{range .Runs}}{{if .Figures}}<h3>#{{.ID}} {{.Label}}</h3>{{range .Figures}}<img src="{{.}}" alt="run figure">{{end}}{{end}}{{end}}
<h2>Spec</h2>
<pre>{{.E.SpecText}}</pre>
</body></html>
`))

// headlineKeys are the test figures a report lists per run: image-level
// ROC-AUC and AP, study-level ROC-AUC and pixel-level figures.
func headlineKeys(m map[string]float64) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key, err := eval.Parse(k)
		if err == nil && key.Split == eval.SplitTest && (key.Metric == eval.MetricROCAUC || key.Metric == eval.MetricAP || strings.HasPrefix(key.Metric, "pixel_")) {
			out = append(out, k)
		}
	}
	return out
}
