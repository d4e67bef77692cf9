package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xraylab/experiments"
	"xraylab/experiments/internal/testenv"
	"xraylab/experiments/local"
)

// tinyDCGAN is a DCGAN small enough to train in seconds.
const tinyDCGAN = `
experiments:
  gan:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 3, difficulty: easy}
    image_size: 16
    epochs: 1
    batch_size: 8
    models:
      - name: dcgan
        params: {width: 0.125, z: 8, mbd_kernels: 3, mbd_dims: 2}
    preprocessing: [raw]
    histogram_equalization: [false]
    seeds: [42]
`

// A DCGAN run (no reconstruction) writes the discriminator's saliency
// maps: a gallery per map and pixel ROC-AUC and AUPRO under per-map keys;
// its scoring reference makes the checkpoint score on its own.
func TestDCGANSaliencyRun(t *testing.T) {
	e := testenv.New(t)
	m := e.Serve(t, 1)
	id := testenv.Submit(t, m, tinyDCGAN)
	runs := e.WaitAll(t, id, 2*time.Minute)
	run := runs[0]
	if run.State != experiments.StateSucceeded {
		t.Fatalf("run %d: %s %s", run.ID, run.State, run.Error)
	}
	for _, key := range []string{"test/d_grad/pixel_roc_auc", "test/d_grad/pixel_aupro", "test/d_gradx/pixel_roc_auc", "test/d_gradx/pixel_images"} {
		v, ok := run.Metrics[key]
		if !ok || v != v {
			t.Errorf("metric %s = %v, %v (has %v)", key, v, ok, run.Metrics)
		}
	}
	if _, ok := run.Metrics["test/pixel_roc_auc"]; ok {
		t.Error("a DCGAN has no reconstruction map, yet the run has run-wide pixel figures")
	}
	arts, err := e.Store.Artifacts(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, a := range arts {
		names[a.Name] = true
	}
	for _, n := range []string{"heatmaps-d_grad.png", "heatmaps-d_gradx.png", "checkpoint.bin"} {
		if !names[n] {
			t.Errorf("no artifact %s (has %v)", n, names)
		}
	}
	if names["heatmaps.png"] {
		t.Error("heatmaps.png without a reconstruction map")
	}
	// xraylab score: the checkpoint alone scores files and draws both maps
	// (the synthetic data lives in the test binary's shared folder, testenv.Main)
	imgs, _ := filepath.Glob(filepath.Join(os.TempDir(), "xraylab-experiments-test-*", "*", "MURA-v1.1", "*", "XR_HAND", "*", "*", "image1.png"))
	if len(imgs) < 2 {
		t.Fatalf("found %d synthetic images to score", len(imgs))
	}
	_, fs, err := local.ScoreFiles(context.Background(), e.Exec.RunDir(run.ID)+"/checkpoint.bin", imgs[:2])
	if err != nil {
		t.Fatal(err)
	}
	scored := 0
	for _, f := range fs {
		if f.Skipped != "" {
			continue
		}
		scored++
		if _, ok := f.Scores["d"]; !ok || f.Heatmaps["d_grad"] == nil || f.Heatmaps["d_gradx"] == nil || f.Heatmap != nil {
			t.Errorf("%s: scores %v, heatmaps %v, reconstruction heatmap %v", f.Path, f.Scores, f.Heatmaps, f.Heatmap != nil)
		}
	}
	if scored == 0 {
		t.Fatalf("no file scored: %+v", fs)
	}
}
