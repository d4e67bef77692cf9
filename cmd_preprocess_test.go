package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xraylab/preprocess"
	"xraylab/preprocess/synth"
)

// TestPreprocessFlagErrors: every bad preprocess flag value gets its own
// message.
func TestPreprocessFlagErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join("preprocess", "testdata", "mura-fixture", "MURA-v1.1")
	all := "XR_ELBOW,XR_FINGER,XR_FOREARM,XR_HAND,XR_HUMERUS,XR_SHOULDER,XR_WRIST"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--body-part", "XR_KNEE"}, `xraylab preprocess: --body-part "XR_KNEE": want all or a comma-separated list of ` + all + "\n"},
		{[]string{"--body-part", ""}, `xraylab preprocess: --body-part "": want all or a comma-separated list of ` + all + "\n"},
		{[]string{"--body-part", "XR_HAND,ALL"}, `xraylab preprocess: --body-part "ALL": want all or a comma-separated list of ` + all + "\n"},
		{[]string{"--body-part", "XR_HAND,XR_HAND"}, "xraylab preprocess: --body-part lists XR_HAND twice\n"},
		{[]string{"--out", file}, "xraylab preprocess: --out " + file + ": not a folder\n"},
		{[]string{"--truth", filepath.Join(dir, "nope")}, "xraylab preprocess: --truth " + filepath.Join(dir, "nope") + ": no such folder\n"},
		{[]string{"--truth", file}, "xraylab preprocess: --truth " + file + ": no such folder\n"},
		{[]string{"--truth", empty, "--variant", "crop"}, `xraylab preprocess: --truth compares foreground masks: it needs --variant full, got "crop"` + "\n"},
		{[]string{"--truth-json", file}, "xraylab preprocess: --truth-json needs --truth DIR\n"},
		{[]string{"--truth", empty, "--truth-json", filepath.Join(dir, "t.json")}, "xraylab preprocess: --truth: no reference masks (*_hand.png) found under " + empty + " or beside the images\n"},
		{[]string{"--body-part", "XR_ELBOW"}, "xraylab preprocess: MURA folder " + filepath.Join(fixture, "train", "XR_ELBOW") + ": no such folder"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		args := append([]string{"preprocess", "--data", fixture, "--cache", "", "--sheet", ""}, c.args...)
		code := run(args, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 1 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestPreprocessOutAndTruth: --out writes each image's mask in its own
// pixel grid, a JSON record and the model inputs; --truth compares the
// masks with reference masks under a folder (the generator's truth tree)
// or beside the images.
func TestPreprocessOutAndTruth(t *testing.T) {
	dir := t.TempDir()
	rep, err := synth.Generate(context.Background(), synth.Options{Out: filepath.Join(dir, "data"), Patients: 3, Size: 256, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	truthDir := rep.Root + "-truth"
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	args := []string{"preprocess", "--data", rep.Root, "--parts", "train,valid", "--body-part", "all", "--cache", "", "--sheet", "",
		"--size", "32", "--out", out, "--truth", truthDir}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	ds, err := preprocess.LoadMURA(rep.Root, preprocess.LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range ds.Records {
		base := filepath.Join(out, strings.TrimSuffix(filepath.FromSlash(rec.RelPath), ".png"))
		mask, err := preprocess.ReadGray(base + "_hand.png")
		if err != nil {
			t.Fatal(err)
		}
		src, err := preprocess.ReadGray(rec.Path)
		if err != nil {
			t.Fatal(err)
		}
		if mask.Bounds() != src.Bounds() {
			t.Errorf("%s: mask %v, image %v", rec.RelPath, mask.Bounds(), src.Bounds())
		}
		for _, v := range mask.Pix {
			if v != 0 && v != 255 {
				t.Fatalf("%s: mask value %d, want 0 or 255", rec.RelPath, v)
			}
		}
		b, err := os.ReadFile(base + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			RelPath string `json:"rel_path"`
			Hands   []struct {
				Box [4]int `json:"box"`
			} `json:"hands"`
			Mask   *preprocess.MaskStats `json:"mask"`
			Inputs []string              `json:"inputs"`
			IoU    *float64              `json:"iou"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.RelPath != rec.RelPath || len(r.Hands) == 0 || r.Mask == nil || r.IoU == nil || len(r.Inputs) != len(r.Hands) {
			t.Errorf("%s: record %s", rec.RelPath, b)
			continue
		}
		for _, in := range r.Inputs {
			g, err := preprocess.ReadGray(filepath.Join(out, filepath.FromSlash(in)))
			if err != nil || g.Bounds().Dx() != 32 || g.Bounds().Dy() != 32 {
				t.Errorf("%s: input %s: %v %v", rec.RelPath, in, g.Bounds(), err)
			}
		}
	}
	var tr preprocess.TruthReport
	b, err := os.ReadFile(filepath.Join(out, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Images) != len(ds.Records) || tr.MeanIoU < 0.8 || tr.MinIoU > tr.MeanIoU || tr.MeanDice < tr.MeanIoU {
		t.Errorf("truth.json: %d images (want %d), %s", len(tr.Images), len(ds.Records), b)
	}
	for _, want := range []string{"mean (" + strconv.Itoa(len(ds.Records)) + " images)", "min ", "comparison: " + filepath.Join(out, "truth.json")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	// A reference beside an image is found without it being an image.
	first := ds.Records[0]
	ref := filepath.Join(truthDir, strings.TrimSuffix(filepath.FromSlash(first.RelPath), ".png")+"_hand.png")
	data, err := os.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(first.Path, ".png")+"_hand.png", data, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	args = []string{"preprocess", "--data", rep.Root, "--parts", "train,valid", "--cache", "", "--sheet", "", "--size", "32",
		"--truth", empty, "--truth-json", filepath.Join(dir, "beside.json")}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("beside: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	want := strconv.Itoa(len(ds.Records)) + " images ->"
	if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "mean (1 images)") ||
		!strings.Contains(stdout.String(), strconv.Itoa(len(ds.Records)-1)+" images have no reference mask") {
		t.Errorf("beside:\n%s", stdout.String())
	}
}
