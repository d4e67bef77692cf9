package nets

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func checkNet(t *testing.T, label string, m *alphagan, net *ganNet, build func(gg *ganGraph) *G.Node, inputs map[string][]float64) {
	gg := newGANGraph(tensor.Float64)
	cost := build(gg)
	if err := gg.compile(cost, net); err != nil {
		t.Fatal(err)
	}
	run := func() float64 {
		for k, v := range inputs {
			gg.set(k, v)
		}
		if err := gg.run(); err != nil {
			t.Fatal(err)
		}
		return gg.scalar(cost)
	}
	run()
	gv, _ := gg.grads(net)
	var an [][]float64
	for _, g := range gv {
		an = append(an, append([]float64(nil), g.Data().([]float64)...))
	}
	bad := 0
	for pi := range net.ps.names {
		d := net.ps.vals[pi].Float64s()
		for i := 0; i < len(d) && i < 6; i++ {
			o := d[i]
			d[i] = o + 1e-6
			up := run()
			d[i] = o - 1e-6
			down := run()
			d[i] = o
			num := (up - down) / 2e-6
			if math.Abs(num-an[pi][i]) > 1e-6+1e-4*math.Abs(num) {
				bad++
				if bad < 3 {
					t.Logf("%s %s[%d] an %g num %g", label, net.ps.names[pi], i, an[pi][i], num)
				}
			}
		}
	}
	t.Logf("%s: %d bad", label, bad)
}

func TestDbgAG(t *testing.T) {
	m := tinyGAN(t, "alphagan", 5, tensor.Float64).(*alphagan)
	m.powerIterate()
	b := synthBatch(rand.New(rand.NewSource(6)), 3, 16)
	r := rand.New(rand.NewSource(99))
	z := normals(r, 3*m.z)
	x := imagesOf(b)
	rr := rand.New(rand.NewSource(3))
	_ = z
	eps := normals(r, 3*m.z)
	_ = eps
	for v := 0; v < 3; v++ {
		checkNet(t, fmt.Sprint("heads ", v), m, m.e, func(gg *ganGraph) *G.Node {
			b := gg.bind(m.e)
			xn := gg.input("x", 3, 1, 16, 16)
			h := G.Must(b.forward(xn, m.eTrunk, 0.1))
			mh, sh := m.eMu, m.eScale
			if v == 1 {
				mh.act, sh.act = aNone, aNone
			}
			mu := G.Must(b.forward(h, []gLayer{mh}, 0.1))
			sc := G.Must(b.forward(h, []gLayer{sh}, 0.1))
			if v == 2 {
				mu, sc = G.Must(flatten(mu)), G.Must(flatten(sc))
			}
			return weighted(t, gg.g, G.Must(G.Add(mu, sc)), rr)
		}, map[string][]float64{"x": x})
	}
}
