package ops

import (
	"fmt"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

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

// BatchNorm2d + ReLU, batch 16, on a 16-channel 64×64 map (a CAE at
// 128 px; larger than the caches) and on a 4-channel 32×32 one (within
// L2), one goroutine per call (GOMAXPROCS=1) as each is in a 2-core step:
//
//	GOMAXPROCS=1 go test -run '^$' -bench 'BN(Forward|Backward)' ./nets/ops/
func benchBN(b *testing.B, backward bool) {
	b.Run("16x64x64", func(b *testing.B) { benchBNShape(b, backward, 16, 16, 64*64) })
	b.Run("4x32x32", func(b *testing.B) { benchBNShape(b, backward, 16, 4, 32*32) })
}

func benchBNShape(b *testing.B, backward bool, n, c, p int) {
	x, y, dy, dx := make([]float32, n*c*p), make([]float32, n*c*p), make([]float32, n*c*p), make([]float32, n*c*p)
	r := rand.New(rand.NewSource(1))
	for i := range x {
		x[i] = float32(r.NormFloat64())
		dy[i] = float32(r.NormFloat64())
	}
	scale, bias, mean, vari := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	for i := range scale {
		scale[i], bias[i], vari[i] = 1, 0.1, 1
	}
	bn := &BatchNorm{relu: true, training: true, useMean: make([]float64, c), invStd: make([]float64, c), shift: make([]float64, c)}
	bnForward(bn, n, c, p, x, scale, bias, mean, vari, y)
	ds, db := make([]float32, c), make([]float32, c)
	for b.Loop() {
		if backward {
			bnBackward(bn, n, c, p, x, y, dy, scale, dx, ds, db)
		} else {
			bnForward(bn, n, c, p, x, scale, bias, mean, vari, y)
		}
	}
}

func BenchmarkBNForward(b *testing.B)  { benchBN(b, false) }
func BenchmarkBNBackward(b *testing.B) { benchBN(b, true) }

// 2×2/s2 max pooling of 16 channels of 64×64, batch 16, random values:
//
//	GOMAXPROCS=1 go test -run '^$' -bench MaxPool2x2 ./nets/ops/
func BenchmarkMaxPool2x2(b *testing.B) {
	n, c, h, w := 16, 16, 64, 64
	r := rand.New(rand.NewSource(1))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	p := &PoolIndices{k: 2, stride: 2, in: tensor.Shape{n, c, h, w}, out: tensor.Shape{n, c, h / 2, w / 2}}
	p.idx = make([]int32, p.out.TotalSize())
	y := make([]float32, p.out.TotalSize())
	for b.Loop() {
		maxPoolForward(p, x, y)
	}
}

// addTo on col2im's short rows (a VAE's 30-wide maps):
//
//	go test -run '^$' -bench AddToShort ./nets/ops/
func BenchmarkAddToShort(b *testing.B) {
	s, d := make([]float32, 30), make([]float32, 30)
	for b.Loop() {
		for range 64 {
			addTo(d, s)
		}
	}
}

// The batched unrolling of the GANs' last strided layers at 64 px: 16
// images of 256 channels, 8×8 to 4×4 (4×4/s2, pad 1), and of 128
// channels, 16×16 to 8×8, one goroutine (as each of two is in a step):
//
//	GOMAXPROCS=1 go test -run '^$' -bench 'Im2colParSmall' ./nets/ops/
func BenchmarkIm2colParSmall(b *testing.B) {
	for _, g := range []struct{ c, h int }{{256, 8}, {128, 16}} {
		n, k := 16, 4
		im := make([]float32, n*g.c*g.h*g.h)
		for i := range im {
			im[i] = float32(i)
		}
		oh := (g.h+2-k)/2 + 1
		col := make([]float32, g.c*k*k*n*oh*oh)
		b.Run(fmt.Sprintf("%dx%dx%d", g.c, g.h, g.h), func(b *testing.B) {
			for b.Loop() {
				im2colPar(im, n, g.c, g.h, g.h, k, 2, 1, col, oh*oh, n*oh*oh)
			}
		})
	}
}
