package experiments

import (
	"os"
	"testing"
)

// The shipped suites must stay valid for this binary, and the demo small.
func TestShippedSuites(t *testing.T) {
	text, err := os.ReadFile("../experiments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseSpec(text)
	if err != nil {
		t.Fatalf("experiments.yaml: %v", err)
	}
	for _, name := range []string{"demo", "cpu", "paper"} {
		if _, ok := spec.Find(name); !ok {
			t.Errorf("experiments.yaml lacks the %q suite", name)
		}
	}
	demo, _ := spec.Find("demo")
	if n := demo.GridSize(); n > 12 {
		t.Errorf("demo expands to %d runs; keep it to minutes on 2 cores", n)
	}
	for _, r := range demo.Expand() {
		if r.ImageSize > 64 || r.Epochs > 5 {
			t.Errorf("demo run %s: %d px, %d epochs is too big for the demo", r.Label(), r.ImageSize, r.Epochs)
		}
	}
	paper, _ := spec.Find("paper")
	for _, r := range paper.Expand() {
		if r.Model.Name == "cae" && (r.ImageSize != 512 || r.Epochs != 1000 || r.BatchSize != 32) {
			t.Errorf("paper CAE run %s: %d px, %d epochs, batch %d; the paper trains 512 px, 1000 epochs, batch 32", r.Label(), r.ImageSize, r.Epochs, r.BatchSize)
		}
	}
}
