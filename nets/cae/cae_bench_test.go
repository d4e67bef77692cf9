package cae

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

// BenchmarkCAETrainStep times one training step (forward, backward, Adam)
// of the full-width CAE at 64 px, batch 16:
//
//	go test -run '^$' -bench CAETrainStep -benchtime 5x -benchmem ./nets/cae/
//	CGO_LDFLAGS=-lopenblas go test -tags openblas -run '^$' -bench CAETrainStep -benchtime 5x -benchmem ./nets/cae/
//
// `make bench` (bench/) compares it (and scoring) with PyTorch.
func BenchmarkCAETrainStep(b *testing.B) {
	m, err := newCAE(nets.Config{Size: 64, TopK: []int{5, 50}, Params: map[string]float64{"width": 1, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(1))}, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	batch := nettest.SynthBatch(rand.New(rand.NewSource(2)), 16, 64)
	nettest.BenchTrainStep(b, m, batch)
}
