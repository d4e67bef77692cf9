package local

import (
	"fmt"
	"math/rand"

	"xraylab/experiments"
	"xraylab/nets"
)

// referenceSeed derives the stream the scoring reference is drawn from,
// apart from the streams that initialise the model and order the epochs.
func referenceSeed(seed int64) int64 { return seed*1_000_003 - 1 }

// setReference hands a model with minibatch discrimination its fixed
// scoring reference (nets.Referenced): nets.ReferenceSize(batch size)
// training images drawn with the run's seed, loaded without augmentation
// as scored images are. Every attempt draws the same images, so a resumed
// run, or one resumed from a checkpoint written before references, scores
// as an uninterrupted one; the checkpoint keeps them for xraylab score.
func (x *Executor) setReference(spec experiments.RunSpec, d *runData, model nets.Model) error {
	r, ok := model.(nets.Referenced)
	if !ok {
		return nil
	}
	n := min(nets.ReferenceSize(spec.BatchSize), len(d.train))
	idx := rand.New(rand.NewSource(referenceSeed(spec.Seed))).Perm(len(d.train))[:n]
	size := spec.ImageSize
	b := &nets.Batch{N: n, H: size, W: size, Images: make([]float32, 0, n*size*size), Masks: make([]float32, 0, n*size*size)}
	for _, i := range idx {
		s, err := d.pipe.Load(d.train[i], "none", 0)
		if err != nil {
			return fmt.Errorf("reference batch: %w", err)
		}
		b.Images = append(b.Images, s.Image...)
		b.Masks = append(b.Masks, s.Mask...)
	}
	return r.SetReference(b)
}
