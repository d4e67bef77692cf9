package nets

import (
	"fmt"
	"io"
)

// Base is what every network model keeps besides its networks: its name,
// resolved config and epoch, and the state its checkpoint holds. Models
// embed it for Name, Epoch, EndEpoch, Save and Load, and LoadModel
// restores them through it, so the checkpoint plumbing is written
// once for all of them.
type Base struct {
	Cfg  Config // Params resolved against the model's spec
	TopK []int  // resolved k values of the top-k scores
	// TopKFrac are the shares of the top-k-share scores.
	TopKFrac []float64
	name     string
	epoch    int
	arch     []string // parameters a checkpoint must match, in checking order
	opts     []*Adam
	state    func() []StateEntry
	// prepare, where set, readies state for a checkpoint before it is
	// restored (tensors whose shape the checkpoint decides); undo puts
	// back what it changed when the checkpoint is then refused.
	prepare func(*Checkpoint) (undo func(), err error)
	// defaults are the spec's parameter defaults: a checkpoint written
	// before a parameter existed matches a model that has its default.
	defaults map[string]float64
}

// NewBase starts a model's bookkeeping from its resolved parameters and k
// values; Track must follow once its networks exist.
func NewBase(name string, cfg Config, params map[string]float64, topK []int) *Base {
	b := &Base{Cfg: cfg, TopK: topK, TopKFrac: append([]float64(nil), cfg.TopKFrac...), name: name}
	b.Cfg.Params = params
	return b
}

// Track says what the checkpoint holds: the tensors state lists (in a
// stable order), the step of opts (which all step together, so one count
// serves them all), and the architecture parameters arch that a checkpoint
// must match before anything is restored.
func (b *Base) Track(arch []string, state func() []StateEntry, opts ...*Adam) {
	b.arch, b.state, b.opts = arch, state, opts
}

// TopKs are the model's top-k variants, for its scores.
func (b *Base) TopKs() TopK { return TopK{Counts: b.TopK, Fracs: b.TopKFrac} }

// ExpandScores expands score families with the model's top-k variants.
func (b *Base) ExpandScores(families []string) []string {
	return ExpandScores(families, b.TopK, b.TopKFrac...)
}

// NewerParams names parameters added after checkpoints were written with
// the model, with the values those checkpoints trained under (the
// parameters' defaults): a checkpoint lacking one matches a model with
// that value.
func (b *Base) NewerParams(defaults map[string]float64) { b.defaults = defaults }

// OnRestore sets a hook run on a checkpoint before its tensors are
// restored: it may change what the state lists (a tensor the checkpoint
// sizes), and returns how to undo that if the checkpoint is refused.
func (b *Base) OnRestore(prepare func(*Checkpoint) (undo func(), err error)) { b.prepare = prepare }

// Name is the model's registry name.
func (b *Base) Name() string { return b.name }

// Epoch is the last epoch passed to EndEpoch (0 before any), restored by Load.
func (b *Base) Epoch() int { return b.epoch }

// EndEpoch records the epoch, which the checkpoint keeps.
func (b *Base) EndEpoch(epoch int) error {
	b.epoch = epoch
	return nil
}

// CheckBatch rejects a malformed batch or one of another image size.
func (b *Base) CheckBatch(bt *Batch) error {
	if err := bt.Validate(); err != nil {
		return fmt.Errorf("%s: %w", b.name, err)
	}
	if bt.H != b.Cfg.Size || bt.W != b.Cfg.Size {
		return fmt.Errorf("%s: batch images are %dx%d, model was built for %dx%d", b.name, bt.H, bt.W, b.Cfg.Size, b.Cfg.Size)
	}
	return nil
}

// Save writes the model's checkpoint.
func (b *Base) Save(w io.Writer) error {
	return WriteCheckpoint(w, &Checkpoint{Model: b.name, Size: b.Cfg.Size, TopK: b.TopK, TopKFrac: b.TopKFrac, Params: b.Cfg.Params,
		Epoch: b.epoch, Step: b.opts[0].Step, Tensors: entryTensors(b.state())})
}

// Load restores a checkpoint written by Save of the same model and config.
func (b *Base) Load(r io.Reader) error {
	ck, err := ReadCheckpoint(r)
	if err != nil {
		return err
	}
	return b.restore(ck)
}

// restore checks that the checkpoint was written by the same model with
// the same size and architecture parameters, then restores every tensor
// (all validated before any is copied, so a bad checkpoint leaves the
// model as it was), the optimiser step and the epoch.
func (b *Base) restore(c *Checkpoint) error {
	if c.Model != b.name {
		return fmt.Errorf("checkpoint: holds model %q, not %q", c.Model, b.name)
	}
	if c.Size != b.Cfg.Size {
		return fmt.Errorf("checkpoint: image size %d, the model has %d", c.Size, b.Cfg.Size)
	}
	for _, p := range b.arch {
		v, ok := c.Params[p]
		if d, has := b.defaults[p]; !ok && has {
			v, ok = d, true
		}
		if !ok || v != b.Cfg.Params[p] {
			return fmt.Errorf("checkpoint: %s %g, the model has %g", p, c.Params[p], b.Cfg.Params[p])
		}
	}
	if b.prepare != nil {
		undo, err := b.prepare(c)
		if err != nil {
			return err
		}
		if err := restoreEntries(c, b.state()); err != nil {
			undo()
			return err
		}
	} else if err := restoreEntries(c, b.state()); err != nil {
		return err
	}
	for _, o := range b.opts {
		o.Step = c.Step
	}
	b.epoch = c.Epoch
	return nil
}
