package nets

import (
	"math/rand"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkVAETrainStep times one training step (noise draw, forward,
// backward, Adam) of the full-width VAE (z = 1024) at 64 px, batch 16:
//
//	go test -run '^$' -bench VAETrainStep -benchtime 5x -benchmem ./nets/
func BenchmarkVAETrainStep(b *testing.B) {
	m := tinyVAE(b, 1, 64, 1, 1024, tensor.Float32)
	batch := synthBatch(rand.New(rand.NewSource(2)), 16, 64)
	if _, err := m.TrainStep(batch); err != nil { // compiles the graph
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/step")
}
