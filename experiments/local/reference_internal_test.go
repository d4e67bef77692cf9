package local

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xraylab/experiments"
	"xraylab/nets"
)

// tinyDCGAN is a 16 px DCGAN small enough to build in a test.
func tinyDCGAN(t *testing.T) (experiments.RunSpec, nets.Model) {
	t.Helper()
	spec := experiments.RunSpec{ImageSize: 16, BatchSize: 4, Seed: 3, Model: experiments.ModelSpec{Name: "dcgan", TopK: []int{5},
		Params: map[string]float64{"width": 0.125, "z": 8, "mbd_kernels": 4, "mbd_dims": 3}}}
	m, err := nets.New("dcgan", nets.Config{Size: 16, TopK: spec.Model.TopK, Params: spec.Model.Params, Rand: rand.New(rand.NewSource(3))})
	if err != nil {
		t.Fatal(err)
	}
	return spec, m
}

// A format 3 checkpoint keeps a DCGAN's reference, so it scores on its
// own; a format 2 one (no reference) is refused for scoring with a clear
// message; another format is refused as foreign.
func TestCheckpointReference(t *testing.T) {
	dir := t.TempDir()
	spec, m := tinyDCGAN(t)
	px := 16 * 16
	ref := &nets.Batch{N: 3, H: 16, W: 16, Images: make([]float32, 3*px), Masks: make([]float32, 3*px)}
	for i := range ref.Images {
		ref.Images[i], ref.Masks[i] = float32(i%7)/7, 1
	}
	path := filepath.Join(dir, CheckpointName)
	noRef := filepath.Join(dir, "v2.bin")
	if err := WriteCheckpoint(noRef, CheckpointHeader{Model: "dcgan", Spec: spec}, m); err != nil {
		t.Fatal(err)
	}
	if err := m.(nets.Referenced).SetReference(ref); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(path, CheckpointHeader{Model: "dcgan", Spec: spec}, m); err != nil {
		t.Fatal(err)
	}
	h, loaded, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Format != "xraylab-run-checkpoint/3" {
		t.Fatalf("format %q", h.Format)
	}
	img := &nets.Batch{N: 1, H: 16, W: 16, Images: ref.Images[:px], Masks: ref.Masks[:px]}
	a, err := m.Score(img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaded.Score(img)
	if err != nil {
		t.Fatal(err)
	}
	if a.Scores["d"][0] != b.Scores["d"][0] {
		t.Fatalf("d %v from the checkpoint, %v from the model", b.Scores["d"][0], a.Scores["d"][0])
	}
	// the same state under a format 2 header, as a binary before references wrote it
	rewrite := func(src, dst, format string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte(`"format":"xraylab-run-checkpoint/3"`), []byte(`"format":"`+format+`"`), 1)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(noRef, noRef, "xraylab-run-checkpoint/2")
	if _, _, err := ReadCheckpoint(noRef); err != nil {
		t.Fatalf("a format 2 checkpoint (it still resumes): %v", err)
	}
	_, _, err = LoadCheckpoint(noRef)
	want := noRef + ` (format "xraylab-run-checkpoint/2") holds no reference batch: this binary scores a dcgan image against a fixed batch of training images kept in the checkpoint (format "xraylab-run-checkpoint/3"), so that its score does not depend on the other images scored with it; re-run the run with this binary to write one`
	if err == nil || err.Error() != want {
		t.Fatalf("scoring a format 2 DCGAN checkpoint: %v\nwant %s", err, want)
	}
	old := filepath.Join(dir, "v1.bin")
	rewrite(path, old, "xraylab-run-checkpoint/1")
	if _, _, err := ReadCheckpoint(old); err == nil || !strings.HasSuffix(err.Error(), `is a checkpoint of format "xraylab-run-checkpoint/1"; this binary reads "xraylab-run-checkpoint/3" and "xraylab-run-checkpoint/2"`) {
		t.Fatalf("format 1: %v", err)
	}
}
