// Package nets is the core the anomaly-detection models are built on: the
// Model interface and the registry of model kinds, parameters, the layers,
// optimiser, losses and scores the networks share, and the checkpoint
// format. The models themselves live one package each below it (cae, bae,
// vae, dcgan, bigan, alphagan, pixelgauss) and register here; import
// xraylab/nets/models to have them all. It knows nothing of runs, HTTP or
// SQL.
package nets

import (
	"fmt"
	"io"
	"math"
	"math/rand"
	"sort"
)

// Batch is a mini-batch of preprocessed single-channel images in NCHW layout
// (C = 1), values in [0, 1]. Mask has the same layout: 1 where a pixel counts
// for the loss and the scores (the hand), 0 elsewhere (padding, background).
type Batch struct {
	N, H, W int
	Images  []float32
	Masks   []float32
}

// Pixels is the number of pixels of one image.
func (b *Batch) Pixels() int { return b.H * b.W }

// Image returns the pixels of image i.
func (b *Batch) Image(i int) []float32 { return b.Images[i*b.Pixels() : (i+1)*b.Pixels()] }

// Mask returns the mask of image i.
func (b *Batch) Mask(i int) []float32 { return b.Masks[i*b.Pixels() : (i+1)*b.Pixels()] }

// Validate checks the batch's shape so a model never indexes out of range.
func (b *Batch) Validate() error {
	if b.N <= 0 || b.H <= 0 || b.W <= 0 {
		return fmt.Errorf("batch shape %dx%dx%d: every dimension must be positive", b.N, b.H, b.W)
	}
	if len(b.Images) != b.N*b.H*b.W || len(b.Masks) != len(b.Images) {
		return fmt.Errorf("batch shape %dx%dx%d needs %d values, has %d images and %d mask values",
			b.N, b.H, b.W, b.N*b.H*b.W, len(b.Images), len(b.Masks))
	}
	return nil
}

// Scored is what a model says about a batch: one value per image for each of
// its scores (higher = more anomalous), and, for models with a
// reconstruction, a per-pixel anomaly map per image (N×H×W, masked).
type Scored struct {
	Scores map[string][]float64
	Maps   []float32
	// Extra are further per-pixel maps by name (N×H×W each, masked), such
	// as a GAN's discriminator saliency (SaliencyMapper); each gets pixel
	// metrics of its own.
	Extra map[string][]float32
}

// SaliencyMapper is implemented by models that can also give, with their
// scores, pixel maps from the discriminator: "d_grad", |∂d/∂x| (how much
// each pixel moves the discriminator's anomaly score d), and "d_gradx",
// |x·∂d/∂x| (gradient × input), each masked and smoothed as the
// reconstruction maps are. They cost a backward pass, so they are off
// until asked for.
type SaliencyMapper interface {
	SetSaliency(on bool)
}

// Saliency map names (Scored.Extra).
const (
	MapDGrad  = "d_grad"
	MapDGradX = "d_gradx"
)

// SaliencyMaps turns the gradient g = ∂score/∂x of a batch (N×H×W) into
// the maps MapDGrad = smooth(|m⊙g|) and MapDGradX = smooth(|m⊙x⊙g|), with
// the heatmap Gaussian (HeatmapSigma) as the reconstruction maps use.
func SaliencyMaps(b *Batch, g []float64) (map[string][]float32, error) {
	if len(g) != len(b.Images) {
		return nil, fmt.Errorf("%d gradient values for %d pixels", len(g), len(b.Images))
	}
	px := b.Pixels()
	out := map[string][]float32{MapDGrad: make([]float32, len(g)), MapDGradX: make([]float32, len(g))}
	sigma := HeatmapSigma(b.H)
	err := eachImage(b.N, func() func(i int) error {
		raw, rawx := make([]float32, px), make([]float32, px)
		sm := newSmoother(b.H, b.W, sigma)
		return func(i int) error {
			img, mask := b.Image(i), b.Mask(i)
			for p := range raw {
				v := float64(mask[p]) * g[i*px+p]
				raw[p] = float32(math.Abs(v))
				rawx[p] = float32(math.Abs(v * float64(img[p])))
			}
			sm.smooth(out[MapDGrad][i*px:(i+1)*px], raw)
			sm.smooth(out[MapDGradX][i*px:(i+1)*px], rawx)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Model is what the runner trains and scores without knowing which model it
// has. Implementations are not safe for concurrent use.
type Model interface {
	// Name is the model's registry name ("cae", "pixelgauss", ...).
	Name() string
	// ScoreNames lists the scores Score returns, in a stable order.
	ScoreNames() []string
	// TrainStep trains on one batch of normal images and returns the
	// losses of that step by name (empty for models without a loss).
	TrainStep(b *Batch) (map[string]float64, error)
	// EndEpoch is called after the last batch of every epoch.
	EndEpoch(epoch int) error
	// Score scores a batch in inference mode.
	Score(b *Batch) (*Scored, error)
	// Save writes the model's full state (weights, optimiser, statistics).
	Save(w io.Writer) error
	// Load restores a state written by Save of the same model and config.
	Load(r io.Reader) error
}

// EpochSeeder is implemented by models that draw random numbers while
// training (sampling noise, fake batches). The runner hands them a fresh
// stream at the start of every epoch, derived from the run's seed and the
// epoch, so a run resumed from a checkpoint draws exactly what an
// uninterrupted one would (a Go random source cannot be checkpointed).
type EpochSeeder interface {
	SeedEpoch(r *rand.Rand)
}

// Referenced is implemented by models whose scores compare each image with
// a fixed reference batch of training images (the GANs with minibatch
// discrimination), so that an image's score does not depend on the other
// images of its scoring batch. The runner draws the reference from the
// training images with the run's seed and sets it before the first
// training step and after every resume; the model keeps it in its
// checkpoint, which then scores images on its own. Score fails until a
// reference is set.
type Referenced interface {
	// SetReference sets the reference batch (its masks are not used).
	SetReference(b *Batch) error
	// HasReference reports whether a reference is set.
	HasReference() bool
}

// ReferenceSize is the reference batch of a model trained on batches of
// batchSize images: batchSize − 1 (at least 1), the other images each
// training image's minibatch features compared it with.
func ReferenceSize(batchSize int) int { return max(1, batchSize-1) }

// Config is what every model is built from: the image geometry, the
// model's own hyperparameters from the spec, and the seed source.
type Config struct {
	Size int   // images are Size×Size
	TopK []int // k values for the top-k scores
	// TopKFrac are shares of the masked pixels for the top-k-share scores
	// (none: no such scores).
	TopKFrac []float64
	Params   map[string]float64 // model hyperparameters by name
	Rand     *rand.Rand         // the only source of randomness a model may use
}

// Param returns a hyperparameter or its default.
func (c Config) Param(name string, def float64) float64 {
	if v, ok := c.Params[name]; ok {
		return v
	}
	return def
}

// Spec describes a model kind to spec validation: its scores and the
// hyperparameters it accepts with their ranges.
type Spec struct {
	Name   string
	Scores []string // score families; top-k scores are expanded per k
	Params map[string]ParamRange
	New    func(Config) (Model, error)
}

// ParamRange is an inclusive range with a default.
type ParamRange struct {
	Min, Max, Default float64
	Integer           bool
}

var registry = map[string]Spec{}

// Register adds a model kind; each model package calls it from its init,
// so a binary knows the models it imports (xraylab/nets/models imports
// them all).
func Register(s Spec) { registry[s.Name] = s }

// Lookup returns the spec of a model kind.
func Lookup(name string) (Spec, bool) {
	s, ok := registry[name]
	return s, ok
}

// Names lists the model kinds this binary supports, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// New builds a model by name.
func New(name string, cfg Config) (Model, error) {
	s, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q; known: %v", name, Names())
	}
	if cfg.Rand == nil {
		return nil, fmt.Errorf("model %s: a seeded random source is required", name)
	}
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("model %s: image size must be positive, got %d", name, cfg.Size)
	}
	if err := CheckTopKFrac(name, cfg.TopKFrac); err != nil {
		return nil, err
	}
	return s.New(cfg)
}
