package vae

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"

	"xraylab/nets/internal/nettest"
)

// BenchmarkVAETrainStep times one training step (noise draw, forward,
// backward, Adam) of the full-width VAE (z = 1024) at 64 px, batch 16:
//
//	go test -run '^$' -bench VAETrainStep -benchtime 5x -benchmem ./nets/vae/
func BenchmarkVAETrainStep(b *testing.B) {
	m := tinyVAE(b, 1, 64, 1, 1024, tensor.Float32)
	batch := nettest.SynthBatch(rand.New(rand.NewSource(2)), 16, 64)
	nettest.BenchTrainStep(b, m, batch)
}
