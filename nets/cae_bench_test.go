package nets

import (
	"math/rand"
	"testing"
)

// BenchmarkCAETrainStep times one training step (forward, backward, Adam)
// of the full-width CAE at 64 px, batch 16:
//
//	go test -run '^$' -bench CAETrainStep -benchtime 5x -benchmem ./nets/
//	CGO_LDFLAGS=-lopenblas go test -tags openblas -run '^$' -bench CAETrainStep -benchtime 5x -benchmem ./nets/
//
// bench/caebench.go compares it (and scoring) with PyTorch.
func BenchmarkCAETrainStep(b *testing.B) {
	m := tinyCAE(b, 1, 64, 1)
	batch := synthBatch(rand.New(rand.NewSource(2)), 16, 64)
	benchTrainStep(b, m, batch)
}
