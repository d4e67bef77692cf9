package ops

import (
	"math"
	"math/rand"
	"runtime"
	"testing"
)

// The GAN kernels that spread over goroutines (LeakyReLU and its gradient,
// spectral norm's forward and gradient, the power iteration, the per-channel
// bias with h/7 images of 7 channels of n values) give, at
// sizes that split, the values of the formulas written out serially: bit
// for bit where each element is one goroutine's (everything but the sum
// over dY⊙W), and the same bits with 1, 2 and 3 goroutines throughout.
func TestGANKernelsSplitAsSerial(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const h, n = 301, 259 // 77,959 weights: above elementwiseMin, several snChunks
	rnd := func(k int) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	w, dy, u0, v0 := rnd(h*n), rnd(h*n), rnd(h), rnd(n)
	normalize(u0)
	normalize(v0)
	const slope, sigma = float32(0.1), float32(1.7)

	// the formulas, serially
	wantLeaky, wantLeakyGrad, wantSN := make([]float32, h*n), make([]float32, h*n), make([]float32, h*n)
	var dot float64
	for i, x := range w {
		wantLeaky[i], wantLeakyGrad[i] = x, dy[i]
		if x < 0 {
			wantLeaky[i] = slope * x
		}
		if x <= 0 {
			wantLeakyGrad[i] = slope * dy[i]
		}
		wantSN[i] = x * (1 / sigma)
		dot += float64(dy[i]) * float64(x)
	}
	c := float32(-dot / (float64(sigma) * float64(sigma)))
	bias := rnd(7)
	wantBias := make([]float32, h*n)
	for i := range w {
		wantBias[i] = w[i] + bias[(i/n)%7]
	}
	wantSNGrad := make([]float32, h*n)
	for i := 0; i < h; i++ {
		for j := 0; j < n; j++ {
			wantSNGrad[i*n+j] = dy[i*n+j]*(1/sigma) + c*u0[i]*v0[j]
		}
	}
	wantU, wantV := append([]float32(nil), u0...), append([]float32(nil), v0...)
	acc := make([]float64, n)
	for i := 0; i < h; i++ {
		for j := 0; j < n; j++ {
			acc[j] += float64(w[i*n+j]) * float64(wantU[i])
		}
	}
	for j := range wantV {
		wantV[j] = float32(acc[j])
	}
	normalize(wantV)
	for i := 0; i < h; i++ {
		wantU[i] = float32(dsdotOrder(w[i*n:(i+1)*n], wantV))
	}
	normalize(wantU)

	var first [][]float32
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		leaky, leakyGrad, sn, snGrad := make([]float32, h*n), make([]float32, h*n), make([]float32, h*n), make([]float32, h*n)
		leakyForward(w, slope, leaky)
		leakyBackward(w, dy, slope, leakyGrad)
		snForward(w, sigma, sn)
		snBackward(w, u0, v0, dy, sigma, snGrad)
		u, v := append([]float32(nil), u0...), append([]float32(nil), v0...)
		powerStep(w, u, v)
		biased := make([]float32, h*n)
		biasForward(w, bias, h/7, 7, n, biased)
		got := [][]float32{leaky, leakyGrad, sn, snGrad, u, v, biased}
		for k, want := range [][]float32{wantLeaky, wantLeakyGrad, wantSN, wantSNGrad, wantU, wantV, wantBias} {
			for i := range want {
				exact := math.Float32bits(got[k][i]) == math.Float32bits(want[i])
				if k == 3 { // the sum over dY⊙W runs by pieces
					exact = math.Abs(float64(got[k][i]-want[i])) <= 1e-6*math.Abs(float64(want[i]))+1e-7
				}
				if !exact {
					t.Fatalf("%d goroutines, kernel %d, element %d: %v, serially %v", procs, k, i, got[k][i], want[i])
				}
			}
		}
		if first == nil {
			first = got
			continue
		}
		for k := range got {
			for i := range got[k] {
				if math.Float32bits(got[k][i]) != math.Float32bits(first[k][i]) {
					t.Fatalf("kernel %d element %d: %d goroutines give %v, one gives %v", k, i, procs, got[k][i], first[k][i])
				}
			}
		}
	}
}

// dsdotOrder is x·y in float64 summed in the order of gonum's assembly
// Dsdot for a 16-byte aligned y: two two-lane accumulators over blocks of
// eight, added together, then the tail by pairs and one, then the lanes.
func dsdotOrder(x, y []float32) float64 {
	var s, p [2]float64
	n := len(x)
	i := 0
	for ; i+8 <= n; i += 8 {
		for k := 0; k < 8; k += 2 {
			acc := &s
			if k%4 == 2 {
				acc = &p
			}
			acc[0] += float64(x[i+k]) * float64(y[i+k])
			acc[1] += float64(x[i+k+1]) * float64(y[i+k+1])
		}
	}
	s[0] += p[0]
	s[1] += p[1]
	for ; i+2 <= n; i += 2 {
		s[0] += float64(x[i]) * float64(y[i])
		s[1] += float64(x[i+1]) * float64(y[i+1])
	}
	if i < n {
		s[0] += float64(x[i]) * float64(y[i])
	}
	return s[0] + s[1]
}

// dotF64 sums in Dsdot's order when y starts on a 16-byte boundary and in
// dot64's otherwise, exactly, for lengths around the kernel's blocks.
func TestDotF64Order(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	x, y := make([]float32, 300), make([]float32, 304)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := range y {
		y[i] = float32(r.NormFloat64())
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 18, 19, 259, 300} {
		want := dsdotOrder(x[:n], y[:n])
		if n < 8 {
			want = dot64(x[:n], y[:n])
		}
		if got := dotF64(x[:n], y[:n]); got != want {
			t.Fatalf("n=%d aligned: %v, want %v", n, got, want)
		}
		// y[1:] lies 4 bytes past the boundary (a 1,216-byte slice starts on one)
		if got, want := dotF64(x[:n], y[1:n+1]), dot64(x[:n], y[1:n+1]); got != want {
			t.Fatalf("n=%d unaligned: %v, want dot64's %v", n, got, want)
		}
		var exact float64
		for i := range n {
			exact += float64(x[i]) * float64(y[i])
		}
		if got := dotF64(x[:n], y[:n]); math.Abs(got-exact) > 1e-13*(1+math.Abs(exact)) {
			t.Fatalf("n=%d: %v, sum %v", n, got, exact)
		}
	}
}
