package synth

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestFilmOption: film-like datasets name their own generator version,
// draw the subtler kinds as well, put markers and wedges off the hand,
// and, like every dataset, repeat byte for byte.
func TestFilmOption(t *testing.T) {
	gen := func() (string, *Report) {
		out := filepath.Join(t.TempDir(), "d")
		rep, err := Generate(context.Background(), Options{Out: out, Patients: 60, Size: 96, Seed: 5, Film: true, Workers: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out, rep
	}
	out, rep := gen()
	b, err := os.ReadFile(filepath.Join(rep.Root, "synthetic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Generator string  `json:"generator"`
		Options   Options `json:"options"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Generator != FilmVersion || !meta.Options.Film {
		t.Errorf("synthetic.json: %s", b)
	}
	for _, k := range FilmAnomalyKinds {
		if rep.Kinds[k] == 0 {
			t.Errorf("no %s among %v", k, rep.Kinds)
		}
	}
	seen := map[string]int{}
	files := treeFiles(t, out)
	for p, data := range files {
		if filepath.Ext(p) != ".json" || filepath.Base(p) == "synthetic.json" {
			continue
		}
		var tr imageTruth
		if err := json.Unmarshal(data, &tr); err != nil {
			t.Fatal(err)
		}
		for _, d := range tr.Distractors {
			seen[d.Kind]++
		}
	}
	if seen["marker-text"] == 0 || seen["wedge"] == 0 {
		t.Errorf("distractors %v: want text markers and wedges", seen)
	}
	again, _ := gen()
	if treeHash(t, out) != treeHash(t, again) {
		t.Error("the same options wrote different bytes")
	}
}
