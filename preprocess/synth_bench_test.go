package preprocess

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSynthesize measures whole-dataset generation at 512 px,
// including PNG encoding and writing the image, both masks and the JSON.
// It reports images/s; run with
//
//	go test ./preprocess/ -run '^$' -bench Synthesize -benchtime 3x
func BenchmarkSynthesize(b *testing.B) {
	dir := b.TempDir()
	images := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Synthesize(context.Background(), SynthOptions{
			Out: filepath.Join(dir, strconv.Itoa(i)), Patients: 40, Size: 512, Seed: int64(i),
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		images += rep.Images
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkRender isolates drawing one 512 px image (no encoding, no I/O).
func BenchmarkRender(b *testing.B) {
	sc := &synthScratch{}
	for i := 0; i < b.N; i++ {
		sc.render(imageJob{Seed: mix64(1, uint64(i)), PatientSeed: 3, Size: 512})
	}
}
