package preprocess

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const fixtureRoot = "testdata/mura-fixture/MURA-v1.1"

// fixturePixel is the ramp testdata/make_fixture.go draws into every file.
func fixturePixel(x, y int) uint8 { return uint8((x*9 + y*5) % 256) }

// copyFixture copies the fixture into a temporary folder so a test can
// damage it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "MURA-v1.1")
	err := filepath.WalkDir(fixtureRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixtureRoot, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoadMURAFixture(t *testing.T) {
	ds, err := LoadMURA(fixtureRoot, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.BodyPart != "XR_HAND" || len(ds.Skipped) != 0 || ds.MaskRoot != "" {
		t.Fatalf("body part %q, skipped %v, mask root %q", ds.BodyPart, ds.Skipped, ds.MaskRoot)
	}
	// Counted by hand from testdata/make_fixture.go: 11 train patients,
	// 14 studies, 23 images, 7 of them in positive studies.
	if len(ds.Records) != 23 {
		t.Fatalf("%d records, want 23", len(ds.Records))
	}
	pos, patients, studies := 0, map[string]bool{}, map[string]bool{}
	for i, r := range ds.Records {
		pos += r.Label
		patients[r.Patient] = true
		studies[r.Study] = true
		if i > 0 && ds.Records[i-1].RelPath >= r.RelPath {
			t.Errorf("records not sorted at %d: %s then %s", i, ds.Records[i-1].RelPath, r.RelPath)
		}
		st, err := os.Stat(r.Path)
		if err != nil || st.Size() != r.Size {
			t.Errorf("%s: size %d, on disk %v (%v)", r.RelPath, r.Size, st, err)
		}
		wantLabel := 0
		if strings.Contains(r.RelPath, "_positive/") {
			wantLabel = 1
		}
		if r.Label != wantLabel || r.Part != "train" || r.BodyPart != "XR_HAND" {
			t.Errorf("%s: label %d part %s body %s", r.RelPath, r.Label, r.Part, r.BodyPart)
		}
	}
	if pos != 7 || len(patients) != 11 || len(studies) != 14 {
		t.Errorf("positives %d patients %d studies %d, want 7 11 14", pos, len(patients), len(studies))
	}
	r := ds.Records[1] // train/XR_HAND/patient00001/study1_positive/image2.png
	want := Record{Path: filepath.Join(fixtureRoot, "train/XR_HAND/patient00001/study1_positive/image2.png"),
		RelPath: "train/XR_HAND/patient00001/study1_positive/image2.png", Part: "train", BodyPart: "XR_HAND",
		Patient: "00001", Study: "train/00001/study1", View: 2, Label: 1, Size: r.Size}
	if r != want {
		t.Errorf("record 1 = %+v\nwant %+v", r, want)
	}

	both, err := LoadMURA(fixtureRoot, LoadOptions{Parts: []string{"train", "valid"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(both.Records) != 26 || both.Fingerprint == ds.Fingerprint {
		t.Errorf("train+valid: %d records (want 26), fingerprint %s", len(both.Records), both.Fingerprint)
	}
	wrist, err := LoadMURA(fixtureRoot, LoadOptions{BodyPart: "XR_WRIST"})
	if err != nil {
		t.Fatal(err)
	}
	if len(wrist.Records) != 1 || wrist.Records[0].Patient != "00001" || wrist.Records[0].BodyPart != "XR_WRIST" {
		t.Errorf("XR_WRIST: %+v", wrist.Records)
	}
}

// The fingerprint is recomputed here from the files on disk, independently
// of the loader, following the format documented on Fingerprint.
func TestFingerprintFormat(t *testing.T) {
	ds, err := LoadMURA(fixtureRoot, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	base := filepath.Join(fixtureRoot, "train", "XR_HAND")
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		st, _ := os.Stat(p)
		rel, _ := filepath.Rel(fixtureRoot, p)
		label := 0
		if strings.Contains(rel, "positive") {
			label = 1
		}
		lines = append(lines, fmt.Sprintf("%s\t%d\t%d\n", filepath.ToSlash(rel), st.Size(), label))
		return nil
	})
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	if got, want := ds.Fingerprint, hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}

	// A moved copy has the same fingerprint; a relabelled study does not.
	cp := copyFixture(t)
	moved, err := LoadMURA(cp, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if moved.Fingerprint != ds.Fingerprint {
		t.Error("fingerprint depends on where the folder is")
	}
	recs := append([]Record(nil), ds.Records...)
	recs[0].Label = 0
	if Fingerprint(recs) == ds.Fingerprint {
		t.Error("fingerprint ignores labels")
	}
	recs = append([]Record(nil), ds.Records...)
	recs[3].Size++
	if Fingerprint(recs) == ds.Fingerprint {
		t.Error("fingerprint ignores sizes")
	}
}

func TestLoadMURABadInput(t *testing.T) {
	trainCSV := "train_image_paths.csv"
	studyCSV := "train_labeled_studies.csv"
	img := "train/XR_HAND/patient00003/study1_positive/image1.png"
	editFile := func(name, old, new string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			p := filepath.Join(root, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%s does not contain %q", name, old)
			}
			os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
		}
	}
	cases := []struct {
		name   string
		opts   LoadOptions
		damage func(t *testing.T, root string)
		root   func(root string) string
		want   string // with {root} for the fixture copy
	}{
		{name: "missing root", root: func(r string) string { return r + "-nothere" },
			want: "MURA root {root}-nothere: no such folder"},
		{name: "root is a file", root: func(r string) string { return filepath.Join(r, trainCSV) },
			want: "MURA root {root}/train_image_paths.csv: not a folder"},
		{name: "empty folder", damage: func(t *testing.T, root string) { os.RemoveAll(filepath.Join(root, "train")) },
			want: "MURA folder {root}/train/XR_HAND: no such folder (expected the layout {root}/train/XR_HAND/patientNNNNN/studyK_positive/imageM.png)"},
		{name: "no images", damage: func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "train"))
			os.MkdirAll(filepath.Join(root, "train", "XR_HAND"), 0o755)
			os.Remove(filepath.Join(root, trainCSV))
			os.Remove(filepath.Join(root, studyCSV))
		}, want: "MURA root {root}: no readable images under train/XR_HAND"},
		{name: "study without label suffix", damage: func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "train/XR_HAND/patient00004/study1_negative"), filepath.Join(root, "train/XR_HAND/patient00004/study1"))
		}, want: "study folder {root}/train/XR_HAND/patient00004/study1: no label suffix, want studyK_positive or studyK_negative"},
		{name: "bad patient folder", damage: func(t *testing.T, root string) {
			os.Rename(filepath.Join(root, "train/XR_HAND/patient00004"), filepath.Join(root, "train/XR_HAND/patient4"))
		}, want: "{root}/train/XR_HAND/patient4: unexpected entry, want patientNNNNN folders (five digits)"},
		{name: "csv lists a missing image", damage: func(t *testing.T, root string) { os.Remove(filepath.Join(root, img)) },
			want: "{root}/train_image_paths.csv line 7: MURA-v1.1/" + img + " is listed but not in the folder"},
		{name: "image missing from csv", damage: editFile(trainCSV, "MURA-v1.1/"+img+"\n", ""),
			want: "{root}/train_image_paths.csv: " + img + " is in the folder but not listed"},
		{name: "csv path outside part", damage: editFile(trainCSV, "MURA-v1.1/"+img, "MURA-v1.1/valid/XR_HAND/x.png"),
			want: `{root}/train_image_paths.csv line 7: "MURA-v1.1/valid/XR_HAND/x.png" is not a path under <root>/train/`},
		{name: "label disagrees with folder", damage: editFile(studyCSV, "patient00003/study1_positive/,1", "patient00003/study1_positive/,0"),
			want: "{root}/train_labeled_studies.csv line 4: label 0 disagrees with the folder name study1_positive"},
		{name: "label not 0 or 1", damage: editFile(studyCSV, "patient00004/study1_negative/,0", "patient00004/study1_negative/,abnormal"),
			want: `{root}/train_labeled_studies.csv line 5: label "abnormal": want 0 or 1`},
		{name: "study csv line without comma", damage: editFile(studyCSV, "patient00004/study1_negative/,0", "patient00004/study1_negative/"),
			want: `{root}/train_labeled_studies.csv line 5: "MURA-v1.1/train/XR_HAND/patient00004/study1_negative/": want study_dir/,label`},
		{name: "study listed without folder", damage: editFile(studyCSV, "patient00004/study1_negative/,0", "patient00004/study9_negative/,0"),
			want: "{root}/train_labeled_studies.csv line 5: study train/XR_HAND/patient00004/study9_negative is listed but has no images in the folder"},
		{name: "study folder missing from csv", damage: editFile(studyCSV, "MURA-v1.1/train/XR_HAND/patient00004/study1_negative/,0\n", ""),
			want: "{root}/train_labeled_studies.csv: study train/XR_HAND/patient00004/study1_negative is in the folder but not listed"},
		{name: "unknown body part", opts: LoadOptions{BodyPart: "XR_KNEE"},
			want: `body part "XR_KNEE" is not one of MURA's: XR_ELBOW XR_FINGER XR_FOREARM XR_HAND XR_HUMERUS XR_SHOULDER XR_WRIST`},
		{name: "unknown part", opts: LoadOptions{Parts: []string{"test"}}, want: `MURA part "test" is not one of: train valid`},
		{name: "part twice", opts: LoadOptions{Parts: []string{"train", "train"}}, want: `MURA part "train" is listed twice`},
		{name: "missing mask root", opts: LoadOptions{MaskRoot: "/nonexistent/truth"}, want: "mask root /nonexistent/truth: no such folder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyFixture(t)
			if tc.damage != nil {
				tc.damage(t, root)
			}
			arg := root
			if tc.root != nil {
				arg = tc.root(root)
			}
			_, err := LoadMURA(arg, tc.opts)
			want := strings.ReplaceAll(tc.want, "{root}", root)
			if err == nil || err.Error() != want {
				t.Fatalf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestLoadMURASkipsBadImages(t *testing.T) {
	root := copyFixture(t)
	dir := filepath.Join(root, "train/XR_HAND/patient00002/study1_negative")
	// Truncate one PNG after its header, overwrite one with text, empty
	// one, and add a stray file.
	full, _ := os.ReadFile(filepath.Join(dir, "image1.png"))
	os.WriteFile(filepath.Join(dir, "image1.png"), full[:len(full)/2], 0o644)
	os.WriteFile(filepath.Join(dir, "image2.png"), []byte("not an image"), 0o644)
	os.WriteFile(filepath.Join(dir, "image3.png"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte("x"), 0o644)
	short := filepath.Join(root, "train/XR_HAND/patient00004/study1_negative/image1.png")
	b, _ := os.ReadFile(short)
	os.WriteFile(short, b[:20], 0o644) // cut inside the IHDR chunk

	ds, err := LoadMURA(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Records) != 23-4 {
		t.Errorf("%d records, want 19", len(ds.Records))
	}
	want := []Skip{
		{filepath.Join(dir, "image1.png"), "truncated PNG: no IEND chunk at the end"},
		{filepath.Join(dir, "image2.png"), "not a valid PNG: png: invalid format: not a PNG file"},
		{filepath.Join(dir, "image3.png"), "empty file"},
		{filepath.Join(dir, "notes.txt"), "not named imageM.png"},
		{short, "not a valid PNG: unexpected EOF"},
	}
	if len(ds.Skipped) != len(want) {
		t.Fatalf("skipped %+v\nwant %+v", ds.Skipped, want)
	}
	for i := range want {
		if ds.Skipped[i] != want[i] {
			t.Errorf("skip %d = %+v, want %+v", i, ds.Skipped[i], want[i])
		}
	}
}

func TestReadGray(t *testing.T) {
	// Every fixture file holds the same ramp, whatever its PNG kind.
	files := map[string]string{
		"gray":     "train/XR_HAND/patient00002/study1_negative/image1.png",
		"rgb":      "train/XR_HAND/patient00002/study1_negative/image2.png",
		"gray16":   "train/XR_HAND/patient00002/study1_negative/image3.png",
		"paletted": "train/XR_HAND/patient00005/study1_negative/image2.png",
		"rgba":     "train/XR_HAND/patient00006/study1_positive/image3.png",
	}
	for kind, rel := range files {
		g, err := ReadGray(filepath.Join(fixtureRoot, rel))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		b := g.Bounds()
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				v := g.GrayAt(x, y).Y
				want := fixturePixel(x, y)
				if kind == "rgba" && x == 0 {
					want = uint8(uint32(want) * 254 / 255) // premultiplied by alpha 254
				}
				if int(v)-int(want) > 1 || int(want)-int(v) > 1 {
					t.Fatalf("%s (%d,%d) = %d, want %d", kind, x, y, v, want)
				}
			}
		}
	}

	// Colour pixels use the ITU-R 601 luma weights.
	m := image.NewRGBA(image.Rect(0, 0, 3, 1))
	cols := []color.RGBA{{200, 100, 50, 255}, {0, 255, 0, 255}, {10, 20, 250, 255}}
	for i, c := range cols {
		m.SetRGBA(i, 0, c)
	}
	p := filepath.Join(t.TempDir(), "c.png")
	f, _ := os.Create(p)
	png.Encode(f, m)
	f.Close()
	g, err := ReadGray(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		want := 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
		if got := float64(g.Pix[i]); math.Abs(got-want) > 1 {
			t.Errorf("pixel %v → %v, want %.1f", c, got, want)
		}
	}
	if _, err := ReadGray(filepath.Join(fixtureRoot, "train_image_paths.csv")); err == nil ||
		!strings.Contains(err.Error(), "train_image_paths.csv: png: invalid format") {
		t.Errorf("reading a CSV as PNG: %v", err)
	}
}

// TestLoadMURAReferenceMasks: imageM_hand.png beside an image is its
// reference hand mask, neither an image nor a skipped file.
func TestLoadMURAReferenceMasks(t *testing.T) {
	root := copyFixture(t)
	ds, err := LoadMURA(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := ds.Records[0]
	ref := strings.TrimSuffix(first.Path, ".png") + "_hand.png"
	b, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ds2, err := LoadMURA(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds2.Records) != len(ds.Records) || len(ds2.Skipped) != 0 || ds2.Fingerprint != ds.Fingerprint {
		t.Fatalf("with a reference mask: %d records (want %d), skipped %v", len(ds2.Records), len(ds.Records), ds2.Skipped)
	}
	for _, r := range ds2.Records {
		want := ""
		if r.RelPath == first.RelPath {
			want = ref
		}
		if r.HandPath != want {
			t.Errorf("%s: HandPath %q, want %q", r.RelPath, r.HandPath, want)
		}
	}
}

// TestLoadMURABodyParts: several body parts load as one dataset; none
// means all body parts present.
func TestLoadMURABodyParts(t *testing.T) {
	root := copyFixture(t)
	hand, err := LoadMURA(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A second body part: a copy of one hand study under XR_FINGER.
	src := filepath.Dir(hand.Records[0].Path)
	dst := filepath.Join(root, "train", "XR_FINGER", "patient99999", filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range hand.Records {
		if filepath.Dir(r.Path) == src {
			b, _ := os.ReadFile(r.Path)
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(r.Path)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	os.Remove(filepath.Join(root, "train_image_paths.csv"))
	os.Remove(filepath.Join(root, "train_labeled_studies.csv"))
	wrist, err := LoadMURA(root, LoadOptions{BodyPart: "XR_WRIST"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bps  []string
		want int
		name string
	}{
		{nil, len(hand.Records) + n + len(wrist.Records), "XR_FINGER,XR_HAND,XR_WRIST"},
		{[]string{"XR_HAND", "XR_FINGER"}, len(hand.Records) + n, "XR_HAND,XR_FINGER"},
	} {
		bps := c.bps
		ds, err := LoadMURABodyParts(root, bps, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Records) != c.want || ds.BodyPart != c.name {
			t.Errorf("%v: %d records (want %d), body part %q (want %q)", bps, len(ds.Records), c.want, ds.BodyPart, c.name)
		}
		for i := 1; i < len(ds.Records); i++ {
			if ds.Records[i-1].RelPath >= ds.Records[i].RelPath {
				t.Errorf("%v: records not sorted at %d", bps, i)
			}
		}
	}
	if _, err := LoadMURABodyParts(root, []string{"XR_HAND", "XR_HAND"}, LoadOptions{}); err == nil || err.Error() != `body part "XR_HAND" is listed twice` {
		t.Errorf("duplicate body part: %v", err)
	}
}
