package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/plots"
)

func TestAggregate(t *testing.T) {
	rows := []ResultRow{
		{"cae", "mse", "full", true, 42, "test", 0.5},
		{"cae", "mse", "full", true, 4242, "test", 0.7},
		{"cae", "mse", "full", true, 42, "val", 0.9},
		{"vae", "kld", "raw", false, 42, "test", 0.4},
		{"cae", "mse", "full", false, 42, "test", 0.2},
		{"cae", "mse", "full", true, 424242, "test", 0.6},
	}
	cells := Aggregate(rows)
	want := []struct {
		model, pre string
		he         bool
		split      string
		mean, std  float64
		seeds      []int64
	}{
		{"cae", "full", true, "test", 0.6, 0.1, []int64{42, 4242, 424242}},
		{"cae", "full", true, "val", 0.9, 0, []int64{42}},
		{"vae", "raw", false, "test", 0.4, 0, []int64{42}},
		{"cae", "full", false, "test", 0.2, 0, []int64{42}},
	}
	if len(cells) != len(want) {
		t.Fatalf("%d cells, want %d: %+v", len(cells), len(want), cells)
	}
	for i, w := range want {
		c := cells[i]
		if c.Model != w.model || c.Preprocessing != w.pre || c.HistEq != w.he || c.Split != w.split ||
			math.Abs(c.Mean-w.mean) > 1e-12 || math.Abs(c.Std-w.std) > 1e-12 || c.N != len(w.seeds) || !reflect.DeepEqual(c.Seeds, w.seeds) {
			t.Errorf("cell %d = %+v, want %+v", i, c, w)
		}
	}
	if len(Aggregate(nil)) != 0 {
		t.Error("no rows should give no cells")
	}
}

// tableRun builds a run of experiment 7 with the given grid point, state
// and final metrics.
func tableRun(t *testing.T, id int64, model experiments.ModelSpec, pre string, he bool, seed int64, state experiments.State, metrics map[string]float64) *experiments.Run {
	t.Helper()
	params, err := json.Marshal(experiments.RunSpec{Experiment: "t1", Model: model, Preprocessing: pre, HistEq: he, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return &experiments.Run{ID: id, ExperimentID: 7, Model: model.Name, Params: params, Seed: seed, State: state, Metrics: metrics}
}

var (
	caeSpec = experiments.ModelSpec{Name: "cae", Scores: []string{"mse", "mse_topk"}, TopK: []int{200}}
	vaeSpec = experiments.ModelSpec{Name: "vae", Scores: []string{"kld"}}
)

// paperRuns is a small experiment: cae on raw (3 seeds) and full (2
// seeds; its full+HE run failed), vae on full+HE (1 seed; raw failed).
// cae's top-200 score wins on validation but not on test, as can happen.
func paperRuns(t *testing.T) []*experiments.Run {
	m := func(kv ...any) map[string]float64 {
		out := map[string]float64{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1].(float64)
		}
		return out
	}
	var runs []*experiments.Run
	id := int64(1)
	add := func(spec experiments.ModelSpec, pre string, he bool, seed int64, state experiments.State, metrics map[string]float64) {
		runs = append(runs, tableRun(t, id, spec, pre, he, seed, state, metrics))
		id++
	}
	for i, seed := range []int64{42, 4242, 424242} {
		v := 0.5 + 0.1*float64(i)
		add(caeSpec, "raw", false, seed, experiments.StateSucceeded, m(
			"test/mse/roc_auc", v, "val/mse/roc_auc", v+0.02, "test/mse/ap", 0.3,
			"test/mse_top200/roc_auc", 0.55, "val/mse_top200/roc_auc", 0.9,
			"test/mse/study_mean/roc_auc", 0.61, "test/images", 100.0, "test/pixel_roc_auc", 0.8))
	}
	add(vaeSpec, "raw", false, 42, experiments.StateFailed, nil)
	for i, seed := range []int64{42, 4242} {
		v := 0.8 + 0.1*float64(i)
		add(caeSpec, "full", false, seed, experiments.StateSucceeded, m(
			"test/mse/roc_auc", v, "val/mse/roc_auc", 0.7,
			"test/mse_top200/roc_auc", 0.6, "val/mse_top200/roc_auc", 0.5))
	}
	add(caeSpec, "full", true, 42, experiments.StateFailed, nil)
	add(vaeSpec, "full", true, 42, experiments.StateSucceeded, m("test/kld/roc_auc", 0.55, "val/kld/roc_auc", 0.6))
	add(caeSpec, "full", true, 4242, experiments.StateRunning, nil)
	return runs
}

func TestBuildTable(t *testing.T) {
	tab, err := BuildTable(paperRuns(t), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.ExperimentID != 7 || tab.Split != "test" || tab.Metric != "roc_auc" || tab.Aggregate != "image" {
		t.Errorf("header %d %s %s %s", tab.ExperimentID, tab.Split, tab.Metric, tab.Aggregate)
	}
	wantCols := []Column{{"raw", false}, {"full", false}, {"full", true}}
	if !reflect.DeepEqual(tab.Columns, wantCols) {
		t.Fatalf("columns %v, want %v", tab.Columns, wantCols)
	}
	type cell struct {
		mean, std float64
		n         int
		best      bool
	}
	want := []struct {
		model, score string
		cells        []*cell
		selected     Column
		selTest      float64
	}{
		{"cae", "mse", []*cell{{0.6, 0.1, 3, false}, {0.85, math.Sqrt(0.005), 2, true}, nil}, Column{"full", false}, 0.85},
		{"cae", "mse_top200", []*cell{{0.55, 0, 3, false}, {0.6, 0, 2, false}, nil}, Column{"raw", false}, 0.55},
		{"vae", "kld", []*cell{nil, nil, {0.55, 0, 1, true}}, Column{"full", true}, 0.55},
	}
	if len(tab.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(tab.Rows), len(want))
	}
	for i, w := range want {
		r := tab.Rows[i]
		if r.Model != w.model || r.Score != w.score {
			t.Errorf("row %d is %s/%s, want %s/%s", i, r.Model, r.Score, w.model, w.score)
		}
		for j, wc := range w.cells {
			c := r.Cells[j]
			if (c == nil) != (wc == nil) {
				t.Errorf("row %d cell %d = %+v, want %+v", i, j, c, wc)
				continue
			}
			if c != nil && (math.Abs(c.Mean-wc.mean) > 1e-12 || math.Abs(c.Std-wc.std) > 1e-12 || c.N != wc.n || c.Best != wc.best) {
				t.Errorf("row %d cell %d = %+v, want %+v", i, j, *c, *wc)
			}
		}
		if r.Selected == nil || (Column{r.Selected.Preprocessing, r.Selected.HistEq}) != w.selected ||
			r.Selected.Test == nil || math.Abs(r.Selected.Test.Mean-w.selTest) > 1e-12 {
			t.Errorf("row %d selected %+v, want %v with test %v", i, r.Selected, w.selected, w.selTest)
		}
	}
	wantSel := []struct {
		model, score string
		col          Column
		val, test    float64
		n            int
	}{
		{"cae", "mse_top200", Column{"raw", false}, 0.9, 0.55, 3},
		{"vae", "kld", Column{"full", true}, 0.6, 0.55, 1},
	}
	if len(tab.Selection) != len(wantSel) {
		t.Fatalf("selection %+v", tab.Selection)
	}
	for i, w := range wantSel {
		s := tab.Selection[i]
		if s.Model != w.model || s.Score != w.score || (Column{s.Preprocessing, s.HistEq}) != w.col ||
			s.Validation == nil || math.Abs(s.Validation.Mean-w.val) > 1e-12 || s.Test == nil || math.Abs(s.Test.Mean-w.test) > 1e-12 || s.Test.N != w.n {
			t.Errorf("selection %d = %+v, want %+v", i, s, w)
		}
	}
}

func TestBuildTableOptions(t *testing.T) {
	runs := paperRuns(t)
	// Study level reads only the study keys: just cae/mse on raw has one.
	tab, err := BuildTable(runs, TableOptions{Aggregate: eval.AggStudyMean})
	if err != nil {
		t.Fatal(err)
	}
	if c := tab.Rows[0].Cells[0]; c == nil || c.Mean != 0.61 || c.N != 3 {
		t.Errorf("study-level cell %+v, want 0.61 over 3", c)
	}
	if tab.Rows[0].Cells[1] != nil || tab.Rows[1].Cells[0] != nil {
		t.Error("study-level table shows image-level figures")
	}
	if tab.Selection[0].Validation != nil {
		t.Errorf("no validation study figure exists, yet selected %+v", tab.Selection[0])
	}
	// Average precision of the validation split: no run has val/*/ap.
	tab, err = BuildTable(runs, TableOptions{Split: "val", Metric: "ap"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tab.Rows {
		for j, c := range r.Cells {
			if c != nil {
				t.Errorf("%s/%s column %d = %+v; no val AP exists", r.Model, r.Score, j, *c)
			}
		}
	}
	// Selection still ranks validation ROC-AUC and reports the test AP.
	if s := tab.Selection[0]; s.Score != "mse_top200" || s.Test != nil {
		t.Errorf("selection %+v: want mse_top200 with no test AP", s)
	}
	tab, _ = BuildTable(runs, TableOptions{Metric: "ap"})
	if s := tab.Rows[0].Selected; s == nil || s.Preprocessing != "full" || s.Test != nil {
		t.Errorf("cae/mse selected %+v: full has no test AP", s)
	}
	if c := tab.Rows[0].Cells[0]; c == nil || c.Mean != 0.3 || !c.Best {
		t.Errorf("test AP cell %+v, want 0.3, best", c)
	}

	errs := []struct {
		opts TableOptions
		want string
	}{
		{TableOptions{Split: "train"}, `table split "train": must be test or val`},
		{TableOptions{Metric: "f1"}, `table metric "f1": must be roc_auc or ap`},
		{TableOptions{Aggregate: "patient"}, `table aggregate "patient": must be image, study_mean or study_max`},
	}
	for _, e := range errs {
		if _, err := BuildTable(runs, e.opts); err == nil || err.Error() != e.want || experiments.CodeOf(err) != experiments.CodeInvalid {
			t.Errorf("%+v: error %v, want %q", e.opts, err, e.want)
		}
	}
}

func TestBuildTableErrors(t *testing.T) {
	ok := map[string]float64{"test/mse/roc_auc": 0.5}
	dup := []*experiments.Run{
		tableRun(t, 3, caeSpec, "raw", false, 42, experiments.StateSucceeded, ok),
		tableRun(t, 9, caeSpec, "raw", false, 42, experiments.StateSucceeded, ok),
	}
	other := tableRun(t, 4, caeSpec, "raw", false, 1, experiments.StateSucceeded, ok)
	other.ExperimentID = 8
	bad := tableRun(t, 5, caeSpec, "raw", false, 1, experiments.StateSucceeded, ok)
	bad.Params = []byte(`{"model": 3}`)
	cases := []struct {
		name string
		runs []*experiments.Run
		want string
	}{
		{"none", nil, "a table needs at least one run"},
		{"duplicate seed", dup, "runs 3 and 9 are the same grid point (cae/raw/HE=false/seed 42); a table counts each seed once"},
		{"two experiments", []*experiments.Run{dup[0], other}, "runs 3 and 4 belong to different experiments (7, 8)"},
		{"bad params", []*experiments.Run{bad}, "run 5: run params are not a valid run spec: json: cannot unmarshal number into Go struct field RunSpec.model of type experiments.ModelSpec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildTable(c.runs, TableOptions{})
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	// Two configurations of one model name get their own rows.
	small := experiments.ModelSpec{Name: "cae", Scores: []string{"mse"}, Params: map[string]float64{"latent": 8}}
	big := experiments.ModelSpec{Name: "cae", Scores: []string{"mse"}, Params: map[string]float64{"latent": 64}}
	tab, err := BuildTable([]*experiments.Run{
		tableRun(t, 1, small, "raw", false, 42, experiments.StateSucceeded, ok),
		tableRun(t, 2, big, "raw", false, 42, experiments.StateSucceeded, map[string]float64{"test/mse/roc_auc": 0.7}),
	}, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 || tab.Rows[0].Model != "cae #1" || tab.Rows[1].Model != "cae #2" || tab.Rows[1].Cells[0].Mean != 0.7 {
		t.Errorf("rows %+v", tab.Rows)
	}
}

func TestTableRenderers(t *testing.T) {
	tab, err := BuildTable(paperRuns(t), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := tab.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	wantMD := `Test ROC-AUC, image level; mean ± std (n) over seeds, best per model in bold.

| Model | Score | raw | full | full + HE |
|---|---|---|---|---|
| cae | mse | 0.600 ± 0.100 (3) | **0.850 ± 0.071 (2)** | – |
| cae | mse\_top200 | 0.550 ± 0.000 (3) | 0.600 ± 0.000 (2) | – |
| vae | kld | – | – | **0.550 ± — (1)** |

Selected on mean validation ROC-AUC (as in the paper):

- cae: raw, score mse\_top200: test 0.550 ± 0.000 (3) (validation ROC-AUC 0.900 ± 0.000 (3))
- vae: full + HE, score kld: test 0.550 ± — (1) (validation ROC-AUC 0.600 ± — (1))
`
	if string(md) != wantMD {
		t.Errorf("Markdown:\n%s\nwant:\n%s", md, wantMD)
	}

	tex, err := tab.LaTeX()
	if err != nil {
		t.Fatal(err)
	}
	wantTeX := `% Test ROC-AUC, image level; mean $\pm$ std (n) over seeds, best per model in bold
\begin{tabular}{llccc}
\toprule
 &  & \multicolumn{1}{c}{raw} & \multicolumn{2}{c}{full} \\
\cmidrule(lr){3-3}\cmidrule(lr){4-5}
Model & Score & without HE & without HE & with HE \\
\midrule
cae & mse & 0.600 $\pm$ 0.100 (3) & \textbf{0.850 $\pm$ 0.071 (2)} & -- \\
 & mse\_top200 & 0.550 $\pm$ 0.000 (3) & 0.600 $\pm$ 0.000 (2) & -- \\
\midrule
vae & kld & -- & -- & \textbf{0.550 $\pm$ --- (1)} \\
\bottomrule
\end{tabular}

% Configuration selected on mean validation ROC-AUC, with its test figure
\begin{tabular}{lllcc}
\toprule
Model & Score & Setting & Validation ROC-AUC & Test \\
\midrule
cae & mse\_top200 & raw & 0.900 $\pm$ 0.000 (3) & 0.550 $\pm$ 0.000 (3) \\
vae & kld & full + HE & 0.600 $\pm$ --- (1) & 0.550 $\pm$ --- (1) \\
\bottomrule
\end{tabular}
`
	if string(tex) != wantTeX {
		t.Errorf("LaTeX:\n%s\nwant:\n%s", tex, wantTeX)
	}

	raw, err := tab.CSV()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+3*3 {
		t.Fatalf("%d CSV records, want 10", len(recs))
	}
	wantCSV := map[int]string{
		0: "split,metric,aggregate,model,score,preprocessing,histogram_equalization,mean,std,n,best,selected",
		2: "test,roc_auc,image,cae,mse,full,false,0.8500000000000001,0.07071067811865474,2,true,false", // (0.8+0.9)/2 in float64
		3: "test,roc_auc,image,cae,mse,full,true,,,0,false,false",
		4: "test,roc_auc,image,cae,mse_top200,raw,false,0.55,0,3,false,true",
		9: "test,roc_auc,image,vae,kld,full,true,0.55,0,1,true,true",
	}
	for i, w := range wantCSV {
		if got := strings.Join(recs[i], ","); got != w {
			t.Errorf("CSV line %d = %s, want %s", i, got, w)
		}
	}

	js, err := tab.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ExperimentID int64 `json:"experiment_id"`
		Columns      []map[string]any
		Rows         []struct {
			Model, Score string
			Cells        []*struct {
				Mean, Std float64
				N         int
				Best      bool
			}
			Selected map[string]any
		}
		Selection []map[string]any
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ExperimentID != 7 || len(doc.Columns) != 3 || doc.Columns[2]["preprocessing"] != "full" || doc.Columns[2]["histogram_equalization"] != true {
		t.Errorf("JSON head: %s", js)
	}
	r0 := doc.Rows[0]
	if r0.Model != "cae" || r0.Cells[2] != nil || r0.Cells[1] == nil || !r0.Cells[1].Best || r0.Cells[1].N != 2 ||
		r0.Selected["preprocessing"] != "full" || r0.Selected["histogram_equalization"] != false {
		t.Errorf("JSON row 0: %+v", r0)
	}
	if doc.Selection[0]["score"] != "mse_top200" {
		t.Errorf("JSON selection %v", doc.Selection)
	}
	if !strings.Contains(string(js), `"cells":[{"mean":0.6,"std":0.09999999999999998,"n":3,"best":false}`) {
		t.Errorf("JSON cell shape: %s", js)
	}
}

// Every run failed: rows and columns still show, every cell is "–".
func TestTableAllFailed(t *testing.T) {
	tab, err := BuildTable([]*experiments.Run{
		tableRun(t, 1, vaeSpec, "crop", true, 42, experiments.StateFailed, nil),
		tableRun(t, 2, vaeSpec, "raw", false, 42, experiments.StateCancelled, nil),
	}, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := tab.Markdown()
	for _, line := range []string{"| Model | Score | raw | crop + HE |", "| vae | kld | – | – |", "- vae: no succeeded run with a validation ROC-AUC"} {
		if !strings.Contains(string(md), line) {
			t.Errorf("Markdown lacks %q:\n%s", line, md)
		}
	}
	tex, _ := tab.LaTeX()
	if !strings.Contains(string(tex), "vae & kld & -- & -- \\\\") || !strings.Contains(string(tex), "vae & -- & -- & -- & -- \\\\") {
		t.Errorf("LaTeX:\n%s", tex)
	}
}

func TestLatexEscape(t *testing.T) {
	if got, want := latexEscape(`a_b 50% #1 & $x$ {y} ~^\`), `a\_b 50\% \#1 \& \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}`; got != want {
		t.Errorf("latexEscape = %s, want %s", got, want)
	}
}

// One seed has no spread: every renderer shows "—" for its std, never
// "± 0.000" (the image through the cell's text, the HTML report too).
func TestOneSeedShowsNoStd(t *testing.T) {
	tab, err := BuildTable(paperRuns(t), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fig := tableFigure(tab)
	var vae plots.Cell
	for _, b := range fig.Blocks {
		if b.Name == "vae" {
			vae = b.Rows[0].Cells[len(b.Rows[0].Cells)-1]
		}
	}
	if vae.Text != "0.550 ± —" || !vae.Valid {
		t.Errorf("figure cell of one seed = %+v", vae)
	}
	if cae := fig.Blocks[0].Rows[0].Cells[0]; cae.Text != "" {
		t.Errorf("figure cell of three seeds = %+v; want the numbers drawn as before", cae)
	}
	// A map, not renderHTML's struct, so fields added there need no change here.
	var html bytes.Buffer
	data := map[string]any{"E": &experiments.Experiment{ID: 7, Name: "t1"}, "Generated": time.Time{}, "Table": tab}
	if err := reportTemplate.Execute(&html, data); err != nil {
		t.Fatal(err)
	}
	if s := html.String(); !strings.Contains(s, "<b>0.550 ± —</b> (1)") || !strings.Contains(s, "0.600 ± —</td>") || strings.Contains(s, "± 0.000 (1)") {
		t.Errorf("HTML report shows one seed's std wrongly:\n%s", s)
	}
}
