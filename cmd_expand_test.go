package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"xraylab/experiments"
)

// expand prints every run with its resolved settings, paper defaults included.
func TestExpandTable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"expand", "experiments.yaml", "--experiment", "paper"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != `experiment "paper": 168 runs` || len(lines) != 2+168 {
		t.Fatalf("got %d lines, first %q", len(lines), lines[0])
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "# model pre HE seed split size resize epochs batch aug scores topk select params" {
		t.Errorf("header = %q", lines[1])
	}
	var vae, bigan string
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		switch {
		case vae == "" && f[1] == "vae":
			vae = strings.Join(f, " ")
		case bigan == "" && f[1] == "bigan":
			bigan = strings.Join(f, " ")
		}
	}
	if want := "72 vae raw false 42 42 512 pad 500 32 default kld,l1,l1_kld,l1_topk,mse,mse_kld,mse_topk 200 last beta1=0.9 beta2=0.999 lr=0.0001 width=1 z=1024"; vae != want {
		t.Errorf("vae row\n%s\nwant\n%s", vae, want)
	}
	if want := "120 bigan raw false 42 42 128 fit 500 16 default mse,mse_topk,d 200 last beta1=0.5 beta2=0.999 hinge=1 lr_d=5e-06 lr_ge=0.001 slope=0.1 width=1 z=100"; bigan != want {
		t.Errorf("bigan row\n%s\nwant\n%s", bigan, want)
	}
}

func TestExpandJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"expand", "--json", filepath.Join("testdata", "cli-run.yaml")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var runs []map[string]any
	if err := json.Unmarshal(out.Bytes(), &runs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	// tiny has two seeds, other one run.
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3", len(runs))
	}
	r := runs[1]
	if r["experiment"] != "tiny" || r["label"] != "pixelgauss/raw/noHE/seed4242" || r["index"] != 1.0 || r["resize"] != "fit" ||
		r["image_size"] != 32.0 || r["epochs"] != 1.0 || r["batch_size"] != 8.0 || r["seed"] != 4242.0 || r["split_seed"] != 4242.0 {
		t.Errorf("run = %v", r)
	}
	m := r["model"].(map[string]any)
	if m["augmentation"] != "none" || m["params"].(map[string]any)["var_floor"] != 0.001 {
		t.Errorf("model = %v", m)
	}
	if runs[2]["experiment"] != "other" || runs[2]["image_size"] != 64.0 {
		t.Errorf("other = %v", runs[2])
	}
}

func TestExpandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join("testdata", "cli-bad-model.yaml")
	good := filepath.Join("testdata", "cli-good.yaml")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"expand"}, 2, "usage: xraylab expand FILE [--experiment NAME] [--json]\n"},
		{[]string{"expand", good, good}, 2, "usage: xraylab expand FILE [--experiment NAME] [--json]\n"},
		{[]string{"expand", good, "--jsn"}, 2, "flag provided but not defined: -jsn\n"},
		{[]string{"expand", filepath.Join(dir, "missing.yaml")}, 1, "xraylab expand: read spec: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory\n"},
		{[]string{"expand", bad}, 1, "xraylab expand: invalid spec, 1 problem(s):\n  experiments.e.models[0].name: unknown model \"cea\"; known: "},
		{[]string{"expand", good, "--experiment", "nope"}, 1, "xraylab expand: no experiment named \"nope\" in the spec; it has: e\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", c.args, code, out.String(), errb.String(), c.code, c.want)
		}
	}
	var out bytes.Buffer
	if run([]string{"help"}, &out, &out); !strings.Contains(out.String(), "xraylab expand FILE [--experiment NAME] [--json]") {
		t.Errorf("usage lacks expand:\n%s", out.String())
	}
}

// The topk column shows topk_frac's shares after the k values.
func TestExpandTopKColumn(t *testing.T) {
	if got := topKColumn(experiments.ModelSpec{TopK: []int{200}, TopKFrac: []float64{0.01, 0.05}}); got != "200;frac=0.01,0.05" {
		t.Errorf("with shares: %q", got)
	}
	if got := topKColumn(experiments.ModelSpec{TopK: []int{5, 200}}); got != "5,200" {
		t.Errorf("without shares: %q", got)
	}
}
