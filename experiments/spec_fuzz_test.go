package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"xraylab/nets"
)

// FuzzParseSpec: ParseSpec must answer any text with a spec or a coded
// error (invalid or too_large) whose problems name a place, never panic;
// and a spec it accepts must satisfy every limit and expand into runs that
// survive the JSON round trip runs are stored with.
func FuzzParseSpec(f *testing.F) {
	for _, p := range []string{"testdata/valid.yaml", "../experiments.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(ensembleYAML))
	f.Fuzz(func(t *testing.T, text []byte) {
		spec, err := ParseSpec(text)
		if err != nil {
			if spec != nil {
				t.Fatal("spec and error both returned")
			}
			if c := CodeOf(err); c != CodeInvalid && c != CodeTooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			for _, p := range SpecProblems(err) {
				if p.Path == "" || p.Message == "" || p.Line < 0 || p.Column < 0 {
					t.Fatalf("problem without a place or message: %+v", p)
				}
			}
			return
		}
		sum := sha256.Sum256(text)
		if spec.Hash != hex.EncodeToString(sum[:]) || spec.Text != string(text) {
			t.Fatal("hash or text do not match the input")
		}
		total := 0
		for _, e := range spec.Experiments {
			// Only an experiment of ensembles over runs by id may lack a dataset.
			noData := e.Dataset.Synthetic == nil && e.Dataset.MURA == nil && len(e.Models) == 0
			if !validName(e.Name) || ((e.Dataset.Synthetic == nil) == (e.Dataset.MURA == nil) && !noData) ||
				e.ImageSize < 16 || e.ImageSize > 1024 || e.Epochs < 1 || e.BatchSize < 1 || e.CheckpointEvery < 1 {
				t.Fatalf("accepted experiment breaks a limit: %+v", e)
			}
			runs := e.Expand()
			if len(runs) != e.GridSize() || len(runs) == 0 {
				t.Fatalf("%s: %d runs for a grid of %d", e.Name, len(runs), e.GridSize())
			}
			total += len(runs)
			for _, r := range runs {
				if r.Ensemble != nil {
					if len(r.Ensemble.Members) < 2 || len(r.Ensemble.Members) > maxEnsembleMembers {
						t.Fatalf("accepted an ensemble of %d members", len(r.Ensemble.Members))
					}
				} else if _, ok := nets.Lookup(r.Model.Name); !ok {
					t.Fatalf("accepted unknown model %q", r.Model.Name)
				}
				raw, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				back, err := DecodeRunSpec(raw)
				if err != nil || !reflect.DeepEqual(back, r) {
					t.Fatalf("run spec does not survive JSON: %v\n%+v\n%+v", err, r, back)
				}
			}
		}
		if total > MaxRuns {
			t.Fatalf("accepted %d runs, limit %d", total, MaxRuns)
		}
	})
}

// bombs are hostile specs: each must be refused, and cheaply.
func bombs() map[string]string {
	// Billion laughs: ten aliases per level, nine levels.
	laughs := "l0: &l0 {name: pixelgauss}\n"
	for i := 1; i < 10; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", ")
		laughs += fmt.Sprintf("l%d: &l%d [%s]\n", i, i, refs)
	}
	// Aliases the schema does follow: an experiment body reused by many
	// names, each with the largest lists.
	var body strings.Builder
	body.WriteString("m: &m {name: pixelgauss, topk: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}\n")
	body.WriteString("e: &e {dataset: {synthetic: {}}, preprocessing: [raw, crop, full], histogram_equalization: [true, false], models: [")
	body.WriteString(strings.TrimSuffix(strings.Repeat("*m, ", 32), ", ") + "], seeds: [")
	for i := 0; i < 100; i++ {
		body.WriteString(strconv.Itoa(i) + ",")
	}
	body.WriteString("100]}\nexperiments:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&body, "  e%d: *e\n", i)
	}
	var keys strings.Builder
	keys.WriteString("experiments:\n  e:\n")
	for i := 0; keys.Len() < MaxSpecBytes-64; i++ {
		fmt.Fprintf(&keys, "    k%d: 1\n", i)
	}
	return map[string]string{
		"laughs-top":      laughs + "experiments: {e: {dataset: {synthetic: {}}, models: *l9}}\n",
		"laughs-anchors":  laughs + "experiments: *l9\n",
		"aliased-bodies":  body.String(),
		"deep-flow":       "experiments: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
		"deep-flow-map":   "experiments: " + strings.Repeat("{a: ", 5000) + "1" + strings.Repeat("}", 5000) + "\n",
		"deep-block":      deepBlock(200),
		"huge-scalar":     "experiments:\n  e:\n    description: " + strings.Repeat("x", MaxSpecBytes-40) + "\n",
		"over-size":       "experiments:\n  e:\n    description: " + strings.Repeat("x", MaxSpecBytes) + "\n",
		"many-keys":       keys.String(),
		"flat-list":       "experiments: [" + strings.Repeat("1,", (MaxSpecBytes-20)/2) + "1]\n",
		"grid-over-limit": "experiments:\n  e:\n    dataset: {synthetic: {}}\n    preprocessing: [raw, crop, full]\n    histogram_equalization: [true, false]\n    models: [" + strings.TrimSuffix(strings.Repeat("{name: pixelgauss}, ", 17), ", ") + "]\n    seeds: [" + seedList(100) + "]\n",
	}
}

func deepBlock(levels int) string {
	var b strings.Builder
	b.WriteString("experiments:\n")
	for i := 1; i <= levels; i++ {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func seedList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return strings.Join(s, ", ")
}

// The bombs are refused with a bounded allocation. The bound is what 1 MiB
// of YAML costs yaml.v3 to build as nodes (about 140 bytes per input byte
// here), so it checks that nothing expands beyond the text itself.
func TestSpecBombsRefused(t *testing.T) {
	const maxAlloc = 256 << 20
	for name, text := range bombs() {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		spec, err := ParseSpec([]byte(text))
		runtime.ReadMemStats(&m1)
		if err == nil {
			t.Errorf("%s: accepted (%d experiments)", name, len(spec.Experiments))
			continue
		}
		if c := CodeOf(err); c != CodeInvalid && c != CodeTooLarge {
			t.Errorf("%s: code %s", name, c)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > maxAlloc {
			t.Errorf("%s: %d bytes of input allocated %d MiB", name, len(text), a>>20)
		}
		t.Logf("%s: %d bytes in, %d MiB allocated, %d problem(s): %.120s", name, len(text), (m1.TotalAlloc-m0.TotalAlloc)>>20, len(SpecProblems(err)), err)
	}
}

// TestWriteSpecFuzzCorpus regenerates testdata/fuzz/FuzzParseSpec when
// XRAYLAB_WRITE_CORPUS=1: small hostile and odd specs (the large bombs are
// built by TestSpecBombsRefused instead of being stored).
func TestWriteSpecFuzzCorpus(t *testing.T) {
	if os.Getenv("XRAYLAB_WRITE_CORPUS") != "1" {
		t.Skip("set XRAYLAB_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseSpec")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := bombs()
	seeds := map[string]string{
		"laughs-top":     b["laughs-top"],
		"laughs-anchors": b["laughs-anchors"],
		"deep-flow-40":   "experiments: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n",
		"deep-block-40":  deepBlock(40),
		"merge-key":      "base: &b {dataset: {synthetic: {}}, models: [{name: pixelgauss}]}\nexperiments:\n  e:\n    <<: *b\n    epochs: 1\n",
		"tags":           "experiments:\n  e: !!map\n    dataset: {synthetic: {patients: !!str 8}}\n    models: [{name: !!binary cGl4ZWxnYXVzcw==}]\n",
		"two-docs":       "experiments: {}\n---\nexperiments: {}\n",
		"doc-marker":     "---\n...\n",
		"null":           "~\n",
		"cycle-alias":    "a: &a [*a]\nexperiments: *a\n",
		"mura":           "experiments:\n  r:\n    dataset: {mura: {root: ../../etc, body_part: XR_HAND, parts: [train, valid]}}\n    models: [{name: cae, params: {width: 0.125}}]\n",
		"numbers":        "experiments:\n  e:\n    dataset: {synthetic: {seed: 0x10}}\n    image_size: 3.2e1\n    epochs: 1_0\n    models: [{name: pixelgauss, params: {var_floor: .nan}}]\n    seeds: [-1, 9223372036854775808]\n",
		"tabs-and-bom":   "\ufeffexperiments:\n\te: {}\n",
		"unicode-name":   "experiments:\n  \u00e9t\u00e9: {dataset: {synthetic: {}}, models: [{name: pixelgauss}]}\n",
		"split-seed":     "experiments:\n  e:\n    dataset: {synthetic: {}}\n    split_seed: run\n    models: [{name: pixelgauss, topk: [1, 4194304]}]\n",
	}
	for name, text := range seeds {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(text) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
