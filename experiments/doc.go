// Package experiments is the domain of xraylab's experiments: the YAML
// Spec and its expansion into runs (RunSpec), run states, the persisted
// nouns (Experiment, Run, MetricPoint, Artifact, Job, Bundle), the
// interfaces the rest plugs into (Store and JobStore, which registry
// implements; RunSink and Publisher; Executor, which the backends in
// experiments/local and experiments/slurm implement), the Manager that
// accepts specs, the queue and Runner that lease runs to an Executor, the
// event Hub, coded errors, data roots, and the worker API's wire types.
// Metrics live in experiments/eval and reporting in experiments/report.
package experiments
