package local

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"

	"xraylab/experiments"
	"xraylab/nets"
	_ "xraylab/nets/models" // registers every model kind
)

// CheckpointName is the file, and the artifact, a run resumes from.
const CheckpointName = "checkpoint.bin"

// CheckpointFormat names the layout of a run checkpoint: one JSON header
// line (format, run, model, epoch, the full run spec, the SHA-256 of the
// model state), then the model's own state as written by Model.Save. The
// spec makes a checkpoint usable on its own (xraylab score); the hash
// catches a truncated or altered file before any of it is loaded.
// Format 3: the model state of a GAN with minibatch discrimination holds
// its scoring reference (nets.Referenced: the reference images' features
// under the saved weights). A format 2 file still
// resumes (the runner draws the same reference again) and scores with
// every other model; xraylab score refuses one of such a GAN.
const CheckpointFormat = "xraylab-run-checkpoint/3"

// checkpointFormatV2 is the format before scoring references.
const checkpointFormatV2 = "xraylab-run-checkpoint/2"

// CheckpointHeader is the first line of a run checkpoint.
type CheckpointHeader struct {
	Format string              `json:"format"`
	RunID  int64               `json:"run_id"`
	Model  string              `json:"model"`
	Epoch  int                 `json:"epoch"`
	Spec   experiments.RunSpec `json:"spec"`
	SHA256 string              `json:"sha256"`
}

// maxCheckpointHeader bounds the header line, so a foreign file is refused
// without reading it whole.
const maxCheckpointHeader = 1 << 20

// WriteCheckpoint writes model's state atomically to path: a temporary file
// in the same folder, fsynced, then renamed over the old checkpoint.
func WriteCheckpoint(path string, h CheckpointHeader, model nets.Model) error {
	var state bytes.Buffer
	if err := model.Save(&state); err != nil {
		return err
	}
	sum := sha256.Sum256(state.Bytes())
	h.Format, h.SHA256 = CheckpointFormat, hex.EncodeToString(sum[:])
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(head, '\n'))
	if err == nil {
		_, err = tmp.Write(state.Bytes())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadCheckpoint reads and verifies a run checkpoint, returning its header
// and the model state.
func ReadCheckpoint(path string) (*CheckpointHeader, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(io.LimitReader(f, maxCheckpointHeader))
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, nil, experiments.Errorf(experiments.CodeInvalid, "%s is not an xraylab run checkpoint (no header line)", path)
	}
	var h CheckpointHeader
	if json.Unmarshal(line, &h) != nil || h.Format == "" {
		return nil, nil, experiments.Errorf(experiments.CodeInvalid, "%s is not an xraylab run checkpoint (bad header)", path)
	}
	if h.Format != CheckpointFormat && h.Format != checkpointFormatV2 {
		return nil, nil, experiments.Errorf(experiments.CodeInvalid, "%s is a checkpoint of format %q; this binary reads %q and %q", path, h.Format, CheckpointFormat, checkpointFormatV2)
	}
	if _, err := f.Seek(int64(len(line)), io.SeekStart); err != nil {
		return nil, nil, err
	}
	state, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	if sum := sha256.Sum256(state); hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, nil, experiments.Errorf(experiments.CodeInvalid, "%s is corrupt or truncated: its model state does not match the checksum in its header", path)
	}
	return &h, state, nil
}

// LoadCheckpoint rebuilds the model a run checkpoint holds, ready to score.
func LoadCheckpoint(path string) (*CheckpointHeader, nets.Model, error) {
	h, state, err := ReadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	s := h.Spec
	model, err := nets.New(s.Model.Name, nets.Config{Size: s.ImageSize, TopK: s.Model.TopK, TopKFrac: s.Model.TopKFrac, Params: s.Model.Params,
		Rand: rand.New(rand.NewSource(s.Seed))})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := model.Load(bytes.NewReader(state)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if r, ok := model.(nets.Referenced); ok && !r.HasReference() {
		return nil, nil, experiments.Errorf(experiments.CodeInvalid,
			"%s (format %q) holds no reference batch: this binary scores a %s image against a fixed batch of training images kept in the checkpoint (format %q), so that its score does not depend on the other images scored with it; re-run the run with this binary to write one",
			path, h.Format, h.Model, CheckpointFormat)
	}
	return h, model, nil
}
