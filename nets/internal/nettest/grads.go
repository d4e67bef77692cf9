package nettest

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"

	"xraylab/nets"
	"xraylab/nets/ae"
	"xraylab/nets/gan"
)

// CheckAEGradients compares an autoencoder's masked-MSE gradients on b
// (a float64 model) with central differences: perTensor random entries of
// every parameter tensor. It returns how many entries it checked.
func CheckAEGradients(t *testing.T, m *ae.Model, b *nets.Batch, r *rand.Rand, perTensor int) int {
	t.Helper()
	ag, _, err := m.ForwardBackward(b)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := ag.Grads()
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		_, l, err := m.ForwardBackward(b)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return CheckParamGradients(t, m.PS, Copies(gv), loss, r, perTensor)
}

// Copies copies float64 gradients out of the graph, which reuses them.
func Copies(gv []G.Value) [][]float64 {
	out := make([][]float64, len(gv))
	for i, g := range gv {
		out[i] = append([]float64(nil), g.Data().([]float64)...)
	}
	return out
}

// GANRun runs a GAN's phases on fixed inputs and returns, for each network,
// its loss and gradients (float64 models only).
type GANRun func() (map[*gan.Net]float64, map[*gan.Net][]G.Value)

// CheckGANGradients compares each network's gradient of its own loss with
// central differences: two random entries of every parameter tensor.
func CheckGANGradients(t *testing.T, ns []*gan.Net, run GANRun) {
	t.Helper()
	_, gv := run()
	analytic := map[*gan.Net][][]float64{}
	for _, n := range ns {
		analytic[n] = Copies(gv[n])
	}
	r := rand.New(rand.NewSource(8))
	for _, n := range ns {
		CheckParamGradients(t, n.PS, analytic[n], func() float64 { l, _ := run(); return l[n] }, r, 2)
	}
}

// Grads are a network's gradients from the last run of gg.
func Grads(t *testing.T, gg *gan.Graph, n *gan.Net) []G.Value {
	t.Helper()
	g, err := gg.Grads(n)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TinyGANParams keep every network of a GAN a few hundred parameters
// wide; mbd adds the minibatch-discrimination sizes.
func TinyGANParams(mbd bool) map[string]float64 {
	p := map[string]float64{"width": 0.125, "z": 8}
	if mbd {
		p["mbd_kernels"], p["mbd_dims"] = 3, 2
	}
	return p
}

// ForEachGANLoss runs f as the subtests "hinge" and "bce": a tiny
// float64-ready config of that loss and a batch of three 16 px images.
func ForEachGANLoss(t *testing.T, mbd bool, f func(t *testing.T, cfg nets.Config, b *nets.Batch)) {
	for _, c := range []struct {
		label string
		hinge float64
	}{{"hinge", 1}, {"bce", 0}} {
		t.Run(c.label, func(t *testing.T) {
			p := TinyGANParams(mbd)
			p["hinge"] = c.hinge
			f(t, nets.Config{Size: 16, TopK: []int{5}, Params: p, Rand: rand.New(rand.NewSource(5))}, SynthBatch(rand.New(rand.NewSource(6)), 3, 16))
		})
	}
}

// CheckSaliency compares a model's saliency gradient ∂d/∂x (from grad)
// with central differences of the "d" score Score gives, at a few pixels
// of b's images (put on a 1/256 grid, the step 2⁻¹⁰, so x ± h is exact in
// float32); at least one checked gradient must be nonzero.
func CheckSaliency(t *testing.T, m nets.Model, b *nets.Batch, grad func(*nets.Batch) ([]float64, error)) {
	t.Helper()
	for i, v := range b.Images {
		b.Images[i] = float32(math.Round(float64(v)*256) / 256)
	}
	g, err := grad(b)
	if err != nil {
		t.Fatal(err)
	}
	px := b.Pixels()
	const h = 1.0 / 1024
	d := func(i int, img []float32) float64 {
		s, err := m.Score(&nets.Batch{N: 1, H: b.H, W: b.W, Images: img, Masks: b.Mask(i)})
		if err != nil {
			t.Fatal(err)
		}
		return s.Scores["d"][0]
	}
	nonzero := 0
	for k := 0; k < 9; k++ {
		idx := (k*len(g))/9 + k
		i, p := idx/px, idx%px
		img := append([]float32(nil), b.Image(i)...)
		img[p] += h
		up := d(i, img)
		img[p] -= 2 * h
		down := d(i, img)
		num := (up - down) / (2 * h)
		if math.Abs(num-g[idx]) > 1e-6+1e-4*math.Abs(num) {
			t.Errorf("∂d/∂x at image %d pixel %d: analytic %.9g, numerical %.9g", i, p, g[idx], num)
		}
		if g[idx] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("every checked gradient is zero")
	}
}
