package nets

import (
	"bytes"
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// A VAE restored from a checkpoint and given the epoch's noise stream
// trains exactly as the model that never stopped.
func TestVAESeedEpochMakesResumeExact(t *testing.T) {
	m, saved := savedVAE(t)
	b := synthBatch(rand.New(rand.NewSource(12)), 3, 16)
	restored := tinyVAE(t, 999, 16, 0.125, 6, tensor.Float32) // other init seed: Load overwrites it
	if err := restored.Load(bytes.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	var _ EpochSeeder = m
	m.SeedEpoch(rand.New(rand.NewSource(3)))
	restored.SeedEpoch(rand.New(rand.NewSource(3)))
	for step := 0; step < 2; step++ {
		a, err := m.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		c, err := restored.TrainStep(b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(a["loss"]) != math.Float64bits(c["loss"]) {
			t.Fatalf("step %d: uninterrupted loss %v, resumed %v", step, a["loss"], c["loss"])
		}
	}
}

// Every model that draws noise while training takes an epoch stream.
func TestNoisyModelsAreEpochSeeders(t *testing.T) {
	for _, name := range []string{"vae", "dcgan", "bigan", "alphagan"} {
		size := 32
		m, err := New(name, Config{Size: size, TopK: []int{5}, Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(1))})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := m.(EpochSeeder); !ok {
			t.Errorf("%s does not implement EpochSeeder: a resumed run would draw other noise", name)
		}
	}
}
