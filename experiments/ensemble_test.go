package experiments

import (
	"strconv"
	"strings"
	"testing"
)

const ensembleYAML = `experiments:
  e:
    dataset: {synthetic: {}}
    models:
      - {name: pixelgauss, topk: [20]}
      - {name: cae, image_size: 64, batch_size: 4}
    preprocessing: [raw, crop]
    seeds: [1, 2]
    ensembles:
      - members: [{model: pixelgauss, score: mean_top20}, {model: cae, score: mse}]
        combine: weighted
      - name: ids
        members: [{run: 3, score: mse}, {run: 9, score: mse}]
        normalise: rank
`

// Model members expand to one ensemble run per grid point, after the
// model runs, each naming the member runs of its point by index; run
// members make one run.
func TestExpandEnsembles(t *testing.T) {
	spec, err := ParseSpec([]byte(ensembleYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := spec.Experiments[0]
	if e.GridSize() != 8+4+1 {
		t.Fatalf("grid size %d, want 8 model runs + 4 + 1 ensemble runs", e.GridSize())
	}
	runs := e.Expand()
	if len(runs) != e.GridSize() {
		t.Fatalf("%d runs, grid size %d", len(runs), e.GridSize())
	}
	en := e.Ensembles[0]
	if en.Name != "pixelgauss.mean_top20+cae.mse" || en.Normalise != "zscore" || en.Combine != "weighted" {
		t.Errorf("first ensemble %+v", en)
	}
	// Model runs: pixelgauss raw 1, raw 2, crop 1, crop 2, then cae (indices 4-7).
	for k, want := range []string{
		"pixelgauss.mean_top20+cae.mse/raw/noHE/seed1 0 4",
		"pixelgauss.mean_top20+cae.mse/raw/noHE/seed2 1 5",
		"pixelgauss.mean_top20+cae.mse/crop/noHE/seed1 2 6",
		"pixelgauss.mean_top20+cae.mse/crop/noHE/seed2 3 7",
	} {
		r := runs[8+k]
		got := r.Label()
		for _, m := range r.Ensemble.Members {
			got += " " + strconv.Itoa(*m.Index)
			if runs[*m.Index].Preprocessing != r.Preprocessing || runs[*m.Index].Seed != r.Seed || runs[*m.Index].Model.Name != m.Model {
				t.Errorf("ensemble run %d: member %+v is run %s", 8+k, m, runs[*m.Index].Label())
			}
		}
		if got != want {
			t.Errorf("ensemble run %d = %q, want %q", 8+k, got, want)
		}
		if r.SplitSeed != r.Seed || r.ImageSize != DefaultImageSize || r.Model.Scores[0] != "zscore_weighted" || r.Model.Name != en.Name {
			t.Errorf("ensemble run %d: %+v", 8+k, r)
		}
	}
	last := runs[12]
	if last.Ensemble.Name != "ids" || last.Ensemble.Members[1].Run != 9 || last.Ensemble.Members[0].Index != nil || last.Model.Scores[0] != "rank_mean" {
		t.Errorf("run-id ensemble %+v", last.Ensemble)
	}
}

// Bad ensemble entries: every problem at its place, with exact texts.
func TestEnsembleSpecProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"members", `experiments:
  e:
    dataset: {synthetic: {}}
    models: [{name: pixelgauss}, {name: cae}, {name: cae}]
    ensembles:
      - members: [{model: pixelgauss, score: mse}, {model: vae, score: kl}]
        normalise: minmax
        combine: median
      - members: [{model: cae, score: mse}, {run: 3, score: mse}]
      - members: [{model: pixelgauss}]
      - name: pixelgauss
        members: [{model: pixelgauss, run: 2, score: mean}, {score: mean}]
      - {name: "a b", members: [{run: 0, score: x}, {run: 1, score: x}], extra: 1}
      - {}
`, []string{
			`experiments.e.ensembles[0].members[0].score: model pixelgauss has no score "mse" among its selected ones; known: mean, mean_top200 (line 6, column 46)`,
			`experiments.e.ensembles[0].members[1].model: this experiment has no model "vae"; its models: pixelgauss, cae, cae (line 6, column 60)`,
			`experiments.e.ensembles[0].normalise: unknown value "minmax"; allowed: zscore, rank (line 7, column 20)`,
			`experiments.e.ensembles[0].combine: unknown value "median"; allowed: mean, max, weighted (line 8, column 18)`,
			`experiments.e.ensembles[1].members: members must all name a model of this experiment or all name a run by id, not both (line 9, column 18)`,
			`experiments.e.ensembles[1].members[0].model: model cae is listed 2 times in models; an ensemble member must name one (line 9, column 27)`,
			`experiments.e.ensembles[2].members: an ensemble needs at least 2 members (line 10, column 18)`,
			`experiments.e.ensembles[2].members[0].score: is required: which of the run's scores (line 10, column 19)`,
			`experiments.e.ensembles[3].name: "pixelgauss" is already the name of a model or ensemble of this experiment (line 11, column 15)`,
			`experiments.e.ensembles[3].members[0]: needs exactly one of "model" (a model of this experiment) or "run" (a run id) (line 12, column 19)`,
			`experiments.e.ensembles[3].members[1]: needs exactly one of "model" (a model of this experiment) or "run" (a run id) (line 12, column 61)`,
			`experiments.e.ensembles[4].name: ensemble name "a b" must be 1-64 letters, digits, '-', '_', '.' or '+' (line 13, column 16)`,
			`experiments.e.ensembles[4].members[0].run: 0 is out of range; allowed: 1 to 4611686018427387904 (line 13, column 39)`,
			`experiments.e.ensembles[4].extra: unknown field "extra"; known: combine, members, name, normalise (line 13, column 74)`,
			`experiments.e.ensembles[5].members: is required: the runs' scores to combine, as {model: NAME, score: SCORE} or {run: ID, score: SCORE} (line 14, column 9)`,
		}},
		{"ensembles only, no models", `experiments:
  e:
    dataset: {synthetic: {}}
    ensembles: [{members: [{model: cae, score: mse}, {run: 1, score: mse}]}]
`, []string{
			`experiments.e.ensembles[0].members: members must all name a model of this experiment or all name a run by id, not both (line 4, column 27)`,
			`experiments.e.ensembles[0].members[0].model: this experiment has no model "cae"; it lists none (line 4, column 36)`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.yaml))
			var got []string
			for _, p := range SpecProblems(err) {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestDataMismatch(t *testing.T) {
	syn := DatasetSpec{Synthetic: &SyntheticSpec{Patients: 40, Size: 96, Seed: 3, Difficulty: "easy"}}
	mura := DatasetSpec{MURA: &MURASpec{Root: "/d/MURA-v1.1", BodyPart: "XR_HAND", Parts: []string{"train", "valid"}}}
	base := RunSpec{Dataset: syn, SplitSeed: 42, Preprocessing: "raw"}
	for _, c := range []struct {
		b    RunSpec
		want string
	}{
		{RunSpec{Dataset: syn, SplitSeed: 42, Preprocessing: "raw", Seed: 7, ImageSize: 128}, ""},
		{RunSpec{Dataset: mura, SplitSeed: 42, Preprocessing: "raw"}, "use different datasets (synthetic 40 patients 96 px seed 3 easy and MURA /d/MURA-v1.1 XR_HAND train+valid)"},
		{RunSpec{Dataset: syn, SplitSeed: 7, Preprocessing: "raw"}, "are on different splits (split seeds 42 and 7)"},
		{RunSpec{Dataset: syn, SplitSeed: 42, Preprocessing: "crop", HistEq: true}, "use different preprocessing (raw HE=false and crop HE=true)"},
	} {
		if got := DataMismatch(base, c.b); got != c.want {
			t.Errorf("DataMismatch = %q, want %q", got, c.want)
		}
	}
}
