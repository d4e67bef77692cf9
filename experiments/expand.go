package experiments

import (
	"encoding/json"
	"fmt"
)

// RunSpec is everything one run needs, self-contained: it is stored as the
// run's params so a run can be re-executed (or reproduced) from its record.
type RunSpec struct {
	Experiment      string      `json:"experiment"`
	Dataset         DatasetSpec `json:"dataset"`
	SplitSeed       int64       `json:"split_seed"`
	ImageSize       int         `json:"image_size"`
	Epochs          int         `json:"epochs"`
	BatchSize       int         `json:"batch_size"`
	CheckpointEvery int         `json:"checkpoint_every"`
	ValidateEvery   int         `json:"validate_every,omitempty"` // 0: every epoch
	Model           ModelSpec   `json:"model"`
	Preprocessing   string      `json:"preprocessing"`
	HistEq          bool        `json:"histogram_equalization"`
	Seed            int64       `json:"seed"`
	// Slurm is the experiment's cluster resources merged with the model's
	// (nil when the spec names none); the slurm backend merges it over its own.
	Slurm *SlurmResources `json:"slurm,omitempty"`
	// Ensemble, when set, makes the run an ensemble of other runs' scores
	// (ensemble.go); Model then holds its name and its one score.
	Ensemble *EnsembleSpec `json:"ensemble,omitempty"`
}

// Label is a short human name of the grid point.
func (r RunSpec) Label() string {
	he := "noHE"
	if r.HistEq {
		he = "HE"
	}
	return fmt.Sprintf("%s/%s/%s/seed%d", r.Model.Name, r.Preprocessing, he, r.Seed)
}

// Expand turns the experiment's grid into one RunSpec per grid point, in a
// stable order: model, preprocessing, histogram equalisation, seed.
func (e *ExperimentSpec) Expand() []RunSpec {
	out := make([]RunSpec, 0, e.GridSize())
	for _, m := range e.Models {
		for _, pre := range e.Preprocessing {
			for _, he := range e.HistEq {
				for _, seed := range e.Seeds {
					split := seed
					if e.SplitSeed != nil {
						split = *e.SplitSeed
					}
					d := paperDefaults[m.Name]
					out = append(out, RunSpec{
						Experiment: e.Name, Dataset: e.Dataset, SplitSeed: split,
						ImageSize:       pick(m.ImageSize, e.ImageSize, e.setImageSize, d.ImageSize),
						Epochs:          pick(m.Epochs, e.Epochs, e.setEpochs, d.Epochs),
						BatchSize:       pick(m.BatchSize, e.BatchSize, e.setBatchSize, d.BatchSize),
						CheckpointEvery: e.CheckpointEvery, ValidateEvery: e.ValidateEvery,
						Model: m, Preprocessing: pre, HistEq: he, Seed: seed, Slurm: mergeSlurm(e.Slurm, m.Slurm),
					})
				}
			}
		}
	}
	return e.expandEnsembles(out)
}

// DecodeRunSpec reads a run's stored params.
func DecodeRunSpec(params []byte) (RunSpec, error) {
	var r RunSpec
	if err := json.Unmarshal(params, &r); err != nil {
		return r, &Error{Code: CodeInternal, Message: "run params are not a valid run spec", Err: err}
	}
	return r, nil
}

// mergeSlurm lays the model's cluster resources over the experiment's.
func mergeSlurm(exp, model *SlurmResources) *SlurmResources {
	if exp == nil && model == nil {
		return nil
	}
	r := SlurmResources{}.Merge(exp).Merge(model)
	return &r
}
