package dcgan

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/gan"
	"xraylab/nets/internal/nettest"
)

// Each network's gradient of its own loss (through spectral norm,
// minibatch discrimination, LeakyReLU, transposed convolutions and the
// BCE on soft labels) against central differences, in float64.
func TestDCGANNumericalGradients(t *testing.T) {
	m, err := newDCGAN(nets.Config{Size: 16, TopK: []int{5}, Params: nettest.TinyGANParams(true), Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 16)
	m.PowerIterate()
	z := gan.Normals(rand.New(rand.NewSource(99)), b.N*m.z)
	tr, tf := []float64{0.004, 0.001, 0.009}, []float64{0.995, 0.999, 0.992}
	nettest.CheckGANGradients(t, m.Nets(), func() (map[*gan.Net]float64, map[*gan.Net][]G.Value) {
		dp, ld, err := m.runD(b, z, tr, tf)
		if err != nil {
			t.Fatal(err)
		}
		gp, lg, err := m.runG(z)
		if err != nil {
			t.Fatal(err)
		}
		return map[*gan.Net]float64{m.d: ld, m.g: lg},
			map[*gan.Net][]G.Value{m.d: nettest.Grads(t, dp.gg, m.d), m.g: nettest.Grads(t, gp.gg, m.g)}
	})
}
