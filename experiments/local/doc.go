// Package local is the in-process backend of the runner
// (experiments.Executor): it loads and preprocesses a run's data, trains
// the model with per-epoch checkpoints (the run checkpoint file format is
// here), scores the validation and test images, records the final figures
// under their eval keys, and draws the run's figures and score files. It
// also scores files with a saved checkpoint (xraylab score). The slurm
// backend's worker runs it on a cluster node.
package local
