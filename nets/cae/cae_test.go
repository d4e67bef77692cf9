package cae

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
)

func TestCAEArchitecture(t *testing.T) {
	ls := caeLayers(1)
	if len(ls) != 16 {
		t.Fatalf("%d layers, want 10 encoder + 6 decoder", len(ls))
	}
	var chans []int
	for _, l := range ls {
		chans = append(chans, l.cout)
	}
	want := []int{16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 256, 128, 64, 32, 16, 1}
	for i := range want {
		if chans[i] != want[i] {
			t.Fatalf("channels %v, want %v", chans, want)
		}
	}
	// At 512 px the bottleneck is 512×16×16 and the output 1×512×512.
	h := 512
	for i, l := range ls {
		if l.transpose {
			h = (h-1)*l.s - 2*l.p + l.k
		} else {
			h = (h+2*l.p-l.k)/l.s + 1
		}
		if i == 9 && (h != 16 || l.cout != 512) {
			t.Fatalf("bottleneck %d×%d×%d, want 512×16×16", l.cout, h, h)
		}
	}
	if h != 512 || ls[len(ls)-1].bn || !ls[len(ls)-2].bn {
		t.Fatalf("output side %d (want 512); BN on last layer %v", h, ls[len(ls)-1].bn)
	}
	if got := caeLayers(0.25)[9].cout; got != 128 {
		t.Fatalf("width 0.25 bottleneck channels %d, want 128", got)
	}
}

// The CAE's loss gradient (every layer: Conv2d, BatchNorm, ReLU, the
// transposed convolutions, Tanh, masked MSE) against central differences,
// in float64 on a tiny input.
func TestCAENumericalGradient(t *testing.T) {
	m, err := newCAE(nets.Config{Size: 32, Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(5))}, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := nettest.SynthBatch(rand.New(rand.NewSource(6)), 3, 32)
	// three entries of every parameter tensor
	if checked := nettest.CheckAEGradients(t, m, b, rand.New(rand.NewSource(8)), 3); checked < 3*len(m.PS.Names) {
		t.Fatalf("checked only %d entries", checked)
	}
}
