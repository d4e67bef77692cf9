package ops

import (
	"math/rand"
	"testing"
)

func benchLeakyData(n int) (x, dy, out []float32) {
	r := rand.New(rand.NewSource(1))
	x, dy, out = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		dy[i] = float32(r.NormFloat64())
	}
	return
}

func BenchmarkLeakyForward(b *testing.B) {
	x, _, out := benchLeakyData(1 << 20)
	b.SetBytes(8 << 20)
	for b.Loop() {
		leakyForward(x, 0.2, out)
	}
}

func BenchmarkLeakyBackward(b *testing.B) {
	x, dy, out := benchLeakyData(1 << 20)
	b.SetBytes(12 << 20)
	for b.Loop() {
		leakyBackward(x, dy, 0.2, out)
	}
}
