package experiments

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"xraylab/nets"
)

func TestParseSpecValid(t *testing.T) {
	text, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseSpec(text)
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if got := strings.Join(spec.Names(), ","); got != "tiny,mura" {
		t.Fatalf("names = %s, want tiny,mura (file order)", got)
	}
	tiny, _ := spec.Find("tiny")
	if tiny.ImageSize != 32 || tiny.Epochs != 2 || tiny.BatchSize != 8 || tiny.SplitSeed != nil {
		t.Errorf("tiny settings = %+v", tiny)
	}
	if s := tiny.Dataset.Synthetic; s == nil || s.Patients != 24 || s.Size != 64 || s.Seed != 3 || s.Difficulty != "easy" {
		t.Errorf("synthetic = %+v", s)
	}
	m := tiny.Models[0]
	if m.Name != "pixelgauss" || len(m.TopK) != 2 || m.TopK[1] != 50 || m.Params["var_floor"] != 0.001 || m.Augmentation != "none" {
		t.Errorf("model = %+v", m)
	}
	if tiny.GridSize() != 4 {
		t.Errorf("grid size = %d, want 4", tiny.GridSize())
	}
	mura, _ := spec.Find("mura")
	if mura.Dataset.MURA.Root != "/data/MURA-v1.1" || mura.Dataset.MURA.BodyPart != "XR_HAND" || *mura.SplitSeed != 7 {
		t.Errorf("mura = %+v", mura.Dataset.MURA)
	}
	// Defaults: all of the model's scores, k = 200, one seed, raw, no HE.
	if got := strings.Join(mura.Models[0].Scores, ","); got != "mean,mean_topk" {
		t.Errorf("default scores = %s", got)
	}
	if mura.Models[0].TopK[0] != DefaultTopK || mura.Seeds[0] != 42 || mura.Preprocessing[0] != "raw" || mura.HistEq[0] {
		t.Errorf("defaults = %+v", mura)
	}
	if len(spec.Hash) != 64 {
		t.Errorf("hash %q", spec.Hash)
	}
}

func TestExpand(t *testing.T) {
	text, _ := os.ReadFile("testdata/valid.yaml")
	spec, err := ParseSpec(text)
	if err != nil {
		t.Fatal(err)
	}
	tiny, _ := spec.Find("tiny")
	runs := tiny.Expand()
	want := []string{
		"pixelgauss/raw/noHE/seed42", "pixelgauss/raw/noHE/seed4242",
		"pixelgauss/raw/HE/seed42", "pixelgauss/raw/HE/seed4242",
	}
	if len(runs) != len(want) {
		t.Fatalf("%d runs, want %d", len(runs), len(want))
	}
	for i, r := range runs {
		if r.Label() != want[i] {
			t.Errorf("run %d = %s, want %s", i, r.Label(), want[i])
		}
		if r.SplitSeed != r.Seed {
			t.Errorf("run %d: split seed %d should follow the run seed %d", i, r.SplitSeed, r.Seed)
		}
	}
	mura, _ := spec.Find("mura")
	if r := mura.Expand()[0]; r.SplitSeed != 7 || r.Seed != 42 {
		t.Errorf("fixed split seed: %+v", r)
	}
	// Per-model settings override the experiment's.
	if r := mura.Expand()[1]; r.ImageSize != 128 || r.Epochs != 3 || r.BatchSize != 16 || r.Model.Name != "pixelgauss" {
		t.Errorf("model overrides: %+v", r)
	}
	if r := mura.Expand()[0]; r.ImageSize != DefaultImageSize || r.Epochs != DefaultEpochs || r.BatchSize != DefaultBatchSize {
		t.Errorf("experiment defaults: %+v", r)
	}
}

// Every bad spec reports every problem with its path, line and column.
func TestParseSpecProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{`(file): spec is empty; it needs an "experiments" mapping`}},
		{"syntax", "experiments: [", []string{"(file): not valid YAML: did not find expected node content (line 1, column 0)"}},
		{"top level list", "- a", []string{`(file): must be a mapping with an "experiments" key, got a list (line 1, column 1)`}},
		{"unknown top key", "experiments: {}\nversion: 2", []string{
			`version: unknown field "version"; known: experiments (line 2, column 1)`,
			`experiments: must name at least one experiment (line 1, column 14)`,
		}},
		{"unknown model and key", `experiments:
  e1:
    dataset: {synthetic: {}}
    models:
      - name: pixelgauss
      - name: cea
    epoks: 3
`, []string{
			`experiments.e1.models[1].name: unknown model "cea"; known: ` + knownModels() + ` (line 6, column 15)`,
			`experiments.e1.epoks: unknown field "epoks"; known: batch_size, checkpoint_every, dataset, description, ensembles, epochs, histogram_equalization, image_size, models, preprocessing, seeds, slurm, split_seed, validate_every (line 7, column 5)`,
		}},
		{"ranges and types", `experiments:
  e1:
    dataset:
      synthetic: {patients: 2, difficulty: brutal}
    image_size: 8
    epochs: two
    batch_size: 1.5
    models: [{name: pixelgauss, scores: [mse], augmentation: wild, params: {var_floor: 5, lr: 1}}]
    preprocessing: [raw, raw, crap]
    histogram_equalization: [yes]
    seeds: [42, 42, -1]
`, []string{
			`experiments.e1.dataset.synthetic.patients: 2 is out of range; allowed: 8 to 100000 (line 4, column 29)`,
			`experiments.e1.dataset.synthetic.difficulty: unknown value "brutal"; allowed: easy, medium, hard (line 4, column 44)`,
			`experiments.e1.image_size: 8 is out of range; allowed: 16 to 1024 (line 5, column 17)`,
			`experiments.e1.epochs: must be an integer, got "two" (line 6, column 13)`,
			`experiments.e1.batch_size: must be an integer, got "1.5" (line 7, column 17)`,
			`experiments.e1.models[0].scores[0]: model pixelgauss has no score "mse"; known: mean, mean_topk (line 8, column 42)`,
			`experiments.e1.models[0].augmentation: unknown value "wild"; allowed: none, default, advanced (line 8, column 62)`,
			`experiments.e1.models[0].params.var_floor: 5 is out of range; allowed: 1e-08 to 1 (line 8, column 88)`,
			`experiments.e1.models[0].params.lr: unknown field "lr"; known: var_floor (line 8, column 91)`,
			`experiments.e1.preprocessing: lists "raw" twice (line 9, column 20)`,
			`experiments.e1.preprocessing[2]: unknown value "crap"; allowed: raw, crop, full (line 9, column 31)`,
			`experiments.e1.histogram_equalization[0]: must be true or false, got "yes" (line 10, column 30)`,
			`experiments.e1.seeds: lists seed 42 twice (line 11, column 12)`,
			`experiments.e1.seeds[2]: -1 is out of range; allowed: 0 to 9223372036854775807 (line 11, column 21)`,
		}},
		{"missing parts", `experiments:
  "bad name!":
    epochs: 1
  e2:
    epochs: 1
  e3:
    dataset: {mura: {body_part: XR_KNEE}, synthetic: {}}
    models: [{scores: [mean]}]
    split_seed: often
`, []string{
			`experiments.bad name!: experiment name "bad name!" must be 1-64 letters, digits, '-', '_' or '.' (line 2, column 3)`,
			`experiments.e2.dataset: is required (synthetic or mura) (line 5, column 5)`,
			`experiments.e2.models: is required; known models: ` + knownModels() + ` (line 5, column 5)`,
			`experiments.e3.dataset: needs exactly one of "synthetic" or "mura" (line 7, column 14)`,
			`experiments.e3.dataset.mura.root: is required: the path of the MURA-v1.1 folder (line 7, column 21)`,
			`experiments.e3.dataset.mura.body_part: unknown value "XR_KNEE"; allowed: XR_ELBOW, XR_FINGER, XR_FOREARM, XR_HAND, XR_HUMERUS, XR_SHOULDER, XR_WRIST (line 7, column 33)`,
			`experiments.e3.models[0].name: is required; known: ` + knownModels() + ` (line 8, column 14)`,
			`experiments.e3.split_seed: must be an integer, got "often" (or "run" to draw the split from each run's seed) (line 9, column 17)`,
		}},
		{"topk_frac and resize", `experiments:
  e1:
    dataset: {synthetic: {}}
    models: [{name: cae, topk_frac: [0, 0.5, 1.5, 0.5, x], resize: stretch}]
`, []string{
			`experiments.e1.models[0].topk_frac[0]: must be a share in (0, 1], got 0 (line 4, column 38)`,
			`experiments.e1.models[0].topk_frac[2]: 1.5 is out of range; allowed: 0 to 1 (line 4, column 46)`,
			`experiments.e1.models[0].topk_frac: lists 0.5 twice (line 4, column 51)`,
			`experiments.e1.models[0].topk_frac[4]: must be a finite number, got "x" (line 4, column 56)`,
			`experiments.e1.models[0].resize: unknown value "stretch"; allowed: pad, fit (line 4, column 68)`,
		}},
		{"grid too large", bigGrid(3), []string{`experiments: the grid expands to 16200 runs; at most 10000 allowed per submission (line 2, column 3)`}},
		{"two documents", "experiments: {}\n---\na: 1\n", []string{`(file): holds more than one YAML document; put all experiments in one (line 2, column 1)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if CodeOf(err) != CodeInvalid {
				t.Fatalf("code = %s, want invalid", CodeOf(err))
			}
			problems := SpecProblems(err)
			if problems == nil {
				t.Fatalf("error %T carries no problems", err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// bigGrid is a spec of n experiments, each 9 models × 3 × 2 × 100 seeds.
func bigGrid(n int) string {
	var seeds []string
	for i := 1; i <= 100; i++ {
		seeds = append(seeds, strconv.Itoa(i))
	}
	var b strings.Builder
	b.WriteString("experiments:\n")
	for e := 0; e < n; e++ {
		fmt.Fprintf(&b, "  big%d:\n    dataset: {synthetic: {}}\n    models: [", e)
		for m := 0; m < 9; m++ {
			fmt.Fprintf(&b, "{name: pixelgauss, topk: [%d]}, ", m+1)
		}
		b.WriteString("]\n    preprocessing: [raw, crop, full]\n    histogram_equalization: [false, true]\n")
		b.WriteString("    seeds: [" + strings.Join(seeds, ", ") + "]\n")
	}
	return b.String()
}

func knownModels() string {
	return strings.Join(nets.Names(), ", ")
}

func TestParseSpecLimits(t *testing.T) {
	big := make([]byte, MaxSpecBytes+1)
	if _, err := ParseSpec(big); CodeOf(err) != CodeTooLarge {
		t.Errorf("oversized spec: code %s, err %v", CodeOf(err), err)
	}
	// A billion-laughs alias bomb (10^10 leaves) must be refused without
	// being expanded.
	bomb := "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", ") + "]\n"
		prev = name
	}
	bomb += "experiments:\n  e:\n    dataset: {synthetic: {}}\n    models: [{name: pixelgauss}]\n    seeds: *j\n"
	_, err := ParseSpec([]byte(bomb))
	if err == nil || CodeOf(err) != CodeInvalid || !strings.Contains(err.Error(), "experiments.e.seeds[0]: must be an integer, got a list") {
		t.Fatalf("alias bomb: %v", err)
	}
	// A file of thousands of unknown keys lists the first 100 problems.
	var many strings.Builder
	many.WriteString("experiments:\n  e:\n    dataset: {synthetic: {}}\n    models: [{name: pixelgauss}]\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&many, "    k%d: 1\n", i)
	}
	ps := SpecProblems(func() error { _, err := ParseSpec([]byte(many.String())); return err }())
	if len(ps) != 101 || ps[100].Message != "400 more problems not listed" {
		t.Errorf("%d problems listed, last %+v", len(ps), ps[len(ps)-1])
	}
	deep := "experiments: " + strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := ParseSpec([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nesting deeper than 32 levels") {
		t.Errorf("deep nesting: %v", err)
	}
}

// Cluster resources may be set per experiment and per model; the model's
// win, and bad values are reported where they stand.
func TestSpecSlurmOverrides(t *testing.T) {
	spec, err := ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    slurm: {partition: long, time: "4:00:00", options: [--qos=normal]}
    models:
      - name: pixelgauss
      - name: pixelgauss
        topk: [5]
        slurm: {time: "30", gres: "gpu:1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	runs := spec.Experiments[0].Expand()
	a, b := runs[0].Slurm, runs[1].Slurm
	if a == nil || a.Partition != "long" || a.Time != "4:00:00" || len(a.Options) != 1 {
		t.Errorf("experiment resources: %+v", a)
	}
	if b == nil || b.Partition != "long" || b.Time != "30" || b.Gres != "gpu:1" {
		t.Errorf("model over experiment: %+v", b)
	}
	_, err = ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    slurm: {time: 1h, cpus: 0, options: [--output=x]}
    models: [{name: pixelgauss}]
`))
	got := strings.Join(func() []string {
		var out []string
		for _, p := range SpecProblems(err) {
			out = append(out, p.String())
		}
		return out
	}(), "\n")
	want := strings.Join([]string{
		`experiments.e.slurm.time: "1h": want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (line 4, column 19)`,
		`experiments.e.slurm.cpus: 0 is out of range; allowed: 1 to 4096 (line 4, column 29)`,
		`experiments.e.slurm.options[0]: "--output=x": xraylab sets --output itself (line 4, column 42)`,
	}, "\n")
	if got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// topk_frac adds a top-k-share score per share beside each top-k score,
// and best_val may select on one.
func TestTopKFracSpec(t *testing.T) {
	f, err := ParseSpec([]byte(`experiments:
  e1:
    dataset: {synthetic: {}}
    models: [{name: cae, topk: [50], topk_frac: [0.01, 0.25], checkpoint_select: best_val, select_score: mse_topk_frac_0.25}]
`))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Experiments[0].Models[0]
	if got := strings.Join(m.ScoreNames(), ","); got != "mse,mse_top50,mse_topk_frac_0.01,mse_topk_frac_0.25" {
		t.Fatalf("score names %s", got)
	}
	if m.SelectScore != "mse_topk_frac_0.25" {
		t.Fatalf("select score %q", m.SelectScore)
	}
}

// validate_every reaches every run (unset: 0, every epoch) and must be a
// positive number of epochs.
func TestSpecValidateEvery(t *testing.T) {
	spec, err := ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    validate_every: 5
    models: [{name: pixelgauss}]
  f:
    dataset: {synthetic: {}}
    models: [{name: pixelgauss}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Experiments[0].Expand()[0].ValidateEvery; got != 5 {
		t.Errorf("validate_every 5 gives runs %d", got)
	}
	if got := spec.Experiments[1].Expand()[0].ValidateEvery; got != 0 {
		t.Errorf("no validate_every gives runs %d, want 0 (every epoch)", got)
	}
	_, err = ParseSpec([]byte(`experiments:
  e:
    dataset: {synthetic: {}}
    validate_every: 0
    models: [{name: pixelgauss}]
`))
	want := `experiments.e.validate_every: 0 is out of range; allowed: 1 to 10000 (line 4, column 21)`
	if ps := SpecProblems(err); len(ps) != 1 || ps[0].String() != want {
		t.Errorf("problems %v, want %s", ps, want)
	}
}
