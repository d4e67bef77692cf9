package preprocess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"gocv.io/x/gocv"
)

// Variant selects how much of the paper's offline preprocessing is applied.
type Variant string

const (
	VariantRaw  Variant = "raw"  // grey, resize, pad
	VariantCrop Variant = "crop" // carrier crop + hand localisation and split
	VariantFull Variant = "full" // crop + foreground mask (background zeroed, mask = loss mask)
)

// Augmentation policy names accepted by Load and Batches.
const (
	AugmentNone     = "none"
	AugmentDefault  = "default"
	AugmentAdvanced = "advanced"
)

// DefaultMinSide is the shortest image side Prepare accepts when
// PipelineOptions.MinSide is 0: smaller images cannot hold a usable hand.
const DefaultMinSide = 32

// PipelineOptions configures a Pipeline. Offline settings (Variant, GrabCut,
// Detector, MinSide) are part of the cache key; online ones are not.
type PipelineOptions struct {
	Variant  Variant
	HistEq   bool   // global histogram equalisation (online, before augmentation)
	CLAHE    bool   // use CLAHE instead of global HE when HistEq is on
	Size     int    // output is Size×Size
	Resize   string // online: ResizePad, ResizeFit, or "" (before policies: augment, then fit)
	CacheDir string // offline results cached here; "" = keep them in memory
	Workers  int    // goroutines for Prepare and the prefetcher; 0 = GOMAXPROCS
	Detector string // optional ONNX/TF detection model for hand localisation; "" = classical localiser

	// GrabCut refines the foreground mask of the full variant with GrabCut
	// (slower; see the README for its measured effect).
	GrabCut bool
	// MinSide is the shortest accepted image side in pixels (0 = DefaultMinSide).
	MinSide int
	// Prefetch is the number of batches Batches keeps ready ahead of the
	// consumer (0 = 2).
	Prefetch int
	// Files is where source images and anomaly masks are read (nil = the
	// OS; see RootFiles). Not part of the cache key: it changes where
	// bytes come from, not what is made of them.
	Files *Files
}

// Pipeline runs the offline steps (Prepare) and the online steps (Load,
// Batches). It is safe for concurrent use.
type Pipeline struct {
	opt      PipelineOptions
	workers  int
	minSide  int
	prefetch int
	settings string // offline settings, hashed into cache keys
	det      *dnnDetector
}

// Item is an offline-prepared image: one record (after a two-hand split, one
// record per hand with Record.Half set). Its pixels live in the cache
// (ImagePath, MaskPath, AnomalyPath) or, without a cache dir, in memory.
type Item struct {
	Record Record
	// Width and Height are the size of the offline image.
	Width, Height int
	// ImagePath is the cached 8-bit grey PNG ("" when held in memory).
	ImagePath string
	// MaskPath is the cached foreground mask (full variant; "" otherwise).
	MaskPath string
	// AnomalyPath is the cached anomaly mask aligned with the offline image
	// (when Record.MaskPath != "").
	AnomalyPath string
	// Carrier holds the carrier corners found in the source image (TL, TR,
	// BR, BL); nil for raw items and when the crop fell back.
	Carrier [][2]float64
	// FellBack says why the carrier crop used the whole image ("" if it did
	// not, or for raw items).
	FellBack string
	// Hands is the number of hands found in the source image (0 for raw).
	Hands int
	// Transform maps source pixel coordinates to this item's pixel
	// coordinates (3×3 homography, row-major).
	Transform [9]float64

	img, mask, anomaly []byte // in-memory pixels when there is no cache dir
}

// PrepareReport summarises a Prepare call.
type PrepareReport struct {
	Images        int // records given
	Items         int // items produced (two per split image)
	Skipped       int // records skipped; see Skips
	FellBack      int // images whose carrier crop fell back to the whole image
	TwoHandSplits int // images cut into two single-hand items
	CacheHits     int // images whose offline result came from the cache
	CacheMisses   int // images processed now
	Skips         []Skip
}

// NewPipeline validates the options and, when a detector model is given,
// loads it.
func NewPipeline(o PipelineOptions) (*Pipeline, error) {
	switch o.Variant {
	case VariantRaw, VariantCrop, VariantFull:
	case "":
		return nil, errors.New("preprocess: options: Variant is empty (want raw, crop or full)")
	default:
		return nil, fmt.Errorf("preprocess: options: unknown Variant %q (want raw, crop or full)", o.Variant)
	}
	if o.Size < 1 {
		return nil, fmt.Errorf("preprocess: options: Size %d must be positive", o.Size)
	}
	if err := validResize(o.Resize); err != nil {
		return nil, err
	}
	if o.Workers < 0 {
		return nil, fmt.Errorf("preprocess: options: Workers %d is negative", o.Workers)
	}
	if o.MinSide < 0 {
		return nil, fmt.Errorf("preprocess: options: MinSide %d is negative", o.MinSide)
	}
	if o.Prefetch < 0 {
		return nil, fmt.Errorf("preprocess: options: Prefetch %d is negative", o.Prefetch)
	}
	if o.CLAHE && !o.HistEq {
		return nil, errors.New("preprocess: options: CLAHE needs HistEq (CLAHE replaces the global equalisation)")
	}
	if o.Variant == VariantRaw && (o.Detector != "" || o.GrabCut) {
		return nil, errors.New("preprocess: options: Detector and GrabCut apply to the crop and full variants, not raw")
	}
	p := &Pipeline{opt: o, workers: o.Workers, minSide: o.MinSide, prefetch: o.Prefetch}
	if p.workers == 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	if p.minSide == 0 {
		p.minSide = DefaultMinSide
	}
	if p.prefetch == 0 {
		p.prefetch = 2
	}
	if o.CacheDir != "" {
		if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("preprocess: options: CacheDir: %w", err)
		}
	}
	detKey := ""
	if o.Detector != "" {
		d, err := loadDetector(o.Detector)
		if err != nil {
			return nil, err
		}
		p.det = d
		detKey = d.hash
	}
	p.settings = fmt.Sprintf("%s|variant=%s|grabcut=%t|minside=%d|detector=%s",
		offlineVersion, o.Variant, o.GrabCut, p.minSide, detKey)
	return p, nil
}

// Options returns the options the pipeline was built with.
func (p *Pipeline) Options() PipelineOptions { return p.opt }

// Close releases the detector model, if any.
func (p *Pipeline) Close() error {
	if p.det != nil {
		return p.det.Close()
	}
	return nil
}

// Prepare runs the offline steps over recs in parallel, reading results from
// the cache where the same file was processed with the same settings. Items
// come back in record order. A single bad image is skipped and reported; only
// cache write failures and cancellation are errors. progress, when not nil,
// is called from one goroutine after each record.
func (p *Pipeline) Prepare(ctx context.Context, recs []Record, progress func(done, total int)) ([]Item, *PrepareReport, error) {
	type result struct {
		i   int
		out *offlineResult
		hit bool
		err error
	}
	jobs := make(chan int)
	results := make(chan result)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < p.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out, hit, err := p.prepareOne(recs[i])
				select {
				case results <- result{i, out, hit, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range recs {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	outs := make([]*offlineResult, len(recs))
	rep := &PrepareReport{Images: len(recs)}
	done := 0
	for done < len(recs) {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if r.err != nil {
			return nil, nil, r.err
		}
		outs[r.i] = r.out
		if r.hit {
			rep.CacheHits++
		} else {
			rep.CacheMisses++
		}
		done++
		if progress != nil {
			progress(done, len(recs))
		}
	}
	var items []Item
	for i, o := range outs {
		if o.Skip != "" {
			rep.Skipped++
			rep.Skips = append(rep.Skips, Skip{Path: recs[i].Path, Reason: o.Skip})
			continue
		}
		if o.FellBack != "" {
			rep.FellBack++
		}
		if len(o.Items) == 2 {
			rep.TwoHandSplits++
		}
		items = append(items, o.Items...)
	}
	rep.Items = len(items)
	return items, rep, nil
}

// prepareOne returns the offline result for one record, from the cache when
// possible. Per-image problems become offlineResult.Skip; the error is kept
// for failures that are not the image's fault (cache I/O).
func (p *Pipeline) prepareOne(rec Record) (*offlineResult, bool, error) {
	data, err := p.opt.Files.ReadFile(rec.Path)
	if err != nil {
		return &offlineResult{Skip: "cannot read file: " + err.Error()}, false, nil
	}
	var anomalyData []byte
	if rec.MaskPath != "" {
		if anomalyData, err = p.opt.Files.ReadFile(rec.MaskPath); err != nil {
			return &offlineResult{Skip: "cannot read anomaly mask: " + err.Error()}, false, nil
		}
	}
	key := p.cacheKey(data, anomalyData)
	if p.opt.CacheDir != "" {
		if out, ok := p.cacheLoad(key, rec); ok {
			return out, true, nil
		}
	}
	out := p.process(rec, data, anomalyData)
	if p.opt.CacheDir != "" {
		if err := p.cacheStore(key, rec, out); err != nil {
			return nil, false, err
		}
	}
	return out, false, nil
}

// offlineResult is what the offline steps make of one source image.
type offlineResult struct {
	Skip     string // non-empty: the image was skipped for this reason
	FellBack string
	Items    []Item
}

// process runs the offline steps on one decoded image. Items keep their
// pixels in memory; cacheStore moves them to disk.
func (p *Pipeline) process(rec Record, data, anomalyData []byte) *offlineResult {
	grey, err := decodeGrey(data, p.minSide)
	if err != nil {
		return &offlineResult{Skip: err.Error()}
	}
	defer grey.Close()
	anomaly := gocv.NewMat()
	defer anomaly.Close()
	if anomalyData != nil {
		a, err := decodeMask(anomalyData, grey.Cols(), grey.Rows())
		if err != nil {
			return &offlineResult{Skip: "anomaly mask: " + err.Error()}
		}
		anomaly.Close()
		anomaly = a
	}
	if p.opt.Variant == VariantRaw {
		it := Item{Record: rec, Width: grey.Cols(), Height: grey.Rows(), Transform: identity3()}
		it.img = matBytes(grey)
		if !anomaly.Empty() {
			it.anomaly = matBytes(anomaly)
		}
		return &offlineResult{Items: []Item{it}}
	}
	return p.cropAndMask(rec, grey, anomaly)
}

// identity3 is the 3×3 identity homography.
func identity3() [9]float64 { return [9]float64{1, 0, 0, 0, 1, 0, 0, 0, 1} }

// matBytes copies a continuous 8-bit Mat's pixels into Go memory.
func matBytes(m gocv.Mat) []byte {
	b, err := m.DataPtrUint8()
	if err != nil { // not continuous: clone makes it so
		c := m.Clone()
		defer c.Close()
		b, _ = c.DataPtrUint8()
	}
	return append([]byte(nil), b...)
}

// matFromBytes builds an 8-bit single-channel Mat holding a copy of b, so
// the Mat never points into Go memory.
func matFromBytes(w, h int, b []byte) (gocv.Mat, error) {
	if len(b) != w*h {
		return gocv.NewMat(), fmt.Errorf("pixel buffer holds %d bytes, want %d×%d", len(b), w, h)
	}
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8U)
	dst, err := m.DataPtrUint8()
	if err != nil {
		m.Close()
		return gocv.NewMat(), err
	}
	copy(dst, b)
	return m, nil
}
