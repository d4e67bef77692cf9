package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommandEndToEnd(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join("testdata", "cli-run.yaml")
	var out, errb bytes.Buffer
	code := run([]string{"run", spec, "--experiment", "tiny", "--var", filepath.Join(dir, "var")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{`experiment "tiny" (id 1): 2 runs`, "pixelgauss/raw/noHE/seed42", "pixelgauss/raw/noHE/seed4242", "test AUC mean_top20", "succeeded"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The report command reads the same database.
	out.Reset()
	if code := run([]string{"report", "1", "--var", filepath.Join(dir, "var")}, &out, &errb); code != 0 || !strings.Contains(out.String(), `experiment "tiny" (id 1)`) {
		t.Errorf("report: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// Score new images with a run's checkpoint: one CSV row per image and
	// a heatmap for models with anomaly maps; a bad file is reported.
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not a png"), 0o644)
	imgs, _ := filepath.Glob(filepath.Join(dir, "var", "data", "*", "MURA-v1.1", "valid", "XR_HAND", "*", "*", "image1.png"))
	if len(imgs) < 2 {
		t.Fatalf("found %d generated images to score", len(imgs))
	}
	out.Reset()
	errb.Reset()
	heat := filepath.Join(dir, "heat")
	code = run(append([]string{"score", "--checkpoint", filepath.Join(dir, "var", "artifacts", "1", "checkpoint.bin"), "--out", heat, junk}, imgs[:2]...), &out, &errb)
	if code != 0 {
		t.Fatalf("score: exit %d\n%s%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "path,half,mean,mean_top20,skipped" || !strings.HasPrefix(lines[1], junk+",0,,,") {
		t.Errorf("score CSV:\n%s", out.String())
	}
	if pngs, _ := filepath.Glob(filepath.Join(heat, "*-heatmap.png")); len(pngs) != 2 {
		t.Errorf("%d heatmaps written, want 2", len(pngs))
	}
	os.WriteFile(filepath.Join(dir, "cut.bin"), []byte(`{"format":"xraylab-run-checkpoint/2","sha256":"00"}`+"\nXRLPG"), 0o644)
	errb.Reset()
	if code := run([]string{"score", "--checkpoint", filepath.Join(dir, "cut.bin"), junk}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "cut.bin is corrupt or truncated: its model state does not match the checksum in its header") {
		t.Errorf("corrupt checkpoint: exit %d %s", code, errb.String())
	}

	// The comparison table in the paper's layout, in several formats.
	out.Reset()
	if code := run([]string{"report", "1", "--format", "markdown", "--var", filepath.Join(dir, "var")}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "| pixelgauss | mean |") || !strings.Contains(out.String(), "± ") {
		t.Errorf("report markdown: exit %d\n%s%s", code, out.String(), errb.String())
	}
	png := filepath.Join(dir, "table.png")
	if code := run([]string{"report", "1", "--format", "png", "--out", png, "--var", filepath.Join(dir, "var")}, &out, &errb); code != 0 {
		t.Errorf("report png: exit %d %s", code, errb.String())
	} else if b, _ := os.ReadFile(png); !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("report png wrote %d bytes that are not a PNG", len(b))
	}

	// Export the experiment and reproduce it from the bundle alone.
	bundle := filepath.Join(dir, "bundle")
	out.Reset()
	if code := run([]string{"export", "1", "--out", bundle, "--var", filepath.Join(dir, "var")}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"reproduce", bundle}, &out, &errb); code != 0 || !strings.Contains(out.String(), "figures reproduced within 1e-09") {
		t.Fatalf("reproduce: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// A bundle whose record was altered is caught.
	raw, _ := os.ReadFile(filepath.Join(bundle, "bundle.json"))
	altered := alterMetric(t, raw, "test/mean/roc_auc", 0.001)
	os.WriteFile(filepath.Join(bundle, "bundle.json"), altered, 0o644)
	out.Reset()
	errb.Reset()
	code = run([]string{"reproduce", bundle}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "DIFFERS") || !strings.Contains(errb.String(), "the reproduction differs from the record beyond 1e-09") {
		t.Errorf("altered bundle: exit %d\n%s%s", code, out.String(), errb.String())
	}

	// A failing run makes the command exit non-zero.
	out.Reset()
	errb.Reset()
	code = run([]string{"run", spec, "--experiment", "other", "--var", filepath.Join(dir, "var")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "1 of 1 runs did not succeed") || !strings.Contains(out.String(), "/nowhere") {
		t.Errorf("failing run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join("testdata", "cli-bad-model.yaml")
	good := filepath.Join("testdata", "cli-good.yaml")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"frobnicate"}, 2, `xraylab: unknown command "frobnicate"`},
		{[]string{"run"}, 2, "usage: xraylab run FILE"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, 1, "xraylab run: read spec: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{[]string{"run", bad, "--var", dir}, 1, "xraylab run: invalid spec, 1 problem(s):\n  experiments.e.models[0].name: unknown model \"cea\""},
		{[]string{"run", bad, "--workers", "0"}, 1, "xraylab run: --workers must be between 1 and 256, got 0"},
		{[]string{"run", bad, "--workers", "two"}, 2, `invalid value "two" for flag -workers`},
		{[]string{"run", good, "--experiment", "nope", "--var", dir}, 1, `no experiment named "nope" in the spec; it has: e`},
		{[]string{"serve", "--addr", "8080"}, 1, `xraylab serve: --addr "8080" is not host:port`},
		{[]string{"serve", "extra"}, 1, `xraylab serve: unexpected argument "extra"`},
		{[]string{"submit", bad, "--server", "ftp://x"}, 1, `xraylab submit: --server "ftp://x" is not an http(s) URL`},
		{[]string{"synth"}, 2, "usage: xraylab synth --out DIR"},
		{[]string{"synth", "--out", filepath.Join(dir, "s"), "--difficulty", "brutal"}, 1, `xraylab synth: synth: difficulty "brutal", want easy, medium or hard`},
		{[]string{"synth", "--out", filepath.Join(dir, "s"), "--patients", "0"}, 1, "xraylab synth: synth: patients = 0, want at least 1"},
		{[]string{"synth", "--out", filepath.Join(dir, "s"), "--size", "10"}, 1, "xraylab synth: synth: size = 10, want 64 to 4096 pixels"},
		{[]string{"synth", "--out", filepath.Join(dir, "s"), "--workers", "-1"}, 1, "xraylab synth: --workers must be between 0 (one per core) and 256, got -1"},
		{[]string{"preprocess"}, 2, "usage: xraylab preprocess --data MURA_ROOT"},
		{[]string{"preprocess", "--data", dir, "--variant", "odd"}, 1, `unknown Variant "odd" (want raw, crop or full)`},
		{[]string{"preprocess", "--data", dir, "--rows", "0"}, 1, "--rows must be between 1 and 200, got 0"},
		{[]string{"preprocess", "--data", filepath.Join(dir, "nope"), "--cache", ""}, 1, "MURA root " + filepath.Join(dir, "nope") + ": no such folder"},
		{[]string{"report", "abc", "--var", dir}, 1, `xraylab report: experiment id must be a positive integer, got "abc"`},
		{[]string{"report", "1", "--format", "docx", "--var", dir}, 1, `xraylab report: --format "docx": must be one of text, json, csv, markdown, latex, png, svg, html`},
		{[]string{"report", "1", "--format", "png", "--var", dir}, 1, "xraylab report: --format png writes an image: give --out FILE"},
		{[]string{"score"}, 2, "usage: xraylab score --checkpoint FILE"},
		{[]string{"score", "--checkpoint", bad, bad}, 1, "is not an xraylab run checkpoint"},
		{[]string{"preprocess", "--data", dir, "--size", "3"}, 1, "xraylab preprocess: --size must be between 16 and 1024 pixels (as a spec's image_size), got 3"},
		{[]string{"export", "1"}, 2, "usage: xraylab export EXPERIMENT_ID --out DIR"},
		{[]string{"reproduce", filepath.Join(dir, "nobundle")}, 1, "xraylab reproduce: " + filepath.Join(dir, "nobundle") + " is not an xraylab bundle: it has no bundle.json"},
		{[]string{"reproduce", dir, "--tolerance", "-1"}, 1, "xraylab reproduce: --tolerance must be a number >= 0, got -1"},
		{[]string{"serve", "--backend", "bogus", "--var", dir}, 1, `xraylab serve: --backend "bogus": want local or slurm`},
		{[]string{"serve", "--backend", "slurm", "--slurm-time", "1h", "--var", dir}, 1, `xraylab serve: --slurm-time "1h": want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS`},
		{[]string{"submit", good, "--token-file", filepath.Join(dir, "no-token")}, 1, "(start xraylab serve once to create it, or set XRAYLAB_TOKEN)"},
		{[]string{"worker"}, 2, "usage: xraylab worker --run ID --server URL --token-file FILE"},
		{[]string{"report", "1", "--var", filepath.Join(dir, "empty")}, 1, "xraylab report: no database at " + filepath.Join(dir, "empty", "xraylab.db")},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		all := out.String() + errb.String()
		if code != c.code || !strings.Contains(all, c.want) {
			t.Errorf("%v: exit %d, output:\n%s\nwant exit %d and %q", c.args, code, all, c.code, c.want)
		}
	}
}

// alterMetric adds delta to one final metric of every run in a bundle.json.
func alterMetric(t *testing.T, raw []byte, key string, delta float64) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	for _, r := range b["runs"].([]any) {
		m := r.(map[string]any)["metrics"].(map[string]any)
		m[key] = m[key].(float64) + delta
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
