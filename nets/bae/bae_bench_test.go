package bae

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"

	"xraylab/nets/internal/nettest"
)

// BenchmarkBAETrainStep times one training step (forward, backward, Adam)
// of the full-width BAE at 64 px, batch 16:
//
//	go test -run '^$' -bench BAETrainStep -benchtime 5x -benchmem ./nets/bae/
func BenchmarkBAETrainStep(b *testing.B) {
	m := tinyBAE(b, 1, 64, 1, tensor.Float32)
	batch := nettest.SynthBatch(rand.New(rand.NewSource(2)), 16, 64)
	nettest.BenchTrainStep(b, m, batch)
}
