package nets

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestDbgE(t *testing.T) {
	m := tinyGAN(t, "alphagan", 5, tensor.Float64).(*alphagan)
	m.powerIterate()
	r := rand.New(rand.NewSource(2))
	for _, variant := range []int{0, 1, 2, 3} {
		t.Log("variant", variant)
		gradCheck(t, func(g *G.ExprGraph) (*G.Node, []*G.Node, []*tensor.Dense) {
			xv := randDense(r, 3, 1, 16, 16)
			xn := bound(g, "xx", xv)
			gg := &ganGraph{g: g, dt: tensor.Float64, binds: map[*ganNet]*netBind{}}
			b := gg.bind(m.e)
			var h *G.Node
			switch variant {
			case 0:
				h = G.Must(b.forward(xn, m.eTrunk[:1], 0.1))
			case 1:
				h = G.Must(b.forward(xn, m.eTrunk, 0.1))
			case 2:
				h = G.Must(b.forward(xn, append(append([]gLayer(nil), m.eTrunk...), m.eMu), 0.1))
			case 3:
				mu, _, _ := m.encode(b, xn, false)
				h = mu
			}
			return weighted(t, g, h, r), []*G.Node{xn}, []*tensor.Dense{xv}
		})
	}
}
