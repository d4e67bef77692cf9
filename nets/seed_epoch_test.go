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
