package ops

import "testing"

// The 4×4/s2 unrolling of a 64-channel 32×32 map, the GANs' commonest:
//
//	go test -run '^$' -bench 'Im2colS2|Col2imS2' ./nets/ops/
func BenchmarkIm2colS2(b *testing.B) {
	c, h, w, k := 64, 32, 32, 4
	im := make([]float32, c*h*w)
	for i := range im {
		im[i] = float32(i)
	}
	oh := (h+2-k)/2 + 1
	col := make([]float32, c*k*k*oh*oh)
	for b.Loop() {
		im2colLD(im, c, h, w, k, 2, 1, col, oh*oh)
	}
}

func BenchmarkCol2imS2(b *testing.B) {
	c, h, w, k := 64, 32, 32, 4
	im := make([]float32, c*h*w)
	oh := (h+2-k)/2 + 1
	col := make([]float32, c*k*k*oh*oh)
	for b.Loop() {
		col2imLD(col, c, h, w, k, 2, 1, im, oh*oh)
	}
}
