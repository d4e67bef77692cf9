package main

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"xraylab/nets"
	"xraylab/nets/ae"
)

// The PyTorch CAE reference computes what xraylab's CAE computes: with
// xraylab's weights and running statistics (a narrow 32 px CAE after ten
// training steps at lr 0.01, inference mode), torch_models.py's network
// gives the same reconstruction within float32 rounding. Needs Debian's
// python3-torch; skipped without.
func TestTorchCAEMatchesXraylab(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("no PyTorch at %s: %v", py, err)
	}
	const size, n, width = 32, 2, 0.125
	m, err := nets.New("cae", nets.Config{Size: size, Params: map[string]float64{"width": width, "lr": 0.01}, Rand: rand.New(rand.NewSource(7))})
	if err != nil {
		t.Fatal(err)
	}
	cae := m.(*ae.Model)
	b := synthBatch(rand.New(rand.NewSource(8)), n, size)
	// some training first, so that the output and the running statistics
	// are not the untrained network's (whose output is ~1e-9)
	for range 10 {
		if _, err := cae.TrainStep(b); err != nil {
			t.Fatal(err)
		}
	}
	recon, err := cae.Reconstruct(b)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"width": width, "size": size, "n": n, "x": b.Images, "params": map[string][]float32{}}
	for i, name := range cae.PS.Names {
		in["params"].(map[string][]float32)[name] = cae.PS.Vals[i].Float32s()
	}
	for _, st := range cae.Stats {
		in["params"].(map[string][]float32)[st.Name+".mean"] = st.Mean.Float32s()
		in["params"].(map[string][]float32)[st.Name+".var"] = st.Variance.Float32s()
	}
	path := filepath.Join(t.TempDir(), "cae.json")
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "torch_models.py", "--parity-cae", path).Output()
	if err != nil {
		t.Fatalf("torch_models.py --parity-cae: %v", err)
	}
	var got []float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("reading torch's output: %v (%q)", err, out)
	}
	if len(got) != len(recon) {
		t.Fatalf("torch gives %d values, xraylab %d", len(got), len(recon))
	}
	var worst float64
	nonzero := 0
	for i := range recon {
		worst = math.Max(worst, math.Abs(got[i]-recon[i]))
		if recon[i] != 0 {
			nonzero++
		}
	}
	// the output is Tanh(ReLU(·)): a comparison of zeros would prove nothing
	if nonzero < len(recon)/50 || slices.Max(recon) < 1e-3 {
		t.Fatalf("only %d of %d reconstructed pixels are non-zero, the largest %g; pick another seed", nonzero, len(recon), slices.Max(recon))
	}
	if worst > 1e-5*slices.Max(recon) {
		t.Errorf("largest difference between torch's and xraylab's reconstruction %g, want ≤ 1e-5 of the largest value", worst)
	}
	t.Logf("largest difference %g over %d pixels, %d non-zero, largest %g", worst, len(recon), nonzero, slices.Max(recon))
}
