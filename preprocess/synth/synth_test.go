package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"xraylab/preprocess"
)

// A small synthetic dataset shared by the tests below: 60 patients at
// 96 px generate in well under a second.
var (
	synthOnce sync.Once
	synthDir  string
	synthRep  *Report
	synthErr  error
)

const testPatients, testSize, testSeed = 60, 96, 7

func sharedSynth(t *testing.T) (string, *Report) {
	t.Helper()
	synthOnce.Do(func() {
		synthDir, synthErr = os.MkdirTemp("", "xraylab-synth-test")
		if synthErr != nil {
			return
		}
		synthRep, synthErr = Generate(context.Background(), Options{
			Out: synthDir, Patients: testPatients, Size: testSize, Seed: testSeed, Workers: 2,
		}, nil)
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthDir, synthRep
}

func TestMain(m *testing.M) {
	code := m.Run()
	if synthDir != "" {
		os.RemoveAll(synthDir)
	}
	os.Exit(code)
}

// treeFiles reads every file under dir, keyed by relative path.
func treeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSynthesizeDeterministic(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, seed int64, workers int) map[string][]byte {
		out := filepath.Join(dir, name)
		calls := 0
		rep, err := Generate(context.Background(), Options{Out: out, Patients: 12, Size: 80, Seed: seed, Workers: workers},
			func(done, total int) {
				calls++
				if done != calls || total <= 0 {
					t.Errorf("progress(%d, %d) on call %d", done, total, calls)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		if calls != rep.Images {
			t.Errorf("progress called %d times for %d images", calls, rep.Images)
		}
		return treeFiles(t, out)
	}
	a := gen("a", 3, 1)
	b := gen("b", 3, 3) // worker count must not change a byte
	c := gen("c", 4, 2)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d files", len(a), len(b))
	}
	for p, data := range a {
		if !bytes.Equal(data, b[p]) {
			t.Fatalf("%s differs between two runs with seed 3", p)
		}
	}
	// Another seed: different images, even at paths both runs share.
	same, shared := 0, 0
	for p, data := range a {
		if strings.HasSuffix(p, ".png") && !strings.Contains(p, "truth") {
			if other, ok := c[p]; ok {
				shared++
				if bytes.Equal(data, other) {
					same++
				}
			}
		}
	}
	if shared == 0 || same != 0 {
		t.Errorf("seed 4 vs 3: %d of %d shared image paths identical", same, shared)
	}
}

func TestSynthesizeRoundTrip(t *testing.T) {
	dir, rep := sharedSynth(t)
	root := filepath.Join(dir, "MURA-v1.1")
	ds, err := preprocess.LoadMURA(root, preprocess.LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	if ds.MaskRoot != root+"-truth" || len(ds.Skipped) != 0 {
		t.Fatalf("mask root %q (want auto-detected), skipped %v", ds.MaskRoot, ds.Skipped)
	}
	if len(ds.Records) != rep.Images || rep.Images != synthImagesOnDisk(t, root) {
		t.Fatalf("loaded %d, report %d", len(ds.Records), rep.Images)
	}
	patients := map[string]string{}
	studies := map[string]int{}
	posImages := 0
	for _, r := range ds.Records {
		patients[r.Patient] = r.Part
		studies[r.Study] = r.Label
		posImages += r.Label
		if r.MaskPath == "" {
			t.Fatalf("%s has no mask", r.RelPath)
		}
	}
	nValid := 0
	for _, part := range patients {
		if part == "valid" {
			nValid++
		}
	}
	if len(patients) != testPatients || nValid != rep.ValidPatients || nValid != 9 { // 15% of 60
		t.Errorf("%d patients, %d valid (report %d)", len(patients), nValid, rep.ValidPatients)
	}
	posStudies := 0
	for _, l := range studies {
		posStudies += l
	}
	if len(studies) != rep.Studies || posStudies != rep.PositiveStudies || posImages != rep.PositiveImages {
		t.Errorf("studies %d/%d positive %d/%d images %d/%d", len(studies), rep.Studies, posStudies, rep.PositiveStudies, posImages, rep.PositiveImages)
	}
	// About a quarter of studies positive, as in MURA's hands (521/2018).
	if want := int(math.Round(positiveStudyShare * float64(len(studies)))); posStudies != want {
		t.Errorf("%d of %d studies positive, want %d", posStudies, len(studies), want)
	}
	if len(studies) < testPatients || len(studies) > 3*testPatients || len(ds.Records) < len(studies) || len(ds.Records) > 4*len(studies) {
		t.Errorf("%d patients, %d studies, %d images: outside 1–3 studies of 1–4 images", testPatients, len(studies), len(ds.Records))
	}
	// Valid patients are numbered after train patients, as in MURA.
	for p, part := range patients {
		if (part == "valid") != (p > "00051") {
			t.Errorf("patient %s in %s", p, part)
		}
	}

	// The split on generated data is checked in preprocess (TestSplitSynthetic).

	// synthetic.json records the options and the generator.
	var meta struct {
		Generator string  `json:"generator"`
		Options   Options `json:"options"`
	}
	b, err := os.ReadFile(filepath.Join(root, "synthetic.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Generator != Version || meta.Options.Seed != testSeed || meta.Options.Size != testSize ||
		meta.Options.Patients != testPatients || meta.Options.Difficulty != "medium" {
		t.Errorf("synthetic.json = %s", b)
	}
}

func synthImagesOnDisk(t *testing.T, root string) int {
	n := 0
	for p := range treeFiles(t, root) {
		if strings.HasSuffix(p, ".png") {
			n++
		}
	}
	return n
}

func readMask(t *testing.T, p string) *image.Gray {
	t.Helper()
	g, err := preprocess.ReadGray(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Pix {
		if v != 0 && v != 255 {
			t.Fatalf("%s: value %d in a binary mask", p, v)
		}
	}
	return g
}

func TestSynthesizeMasksAndTruth(t *testing.T) {
	dir, rep := sharedSynth(t)
	root := filepath.Join(dir, "MURA-v1.1")
	ds, err := preprocess.LoadMURA(root, preprocess.LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	studyShown := map[string]bool{}
	kinds := map[string]int{}
	channels := map[int]int{}
	twoHands := 0
	for _, r := range ds.Records {
		img, err := preprocess.ReadGray(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		anom := readMask(t, r.MaskPath)
		hand := readMask(t, strings.TrimSuffix(r.MaskPath, "_anomaly.png")+"_hand.png")
		var tr imageTruth
		b, err := os.ReadFile(strings.TrimSuffix(r.MaskPath, "_anomaly.png") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if max(w, h) != testSize || min(w, h) < 160*testSize/512 || tr.Width != w || tr.Height != h {
			t.Errorf("%s: %dx%d, truth %dx%d", r.RelPath, w, h, tr.Width, tr.Height)
		}
		if anom.Bounds() != img.Bounds() || hand.Bounds() != img.Bounds() {
			t.Fatalf("%s: mask sizes differ from the image", r.RelPath)
		}
		cfg := channelsOf(t, r.Path)
		channels[cfg]++
		if tr.Channels != cfg {
			t.Errorf("%s: truth says %d channels, file has %d", r.RelPath, tr.Channels, cfg)
		}
		anomPix, handPix := 0, 0
		for i := range anom.Pix {
			if hand.Pix[i] != 0 {
				handPix++
			}
			if anom.Pix[i] != 0 {
				anomPix++
				if hand.Pix[i] == 0 {
					t.Fatalf("%s: anomalous pixel %d outside the hand", r.RelPath, i)
				}
			}
		}
		if handPix < len(hand.Pix)/20 {
			t.Errorf("%s: hand covers only %d of %d pixels", r.RelPath, handPix, len(hand.Pix))
		}
		if r.Label == 0 && anomPix != 0 {
			t.Errorf("%s: normal image with %d anomalous pixels", r.RelPath, anomPix)
		}
		if (anomPix > 0) != (len(tr.Anomalies) > 0) || (anomPix > 0 && tr.Anomalies[0].Pixels != anomPix) {
			t.Errorf("%s: mask has %d pixels, truth %+v", r.RelPath, anomPix, tr.Anomalies)
		}
		if anomPix > 0 {
			studyShown[r.Study] = true
			kinds[tr.Anomalies[0].Kind]++
		}
		if tr.NumHands != len(tr.Hands) || tr.Label != r.Label {
			t.Errorf("%s: truth %+v", r.RelPath, tr)
		}
		if tr.NumHands == 2 {
			twoHands++
		}
	}
	// Every positive study shows its anomaly in at least one view, and
	// some views miss it.
	for _, r := range ds.Records {
		if r.Label == 1 && !studyShown[r.Study] {
			t.Errorf("positive study %s shows no anomaly in any view", r.Study)
		}
	}
	if rep.AnomalousImages >= rep.PositiveImages || rep.AnomalousImages < rep.PositiveImages/2 {
		t.Errorf("%d of %d positive images show the anomaly: want most but not all", rep.AnomalousImages, rep.PositiveImages)
	}
	for _, k := range AnomalyKinds {
		if kinds[k] == 0 || kinds[k] != rep.Kinds[k] {
			t.Errorf("kind %s: %d images (report %d)", k, kinds[k], rep.Kinds[k])
		}
	}
	if channels[1] == 0 || channels[3] == 0 {
		t.Errorf("channels %v: want both grey and RGB files", channels)
	}
	if twoHands == 0 {
		t.Error("no image with two hands")
	}
}

// channelsOf reads a PNG's header: 1 for grey, 3 for RGB.
func channelsOf(t *testing.T, p string) int {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	switch cfg.ColorModel {
	case color.GrayModel:
		return 1
	case color.RGBAModel:
		return 3
	}
	t.Fatalf("%s: unexpected colour model %T", p, cfg.ColorModel)
	return 0
}

// Rendering the same image with and without its anomaly must change pixels
// only at the anomaly (plus the blur's reach, and the smooth union's for a
// swelling), and change them in the expected direction.
func TestAnomalyRendering(t *testing.T) {
	// The pathology alone: the swelling around fractures and lesions is
	// checked in TestSwellingAroundAndSupport.
	d := difficulties["medium"]
	d.Swell = 0
	cases := []struct {
		spec anomalySpec
		sign float64 // +1 brighter, −1 darker inside the mask
	}{
		{anomalySpec{Kind: KindHardware, Sub: "pin", Site: "middle-proximal", T: 0.5, Side: 1}, 1},
		{anomalySpec{Kind: KindHardware, Sub: "screw", Site: "index-metacarpal", T: 0.5, Side: 1}, 1},
		{anomalySpec{Kind: KindHardware, Sub: "plate", Site: "ring-metacarpal", T: 0.5, Side: -1}, 1},
		{anomalySpec{Kind: KindFracture, Site: "middle-metacarpal", T: 0.5, Angle: 0.3, Side: 1}, -1},
		{anomalySpec{Kind: KindLesion, Sub: "lucent", Site: "middle-proximal", T: 0.5, Side: 1}, -1},
		{anomalySpec{Kind: KindLesion, Sub: "sclerotic", Site: "index-metacarpal", T: 0.5, Side: 1}, 1},
		{anomalySpec{Kind: KindSwelling, Site: "middle-proximal-joint", T: 0.5, Side: 1}, 1},
	}
	sc := &synthScratch{}
	for i, tc := range cases {
		name := tc.spec.Kind + "/" + tc.spec.Sub
		t.Run(name, func(t *testing.T) {
			spec := tc.spec
			spec.Diff = d
			// Seeds whose first hand is single and upright enough to show the site.
			job := imageJob{Seed: mix64(100, uint64(i)), PatientSeed: 5, Size: 256, Label: 1}
			base := sc.render(job)
			job.Anomaly = &spec
			withA := sc.render(job)
			if len(withA.Truth.Anomalies) != 1 || withA.Truth.Anomalies[0].Kind != spec.Kind {
				t.Fatalf("truth anomalies %+v", withA.Truth.Anomalies)
			}
			reach := int(math.Ceil(2.5*1.2*256/512)) + 1
			if spec.Kind == KindSwelling {
				reach += 12
			}
			allowed := dilate(withA.Anom, withA.W, withA.H, reach)
			var inside, n float64
			for p := range base.Gray {
				diff := float64(withA.Gray[p]) - float64(base.Gray[p])
				if !allowed[p] && diff != 0 {
					t.Fatalf("pixel (%d,%d) changed by %v, %d px from the anomaly mask", p%base.W, p/base.W, diff, reach)
				}
				if withA.Anom[p] != 0 {
					inside += diff
					n++
				}
			}
			if mean := inside / n; mean*tc.sign < 3 {
				t.Errorf("mean change inside the mask %.1f grey levels, want at least 3 with sign %+.0f", mean, tc.sign)
			}
		})
	}
}

func dilate(m []uint8, w, h, r int) []bool {
	out := make([]bool, len(m))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if m[y*w+x] == 0 {
				continue
			}
			for yy := max(0, y-r); yy <= min(h-1, y+r); yy++ {
				for xx := max(0, x-r); xx <= min(w-1, x+r); xx++ {
					out[yy*w+xx] = true
				}
			}
		}
	}
	return out
}

// Harder settings must make anomalies smaller or fainter.
func TestDifficultyScalesAnomalies(t *testing.T) {
	sc := &synthScratch{}
	area := map[string]int{}
	for _, level := range []string{"easy", "hard"} {
		for i := 0; i < 6; i++ {
			spec := anomalySpec{Kind: KindLesion, Sub: "lucent", Site: "middle-metacarpal", T: 0.5, Side: 1, Diff: difficulties[level]}
			out := sc.render(imageJob{Seed: mix64(9, uint64(i)), PatientSeed: 3, Size: 256, Label: 1, Anomaly: &spec})
			for _, a := range out.Truth.Anomalies {
				area[level] += a.Pixels
			}
		}
	}
	if area["hard"] == 0 || area["easy"] < 2*area["hard"] {
		t.Errorf("lesion area easy %d, hard %d: want easy well above hard", area["easy"], area["hard"])
	}
}

// The grey levels of generated images against the real radiographs in
// shared/data/real-hands: the hand's median above the background, and the
// spread from median to the 90th percentile (bone over soft tissue).
func TestSynthGreyLevelsMatchRealHands(t *testing.T) {
	realDir := filepath.Join("..", "..", "..", "shared", "data", "real-hands")
	files, _ := filepath.Glob(filepath.Join(realDir, "*.png"))
	if len(files) == 0 {
		t.Skipf("no real hand radiographs in %s", realDir)
	}
	pct := func(v []int, p float64) float64 { return float64(v[int(p*float64(len(v)-1))]) }
	var realLift, realSpread []float64
	for _, f := range files {
		g, err := preprocess.ReadGray(f)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]int, len(g.Pix))
		for i, x := range g.Pix {
			v[i] = int(x)
		}
		sort.Ints(v)
		// These are tightly cropped: the darkest fifth is background and
		// the hand is what stands 45 levels above it.
		bg := pct(v, 0.2)
		var hand []int
		for _, x := range v {
			if float64(x) > bg+45 {
				hand = append(hand, x)
			}
		}
		realLift = append(realLift, pct(hand, 0.5)-bg)
		realSpread = append(realSpread, pct(hand, 0.9)-pct(hand, 0.5))
	}
	sc := &synthScratch{}
	var lift, spread float64
	const n = 12
	for i := 0; i < n; i++ {
		out := sc.render(imageJob{Seed: mix64(77, uint64(i)), PatientSeed: mix64(78, uint64(i)), Size: 256})
		var bgv, hand []int
		for p, x := range out.Gray {
			switch {
			case out.Hand[p] != 0:
				hand = append(hand, int(x))
			case x > 35: // inside the carrier
				bgv = append(bgv, int(x))
			}
		}
		sort.Ints(bgv)
		sort.Ints(hand)
		lift += (pct(hand, 0.5) - pct(bgv, 0.5)) / n
		spread += (pct(hand, 0.9) - pct(hand, 0.5)) / n
	}
	lo, hi := minMax(realLift)
	if lift < lo-20 || lift > hi+20 {
		t.Errorf("hand median %.0f above background; real hands %.0f–%.0f", lift, lo, hi)
	}
	lo, hi = minMax(realSpread)
	if spread < lo-15 || spread > hi+15 {
		t.Errorf("hand p90−p50 %.0f; real hands %.0f–%.0f", spread, lo, hi)
	}
	t.Logf("lift %.0f (real %v), spread %.0f (real %v)", lift, realLift, spread, realSpread)
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func TestSynthesizeBadOptions(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "taken", "MURA-v1.1"), 0o755)
	cases := []struct {
		opts Options
		want string
	}{
		{Options{Patients: 3}, "synth: no output folder given"},
		{Options{Out: dir, Patients: 0}, "synth: patients = 0, want at least 1"},
		{Options{Out: dir, Patients: 3, Size: 20}, "synth: size = 20, want 64 to 4096 pixels"},
		{Options{Out: dir, Patients: 3, Difficulty: "extreme"}, `synth: difficulty "extreme", want easy, medium or hard`},
		{Options{Out: filepath.Join(dir, "taken"), Patients: 3},
			"synth: " + filepath.Join(dir, "taken", "MURA-v1.1") + " already exists; choose another --out or remove it"},
	}
	for _, tc := range cases {
		_, err := Generate(context.Background(), tc.opts, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: error %v, want %s", tc.opts, err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, Options{Out: filepath.Join(dir, "cancelled"), Patients: 5, Size: 64}, nil)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled context: %v", err)
	}
}
