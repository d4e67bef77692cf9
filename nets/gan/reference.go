package gan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/ops"
)

// refTensor is the name, in a checkpoint, of the reference's features.
const refTensor = "mbd.ref.f"

// refInput is the inference graphs' input of the reference's features.
const refInput = "mbd.ref.f"

// Reference is the fixed batch of training images a discriminator with
// minibatch discrimination scores every image against (nets.Referenced):
// in training an image's minibatch features compare it with the other
// images of its batch, as Salimans et al. and the paper's code do; in
// scoring with the reference's instead, so a score does not depend on
// which images share the scoring batch. The reference's features under
// the current weights are recomputed from its images when a training step
// changed the weights, and are what a checkpoint keeps (R × A values
// rather than R images: a run at the paper's 512 px and batch 80 would
// otherwise add 79 images, 83 MB, to every checkpoint); a restored model
// scores with the checkpoint's features and needs the images again
// (SetReference) only to train on.
type Reference struct {
	m      *Base
	net    *Net
	trunk  []Layer
	head   DiscHead
	slope  float64
	images *tensor.Dense // (R, 1, S, S); nil until set, and after a restore
	feat   *tensor.Dense // (R, A): the reference's features
	fresh  bool          // feat follows the current weights
	graph  *Graph
	fOut   *Out
}

// UseReference makes the image discriminator net (trunk and head) score
// against a reference batch; the model embeds the result, which makes it
// a nets.Referenced. Call it after SetNets.
func (m *Base) UseReference(net *Net, trunk []Layer, head DiscHead, slope float64) *Reference {
	r := &Reference{m: m, net: net, trunk: trunk, head: head, slope: slope}
	m.ref = r
	m.OnRestore(r.prepare)
	return r
}

// SetReference sets the reference batch (images only; masks are unused).
func (r *Reference) SetReference(b *nets.Batch) error {
	if err := r.m.CheckBatch(b); err != nil {
		return fmt.Errorf("reference batch: %w", err)
	}
	if r.size() != b.N {
		r.m.infer, r.m.sal = map[int]*inference{}, nil // their reference input has another size
		r.graph = nil
	}
	s := r.m.Cfg.Size
	r.images = tensor.New(tensor.Of(r.m.dt), tensor.WithShape(b.N, 1, s, s))
	switch d := r.images.Data().(type) {
	case []float32:
		copy(d, b.Images)
	case []float64:
		for i, v := range b.Images {
			d[i] = float64(v)
		}
	}
	r.feat = tensor.New(tensor.Of(r.m.dt), tensor.WithShape(b.N, r.head.Features()))
	r.fresh = false
	return nil
}

// HasReference reports whether a reference is set: its images, or the
// features a checkpoint restored.
func (r *Reference) HasReference() bool { return r.images != nil || r.fresh }

// size is the number of reference images (0: none).
func (r *Reference) size() int {
	if r.feat == nil {
		return 0
	}
	return r.feat.Shape()[0]
}

// prepare readies the reference for a checkpoint's features, or none when
// it holds none (one written before references, or before the runner set
// one); either way the model's reference is then the checkpoint's.
func (r *Reference) prepare(c *nets.Checkpoint) (func(), error) {
	old, oldFeat, oldFresh, oldGraph, oldInfer, oldSal := r.images, r.feat, r.fresh, r.graph, r.m.infer, r.m.sal
	undo := func() {
		r.images, r.feat, r.fresh, r.graph, r.m.infer, r.m.sal = old, oldFeat, oldFresh, oldGraph, oldInfer, oldSal
	}
	t, ok := c.Tensor(refTensor)
	if ok && (len(t.Shape) != 2 || t.Shape[1] != r.head.Features()) {
		return nil, fmt.Errorf("checkpoint: reference features %s have shape %v, want (R, %d)", refTensor, t.Shape, r.head.Features())
	}
	n := 0
	if ok {
		n = t.Shape[0]
	}
	if n != r.size() {
		r.m.infer, r.m.sal, r.graph = map[int]*inference{}, nil, nil
	}
	r.images, r.feat, r.fresh = nil, nil, false
	if ok {
		// filled by the restore, under the weights it restores
		r.feat, r.fresh = tensor.New(tensor.Of(r.m.dt), tensor.WithShape(t.Shape...)), true
	}
	return undo, nil
}

// entries are the reference's checkpoint state: its features, when they
// follow the weights (Save refreshes them first).
func (r *Reference) entries() []nets.StateEntry {
	if r == nil || r.feat == nil || !r.fresh {
		return nil
	}
	return []nets.StateEntry{{Name: refTensor, T: r.feat}}
}

// refresh recomputes the features when a step changed the weights; with
// no images to compute them from (a restored model trained without
// SetReference) the stale ones are dropped.
func (r *Reference) refresh() error {
	if r.fresh || r.feat == nil {
		return nil
	}
	if r.images == nil {
		r.feat = nil
		return nil
	}
	_, err := r.features()
	return err
}

// features returns the reference's minibatch features under the current
// weights, computing them when a step or a restore has changed those.
func (r *Reference) features() ([]float64, error) {
	if r.fresh {
		return nets.Float64s(r.feat), nil
	}
	if r.images == nil {
		return nil, fmt.Errorf("%s: no reference batch is set: minibatch discrimination scores each image against a fixed batch of training images, which the runner sets (nets.Referenced)", r.m.Name())
	}
	if r.graph == nil {
		s := r.m.Cfg.Size
		gg := NewInferenceGraph(r.m.dt)
		f, err := ImageFeatures(gg.Bind(r.net), gg.Input("x", r.images.Shape()[0], 1, s, s), r.trunk, r.head, r.slope)
		if err != nil {
			return nil, fmt.Errorf("%s: reference features: %w", r.m.Name(), err)
		}
		out, err := Output(f)
		if err != nil {
			return nil, err
		}
		if err := gg.Compile(nil); err != nil {
			return nil, err
		}
		r.graph, r.fOut = gg, out
	}
	ops.CopyDense(r.graph.inputs["x"], r.images)
	if err := r.graph.Run(); err != nil {
		return nil, fmt.Errorf("%s: reference features: %w", r.m.Name(), err)
	}
	ops.CopyDense(r.feat, r.fOut.v.(*tensor.Dense))
	r.fresh = true
	return nets.Float64s(r.feat), nil
}

// Disc is the discriminator's logits (N) for an inference graph's images
// x, each scored against the reference (Infer fills its features in).
func (r *Reference) Disc(gg *Graph, x *G.Node) (*G.Node, error) {
	if !r.HasReference() {
		return nil, fmt.Errorf("no reference batch is set: minibatch discrimination scores each image against a fixed batch of training images, which the runner sets (nets.Referenced)")
	}
	fr := gg.Input(refInput, r.size(), r.head.Features())
	return ImageDiscRef(gg.Bind(r.net), x, fr, r.trunk, r.head, r.slope)
}

// ImageFeatures runs trunk and head convolution on x: the features (N, A)
// minibatch discrimination takes.
func ImageFeatures(b *Bind, x *G.Node, trunk []Layer, head DiscHead, slope float64) (*G.Node, error) {
	h, err := b.Forward(x, append(trunk[:len(trunk):len(trunk)], head.conv), slope)
	if err != nil {
		return nil, err
	}
	return Flatten(h)
}

// ImageDiscRef is ImageDisc with minibatch discrimination against the
// reference features fr (R, A) instead of the rest of x's batch.
func ImageDiscRef(b *Bind, x, fr *G.Node, trunk []Layer, head DiscHead, slope float64) (*G.Node, error) {
	h, err := ImageFeatures(b, x, trunk, head, slope)
	if err != nil {
		return nil, err
	}
	if h, err = ops.MinibatchDiscriminationRef(h, fr, b.gn.Param(head.mbd), head.kernels, head.dims); err != nil {
		return nil, fmt.Errorf("%s: %w", head.mbd, err)
	}
	if h, err = b.Forward(h, []Layer{head.out}, slope); err != nil {
		return nil, err
	}
	return ops.Reshape(h, tensor.Shape{h.Shape()[0]})
}

// setInputs fills a scoring graph's images and, where it compares them
// with the reference, the reference's features.
func (m *Base) setInputs(gg *Graph, b *nets.Batch) error {
	nets.SetInput(gg.inputs["x"], b.Images) // straight from float32, no float64 copy
	if _, ok := gg.inputs[refInput]; ok {
		f, err := m.ref.features()
		if err != nil {
			return err
		}
		gg.Set(refInput, f)
	}
	return nil
}
