package preprocess

import (
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"xraylab/preprocess/synth"
)

// synthTruth is the part of the generator's imageM.json the measurements use.
type synthTruth struct {
	Width    int          `json:"width"`
	Height   int          `json:"height"`
	Carrier  [][2]float64 `json:"carrier"`
	NumHands int          `json:"num_hands"`
	Hands    []struct {
		BBox [4]float64 `json:"bbox"`
	} `json:"hands"`
}

// synthRecords generates a small synthetic MURA tree and loads it.
func synthRecords(t testing.TB, patients, size int, difficulty string, seed int64) []Record {
	t.Helper()
	return synthRecordsWith(t, synth.Options{Patients: patients, Size: size, Seed: seed, Difficulty: difficulty})
}

// synthRecordsWith generates a synthetic MURA tree with o (Out is set here).
func synthRecordsWith(t testing.TB, o synth.Options) []Record {
	t.Helper()
	o.Out = t.TempDir()
	rep, err := synth.Generate(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := LoadMURA(rep.Root, LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	return ds.Records
}

// quality is the offline pipeline measured against the generator's truth.
type quality struct {
	Images      int
	MeanIoU     float64 // hand mask (union of an image's items, mapped back) vs silhouette
	SplitAcc    float64 // share of images with the right number of items, each truth hand in its own item
	TwoHands    int     // images with two hands in the truth
	TwoHandsHit int     // of which split correctly
	CarrierErr  float64 // mean corner error (px) where a carrier was found and is fully inside the image
	Carriers    int
}

// truthPaths returns the silhouette and JSON paths for a record.
func truthPaths(rec Record) (hand, js string) {
	base := strings.TrimSuffix(rec.MaskPath, "_anomaly.png")
	return base + "_hand.png", base + ".json"
}

func measureQuality(t testing.TB, p *Pipeline, recs []Record, items []Item) quality {
	t.Helper()
	byPath := map[string][]Item{}
	for _, it := range items {
		byPath[it.Record.Path] = append(byPath[it.Record.Path], it)
	}
	var q quality
	var iouSum, split, cerr float64
	for _, rec := range recs {
		handPath, jsPath := truthPaths(rec)
		var tr synthTruth
		b, err := os.ReadFile(jsPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		sil := gocv.IMRead(handPath, gocv.IMReadGrayScale)
		if sil.Empty() {
			t.Fatalf("cannot read %s", handPath)
		}
		q.Images++
		its := byPath[rec.Path]
		union := gocv.Zeros(tr.Height, tr.Width, gocv.MatTypeCV8U)
		var regions []image.Rectangle
		for _, it := range its {
			_, mask, anomaly, err := p.itemMats(it)
			if err != nil {
				t.Fatal(err)
			}
			anomaly.Close()
			inv, _ := inv3(it.Transform)
			back := warpHomography(mask, inv, tr.Width, tr.Height, true)
			gocv.BitwiseOr(union, back, &union)
			back.Close()
			mask.Close()
			var r image.Rectangle
			for k, c := range [][2]float64{{0, 0}, {float64(it.Width), 0}, {float64(it.Width), float64(it.Height)}, {0, float64(it.Height)}} {
				pt := applyH(inv, c)
				pr := image.Rect(int(pt[0]), int(pt[1]), int(pt[0])+1, int(pt[1])+1)
				if k == 0 {
					r = pr
				} else {
					r = r.Union(pr)
				}
			}
			regions = append(regions, r)
		}
		inter, uni := gocv.NewMat(), gocv.NewMat()
		gocv.BitwiseAnd(union, sil, &inter)
		gocv.BitwiseOr(union, sil, &uni)
		if u := gocv.CountNonZero(uni); u > 0 {
			iouSum += float64(gocv.CountNonZero(inter)) / float64(u)
		}
		inter.Close()
		uni.Close()
		union.Close()
		sil.Close()

		ok := len(its) == tr.NumHands
		used := map[int]bool{}
		for _, h := range tr.Hands {
			c := image.Pt(int((h.BBox[0]+h.BBox[2])/2), int((h.BBox[1]+h.BBox[3])/2))
			found := -1
			for k, r := range regions {
				if c.In(r) && !used[k] {
					found = k
					break
				}
			}
			if found < 0 {
				ok = false
			} else {
				used[found] = true
			}
		}
		if ok {
			split++
		}
		if tr.NumHands == 2 {
			q.TwoHands++
			if ok {
				q.TwoHandsHit++
			}
		}
		inside := true
		for _, c := range tr.Carrier {
			if c[0] < 0 || c[1] < 0 || c[0] > float64(tr.Width) || c[1] > float64(tr.Height) {
				inside = false
			}
		}
		if len(its) > 0 && len(its[0].Carrier) == 4 && inside && len(tr.Carrier) == 4 {
			q.Carriers++
			for k := 0; k < 4; k++ {
				dx, dy := its[0].Carrier[k][0]-tr.Carrier[k][0], its[0].Carrier[k][1]-tr.Carrier[k][1]
				cerr += (dx*dx + dy*dy) / 4
			}
		}
	}
	q.MeanIoU = iouSum / float64(q.Images)
	q.SplitAcc = split / float64(q.Images)
	if q.Carriers > 0 {
		q.CarrierErr = cerr / float64(q.Carriers)
	}
	return q
}

// Measured on 40 patients (122 images, seed 1, 256 px, medium): IoU 0.900,
// split accuracy 1.00 (BenchmarkMaskQuality; 12 patients here: 0.903); see the
// README. The floors sit a little under the measurement so that a
// regression fails the test.
const (
	minMaskIoU  = 0.87
	minSplitAcc = 0.95
)

// TestSyntheticMaskQuality measures the full variant against the
// generator's silhouettes and hand boxes.
func TestSyntheticMaskQuality(t *testing.T) {
	recs := synthRecords(t, 12, 256, "medium", 1)
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 64, CacheDir: t.TempDir()})
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := measureQuality(t, p, recs, items)
	// A second run takes every offline result from the cache, unchanged.
	items2, rep2, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.CacheMisses != len(recs) || rep2.CacheHits != len(recs) || rep2.CacheMisses != 0 || len(items2) != len(items) {
		t.Fatalf("cache: first run %+v, second run %+v", rep, rep2)
	}
	if q2 := measureQuality(t, p, recs, items2); q2 != q {
		t.Fatalf("cached items measure %+v, fresh ones %+v", q2, q)
	}
	t.Logf("report %+v", *rep)
	t.Logf("quality %+v", q)
	if os.Getenv("XRAYLAB_SHEET") != "" {
		if err := WriteContactSheet(filepath.Join(os.Getenv("XRAYLAB_SHEET"), "synthetic.png"), p, items, ContactOptions{Tile: 128}); err != nil {
			t.Fatal(err)
		}
	}
	if q.MeanIoU < minMaskIoU {
		t.Errorf("mean hand-mask IoU %.3f below %.2f", q.MeanIoU, minMaskIoU)
	}
	if q.SplitAcc < minSplitAcc {
		t.Errorf("split accuracy %.3f below %.2f", q.SplitAcc, minSplitAcc)
	}
}

// minFilmMaskIoU is the floor on film-like synthetic data: issue 14's
// target, measured 0.931 (12 patients, 256 px, seed 1; generator
// xraylab-synth/4, whose exposure fields are drawn as the real films show
// them: see docs/preprocessing.md). The run is deterministic, so the
// small margin fails only on a change of the mask or of the generator.
const minFilmMaskIoU = 0.93

// TestFilmMaskQuality measures the full variant on film-like synthetic
// radiographs (graded backgrounds, collimation fields, scan borders,
// markers, wedges, low contrast) against the generator's silhouettes.
func TestFilmMaskQuality(t *testing.T) {
	recs := synthRecordsWith(t, synth.Options{Patients: 12, Size: 256, Seed: 1, Film: true})
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 64})
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := measureQuality(t, p, recs, items)
	t.Logf("report %+v", *rep)
	t.Logf("quality %+v", q)
	if os.Getenv("XRAYLAB_SHEET") != "" {
		if err := WriteContactSheet(filepath.Join(os.Getenv("XRAYLAB_SHEET"), "film.png"), p, items[:min(12, len(items))], ContactOptions{Tile: 128}); err != nil {
			t.Fatal(err)
		}
	}
	if rep.Skipped > 0 {
		t.Errorf("%d images skipped: %v", rep.Skipped, rep.Skips)
	}
	if q.MeanIoU < minFilmMaskIoU {
		t.Errorf("mean hand-mask IoU %.3f below %.2f", q.MeanIoU, minFilmMaskIoU)
	}
}
