package experiments

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"xraylab/nets"
	_ "xraylab/nets/models" // registers every model kind
)

// Limits that keep a spec from asking for more than a server should accept.
const (
	MaxSpecBytes = 256 << 10 // 256 KiB of YAML: far above any real grid, cheap to parse
	maxProblems  = 100       // problems listed; the rest are counted
	MaxRuns      = 10_000    // grid points per submission
	maxDepth     = 32        // nesting levels
)

// PaperSeeds are the four seeds the paper trains every model with.
var PaperSeeds = []int64{42, 4242, 424242, 42424242}

// Spec is a parsed spec file: one or more named experiments, in file order.
type Spec struct {
	Experiments []*ExperimentSpec
	Text        string // the YAML exactly as submitted
	Hash        string // sha256 of Text
}

// ExperimentSpec is one experiment: a dataset, training settings shared by
// all runs, and the grid that Expand turns into runs.
type ExperimentSpec struct {
	Name            string      `json:"name"`
	Description     string      `json:"description,omitempty"`
	Dataset         DatasetSpec `json:"dataset"`
	SplitSeed       *int64      `json:"split_seed,omitempty"` // nil: each run's seed draws its split, as the authors' code does
	ImageSize       int         `json:"image_size"`
	Epochs          int         `json:"epochs"`
	BatchSize       int         `json:"batch_size"`
	CheckpointEvery int         `json:"checkpoint_every"`
	// ValidateEvery is how often (in epochs) the validation images are
	// scored for the training curves; 0 is every epoch. The last epoch is
	// always scored.
	ValidateEvery int         `json:"validate_every,omitempty"`
	Models        []ModelSpec `json:"models"`
	Preprocessing []string    `json:"preprocessing"`
	HistEq        []bool      `json:"histogram_equalization"`
	Seeds         []int64     `json:"seeds"`
	// Ensembles combine the scores of finished runs (see ensemble.go).
	Ensembles []EnsembleSpec `json:"ensembles,omitempty"`
	// Slurm overrides the server's cluster resources for this experiment's
	// jobs (slurm backend only).
	Slurm *SlurmResources `json:"slurm,omitempty"`

	// Which of ImageSize, Epochs, BatchSize the spec set: an unset one
	// yields to each model's paper default (see paperDefaults).
	setImageSize, setEpochs, setBatchSize bool
}

// DatasetSpec names the data: exactly one of Synthetic or MURA.
type DatasetSpec struct {
	Synthetic *SyntheticSpec `json:"synthetic,omitempty"`
	MURA      *MURASpec      `json:"mura,omitempty"`
}

// SyntheticSpec are the generator settings; the data is generated once
// under the data folder and reused by every run that names the same settings.
type SyntheticSpec struct {
	Patients   int    `json:"patients"`
	Size       int    `json:"size"`
	Seed       int64  `json:"seed"`
	Difficulty string `json:"difficulty"`
}

// MURASpec points at a MURA-v1.1 folder.
type MURASpec struct {
	Root     string   `json:"root"`
	BodyPart string   `json:"body_part"`
	Parts    []string `json:"parts"`
}

// ModelSpec is one model of the grid with its own settings.
//
// ImageSize, Epochs and BatchSize override the experiment's values for
// this model (0 = the experiment's when the spec sets it, else the model's
// paper default), since the paper trains its models at different
// resolutions, lengths and batch sizes. Augmentation and Params are
// resolved at parse time: unset ones get the paper's value, else the
// model's own default, so Params holds every parameter the model takes.
type ModelSpec struct {
	Name      string   `json:"name"`
	ImageSize int      `json:"image_size,omitempty"`
	Epochs    int      `json:"epochs,omitempty"`
	BatchSize int      `json:"batch_size,omitempty"`
	Scores    []string `json:"scores"`
	TopK      []int    `json:"topk"`
	// TopKFrac are shares of the masked pixels (topk_frac: [0.01] gives
	// "mse_topk_frac_0.01" beside "mse_top200"); none by default.
	TopKFrac     []float64 `json:"topk_frac,omitempty"`
	Augmentation string    `json:"augmentation"`
	// Resize is how images reach the image size: "pad" (native scale,
	// shrinking only what is larger) or "fit" (longer side to the size,
	// before augmentation); unset, the model's paper policy. Empty in runs
	// recorded before the field: augmentation, then the longer side to the
	// size.
	Resize string             `json:"resize,omitempty"`
	Params map[string]float64 `json:"params,omitempty"`
	// CheckpointSelect is which weights are evaluated: "last" (the last
	// epoch's) or "best_val" (the epoch with the best validation ROC-AUC
	// of SelectScore, kept beside the checkpoint a run resumes from).
	// Empty (runs recorded before the field) means last.
	CheckpointSelect string          `json:"checkpoint_select,omitempty"`
	SelectScore      string          `json:"select_score,omitempty"`
	Slurm            *SlurmResources `json:"slurm,omitempty"` // per-model cluster resources, over the experiment's
}

// Defaults for fields a spec leaves out.
const (
	DefaultImageSize       = 64
	DefaultEpochs          = 10
	DefaultBatchSize       = 32
	DefaultCheckpointEvery = 1
	DefaultTopK            = 200

	SelectLast    = "last"     // evaluate the last epoch's weights
	SelectBestVal = "best_val" // evaluate the best validation epoch's weights
)

var (
	variants      = []string{"raw", "crop", "full"}
	augmentations = []string{"none", "default", "advanced"}
	resizes       = []string{"pad", "fit"} // preprocess.ResizePolicies
	selections    = []string{SelectLast, SelectBestVal}
	difficulties  = []string{"easy", "medium", "hard"}
	bodyParts     = []string{"XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST"}
	muraParts     = []string{"train", "valid"}
)

// invalidSpec is the error of an invalid spec: every problem found, in
// Details as []Problem, so the server and CLI can show each at its line.
func invalidSpec(problems []Problem) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf("invalid spec: %d problem(s)", len(problems)), Details: problems}
}

// SpecProblems returns the problems of an invalid-spec error, or nil.
func SpecProblems(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		if ps, ok := e.Details.([]Problem); ok {
			return ps
		}
	}
	return nil
}

// ParseSpec parses and validates a spec file against what this binary
// supports, reporting every problem at once with its line and column.
func ParseSpec(text []byte) (*Spec, error) {
	if len(text) > MaxSpecBytes {
		return nil, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("spec is %d bytes; at most %d allowed", len(text), MaxSpecBytes)}
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, invalidSpec([]Problem{{Path: "(file)", Message: "spec is empty; it needs an \"experiments\" mapping"}})
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&root); err != nil {
		return nil, invalidSpec([]Problem{yamlSyntaxProblem(err)})
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, invalidSpec([]Problem{{Path: "(file)", Message: "holds more than one YAML document; put all experiments in one", Line: extra.Line, Column: extra.Column}})
	}
	if d := depth(&root, 0); d > maxDepth {
		return nil, invalidSpec([]Problem{{Path: "(file)", Message: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}})
	}
	w := &walker{budget: maxSpecNodes}
	spec := &Spec{Text: string(text)}
	sum := sha256.Sum256(text)
	spec.Hash = hex.EncodeToString(sum[:])

	// Experiments are keyed by name, so the top level is read by hand.
	top := w.resolve(root.Content[0])
	if top.Kind != yaml.MappingNode {
		w.addf(top, "(file)", "must be a mapping with an \"experiments\" key, got %s", kindName(top))
		return nil, invalidSpec(w.problems)
	}
	var exps *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := w.resolve(top.Content[i])
		if k.Value == "experiments" && exps == nil {
			exps = top.Content[i+1]
			continue
		}
		w.addf(k, k.Value, "unknown field %q; known: experiments", k.Value)
	}
	if exps == nil {
		w.addf(top, "experiments", "is required")
		return nil, invalidSpec(w.problems)
	}
	exps = w.resolve(exps)
	if exps.Kind != yaml.MappingNode {
		w.addf(exps, "experiments", "must be a mapping of experiment names to experiments, got %s", kindName(exps))
		return nil, invalidSpec(w.problems)
	}
	if len(exps.Content) == 0 {
		w.addf(exps, "experiments", "must name at least one experiment")
		return nil, invalidSpec(w.problems)
	}
	seen := map[string]bool{}
	runs := 0
	for i := 0; i+1 < len(exps.Content) && w.budget > 0; i += 2 {
		k := w.resolve(exps.Content[i])
		path := "experiments." + k.Value
		if !validName(k.Value) {
			w.addf(k, path, "experiment name %q must be 1-64 letters, digits, '-', '_' or '.'", k.Value)
			continue
		}
		if seen[k.Value] {
			w.addf(k, path, "duplicate experiment %q", k.Value)
			continue
		}
		seen[k.Value] = true
		e := w.experiment(exps.Content[i+1], path)
		e.Name = k.Value
		spec.Experiments = append(spec.Experiments, e)
		runs += e.GridSize()
	}
	if w.budget <= 0 {
		return nil, invalidSpec([]Problem{{Path: "(file)", Message: fmt.Sprintf("more than %d YAML nodes (aliases included); refusing to expand it", maxSpecNodes)}})
	}
	if runs > MaxRuns {
		w.addf(exps, "experiments", "the grid expands to %d runs; at most %d allowed per submission", runs, MaxRuns)
	}
	if len(w.problems) > 0 {
		sort.SliceStable(w.problems, func(i, j int) bool {
			a, b := w.problems[i], w.problems[j]
			return a.Line < b.Line || (a.Line == b.Line && a.Column < b.Column)
		})
		if n := len(w.problems); n > maxProblems {
			w.problems = append(w.problems[:maxProblems], Problem{Path: "(file)", Message: fmt.Sprintf("%d more problems not listed", n-maxProblems)})
		}
		return nil, invalidSpec(w.problems)
	}
	return spec, nil
}

func yamlSyntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Path: "(file)", Message: "not valid YAML: " + msg}
	// yaml.v3 says "yaml: line N: what"; lift the line into the problem.
	var line int
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		p.Line = line
		p.Message = "not valid YAML: " + strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", line))
	}
	return p
}

func depth(n *yaml.Node, d int) int {
	if d > maxDepth {
		return d
	}
	best := d
	for _, c := range n.Content {
		if x := depth(c, d+1); x > best {
			best = x
		}
	}
	return best
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func (w *walker) experiment(n *yaml.Node, path string) *ExperimentSpec {
	e := &ExperimentSpec{
		ImageSize: DefaultImageSize, Epochs: DefaultEpochs, BatchSize: DefaultBatchSize,
		CheckpointEvery: DefaultCheckpointEvery,
		Preprocessing:   []string{"raw"}, HistEq: []bool{false}, Seeds: []int64{42},
	}
	var hasDataset, hasModels bool
	var ensNode *yaml.Node
	node := w.resolve(n)
	w.mapping(node, path, map[string]func(*yaml.Node, string){
		"description": func(n *yaml.Node, p string) { e.Description = w.str(n, p) },
		"dataset": func(n *yaml.Node, p string) {
			hasDataset = true
			e.Dataset = w.dataset(n, p)
		},
		"split_seed": func(n *yaml.Node, p string) {
			s := w.resolve(n)
			if s.Kind == yaml.ScalarNode && s.Value == "run" {
				return
			}
			if v, ok := w.integer(s, p, 0, math.MaxInt64); ok {
				e.SplitSeed = &v
			} else {
				w.problems[len(w.problems)-1].Message += " (or \"run\" to draw the split from each run's seed)"
			}
		},
		"image_size": func(n *yaml.Node, p string) {
			e.ImageSize, e.setImageSize = w.intIn(n, p, 16, 1024, e.ImageSize), true
		},
		"epochs":           func(n *yaml.Node, p string) { e.Epochs, e.setEpochs = w.intIn(n, p, 1, 10_000, e.Epochs), true },
		"batch_size":       func(n *yaml.Node, p string) { e.BatchSize, e.setBatchSize = w.intIn(n, p, 1, 1024, e.BatchSize), true },
		"checkpoint_every": func(n *yaml.Node, p string) { e.CheckpointEvery = w.intIn(n, p, 1, 10_000, e.CheckpointEvery) },
		"validate_every":   func(n *yaml.Node, p string) { e.ValidateEvery = w.intIn(n, p, 1, 10_000, 1) },
		"models": func(n *yaml.Node, p string) {
			hasModels = true
			w.list(n, p, 32, func(n *yaml.Node, p string) { e.Models = append(e.Models, w.model(n, p)) })
		},
		"preprocessing": func(n *yaml.Node, p string) {
			e.Preprocessing = nil
			w.list(n, p, 3, func(n *yaml.Node, p string) { e.Preprocessing = append(e.Preprocessing, w.str(n, p, variants...)) })
			w.noDuplicates(n, p, e.Preprocessing)
		},
		"histogram_equalization": func(n *yaml.Node, p string) {
			e.HistEq = nil
			w.list(n, p, 2, func(n *yaml.Node, p string) {
				v, _ := w.boolean(n, p)
				e.HistEq = append(e.HistEq, v)
			})
			if len(e.HistEq) == 2 && e.HistEq[0] == e.HistEq[1] {
				w.addf(w.resolve(n), p, "lists %v twice", e.HistEq[0])
			}
		},
		"slurm": func(n *yaml.Node, p string) { e.Slurm = w.slurm(n, p) },
		"ensembles": func(n *yaml.Node, p string) {
			ensNode = n
			w.list(n, p, maxEnsembles, func(n *yaml.Node, p string) { e.Ensembles = append(e.Ensembles, w.ensemble(n, p)) })
		},
		"seeds": func(n *yaml.Node, p string) {
			e.Seeds = nil
			w.list(n, p, 100, func(n *yaml.Node, p string) {
				v, _ := w.integer(n, p, 0, math.MaxInt64)
				e.Seeds = append(e.Seeds, v)
			})
			seen := map[int64]bool{}
			for _, s := range e.Seeds {
				if seen[s] {
					w.addf(w.resolve(n), p, "lists seed %d twice", s)
				}
				seen[s] = true
			}
		},
	})
	if node.Kind == yaml.MappingNode {
		// An experiment of ensembles over runs by id takes their data.
		if !hasDataset && (hasModels || len(e.Ensembles) == 0) {
			w.addf(node, join(path, "dataset"), "is required (synthetic or mura)")
		}
		if !hasModels && len(e.Ensembles) == 0 {
			w.addf(node, join(path, "models"), "is required; known models: %s", strings.Join(nets.Names(), ", "))
		}
		if ensNode != nil {
			w.checkEnsembles(e, ensNode, path)
		}
	}
	return e
}

func (w *walker) intIn(n *yaml.Node, path string, min, max int64, def int) int {
	if v, ok := w.integer(n, path, min, max); ok {
		return int(v)
	}
	return def
}

func (w *walker) noDuplicates(n *yaml.Node, path string, items []string) {
	seen := map[string]bool{}
	for _, s := range items {
		if s != "" && seen[s] {
			w.addf(w.resolve(n), path, "lists %q twice", s)
		}
		seen[s] = true
	}
}

func (w *walker) dataset(n *yaml.Node, path string) DatasetSpec {
	var d DatasetSpec
	node := w.resolve(n)
	w.mapping(node, path, map[string]func(*yaml.Node, string){
		"synthetic": func(n *yaml.Node, p string) {
			s := &SyntheticSpec{Patients: 60, Size: 128, Seed: 1, Difficulty: "medium"}
			w.mapping(n, p, map[string]func(*yaml.Node, string){
				"patients":   func(n *yaml.Node, p string) { s.Patients = w.intIn(n, p, 8, 100_000, s.Patients) },
				"size":       func(n *yaml.Node, p string) { s.Size = w.intIn(n, p, 32, 2048, s.Size) },
				"seed":       func(n *yaml.Node, p string) { s.Seed, _ = w.integer(n, p, 0, math.MaxInt64) },
				"difficulty": func(n *yaml.Node, p string) { s.Difficulty = w.str(n, p, difficulties...) },
			})
			d.Synthetic = s
		},
		"mura": func(n *yaml.Node, p string) {
			m := &MURASpec{BodyPart: "XR_HAND", Parts: []string{"train"}}
			var hasRoot bool
			mn := w.resolve(n)
			w.mapping(mn, p, map[string]func(*yaml.Node, string){
				"root": func(n *yaml.Node, p string) {
					hasRoot = true
					m.Root = w.str(n, p)
					if hasRoot && m.Root == "" {
						w.addf(w.resolve(n), p, "must not be empty")
					}
				},
				"body_part": func(n *yaml.Node, p string) { m.BodyPart = w.str(n, p, bodyParts...) },
				"parts": func(n *yaml.Node, p string) {
					m.Parts = nil
					w.list(n, p, 2, func(n *yaml.Node, p string) { m.Parts = append(m.Parts, w.str(n, p, muraParts...)) })
					w.noDuplicates(n, p, m.Parts)
				},
			})
			if mn.Kind == yaml.MappingNode && !hasRoot {
				w.addf(mn, join(p, "root"), "is required: the path of the MURA-v1.1 folder")
			}
			d.MURA = m
		},
	})
	if node.Kind == yaml.MappingNode && (d.Synthetic == nil) == (d.MURA == nil) {
		w.addf(node, path, "needs exactly one of \"synthetic\" or \"mura\"")
	}
	return d
}

func (w *walker) model(n *yaml.Node, path string) ModelSpec {
	m := ModelSpec{TopK: []int{DefaultTopK}}
	node := w.resolve(n)
	var nameNode, scoresNode, paramsNode, selectNode *yaml.Node
	var scoreNodes []*yaml.Node
	w.mapping(node, path, map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, p string) { nameNode = n; m.Name = w.str(n, p) },
		"scores": func(n *yaml.Node, p string) {
			scoresNode = n
			w.list(n, p, 32, func(n *yaml.Node, p string) {
				scoreNodes = append(scoreNodes, n)
				m.Scores = append(m.Scores, w.str(n, p))
			})
		},
		"topk": func(n *yaml.Node, p string) {
			m.TopK = nil
			w.list(n, p, 16, func(n *yaml.Node, p string) {
				v, _ := w.integer(n, p, 1, 1<<22)
				m.TopK = append(m.TopK, int(v))
			})
		},
		"topk_frac": func(n *yaml.Node, p string) {
			var nodes []*yaml.Node
			w.list(n, p, 16, func(n *yaml.Node, p string) {
				v, ok := w.number(n, p, 0, 1)
				if ok && v == 0 {
					w.addf(w.resolve(n), p, "must be a share in (0, 1], got 0")
					ok = false
				}
				if ok {
					nodes = append(nodes, n)
					m.TopKFrac = append(m.TopKFrac, v)
				}
			})
			seen := map[float64]bool{}
			for i, v := range m.TopKFrac {
				if seen[v] {
					w.addf(w.resolve(nodes[i]), p, "lists %g twice", v)
				}
				seen[v] = true
			}
		},
		"augmentation":      func(n *yaml.Node, p string) { m.Augmentation = w.str(n, p, augmentations...) },
		"resize":            func(n *yaml.Node, p string) { m.Resize = w.str(n, p, resizes...) },
		"image_size":        func(n *yaml.Node, p string) { m.ImageSize = w.intIn(n, p, 16, 1024, 0) },
		"epochs":            func(n *yaml.Node, p string) { m.Epochs = w.intIn(n, p, 1, 10_000, 0) },
		"batch_size":        func(n *yaml.Node, p string) { m.BatchSize = w.intIn(n, p, 1, 1024, 0) },
		"params":            func(n *yaml.Node, p string) { paramsNode = n },
		"checkpoint_select": func(n *yaml.Node, p string) { m.CheckpointSelect = w.str(n, p, selections...) },
		"select_score": func(n *yaml.Node, p string) {
			selectNode = n
			m.SelectScore = w.str(n, p)
		},
		"slurm": func(n *yaml.Node, p string) { m.Slurm = w.slurm(n, p) },
	})
	if node.Kind != yaml.MappingNode {
		return m
	}
	if m.Augmentation == "" {
		m.Augmentation = defaultAugmentation(m.Name)
	}
	if m.Resize == "" {
		m.Resize = defaultResize(m.Name)
	}
	if nameNode == nil {
		w.addf(node, join(path, "name"), "is required; known: %s", strings.Join(nets.Names(), ", "))
		return m
	}
	ms, ok := nets.Lookup(m.Name)
	if !ok {
		if m.Name != "" {
			w.addf(w.resolve(nameNode), join(path, "name"), "unknown model %q; known: %s", m.Name, strings.Join(nets.Names(), ", "))
		}
		return m
	}
	if scoresNode == nil {
		m.Scores = append([]string(nil), ms.Scores...)
	} else {
		for i, s := range m.Scores {
			if s != "" && !contains(ms.Scores, s) {
				w.addf(w.resolve(scoreNodes[i]), fmt.Sprintf("%s.scores[%d]", path, i), "model %s has no score %q; known: %s", m.Name, s, strings.Join(ms.Scores, ", "))
			}
		}
		w.noDuplicates(scoresNode, join(path, "scores"), m.Scores)
	}
	if paramsNode != nil {
		m.Params = map[string]float64{}
		handlers := map[string]func(*yaml.Node, string){}
		for name, r := range ms.Params {
			name, r := name, r
			handlers[name] = func(n *yaml.Node, p string) {
				if r.Integer {
					if v, ok := w.integer(n, p, int64(r.Min), int64(r.Max)); ok {
						m.Params[name] = float64(v)
					}
				} else if v, ok := w.number(n, p, r.Min, r.Max); ok {
					m.Params[name] = v
				}
			}
		}
		w.mapping(paramsNode, join(path, "params"), handlers)
	}
	m.Params = resolveParams(ms, m.Params)
	w.selection(&m, selectNode, path)
	return m
}

// ScoreNames are the concrete scores the model's spec selects, its top-k
// families expanded by TopK and TopKFrac.
func (m ModelSpec) ScoreNames() []string { return nets.ExpandScores(m.Scores, m.TopK, m.TopKFrac...) }

// selection resolves checkpoint_select (default last) and, for best_val,
// the score it selects on: one of the model's expanded scores, by default
// the first.
func (w *walker) selection(m *ModelSpec, selectNode *yaml.Node, path string) {
	if m.CheckpointSelect == "" {
		m.CheckpointSelect = SelectLast
	}
	names := m.ScoreNames()
	switch {
	case selectNode != nil && m.CheckpointSelect != SelectBestVal:
		w.addf(w.resolve(selectNode), join(path, "select_score"), "only applies with checkpoint_select: best_val")
	case selectNode != nil && m.SelectScore != "" && !contains(names, m.SelectScore):
		w.addf(w.resolve(selectNode), join(path, "select_score"), "model %s has no score %q among its selected ones; known: %s", m.Name, m.SelectScore, strings.Join(names, ", "))
	case m.CheckpointSelect == SelectBestVal && m.SelectScore == "" && len(names) > 0:
		m.SelectScore = names[0]
	}
}

// GridSize is the number of runs the experiment expands to.
func (e *ExperimentSpec) GridSize() int {
	return len(e.Models)*len(e.Preprocessing)*len(e.HistEq)*len(e.Seeds) + e.ensembleGridSize()
}

// Find returns the named experiment.
func (s *Spec) Find(name string) (*ExperimentSpec, bool) {
	for _, e := range s.Experiments {
		if e.Name == name {
			return e, true
		}
	}
	return nil, false
}

// Select returns the named experiment, or all of them when only is "".
func (s *Spec) Select(only string) ([]*ExperimentSpec, error) {
	if only == "" {
		return s.Experiments, nil
	}
	e, ok := s.Find(only)
	if !ok {
		return nil, Errorf(CodeInvalid, "no experiment named %q in the spec; it has: %s", only, strings.Join(s.Names(), ", "))
	}
	return []*ExperimentSpec{e}, nil
}

// Names lists the spec's experiment names in file order.
func (s *Spec) Names() []string {
	out := make([]string, len(s.Experiments))
	for i, e := range s.Experiments {
		out[i] = e.Name
	}
	return out
}

// slurm reads cluster resources, checking each field as the executor will.
func (w *walker) slurm(n *yaml.Node, path string) *SlurmResources {
	r := &SlurmResources{}
	check := func(n *yaml.Node, p string, one SlurmResources) {
		if err := one.Validate(func(string) string { return "" }); err != nil {
			w.addf(w.resolve(n), p, "%s", strings.TrimSpace(err.Error()))
		}
	}
	str := func(dst *string) func(*yaml.Node, string) {
		return func(n *yaml.Node, p string) {
			*dst = w.str(n, p)
		}
	}
	w.mapping(n, path, map[string]func(*yaml.Node, string){
		"partition": func(n *yaml.Node, p string) {
			str(&r.Partition)(n, p)
			check(n, p, SlurmResources{Partition: r.Partition})
		},
		"account": func(n *yaml.Node, p string) { str(&r.Account)(n, p); check(n, p, SlurmResources{Account: r.Account}) },
		"time":    func(n *yaml.Node, p string) { str(&r.Time)(n, p); check(n, p, SlurmResources{Time: r.Time}) },
		"mem":     func(n *yaml.Node, p string) { str(&r.Mem)(n, p); check(n, p, SlurmResources{Mem: r.Mem}) },
		"gres":    func(n *yaml.Node, p string) { str(&r.Gres)(n, p); check(n, p, SlurmResources{Gres: r.Gres}) },
		"cpus":    func(n *yaml.Node, p string) { r.CPUs = w.intIn(n, p, 1, 4096, 0) },
		"options": func(n *yaml.Node, p string) {
			w.list(n, p, 32, func(n *yaml.Node, p string) {
				o := w.str(n, p)
				r.Options = append(r.Options, o)
				check(n, p, SlurmResources{Options: []string{o}})
			})
		},
	})
	return r
}
