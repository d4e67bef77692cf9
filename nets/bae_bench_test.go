package nets

import (
	"math/rand"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkBAETrainStep times one training step (forward, backward, Adam)
// of the full-width BAE at 64 px, batch 16:
//
//	go test -run '^$' -bench BAETrainStep -benchtime 5x -benchmem ./nets/
func BenchmarkBAETrainStep(b *testing.B) {
	m := tinyBAE(b, 1, 64, 1, tensor.Float32)
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
