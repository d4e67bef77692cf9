package gan

import (
	"slices"
	"testing"
)

func channels(ls []Layer) []int {
	var out []int
	for _, l := range ls {
		out = append(out, l.Cout)
	}
	return out
}

// At the paper's sizes the layer stacks are the coded ones.
func TestLayerStacks(t *testing.T) {
	st512, _ := Stages("dcgan", 512)
	g := GeneratorLayers("g", 2048, st512, 16, 1, false, true, LReLU)
	if got := channels(g); !slices.Equal(got, []int{1024, 512, 256, 128, 64, 32, 16, 1}) || g[0].S != 1 || g[0].P != 0 || g[0].Cin != 2048 {
		t.Fatalf("DCGAN generator %v", got)
	}
	side := 1
	for _, l := range g {
		side = (side-1)*l.S - 2*l.P + l.K
	}
	if side != 512 {
		t.Fatalf("DCGAN generator output side %d", side)
	}
	d := TrunkLayers("d", st512, 4, 1)
	if got := channels(d); !slices.Equal(got, []int{4, 8, 16, 32, 64, 128, 256}) {
		t.Fatalf("DCGAN discriminator %v (plus the 4x4 head: eight convolutions)", got)
	}
	st128, _ := Stages("bigan", 128)
	if got := channels(TrunkLayers("e", st128, 64, 1)); !slices.Equal(got, []int{64, 128, 256, 512, 1024}) {
		t.Fatalf("BiGAN encoder %v", got)
	}
	if got := channels(GeneratorLayers("g", 100, st128, 64, 1, true, false, ReLU)); !slices.Equal(got, []int{1024, 512, 256, 128, 64, 1}) {
		t.Fatalf("BiGAN generator %v", got)
	}
	// the authors' 64 px variant: encoder 64..512, generator 512..64
	st64, _ := Stages("bigan", 64)
	if got := channels(GeneratorLayers("g", 100, st64, 64, 1, true, false, ReLU)); !slices.Equal(got, []int{512, 256, 128, 64, 1}) {
		t.Fatalf("64 px generator %v", got)
	}
}
