package experiments

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The types the worker API carries between a run's worker on a cluster
// node and the server (server/worker.go serves them, the slurm backend's
// RemoteSink and executor send and take them); here so the server needs no
// backend. Submitted, the answer to a submission, is here too, so that the
// REST client (server/client) reads it without importing the server.

// WireFloat is a float64 that survives JSON: NaN and ±Inf, which JSON
// numbers cannot hold (a diverged loss, an undefined figure), travel as
// the strings "NaN", "+Inf" and "-Inf".
type WireFloat float64

// MarshalJSON implements json.Marshaler.
func (f WireFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *WireFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = WireFloat(math.NaN())
		return nil
	case `"+Inf"`:
		*f = WireFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = WireFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a number, \"NaN\", \"+Inf\" or \"-Inf\", got %s", b)
	}
	*f = WireFloat(v)
	return nil
}

// WireMetricPoint is a MetricPoint on the wire.
type WireMetricPoint struct {
	Key   string    `json:"key"`
	Step  int       `json:"step"`
	Epoch int       `json:"epoch"`
	Value WireFloat `json:"value"`
	Time  time.Time `json:"time"`
}

// WireMetrics is a batch of metric points.
type WireMetrics struct {
	Points []WireMetricPoint `json:"points"`
}

// MetricPoints converts the batch back.
func (m WireMetrics) MetricPoints() []MetricPoint {
	out := make([]MetricPoint, len(m.Points))
	for i, p := range m.Points {
		out[i] = MetricPoint{Key: p.Key, Step: p.Step, Epoch: p.Epoch, Value: float64(p.Value), Time: p.Time}
	}
	return out
}

// WireFinalMetrics are a run's final figures.
type WireFinalMetrics struct {
	Metrics map[string]WireFloat `json:"metrics"`
}

// Map converts them back.
func (m WireFinalMetrics) Map() map[string]float64 {
	out := make(map[string]float64, len(m.Metrics))
	for k, v := range m.Metrics {
		out[k] = float64(v)
	}
	return out
}

// WireArtifact commits an uploaded file as an artifact.
type WireArtifact struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// WorkerInfo is who is calling: the node, the worker's process and job.
type WorkerInfo struct {
	Node  string `json:"node"`
	PID   int    `json:"pid"`
	JobID string `json:"job_id,omitempty"`
}

// WorkerAssignment is what a worker gets at start: its run (params hold
// the RunSpec), the checkpoint to resume from, how often to beat, and the
// server's data roots, which the node reads the dataset through.
type WorkerAssignment struct {
	Run              *Run      `json:"run"`
	Checkpoint       *Artifact `json:"checkpoint,omitempty"`
	HeartbeatSeconds float64   `json:"heartbeat_seconds"`
	DataRoots        []string  `json:"data_roots,omitempty"`
}

// WorkerReport is a worker's final word on its run.
type WorkerReport struct {
	State State  `json:"state"` // succeeded or failed
	Error string `json:"error,omitempty"`
}

// Validate checks a report as received.
func (r WorkerReport) Validate() error {
	switch {
	case r.State == StateSucceeded && r.Error != "":
		return Errorf(CodeInvalid, "report: a succeeded run carries no error (got %q)", r.Error)
	case r.State == StateFailed && strings.TrimSpace(r.Error) == "":
		return Errorf(CodeInvalid, "report: a failed run needs its error")
	case r.State != StateSucceeded && r.State != StateFailed:
		return Errorf(CodeInvalid, "report: state %q: want succeeded or failed", r.State)
	}
	return nil
}

// Submitted is one queued experiment in the answer to a submission
// (POST /api/experiments answers {"experiments": [...]}).
type Submitted struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	RunIDs []int64 `json:"run_ids"`
}

// Purged is the answer to a purge: the runs deleted, and the experiment
// when one was.
type Purged struct {
	ExperimentID int64   `json:"experiment_id,omitempty"`
	Runs         []int64 `json:"purged_runs"`
}
