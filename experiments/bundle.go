package experiments

import "time"

// BundleFormat names the layout of an exported experiment bundle.
const BundleFormat = "xraylab-bundle/1"

// Bundle is an experiment exported with everything a reviewer needs to
// check or reproduce it: the spec, every run's parameters, seed, dataset
// fingerprint and final metrics, and the binary version that made them.
// On disk it is a folder: bundle.json, spec.yaml, runs/<id>/<artifacts>
// (scores, plots; checkpoints are left out) and report.html.
type Bundle struct {
	Format     string       `json:"format"`
	Exported   time.Time    `json:"exported"`
	ExportedBy string       `json:"exported_by"` // version of the exporting binary
	Experiment *Experiment  `json:"experiment"`
	Runs       []*BundleRun `json:"runs"`
}

// BundleRun is one run as recorded.
type BundleRun struct {
	*Run
	Spec   RunSpec                  `json:"spec"`
	Series map[string][]MetricPoint `json:"series,omitempty"`
	Files  []string                 `json:"files,omitempty"` // runs/<id>/... in the bundle
}
