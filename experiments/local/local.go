package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/eval"
	"xraylab/experiments/report"
	"xraylab/nets"
	_ "xraylab/nets/models" // registers every model kind
	"xraylab/preprocess"
	"xraylab/preprocess/synth"
)

// Options configure the in-process executor.
type Options struct {
	DataDir      string // synthetic datasets are generated (once) under it
	ArtifactsDir string // each run writes to ArtifactsDir/<run id>/
	CacheDir     string // offline preprocessing cache
	LoadWorkers  int    // image loading goroutines; 0 = GOMAXPROCS
	// DataRoots are the folders MURA datasets may be read from (none = any
	// path). A run reads its dataset through an os.Root opened on the root
	// holding it, so a path checked at submission cannot lead elsewhere by
	// the time the run reads it (a link made in the meantime, a swapped
	// file).
	DataRoots []string
	Logger    *slog.Logger
	// OnStep, when set, is told how long each training step took (the
	// server's metrics); it must be quick.
	OnStep func(time.Duration)
	// Runs reads other runs: an ensemble run's members (the store of a
	// server; nil on a cluster worker, which is never given ensembles).
	Runs experiments.RunReader
}

// Executor trains and evaluates runs in this process. What a run
// produces goes to a RunSink and its events to a Publisher: the store and
// hub of a server, or a worker's link to a remote server.
type Executor struct {
	store   experiments.RunSink
	hub     experiments.Publisher
	opts    Options
	log     *slog.Logger
	synthMu *sync.Mutex // one generation of a synthetic dataset at a time (shared by per-run copies)
}

// NewExecutor builds the in-process executor.
func NewExecutor(store experiments.RunSink, hub experiments.Publisher, opts Options) *Executor {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Executor{store: store, hub: hub, opts: opts, log: opts.Logger, synthMu: &sync.Mutex{}}
}

// RunDir is where a run's artifacts live.
func (x *Executor) RunDir(runID int64) string {
	return filepath.Join(x.opts.ArtifactsDir, strconv.FormatInt(runID, 10))
}

// Execute runs the whole life of one run: data, preprocessing, training
// with checkpoints, scoring and metrics.
func (x *Executor) Execute(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, device string) (err error) {
	dir := x.RunDir(run.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create artifact folder: %w", err)
	}
	// The run's log: what it did, stage by stage, kept as an artifact.
	logf, lerr := os.OpenFile(filepath.Join(dir, "run.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if lerr == nil {
		rl := &runLog{next: x.hub, w: logf}
		rl.printf("attempt %d of %s on %s (binary %s)", run.Attempts, spec.Label(), device, experiments.BinaryVersion())
		defer func() {
			switch {
			case err == nil:
				rl.printf("finished")
			case ctx.Err() != nil:
				rl.printf("stopped: %v", err)
			default:
				rl.printf("failed: %v", err)
			}
			logf.Close()
			// Best effort: the folder may be gone, which the run's error says.
			x.addArtifact(context.WithoutCancel(ctx), run.ID, "run.log", "log")
		}()
		rx := *x
		rx.hub = rl
		x = &rx
	}
	if spec.Ensemble != nil {
		return x.executeEnsemble(ctx, run, spec)
	}
	data, err := x.prepareData(ctx, run, spec)
	if err != nil {
		return err
	}
	defer data.Close()
	data.spillDir = dir
	model, err := nets.New(spec.Model.Name, nets.Config{
		Size: spec.ImageSize, TopK: spec.Model.TopK, TopKFrac: spec.Model.TopKFrac, Params: spec.Model.Params,
		Rand: rand.New(rand.NewSource(spec.Seed)),
	})
	if err != nil {
		return err
	}
	start, err := x.resume(ctx, run, model)
	if err != nil {
		return err
	}
	if err := x.setReference(spec, data, model); err != nil {
		return err
	}
	if err := x.train(ctx, run, spec, data, model, start); err != nil {
		return err
	}
	if selectsBest(spec) {
		if err := x.loadBest(run, spec, model); err != nil {
			return err
		}
	}
	return x.evaluate(ctx, run, spec, data, model)
}

// runData is the prepared data of one run.
type runData struct {
	pipe             *preprocess.Pipeline
	root             *os.Root // the data root read through; nil = none
	train, val, test []preprocess.Item
	spillDir         string // where pixel metrics spill sorted pixels: the run's folder, on disk
}

// Close releases the pipeline and the data root.
func (d *runData) Close() {
	d.pipe.Close()
	if d.root != nil {
		d.root.Close()
	}
}

// DataSummary is what a run records about its data and split.
type DataSummary struct {
	Root       string                      `json:"root"`
	Images     int                         `json:"images"`
	Skipped    []preprocess.Skip           `json:"skipped,omitempty"`
	Split      preprocess.SplitSummary     `json:"split"`
	Preprocess []*preprocess.PrepareReport `json:"preprocess"`
	// Masks are the hand masks' statistics over train, validation and test
	// (full variant only), with the suspicious ones the run drew
	// thumbnails of.
	Masks *preprocess.MaskSummary `json:"masks,omitempty"`
}

func (x *Executor) prepareData(ctx context.Context, run *experiments.Run, spec experiments.RunSpec) (*runData, error) {
	root, opts, err := x.datasetRoot(ctx, spec.Dataset)
	if err != nil {
		return nil, err
	}
	var dataRoot *os.Root
	if spec.Dataset.MURA != nil {
		if root, dataRoot, err = openDataRoot(root, x.opts.DataRoots); err != nil {
			return nil, err
		}
	}
	if dataRoot != nil {
		if opts.Files, err = preprocess.RootFiles(dataRoot); err != nil {
			dataRoot.Close()
			return nil, err
		}
	}
	ds, err := preprocess.LoadMURA(root, opts)
	if err != nil {
		if dataRoot != nil {
			dataRoot.Close()
		}
		return nil, experiments.Errorf(experiments.CodeInvalid, "load dataset: %v", err)
	}
	split, err := preprocess.SplitPatients(ds.Records, rand.New(rand.NewSource(spec.SplitSeed)))
	if err != nil {
		return nil, fmt.Errorf("split dataset %s: %w", root, err)
	}
	sum := split.Summary()
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: fmt.Sprintf(
		"data %s: %d images (%d unreadable files skipped), fingerprint %.12s; split by seed %d: train %d, validation %d, test %d images",
		root, len(ds.Records), len(ds.Skipped), ds.Fingerprint, spec.SplitSeed, sum.Train.Images, sum.Val.Images, sum.Test.Images)})
	pipe, err := preprocess.NewPipeline(preprocess.PipelineOptions{
		Variant: preprocess.Variant(spec.Preprocessing), HistEq: spec.HistEq,
		Size: spec.ImageSize, Resize: spec.Model.Resize, CacheDir: x.opts.CacheDir, Workers: x.opts.LoadWorkers, Files: opts.Files,
	})
	if err != nil {
		if dataRoot != nil {
			dataRoot.Close()
		}
		return nil, err
	}
	d := &runData{pipe: pipe, root: dataRoot}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	summary := DataSummary{Root: root, Images: len(ds.Records), Skipped: ds.Skipped, Split: split.Summary()}
	masks := x.newMaskSheets(run, pipe)
	for _, part := range []struct {
		name string
		recs []preprocess.Record
		dst  *[]preprocess.Item
	}{{"train", split.Train, &d.train}, {"validation", split.Val, &d.val}, {"test", split.Test, &d.test}} {
		x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: "preprocessing " + part.name})
		items, rep, err := pipe.Prepare(ctx, part.recs, nil)
		if err != nil {
			return nil, fmt.Errorf("preprocess %s images: %w", part.name, err)
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("no %s images left after preprocessing (%d skipped)", part.name, rep.Skipped)
		}
		*part.dst = items
		summary.Preprocess = append(summary.Preprocess, rep)
		if err := masks.add(ctx, part.recs, items, rep); err != nil {
			return nil, err
		}
		x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: fmt.Sprintf(
			"%s: %d images -> %d items (%d skipped, %d carrier crops fell back, %d two-hand splits, cache %d hits / %d misses)",
			part.name, rep.Images, rep.Items, rep.Skipped, rep.FellBack, rep.TwoHandSplits, rep.CacheHits, rep.CacheMisses)})
	}
	summary.Masks = masks.sum
	raw, _ := json.Marshal(summary)
	if err := x.store.SetDataset(ctx, run.ID, experiments.DatasetRecord{Fingerprint: ds.Fingerprint, Summary: raw}); err != nil {
		return nil, err
	}
	if err := x.writeExamples(ctx, run, spec, d); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// writeExamples keeps a contact sheet of a few training and abnormal test
// images as the model sees them, so a run's page shows its inputs.
func (x *Executor) writeExamples(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, d *runData) error {
	const name = "preprocessing.png"
	if _, err := os.Stat(filepath.Join(x.RunDir(run.ID), name)); err == nil {
		return nil // a resumed run keeps the sheet of its first attempt
	}
	var items []preprocess.Item
	items = append(items, d.train[:min(3, len(d.train))]...)
	for _, it := range d.test {
		if it.Record.Label == 1 && len(items) < 6 {
			items = append(items, it)
		}
	}
	err := preprocess.WriteContactSheet(filepath.Join(x.RunDir(run.ID), name), d.pipe, items,
		preprocess.ContactOptions{Tile: 128, Augment: spec.Model.Augmentation, Seed: spec.Seed})
	if err != nil {
		return fmt.Errorf("draw preprocessing examples: %w", err)
	}
	return x.addArtifact(ctx, run.ID, name, "example")
}

// maskSheets measures every image's hand mask into a MaskSummary and
// draws a thumbnail of each suspicious one it lists (at most
// preprocess.MaxFlagged, so a large dataset stays a small record), as
// artifacts mask-flag-NN.png of kind "mask".
type maskSheets struct {
	x    *Executor
	run  *experiments.Run
	pipe *preprocess.Pipeline
	sum  *preprocess.MaskSummary // nil: the variant has no mask
}

// maskThumbSize is the longer side of a flagged mask's thumbnail.
const maskThumbSize = 160

func (x *Executor) newMaskSheets(run *experiments.Run, pipe *preprocess.Pipeline) *maskSheets {
	m := &maskSheets{x: x, run: run, pipe: pipe}
	if pipe.Options().Variant == preprocess.VariantFull {
		m.sum = preprocess.NewMaskSummary()
	}
	return m
}

func (m *maskSheets) add(ctx context.Context, recs []preprocess.Record, items []preprocess.Item, rep *preprocess.PrepareReport) error {
	if m.sum == nil {
		return nil
	}
	// The statistics of a rerun on the same data come from the cache; only
	// a listed image's mask is read again, for its thumbnail.
	_, err := m.pipe.MeasureMasks(recs, items, rep, func(rec preprocess.Record, res preprocess.ImageResult, loadMask func() (*image.Gray, error)) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := m.sum.Add(res)
		if f == nil || loadMask == nil {
			return nil
		}
		mask, err := loadMask()
		if err != nil {
			return err
		}
		thumb, err := m.pipe.MaskThumbnail(rec, mask, maskThumbSize)
		if err != nil {
			return fmt.Errorf("draw the thumbnail of a suspicious mask: %w", err)
		}
		name := fmt.Sprintf("mask-flag-%02d.png", len(m.sum.Flagged))
		if err := writePNG(filepath.Join(m.x.RunDir(m.run.ID), name), thumb); err != nil {
			return err
		}
		f.Thumbnail = name
		return m.x.addArtifact(ctx, m.run.ID, name, "mask")
	})
	return err
}

// writePNG encodes img into path.
func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// openDataRoot opens the data root holding the MURA folder p, for reading
// through (nil when roots is empty: any path). It returns p as the loader
// should name it under that root. A p under no root fails with the words
// of the submission check, for a spec that reached a node unchecked.
func openDataRoot(p string, roots []string) (string, *os.Root, error) {
	if len(roots) == 0 {
		return p, nil, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", nil, err
	}
	under := func(dir, q string) bool {
		rel, err := filepath.Rel(dir, q)
		return err == nil && (rel == "." || filepath.IsLocal(rel))
	}
	for _, r := range roots {
		rAbs, err := filepath.Abs(r)
		if err != nil {
			continue
		}
		dir, name := rAbs, abs
		if !under(dir, name) {
			// A root given through a link, a path naming it through another:
			// compare real paths. The reads still go through the root, so
			// what the links point at now does not matter later.
			rReal, err1 := filepath.EvalSymlinks(rAbs)
			pReal, err2 := filepath.EvalSymlinks(abs)
			switch {
			case err1 != nil:
				continue
			case under(rReal, abs):
				dir = rReal
			case err2 == nil && under(rReal, pReal):
				dir, name = rReal, pReal
			default:
				continue
			}
		}
		root, err := os.OpenRoot(dir)
		if errors.Is(err, fs.ErrNotExist) {
			// A node without the data: say so as the loader would.
			return "", nil, experiments.Errorf(experiments.CodeInvalid, "load dataset: MURA root %s: no such folder", p)
		}
		if err != nil {
			return "", nil, fmt.Errorf("open data root %s: %w", r, err)
		}
		return name, root, nil
	}
	return "", nil, experiments.Errorf(experiments.CodeInvalid, "dataset path %s is outside the data roots this server allows (%s)",
		p, strings.Join(roots, ", "))
}

// datasetRoot returns the MURA root a dataset spec points at, generating
// synthetic data first if it does not exist yet.
func (x *Executor) datasetRoot(ctx context.Context, d experiments.DatasetSpec) (string, preprocess.LoadOptions, error) {
	if d.MURA != nil {
		return d.MURA.Root, preprocess.LoadOptions{BodyPart: d.MURA.BodyPart, Parts: d.MURA.Parts}, nil
	}
	s := d.Synthetic
	// The generator's version is part of the name: a binary whose generator
	// draws other pixels never reuses another's data.
	name := fmt.Sprintf("synthetic-%dp-%dpx-%s-seed%d-%s", s.Patients, s.Size, s.Difficulty, s.Seed,
		strings.ReplaceAll(synth.Version, "/", "-"))
	out := filepath.Join(x.opts.DataDir, name)
	root := filepath.Join(out, "MURA-v1.1")
	// Synthetic patients are spread over MURA's two folders; use them all.
	opts := preprocess.LoadOptions{Parts: []string{"train", "valid"}}
	x.synthMu.Lock()
	defer x.synthMu.Unlock()
	if _, err := os.Stat(filepath.Join(root, "synthetic.json")); err == nil {
		return root, opts, nil
	}
	// Generate beside the target and rename, so a crash never leaves a
	// half-written dataset that looks complete.
	tmp := out + fmt.Sprintf(".tmp-%d", os.Getpid())
	os.RemoveAll(tmp)
	x.log.Info("generating synthetic dataset", "dir", out)
	if _, err := synth.Generate(ctx, synth.Options{
		Out: tmp, Patients: s.Patients, Size: s.Size, Seed: s.Seed, Difficulty: s.Difficulty,
	}, nil); err != nil {
		os.RemoveAll(tmp)
		return "", opts, fmt.Errorf("generate synthetic data: %w", err)
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return "", opts, fmt.Errorf("move synthetic data into place: %w", err)
	}
	return root, opts, nil
}

// resume loads the run's last checkpoint if it has one and returns the
// first epoch still to train. Metric points past the checkpoint are
// dropped so that re-training them neither loses nor doubles any.
func (x *Executor) resume(ctx context.Context, run *experiments.Run, model nets.Model) (int, error) {
	// A process killed while writing a checkpoint leaves its temporary file.
	stale, _ := filepath.Glob(filepath.Join(x.RunDir(run.ID), ".checkpoint-*"))
	for _, f := range stale {
		os.Remove(f)
	}
	path := filepath.Join(x.RunDir(run.ID), CheckpointName)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 1, x.store.DeleteMetricsAfter(ctx, run.ID, 0)
	}
	h, payload, err := ReadCheckpoint(path)
	if err == nil && h.Model != model.Name() {
		err = fmt.Errorf("it holds a %s model, the run trains %s", h.Model, model.Name())
	}
	if err == nil {
		err = model.Load(bytes.NewReader(payload))
	}
	if err != nil {
		x.log.Warn("ignoring a checkpoint that cannot be loaded; training from scratch", "run", run.ID, "err", err)
		return 1, x.store.DeleteMetricsAfter(ctx, run.ID, 0)
	}
	x.log.Info("resuming from checkpoint", "run", run.ID, "epoch", h.Epoch)
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: fmt.Sprintf("resuming from the checkpoint of epoch %d", h.Epoch)})
	return h.Epoch + 1, x.store.DeleteMetricsAfter(ctx, run.ID, h.Epoch)
}

func (x *Executor) saveCheckpoint(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, model nets.Model, epoch int) error {
	h := CheckpointHeader{RunID: run.ID, Model: model.Name(), Epoch: epoch, Spec: spec}
	if err := WriteCheckpoint(filepath.Join(x.RunDir(run.ID), CheckpointName), h, model); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return x.addArtifact(ctx, run.ID, CheckpointName, "checkpoint")
}

// epochRand gives each epoch its own stream, so a run resumed at epoch e
// shuffles and augments exactly as an uninterrupted one.
func epochRand(seed int64, epoch int) *rand.Rand {
	return rand.New(rand.NewSource(seed*1_000_003 + int64(epoch)))
}

func toBatch(br preprocess.BatchResult, size int) *nets.Batch {
	n := len(br.Samples)
	px := size * size
	b := &nets.Batch{N: n, H: size, W: size, Images: make([]float32, n*px), Masks: make([]float32, n*px)}
	for i, s := range br.Samples {
		copy(b.Images[i*px:], s.Image)
		copy(b.Masks[i*px:], s.Mask)
	}
	return b
}

func (x *Executor) train(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, d *runData, model nets.Model, start int) error {
	// A last batch of one image is dropped (a different image each epoch,
	// since the order is reshuffled): BatchNorm cannot normalise a single
	// value per channel.
	perEpoch := len(d.train)
	if perEpoch%spec.BatchSize == 1 && perEpoch > 1 {
		perEpoch--
	}
	batches := (perEpoch + spec.BatchSize - 1) / spec.BatchSize
	began := time.Now()
	trained := 0 // batches trained in this process, for the ETA
	seeder, _ := model.(nets.EpochSeeder)
	var best *bestVal
	if selectsBest(spec) {
		var err error
		if best, err = x.resumeBest(ctx, run, spec, start); err != nil {
			return err
		}
	}
	for epoch := start; epoch <= spec.Epochs; epoch++ {
		rng := epochRand(spec.Seed, epoch)
		if seeder != nil {
			seeder.SeedEpoch(rand.New(rand.NewSource(rng.Int63())))
		}
		order := rng.Perm(len(d.train))[:perEpoch]
		seeds := make([]int64, len(order))
		for i := range seeds {
			seeds[i] = rng.Int63()
		}
		var points []experiments.MetricPoint
		lastEvent := time.Time{}
		b := 0
		for br := range d.pipe.Batches(ctx, d.train, order, seeds, spec.BatchSize, spec.Model.Augmentation) {
			if br.Err != nil {
				return fmt.Errorf("epoch %d: load batch %d: %w", epoch, b+1, br.Err)
			}
			b++
			stepStart := time.Now()
			losses, err := model.TrainStep(toBatch(br, spec.ImageSize))
			if x.opts.OnStep != nil {
				x.opts.OnStep(time.Since(stepStart))
			}
			if err != nil {
				return fmt.Errorf("epoch %d, batch %d: %w", epoch, b, err)
			}
			step := (epoch-1)*batches + b
			names := make([]string, 0, len(losses))
			for k := range losses {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v := losses[k]
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("training diverged: loss %s is %v at epoch %d, batch %d (last good checkpoint kept)", k, v, epoch, b)
				}
				points = append(points, experiments.MetricPoint{Key: eval.RunKey(eval.SplitTrain, k).String(), Step: step, Epoch: epoch, Value: v, Time: time.Now().UTC()})
			}
			trained++
			if time.Since(lastEvent) > 500*time.Millisecond || b == batches {
				lastEvent = time.Now()
				left := (spec.Epochs-epoch)*batches + (batches - b)
				eta := time.Since(began).Seconds() / float64(trained) * float64(left)
				ev := experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Epoch: epoch, Epochs: spec.Epochs, Batch: b, Batches: batches, ETASeconds: eta}
				if len(names) > 0 {
					v := losses[names[0]]
					ev.Loss = &v
				}
				x.hub.Publish(ev)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := model.EndEpoch(epoch); err != nil {
			return fmt.Errorf("epoch %d: %w", epoch, err)
		}
		// Validation ROC-AUC per epoch gives the training curves a
		// figure that means something for every model, losses or not;
		// validate_every thins it out (it costs about a third of a
		// 64 px CAE epoch, bench/epoch_overhead.py), and best_val then
		// chooses among the validated epochs.
		if every := max(1, spec.ValidateEvery); epoch%every == 0 || epoch == spec.Epochs {
			val, err := x.score(ctx, d, d.val, spec, model, false)
			if err != nil {
				return fmt.Errorf("epoch %d: score validation images: %w", epoch, err)
			}
			aucs := map[string]float64{}
			for _, name := range sortedKeys(val.scores) {
				if auc, err := eval.ROCAUC(val.scores[name], labelsOf(d.val)); err == nil {
					key := eval.ScoreKey(eval.SplitVal, name, eval.AggImage, eval.MetricROCAUC).String()
					aucs[key] = auc
					points = append(points, experiments.MetricPoint{Key: key, Step: epoch * batches, Epoch: epoch, Value: auc, Time: time.Now().UTC()})
				}
			}
			// The best checkpoint goes first, so a checkpoint to resume from
			// never follows a best one it does not know of.
			if best != nil {
				if err := x.offer(ctx, best, run, spec, model, epoch, aucs); err != nil {
					return fmt.Errorf("epoch %d: %w", epoch, err)
				}
			}
		}
		if err := x.store.AppendMetrics(ctx, run.ID, points); err != nil {
			return fmt.Errorf("epoch %d: store metrics: %w", epoch, err)
		}
		if epoch%spec.CheckpointEvery == 0 || epoch == spec.Epochs {
			if err := x.saveCheckpoint(ctx, run, spec, model, epoch); err != nil {
				return fmt.Errorf("epoch %d: %w", epoch, err)
			}
		}
	}
	return nil
}

// scored is what scoring a part of the data gives: every selected score
// per image and, for models with anomaly maps, the pixel-level metrics over
// every image with a true anomaly mask and the pixels of the first images
// (up to a budget) for heatmaps.
type scored struct {
	scores map[string][]float64
	// Per kept image i (items[i] for i < len(maps)): input, map, loss
	// mask and true anomaly mask (nil when the data has none).
	images, maps, masks, truth [][]float32
	// pixel holds pixel ROC-AUC and AUPRO (nil: no truth, or no figure).
	pixel *eval.PixelMetrics
	// extra are the model's further maps (nets.Scored.Extra: a GAN's
	// saliency) by name, kept for the images above, with their own pixel
	// figures under per-map keys.
	extra map[string]*extraMaps
}

// extraMaps are one named map of the kept images and its pixel figures.
type extraMaps struct {
	maps   [][]float32
	stream *eval.PixelStream
	pixel  *eval.PixelMetrics
}

// pixelBudget bounds the pixels kept for the heatmap gallery, so scoring
// 512 px test sets does not hold gigabytes of maps. Pixel metrics stream
// every map instead (eval.PixelStream).
const pixelBudget = 1 << 23

// score scores items in order without augmentation.
func (x *Executor) score(ctx context.Context, d *runData, items []preprocess.Item, spec experiments.RunSpec, model nets.Model, keepMaps bool) (*scored, error) {
	wanted := map[string]bool{}
	for _, s := range spec.Model.ScoreNames() {
		wanted[s] = true
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	out := &scored{scores: map[string][]float64{}}
	px := spec.ImageSize * spec.ImageSize
	var stream *eval.PixelStream
	if keepMaps {
		stream = eval.NewPixelStream(spec.ImageSize, spec.ImageSize, preprocess.LabelRegions, d.spillDir)
		defer stream.Close()
	}
	defer func() {
		for _, e := range out.extra {
			e.stream.Close()
		}
	}()
	var streamErr error
	if sm, ok := model.(nets.SaliencyMapper); ok && keepMaps {
		// the discriminator's maps cost a backward pass: the test part only
		sm.SetSaliency(true)
		defer sm.SetSaliency(false)
	}
	for br := range d.pipe.Batches(ctx, items, order, make([]int64, len(items)), spec.BatchSize, "none") {
		if br.Err != nil {
			return nil, br.Err
		}
		sc, err := model.Score(toBatch(br, spec.ImageSize))
		if err != nil {
			return nil, err
		}
		for name, v := range sc.Scores {
			if wanted[name] {
				out.scores[name] = append(out.scores[name], v...)
			}
		}
		if !keepMaps || (sc.Maps == nil && len(sc.Extra) == 0) {
			continue
		}
		for _, name := range sortedKeys(sc.Extra) {
			if out.extra == nil {
				out.extra = map[string]*extraMaps{}
			}
			if out.extra[name] == nil {
				out.extra[name] = &extraMaps{stream: eval.NewPixelStream(spec.ImageSize, spec.ImageSize, preprocess.LabelRegions, d.spillDir)}
			}
		}
		for i, smp := range br.Samples {
			if smp.AnomalyMask != nil && streamErr == nil {
				if sc.Maps != nil {
					streamErr = stream.Add(sc.Maps[i*px:(i+1)*px], smp.AnomalyMask, smp.Mask)
				}
				for _, name := range sortedKeys(out.extra) {
					if streamErr == nil {
						streamErr = out.extra[name].stream.Add(sc.Extra[name][i*px:(i+1)*px], smp.AnomalyMask, smp.Mask)
					}
				}
			}
			if (len(out.images)+1)*px > pixelBudget || len(out.images) != br.Indices[i] {
				continue
			}
			out.images = append(out.images, smp.Image)
			if sc.Maps != nil {
				out.maps = append(out.maps, sc.Maps[i*px:(i+1)*px])
			}
			for name, e := range out.extra {
				e.maps = append(e.maps, sc.Extra[name][i*px:(i+1)*px])
			}
			out.masks = append(out.masks, smp.Mask)
			out.truth = append(out.truth, smp.AnomalyMask)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for name, v := range out.scores {
		if len(v) != len(items) {
			return nil, fmt.Errorf("score %s: got %d values for %d images", name, len(v), len(items))
		}
	}
	// A part without both classes, or a NaN map, has no pixel figures.
	if stream != nil && stream.Images() > 0 && streamErr == nil {
		if r, err := stream.Compute(0.3); err == nil {
			out.pixel = &r
		}
	}
	for _, e := range out.extra {
		if e.stream.Images() > 0 && streamErr == nil {
			if r, err := e.stream.Compute(0.3); err == nil {
				e.pixel = &r
			}
		}
	}
	return out, nil
}

func labelsOf(items []preprocess.Item) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it.Record.Label
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (x *Executor) evaluate(ctx context.Context, run *experiments.Run, spec experiments.RunSpec, d *runData, model nets.Model) error {
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: "scoring validation and test images"})
	final := map[string]float64{}
	parts := []struct {
		name  string
		items []preprocess.Item
	}{{"val", d.val}, {"test", d.test}}
	all := map[string]map[string][]float64{}
	var test *scored
	for _, p := range parts {
		sc, err := x.score(ctx, d, p.items, spec, model, p.name == "test")
		if err != nil {
			return fmt.Errorf("score %s images: %w", p.name, err)
		}
		all[p.name] = sc.scores
		test = sc
		if err := partMetrics(final, p.name, p.items, sc); err != nil {
			return err
		}
	}
	if err := x.drawRunFigures(ctx, run, spec, d.test, test); err != nil {
		return fmt.Errorf("draw figures: %w", err)
	}
	if err := x.writeScores(ctx, run, d.val, d.test, all); err != nil {
		return err
	}
	var head []string
	for _, name := range sortedKeys(all["test"]) {
		head = append(head, fmt.Sprintf("%s %.3f", name, final[eval.ScoreKey(eval.SplitTest, name, eval.AggImage, eval.MetricROCAUC).String()]))
	}
	x.hub.Publish(experiments.Event{Type: "progress", RunID: run.ID, ExperimentID: run.ExperimentID, Message: "test ROC-AUC: " + strings.Join(head, ", ")})
	return x.store.SetFinalMetrics(ctx, run.ID, final)
}

// partMetrics adds one part's figures to final: image-level ROC-AUC and AP
// and the scores' spread per score, study-level ROC-AUC (mean and max of a
// study's image scores), and pixel-level ROC-AUC and AUPRO where the data
// has true anomaly masks.
func partMetrics(final map[string]float64, part string, items []preprocess.Item, sc *scored) error {
	labels := labelsOf(items)
	studies := make([]string, len(items))
	for i, it := range items {
		studies[i] = it.Record.Study
	}
	for _, name := range sortedKeys(sc.scores) {
		v := sc.scores[name]
		auc, err := eval.ROCAUC(v, labels)
		if err != nil {
			return fmt.Errorf("%s ROC-AUC of %s: %w", part, name, err)
		}
		ap, err := eval.AveragePrecision(v, labels)
		if err != nil {
			return fmt.Errorf("%s average precision of %s: %w", part, name, err)
		}
		final[eval.ScoreKey(part, name, eval.AggImage, eval.MetricROCAUC).String()] = auc
		final[eval.ScoreKey(part, name, eval.AggImage, eval.MetricAP).String()] = ap
		// A score that no longer varies (a collapsed GAN) shows as std 0.
		final[eval.ScoreKey(part, name, eval.AggImage, eval.MetricStd).String()] = eval.Summarize(v).Std
		for _, agg := range []struct{ key, how string }{{eval.AggStudyMean, eval.StudyMean}, {eval.AggStudyMax, eval.StudyMax}} {
			sauc, err := eval.StudyROCAUC(studies, v, labels, agg.how)
			if err != nil {
				return fmt.Errorf("%s study-level ROC-AUC of %s: %w", part, name, err)
			}
			final[eval.ScoreKey(part, name, agg.key, eval.MetricROCAUC).String()] = sauc
		}
	}
	final[eval.RunKey(part, eval.MetricImages).String()] = float64(len(items))
	if p := sc.pixel; p != nil {
		final[eval.RunKey(part, eval.MetricPixelROCAUC).String()] = p.ROCAUC
		final[eval.RunKey(part, eval.MetricPixelAUPRO).String()] = p.AUPRO
		final[eval.RunKey(part, eval.MetricPixelImages).String()] = float64(p.Images)
	}
	for name, e := range sc.extra {
		if p := e.pixel; p != nil {
			final[eval.Key{Split: part, Map: name, Metric: eval.MetricPixelROCAUC}.String()] = p.ROCAUC
			final[eval.Key{Split: part, Map: name, Metric: eval.MetricPixelAUPRO}.String()] = p.AUPRO
			final[eval.Key{Split: part, Map: name, Metric: eval.MetricPixelImages}.String()] = float64(p.Images)
		}
	}
	return nil
}

// writeScores keeps every image's scores as CSV so anyone can recompute
// any figure with their own tools.
func (x *Executor) writeScores(ctx context.Context, run *experiments.Run, val, test []preprocess.Item, all map[string]map[string][]float64) error {
	t := &report.ScoreTable{Scores: sortedKeys(all["test"])}
	for _, p := range []struct {
		name  string
		items []preprocess.Item
	}{{"val", val}, {"test", test}} {
		for i, it := range p.items {
			r := it.Record
			row := report.ScoreRow{Part: p.name, Path: r.RelPath, Patient: r.Patient, Study: r.Study, View: r.View, Half: r.Half, Label: r.Label, Scores: map[string]float64{}}
			for _, n := range t.Scores {
				row.Scores[n] = all[p.name][n][i]
			}
			t.Rows = append(t.Rows, row)
		}
	}
	f, err := os.Create(filepath.Join(x.RunDir(run.ID), "scores.csv"))
	if err != nil {
		return fmt.Errorf("write scores: %w", err)
	}
	if err := t.WriteCSV(f); err != nil {
		f.Close()
		return fmt.Errorf("write scores: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write scores: %w", err)
	}
	return x.addArtifact(ctx, run.ID, "scores.csv", "scores")
}

// addArtifact records a file of the run's folder with its size and hash.
func (x *Executor) addArtifact(ctx context.Context, runID int64, name, kind string) error {
	f, err := os.Open(filepath.Join(x.RunDir(runID), name))
	if err != nil {
		return fmt.Errorf("record artifact %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("record artifact %s: %w", name, err)
	}
	return x.store.AddArtifact(ctx, &experiments.Artifact{RunID: runID, Name: name, Kind: kind, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
}

// runLog writes the stage messages and epoch ends of one run to its log
// file and passes every event on.
type runLog struct {
	next experiments.Publisher
	w    io.Writer
	mu   sync.Mutex
}

func (l *runLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", time.Now().UTC().Format("2006-01-02 15:04:05"), fmt.Sprintf(format, args...))
}

func (l *runLog) Publish(e experiments.Event) {
	switch {
	case e.Message != "":
		l.printf("%s", e.Message)
	case e.Type == "progress" && e.Batches > 0 && e.Batch == e.Batches:
		loss := ""
		if e.Loss != nil {
			loss = fmt.Sprintf(", loss %.6g", *e.Loss)
		}
		l.printf("epoch %d/%d done (%d batches%s)", e.Epoch, e.Epochs, e.Batches, loss)
	}
	l.next.Publish(e)
}
