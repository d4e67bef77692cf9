package experiments

import (
	"context"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"xraylab/experiments/eval"
	"xraylab/nets"
)

// Ensembles combine the scores of finished runs into a run of their own.
// A spec lists them under an experiment's "ensembles":
//
//	ensembles:
//	  - name: cae+vae            # its row in the comparison table
//	    members:
//	      - {model: cae, score: mse}   # a model of this experiment, at each grid point
//	      - {model: vae, score: kl}
//	    normalise: zscore        # zscore (default) or rank, fitted on validation images
//	    combine: mean            # mean (default), max or weighted
//
// Members name either models of the same experiment (the ensemble then
// expands to one run per preprocessing × HE × seed, over the member runs
// of that grid point) or finished runs of any experiment by id
// ({run: 12, score: mse}; one ensemble run). An ensemble run is leased
// only when every member run has ended (registry LeaseRun).

// Limits of an ensemble entry.
const (
	maxEnsembles       = 16
	maxEnsembleMembers = 8 // keeps the weight grid at most 19 448 points
)

// EnsembleSpec is one ensemble: its members, how their scores are
// normalised and combined.
type EnsembleSpec struct {
	Name      string           `json:"name"`
	Members   []EnsembleMember `json:"members"`
	Normalise string           `json:"normalise"`
	Combine   string           `json:"combine"`
}

// EnsembleMember is one score of one run. Model names a model of the
// ensemble's experiment (Expand fills Index, the member run's index in
// that experiment); Run names a run of any experiment by id.
type EnsembleMember struct {
	Model string `json:"model,omitempty"`
	Index *int   `json:"index,omitempty"`
	Run   int64  `json:"run,omitempty"`
	Score string `json:"score"`
}

// Label names the member in messages and default ensemble names.
func (m EnsembleMember) Label() string {
	if m.Run != 0 {
		return fmt.Sprintf("run%d.%s", m.Run, m.Score)
	}
	return m.Model + "." + m.Score
}

// ScoreName is the name of the ensemble's one score: "<normalise>_<combine>".
func (e EnsembleSpec) ScoreName() string { return e.Normalise + "_" + e.Combine }

// byRun reports whether the members name runs by id.
func (e EnsembleSpec) byRun() bool { return len(e.Members) > 0 && e.Members[0].Run != 0 }

func (w *walker) ensemble(n *yaml.Node, path string) EnsembleSpec {
	e := EnsembleSpec{Normalise: eval.NormZScore, Combine: eval.CombineMean}
	node := w.resolve(n)
	var hasMembers bool
	w.mapping(node, path, map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, p string) {
			e.Name = w.str(n, p)
			if e.Name != "" && !validName(strings.ReplaceAll(e.Name, "+", "-")) {
				w.addf(w.resolve(n), p, "ensemble name %q must be 1-64 letters, digits, '-', '_', '.' or '+'", e.Name)
			}
		},
		"normalise": func(n *yaml.Node, p string) { e.Normalise = w.str(n, p, eval.NormZScore, eval.NormRank) },
		"combine": func(n *yaml.Node, p string) {
			e.Combine = w.str(n, p, eval.CombineMean, eval.CombineMax, eval.CombineWeighted)
		},
		"members": func(n *yaml.Node, p string) {
			hasMembers = true
			items := w.list(n, p, maxEnsembleMembers, func(n *yaml.Node, p string) { e.Members = append(e.Members, w.member(n, p)) })
			if items == 1 {
				w.addf(w.resolve(n), p, "an ensemble needs at least 2 members")
			}
			byRun, byModel := 0, 0
			for _, m := range e.Members {
				if m.Run != 0 {
					byRun++
				} else if m.Model != "" {
					byModel++
				}
			}
			if byRun > 0 && byModel > 0 {
				w.addf(w.resolve(n), p, "members must all name a model of this experiment or all name a run by id, not both")
			}
		},
	})
	if node.Kind == yaml.MappingNode && !hasMembers {
		w.addf(node, join(path, "members"), "is required: the runs' scores to combine, as {model: NAME, score: SCORE} or {run: ID, score: SCORE}")
	}
	if e.Name == "" && len(e.Members) > 0 {
		labels := make([]string, len(e.Members))
		for i, m := range e.Members {
			labels[i] = m.Label()
		}
		e.Name = strings.Join(labels, "+")
	}
	return e
}

func (w *walker) member(n *yaml.Node, path string) EnsembleMember {
	var m EnsembleMember
	node := w.resolve(n)
	var hasScore, hasModel, hasRun bool
	w.mapping(node, path, map[string]func(*yaml.Node, string){
		"model": func(n *yaml.Node, p string) { hasModel = true; m.Model = w.str(n, p) },
		"run": func(n *yaml.Node, p string) {
			hasRun = true
			if v, ok := w.integer(n, p, 1, 1<<62); ok {
				m.Run = v
			}
		},
		"score": func(n *yaml.Node, p string) { hasScore = true; m.Score = w.str(n, p) },
	})
	if node.Kind != yaml.MappingNode {
		return m
	}
	if hasModel == hasRun {
		w.addf(node, path, "needs exactly one of \"model\" (a model of this experiment) or \"run\" (a run id)")
	}
	if !hasScore {
		w.addf(node, join(path, "score"), "is required: which of the run's scores")
	}
	return m
}

// checkEnsembles checks the ensembles of e against its models: each model
// member names exactly one listed model and one of its scores, and names
// are unique among models and ensembles.
func (w *walker) checkEnsembles(e *ExperimentSpec, node *yaml.Node, path string) {
	ens := w.resolve(node)
	names := map[string]bool{}
	for _, m := range e.Models {
		names[m.Name] = true
	}
	for i, en := range e.Ensembles {
		p := fmt.Sprintf("%s.ensembles[%d]", path, i)
		at := ens
		if ens.Kind == yaml.SequenceNode && i < len(ens.Content) {
			at = w.resolve(ens.Content[i])
		}
		if names[en.Name] {
			w.addf(w.field(at, "name"), join(p, "name"), "%q is already the name of a model or ensemble of this experiment", en.Name)
		}
		names[en.Name] = true
		for j, m := range en.Members {
			if m.Model == "" || m.Score == "" {
				continue
			}
			mp := fmt.Sprintf("%s.members[%d]", p, j)
			mn := w.item(w.field(at, "members"), j)
			var found []ModelSpec
			for _, ms := range e.Models {
				if ms.Name == m.Model {
					found = append(found, ms)
				}
			}
			switch {
			case len(found) == 0:
				known := make([]string, len(e.Models))
				for k, ms := range e.Models {
					known[k] = ms.Name
				}
				list := "it lists none"
				if len(known) > 0 {
					list = "its models: " + strings.Join(known, ", ")
				}
				w.addf(w.field(mn, "model"), join(mp, "model"), "this experiment has no model %q; %s", m.Model, list)
			case len(found) > 1:
				w.addf(w.field(mn, "model"), join(mp, "model"), "model %s is listed %d times in models; an ensemble member must name one", m.Model, len(found))
			default:
				scores := nets.ExpandScores(found[0].Scores, found[0].TopK)
				if !contains(scores, m.Score) {
					w.addf(w.field(mn, "score"), join(mp, "score"), "model %s has no score %q among its selected ones; known: %s", m.Model, m.Score, strings.Join(scores, ", "))
				}
			}
		}
	}
}

// field is the value node of key in mapping n, or n itself (to place a
// problem as near as the YAML allows).
func (w *walker) field(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return w.resolve(n.Content[i+1])
			}
		}
	}
	return n
}

// item is the i-th item of sequence n, or n itself.
func (w *walker) item(n *yaml.Node, i int) *yaml.Node {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return w.resolve(n.Content[i])
	}
	return n
}

// ensembleGridSize is the number of runs e's ensembles expand to.
func (e *ExperimentSpec) ensembleGridSize() int {
	n := 0
	for _, en := range e.Ensembles {
		if en.byRun() {
			n++
		} else {
			n += len(e.Preprocessing) * len(e.HistEq) * len(e.Seeds)
		}
	}
	return n
}

// expandEnsembles appends the ensemble runs after the model runs: per
// ensemble of model members one run per preprocessing × HE × seed (in
// that order) over the member runs of that grid point; per ensemble of
// run members one run, whose data fields ResolveEnsembles fills in at
// submission from its members.
func (e *ExperimentSpec) expandEnsembles(out []RunSpec) []RunSpec {
	perModel := len(e.Preprocessing) * len(e.HistEq) * len(e.Seeds)
	modelIndex := map[string]int{}
	for i, m := range e.Models {
		modelIndex[m.Name] = i
	}
	for _, en := range e.Ensembles {
		model := ModelSpec{Name: en.Name, Scores: []string{en.ScoreName()}, Augmentation: "none"}
		if en.byRun() {
			en := en
			en.Members = append([]EnsembleMember(nil), en.Members...)
			out = append(out, RunSpec{Experiment: e.Name, Model: model, Ensemble: &en})
			continue
		}
		point := 0
		for _, pre := range e.Preprocessing {
			for _, he := range e.HistEq {
				for _, seed := range e.Seeds {
					one := en
					one.Members = make([]EnsembleMember, len(en.Members))
					var size, batch int
					for k, m := range en.Members {
						idx := modelIndex[m.Model]*perModel + point
						m.Index = &idx
						one.Members[k] = m
						if k == 0 {
							size, batch = out[idx].ImageSize, out[idx].BatchSize
						}
					}
					split := seed
					if e.SplitSeed != nil {
						split = *e.SplitSeed
					}
					out = append(out, RunSpec{
						Experiment: e.Name, Dataset: e.Dataset, SplitSeed: split, ImageSize: size, BatchSize: batch,
						Model: model, Preprocessing: pre, HistEq: he, Seed: seed, Ensemble: &one,
					})
					point++
				}
			}
		}
	}
	return out
}

// RunReader reads runs: what resolving and executing ensembles needs of
// a Store.
type RunReader interface {
	GetRun(ctx context.Context, id int64) (*Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, int, error)
}

// ResolveEnsembles completes the ensemble runs of specs whose members name
// runs by id: every member run must exist, hold the score, and share one
// dataset, split, preprocessing and histogram equalisation; the run then
// takes them (and the first member's seed, image size and batch size). Mismatched
// members are refused here, at submission.
func ResolveEnsembles(ctx context.Context, runs RunReader, specs []RunSpec) error {
	for i := range specs {
		en := specs[i].Ensemble
		if en == nil || !en.byRun() {
			continue
		}
		var first RunSpec
		for k, m := range en.Members {
			run, err := runs.GetRun(ctx, m.Run)
			if err != nil {
				if CodeOf(err) == CodeNotFound {
					return Errorf(CodeInvalid, "ensemble %s: member %s: there is no run %d", en.Name, m.Label(), m.Run)
				}
				return err
			}
			spec, err := DecodeRunSpec(run.Params)
			if err != nil {
				return err
			}
			if spec.Ensemble != nil {
				return Errorf(CodeInvalid, "ensemble %s: member %s: run %d is itself an ensemble; members must be model runs", en.Name, m.Label(), m.Run)
			}
			if scores := nets.ExpandScores(spec.Model.Scores, spec.Model.TopK); !contains(scores, m.Score) {
				return Errorf(CodeInvalid, "ensemble %s: member %s: run %d (%s) has no score %q; it has: %s", en.Name, m.Label(), m.Run, spec.Label(), m.Score, strings.Join(scores, ", "))
			}
			if k == 0 {
				first = spec
				continue
			}
			if msg := DataMismatch(first, spec); msg != "" {
				return Errorf(CodeInvalid, "ensemble %s: members run %d (%s) and run %d (%s) %s; an ensemble combines scores of the same images",
					en.Name, en.Members[0].Run, first.Label(), m.Run, spec.Label(), msg)
			}
		}
		s := &specs[i]
		s.Dataset, s.SplitSeed, s.Preprocessing, s.HistEq = first.Dataset, first.SplitSeed, first.Preprocessing, first.HistEq
		s.Seed, s.ImageSize, s.BatchSize = first.Seed, first.ImageSize, first.BatchSize
	}
	return nil
}

// DataMismatch says how two runs' data differ ("are on different splits
// (split seeds 42 and 7)", ...), or "" when they score the same images.
func DataMismatch(a, b RunSpec) string {
	da, db := datasetText(a.Dataset), datasetText(b.Dataset)
	switch {
	case da != db:
		return fmt.Sprintf("use different datasets (%s and %s)", da, db)
	case a.SplitSeed != b.SplitSeed:
		return fmt.Sprintf("are on different splits (split seeds %d and %d)", a.SplitSeed, b.SplitSeed)
	case a.Preprocessing != b.Preprocessing || a.HistEq != b.HistEq:
		return fmt.Sprintf("use different preprocessing (%s HE=%t and %s HE=%t)", a.Preprocessing, a.HistEq, b.Preprocessing, b.HistEq)
	}
	return ""
}

func datasetText(d DatasetSpec) string {
	switch {
	case d.Synthetic != nil:
		s := d.Synthetic
		return fmt.Sprintf("synthetic %d patients %d px seed %d %s", s.Patients, s.Size, s.Seed, s.Difficulty)
	case d.MURA != nil:
		return fmt.Sprintf("MURA %s %s %s", d.MURA.Root, d.MURA.BodyPart, strings.Join(d.MURA.Parts, "+"))
	}
	return "no dataset"
}
