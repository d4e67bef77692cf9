package local_test

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
	"xraylab/preprocess"
	"xraylab/preprocess/synth"
)

// A run's dataset record carries the hand masks' statistics, and a mask
// that went wrong is listed with a thumbnail artifact: here a negative
// image replaced by a small blob on a flat background, whose mask covers
// under 5% of the image.
func TestRunRecordsMaskStatistics(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	ctx := context.Background()
	data := t.TempDir()
	if _, err := synth.Generate(ctx, synth.Options{Out: data, Patients: 40, Size: 96, Seed: 3, Difficulty: "easy"}, nil); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(data, "MURA-v1.1")
	bad := "train/XR_HAND/patient00002/study1_negative/image1.png"
	// Same size as the image it replaces: the ground-truth anomaly mask
	// beside it (empty for a negative) must still fit.
	orig, err := preprocess.ReadGray(filepath.Join(root, filepath.FromSlash(bad)))
	if err != nil {
		t.Fatal(err) // the generator's layout changed: pick another negative image
	}
	w, h := orig.Bounds().Dx(), orig.Bounds().Dy()
	blob := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x-w/2)/(float64(w)/10), float64(y-h/2)/(float64(h)/10)
			blob.Pix[y*w+x] = 40
			if dx*dx+dy*dy <= 1 {
				blob.Pix[y*w+x] = 180
			}
		}
	}
	f, err := os.Create(filepath.Join(root, filepath.FromSlash(bad)))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, blob); err != nil {
		t.Fatal(err)
	}
	f.Close()

	id := testenv.Submit(t, m, `
experiments:
  masks:
    dataset: {mura: {root: '`+root+`', parts: [train, valid]}}
    image_size: 32
    epochs: 1
    models: [{name: pixelgauss}]
    preprocessing: [full]
    seeds: [1]
`)
	run := e.WaitAll(t, id, 2*time.Minute)[0]
	if run.State != experiments.StateSucceeded {
		t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
	}
	ds, err := e.Store.Dataset(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sum local.DataSummary
	if err := json.Unmarshal(ds.Summary, &sum); err != nil {
		t.Fatal(err)
	}
	ms := sum.Masks
	if ms == nil {
		t.Fatalf("dataset record has no mask statistics: %s", ds.Summary)
	}
	kept := sum.Images
	for _, r := range sum.Preprocess {
		kept -= r.Skipped
	}
	hist, comps, checks := 0, 0, 0
	for _, n := range ms.Share.Hist {
		hist += n
	}
	for _, n := range ms.Components {
		comps += n
	}
	for _, n := range ms.Checks {
		checks += n
	}
	if ms.Images != kept || hist != kept || comps != kept || checks != ms.Suspicious {
		t.Errorf("masks of %d images (share histogram %d, components %d), %d suspicious (checks %d); want %d kept images",
			ms.Images, hist, comps, ms.Suspicious, checks, kept)
	}
	if !(ms.Share.Min <= ms.Share.Mean && ms.Share.Mean <= ms.Share.Max && ms.Share.Min > 0 && ms.Share.Max < 1) {
		t.Errorf("share distribution %+v", ms.Share)
	}
	// The blob: an ellipse of π·(w/10)·(h/10) pixels, π% of the image; the
	// mask's outline sits a pixel or so outside its hard edge (the light
	// smoothing before the threshold), which makes it 4.4% here.
	var blobEntry *preprocess.FlaggedMask
	for i := range ms.Flagged {
		if ms.Flagged[i].RelPath == bad {
			blobEntry = &ms.Flagged[i]
		}
	}
	if blobEntry == nil {
		t.Fatalf("%s not flagged; flagged: %+v; record %s", bad, ms.Flagged, ds.Summary)
	}
	if blobEntry.Check != "small" || blobEntry.Share < math.Pi/100 || blobEntry.Share > 0.05 || blobEntry.Components != 1 || blobEntry.Border != 0 {
		t.Errorf("blob's entry %+v; want check small, share in [π%%, 5%%], one region, no border contact", *blobEntry)
	}
	arts, err := e.Store.Artifacts(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, a := range arts {
		kinds[a.Name] = a.Kind
	}
	for _, fm := range ms.Flagged {
		if kinds[fm.Thumbnail] != "mask" {
			t.Errorf("flagged %s: thumbnail %q is not a mask artifact (%v)", fm.RelPath, fm.Thumbnail, kinds)
		}
	}
	tf, err := os.Open(filepath.Join(e.Exec.RunDir(run.ID), blobEntry.Thumbnail))
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	thumb, err := png.Decode(tf)
	if err != nil {
		t.Fatal(err)
	}
	// Shrunk to fit 160 px, the aspect kept. Inside the blob red is tinted
	// in; the corner keeps the background's grey.
	tw, th := 160, 160
	if w > h {
		th = int(float64(h)*160/float64(w) + 0.5)
	} else {
		tw = int(float64(w)*160/float64(h) + 0.5)
	}
	if b := thumb.Bounds(); b.Dx() != tw || b.Dy() != th {
		t.Errorf("thumbnail is %v, want %dx%d", b.Size(), tw, th)
	}
	cr, cg, _, _ := thumb.At(tw/2, th/2).RGBA()
	gr, gg, gb, _ := thumb.At(2, 2).RGBA()
	if !(cr > cg+0x1000) || gr != gg || gg != gb || gr>>8 != 40 {
		t.Errorf("thumbnail: centre r %d g %d (want red over grey), corner %d %d %d (want grey 40)", cr>>8, cg>>8, gr>>8, gg>>8, gb>>8)
	}
}
