package models_test

import (
	"math/rand"
	"testing"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

// The GANs' training steps (every phase's forward and backward and the
// Adam updates of every network) at the paper's widths, 64 px, batch 16:
//
//	go test -run '^$' -bench 'GANTrainStep' -benchtime 2x -benchmem ./nets/models/
func BenchmarkGANTrainStep(b *testing.B) {
	for _, name := range []string{"dcgan", "bigan", "alphagan"} {
		b.Run(name, func(b *testing.B) {
			m, err := nets.New(name, nets.Config{Size: 64, Rand: rand.New(rand.NewSource(1))})
			if err != nil {
				b.Fatal(err)
			}
			batch := nettest.SynthBatch(rand.New(rand.NewSource(2)), 16, 64)
			nettest.BenchTrainStep(b, m, batch)
		})
	}
}
