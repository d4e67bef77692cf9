package nets

import (
	"math/rand"
	"testing"
	"time"
)

// The GANs' training steps (every phase's forward and backward and the
// Adam updates of every network) at the paper's widths, 64 px, batch 16:
//
//	go test -run '^$' -bench 'GANTrainStep' -benchtime 2x -benchmem ./nets/
func BenchmarkGANTrainStep(b *testing.B) {
	for _, name := range ganNames {
		b.Run(name, func(b *testing.B) {
			m, err := New(name, Config{Size: 64, Rand: rand.New(rand.NewSource(1))})
			if err != nil {
				b.Fatal(err)
			}
			batch := synthBatch(rand.New(rand.NewSource(2)), 16, 64)
			if _, err := m.TrainStep(batch); err != nil { // compiles the graphs
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
		})
	}
}
