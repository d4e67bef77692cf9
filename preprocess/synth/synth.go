// Package synth generates synthetic hand radiographs in MURA's layout, with
// pixel ground truth (anomaly masks, hand silhouettes, carrier corners) that
// real MURA lacks, for the preprocess pipeline and the experiments to run on.
// The same options always give the same bytes.
package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Version names the generator's drawing code. Change it whenever the
// same seed would give other pixels, so a dataset records what made it.
const Version = "xraylab-synth/2"

// FilmVersion names the drawing code of film-like datasets (Options.Film):
// the film option came with xraylab-synth/3, and datasets without it are
// still exactly what Version drew. 4: exposure fields run in from an image
// edge, with softer edges and a step scaled with the hand's contrast.
const FilmVersion = "xraylab-synth/4"

// Options configures Generate.
type Options struct {
	Out        string `json:"-"`          // the folder that receives MURA-v1.1/ and MURA-v1.1-truth/
	Patients   int    `json:"patients"`   // number of patients, train and valid together
	Size       int    `json:"size"`       // longer image side in pixels; 0 means 512
	Seed       int64  `json:"seed"`       // everything drawn follows from it
	Difficulty string `json:"difficulty"` // "easy", "medium" (default) or "hard"
	// Film draws film-like radiographs, as MURA's are: dark, graded or
	// bright backgrounds, collimation fields, scan borders and edge
	// glows, padding, letter markers, calibration wedges, low-contrast
	// exposures; and subtler anomalies (hairline fractures, small
	// lesions) beside the other kinds.
	Film    bool `json:"film,omitempty"`
	Workers int  `json:"-"` // parallel renderers; 0 means GOMAXPROCS. Does not change the output.
}

// Report says what Generate wrote.
type Report struct {
	Root            string         `json:"root"`       // Out/MURA-v1.1
	TruthRoot       string         `json:"truth_root"` // Out/MURA-v1.1-truth
	Patients        int            `json:"patients"`
	TrainPatients   int            `json:"train_patients"`
	ValidPatients   int            `json:"valid_patients"`
	Studies         int            `json:"studies"`
	PositiveStudies int            `json:"positive_studies"`
	Images          int            `json:"images"`
	PositiveImages  int            `json:"positive_images"`  // images of positive studies
	AnomalousImages int            `json:"anomalous_images"` // images whose anomaly mask is not empty
	Kinds           map[string]int `json:"kinds"`            // anomalous images per kind
}

// Share of MURA's hand studies that are positive (521 of 2,018), and of
// patients that sit in its valid folder.
const (
	positiveStudyShare = 521.0 / 2018
	validPatientShare  = 0.15
)

type planImage struct {
	job  imageJob
	rel  string // dataset-relative path of the PNG
	part string
}

type planStudy struct {
	dir      string // dataset-relative study folder
	positive bool
}

type synthPlan struct {
	images  []planImage
	studies []planStudy
	train   int
	valid   int
}

func (o *Options) normalize() error {
	if o.Out == "" {
		return errors.New("synth: no output folder given")
	}
	if o.Patients < 1 {
		return fmt.Errorf("synth: patients = %d, want at least 1", o.Patients)
	}
	if o.Size == 0 {
		o.Size = 512
	}
	if o.Size < 64 || o.Size > 4096 {
		return fmt.Errorf("synth: size = %d, want 64 to 4096 pixels", o.Size)
	}
	if o.Difficulty == "" {
		o.Difficulty = "medium"
	}
	if _, ok := difficulties[o.Difficulty]; !ok {
		return fmt.Errorf("synth: difficulty %q, want easy, medium or hard", o.Difficulty)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// plan draws everything above the pixel level from one sequential stream:
// patients, studies, views, labels and each positive study's pathology.
func plan(o Options) synthPlan {
	r := rand.New(rand.NewSource(o.Seed))
	diff := difficulties[o.Difficulty]
	nValid := int(math.Round(validPatientShare * float64(o.Patients)))
	if o.Patients < 4 {
		nValid = 0
	}
	p := synthPlan{train: o.Patients - nValid, valid: nValid}

	type study struct {
		patient, k, images int
		positive           bool
	}
	var studies []study
	for pid := 1; pid <= o.Patients; pid++ {
		ns := 1
		switch u := r.Float64(); {
		case u < 0.04:
			ns = 3
		case u < 0.15:
			ns = 2
		}
		for k := 1; k <= ns; k++ {
			ni := 3
			switch u := r.Float64(); {
			case u < 0.08:
				ni = 1
			case u < 0.33:
				ni = 2
			case u < 0.83:
				ni = 3
			default:
				ni = 4
			}
			studies = append(studies, study{patient: pid, k: k, images: ni})
		}
	}
	// An exact share of positive studies (at least one when there are two
	// or more), so small datasets still have both classes.
	nPos := int(math.Round(positiveStudyShare * float64(len(studies))))
	if nPos == 0 && len(studies) >= 2 {
		nPos = 1
	}
	for _, i := range r.Perm(len(studies))[:nPos] {
		studies[i].positive = true
	}

	idx := 0
	for si, s := range studies {
		part := "train"
		if s.patient > p.train {
			part = "valid"
		}
		suffix := "negative"
		if s.positive {
			suffix = "positive"
		}
		dir := fmt.Sprintf("%s/XR_HAND/patient%05d/study%d_%s", part, s.patient, s.k, suffix)
		p.studies = append(p.studies, planStudy{dir: dir, positive: s.positive})
		var spec *anomalySpec
		shows := make([]bool, s.images)
		if s.positive {
			sr := rand.New(rand.NewSource(mix64(o.Seed, uint64(1<<40+si))))
			kind := AnomalyKinds[pickWeighted(sr, []float64{0.3, 0.3, 0.2, 0.2})]
			if o.Film {
				// Half the fractures and lesions are the subtle kind; a
				// stream of their own keeps the other draws.
				fr := rand.New(rand.NewSource(mix64(o.Seed, uint64(1<<41+si))))
				if u := fr.Float64(); u < 0.5 && kind == KindFracture {
					kind = KindHairline
				} else if u < 0.5 && kind == KindLesion {
					kind = KindSmallLesion
				}
			}
			spec = newAnomalySpec(sr, kind, diff)
			// Most views show the pathology; some miss it, but never all.
			any := false
			for i := range shows {
				shows[i] = s.images == 1 || sr.Float64() < diff.Show
				any = any || shows[i]
			}
			if !any {
				shows[sr.Intn(len(shows))] = true
			}
		}
		for v := 1; v <= s.images; v++ {
			job := imageJob{
				Seed:        mix64(o.Seed, uint64(idx)),
				PatientSeed: mix64(o.Seed, uint64(1<<32+s.patient)),
				Size:        o.Size,
				Film:        o.Film,
			}
			if s.positive {
				job.Label = 1
				if shows[v-1] {
					job.Anomaly = spec
				}
			}
			p.images = append(p.images, planImage{job: job, rel: fmt.Sprintf("%s/image%d.png", dir, v), part: part})
			idx++
		}
	}
	return p
}

// version is the generator version that draws opts.
func version(o Options) string {
	if o.Film {
		return FilmVersion
	}
	return Version
}

func pickWeighted(r *rand.Rand, w []float64) int {
	u := r.Float64()
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// Generate writes a synthetic hand-radiograph dataset in MURA's layout:
// Out/MURA-v1.1/{train,valid}/XR_HAND/patientNNNNN/studyK_{positive,negative}/imageM.png
// with both CSVs per part and synthetic.json (the options and generator
// version), and beside it Out/MURA-v1.1-truth/ mirroring the relative paths
// with imageM_anomaly.png (255 on anomalous pixels), imageM_hand.png (the
// hand silhouette) and imageM.json (carrier corners, hands, anomalies,
// distractors). The bytes depend only on the options other than Workers.
// progress, if not nil, is called from the calling goroutine after each image.
func Generate(ctx context.Context, opts Options, progress func(done, total int)) (*Report, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	root := filepath.Join(opts.Out, "MURA-v1.1")
	truthRoot := root + "-truth"
	for _, d := range []string{root, truthRoot} {
		if _, err := os.Stat(d); err == nil {
			return nil, fmt.Errorf("synth: %s already exists; choose another --out or remove it", d)
		}
	}
	p := plan(opts)

	rep := &Report{Root: root, TruthRoot: truthRoot, Patients: opts.Patients, TrainPatients: p.train,
		ValidPatients: p.valid, Studies: len(p.studies), Images: len(p.images), Kinds: map[string]int{}}
	for _, s := range p.studies {
		for _, base := range []string{root, truthRoot} {
			if err := os.MkdirAll(filepath.Join(base, filepath.FromSlash(s.dir)), 0o755); err != nil {
				return nil, fmt.Errorf("synth: %w", err)
			}
		}
		if s.positive {
			rep.PositiveStudies++
		}
	}
	if err := writeCSVs(root, p); err != nil {
		return nil, err
	}
	meta, _ := json.MarshalIndent(struct {
		Generator string  `json:"generator"`
		Options   Options `json:"options"`
		BodyPart  string  `json:"body_part"`
	}{version(opts), opts, "XR_HAND"}, "", "  ")
	if err := os.WriteFile(filepath.Join(root, "synthetic.json"), append(meta, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		truth imageTruth
		err   error
	}
	jobs := make(chan int)
	results := make(chan result)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := &synthScratch{}
			pw := &pngWriter{}
			var out rendered // reused: written out before the next image
			var js bytes.Buffer
			for i := range jobs {
				im := p.images[i]
				sc.renderTo(im.job, &out)
				err := writeRendered(pw, &js, root, truthRoot, im.rel, &out)
				select {
				case results <- result{out.Truth, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range p.images {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	var firstErr error
	done := 0
	for res := range results {
		if res.err != nil && firstErr == nil {
			firstErr = res.err
			cancel()
		}
		if firstErr != nil {
			continue
		}
		done++
		if res.truth.Label == 1 {
			rep.PositiveImages++
		}
		for _, a := range res.truth.Anomalies {
			rep.Kinds[a.Kind]++
		}
		if len(res.truth.Anomalies) > 0 {
			rep.AnomalousImages++
		}
		if progress != nil {
			progress(done, len(p.images))
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil && done < len(p.images) {
		return nil, fmt.Errorf("synth: stopped after %d of %d images: %w", done, len(p.images), err)
	}
	return rep, nil
}

func writeCSVs(root string, p synthPlan) error {
	for _, part := range []string{"train", "valid"} { // MURA's parts, as plan names them
		var imgs, studies bytes.Buffer
		for _, im := range p.images {
			if im.part == part {
				fmt.Fprintf(&imgs, "MURA-v1.1/%s\n", im.rel)
			}
		}
		for _, s := range p.studies {
			if strings.HasPrefix(s.dir, part+"/") {
				label := 0
				if s.positive {
					label = 1
				}
				fmt.Fprintf(&studies, "MURA-v1.1/%s/,%d\n", s.dir, label)
			}
		}
		if err := os.MkdirAll(filepath.Join(root, part, "XR_HAND"), 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		for name, b := range map[string]*bytes.Buffer{part + "_image_paths.csv": &imgs, part + "_labeled_studies.csv": &studies} {
			if err := os.WriteFile(filepath.Join(root, name), b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("synth: %w", err)
			}
		}
	}
	return nil
}

// writeRendered writes one image's PNG, both masks and its truth JSON;
// pw and js are the worker's reusable encoders.
func writeRendered(pw *pngWriter, js *bytes.Buffer, root, truthRoot, rel string, out *rendered) error {
	stem := strings.TrimSuffix(rel, ".png")
	ip := filepath.Join(root, filepath.FromSlash(rel))
	b, err := pw.encode(out.Gray, out.W, out.H, out.Channels)
	if err != nil {
		return fmt.Errorf("synth: encoding %s: %w", ip, err)
	}
	if err := os.WriteFile(ip, b, 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for _, m := range [...]struct {
		suffix string
		pix    []uint8
	}{{"_anomaly.png", out.Anom}, {"_hand.png", out.Hand}} {
		path := filepath.Join(truthRoot, filepath.FromSlash(stem+m.suffix))
		b, err := pw.encodeMask(m.pix, out.W, out.H)
		if err != nil {
			return fmt.Errorf("synth: encoding %s: %w", path, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	// Same bytes as json.MarshalIndent plus a newline.
	js.Reset()
	enc := json.NewEncoder(js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out.Truth); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	jp := filepath.Join(truthRoot, filepath.FromSlash(stem+".json"))
	if err := os.WriteFile(jp, js.Bytes(), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
