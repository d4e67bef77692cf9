package nets

import (
	"math/rand"
	"testing"
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
			benchTrainStep(b, m, batch)
		})
	}
}
