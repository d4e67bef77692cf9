package experiments

import (
	"os"
	"path/filepath"
	"testing"
)

func muraSpec(t *testing.T, root string) *Spec {
	t.Helper()
	s, err := ParseSpec([]byte("experiments:\n  synth:\n    dataset: {synthetic: {}}\n    models: [{name: pixelgauss}]\n" +
		"  real:\n    dataset: {mura: {root: '" + root + "'}}\n    models: [{name: pixelgauss}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckDataRoots(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	for _, d := range []string{"data/mura", "data/sub/mura", "other/mura", "data2"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"data/out":    filepath.Join(tmp, "other"), // a link inside the root pointing out
		"data/in":     filepath.Join(data, "sub"),  // a link staying inside
		"rootlink":    data,                        // a root given through a link
		"data/abslnk": "/",                         // the whole file system
		"data/dotdot": "..",                        // a relative link climbing out
		"data/loop":   filepath.Join(data, "loop"), // a link to itself
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tmp, name)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		path  string
		roots []string
		ok    bool
	}{
		{"inside", filepath.Join(data, "mura"), []string{data}, true},
		{"the root itself", data, []string{data}, true},
		{"not there yet", filepath.Join(data, "later", "mura"), []string{data}, true},
		{"link staying inside", filepath.Join(data, "in", "mura"), []string{data}, true},
		{"climbing back inside", filepath.Join(data, "in", "..", "mura"), []string{data}, true},
		{"root through a link", filepath.Join(data, "mura"), []string{filepath.Join(tmp, "rootlink")}, true},
		{"path through the root's link", filepath.Join(tmp, "rootlink", "mura"), []string{data}, true},
		{"second root", filepath.Join(tmp, "other", "mura"), []string{data, filepath.Join(tmp, "other")}, true},
		{"no roots", "/etc", nil, true},
		{"only empty roots", "/etc", []string{""}, true},

		{"outside", filepath.Join(tmp, "other", "mura"), []string{data}, false},
		{"dot-dot out", filepath.Join(data, "..", "other", "mura"), []string{data}, false},
		{"unclean dot-dot out", data + "/mura/../../other", []string{data}, false},
		{"link pointing out", filepath.Join(data, "out", "mura"), []string{data}, false},
		// Lexically "out/.." is data itself, but the kernel goes to the
		// link target's parent.
		{"dot-dot after a link", filepath.Join(data, "out") + "/../other", []string{data}, false},
		{"absolute link", filepath.Join(data, "abslnk", "etc"), []string{data}, false},
		{"relative link out", filepath.Join(data, "dotdot", "other"), []string{data}, false},
		{"missing then climbing", data + "/nope/../../other", []string{data}, false},
		{"sibling sharing a prefix", filepath.Join(tmp, "data2"), []string{data}, false},
		{"parent of the root", tmp, []string{data}, false},
		{"root of the file system", "/", []string{data}, false},
		{"symlink loop", filepath.Join(data, "loop", "x"), []string{data}, false},
		{"relative path elsewhere", "testdata", []string{data}, false},
	}
	for _, c := range cases {
		err := CheckDataRoots(muraSpec(t, c.path), c.roots)
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %s accepted under %v", c.name, c.path, c.roots)
			continue
		}
		want := "experiment real: dataset path " + c.path + " is outside the data roots this server allows (" + c.roots[0] + ")"
		if err.Error() != want || CodeOf(err) != CodeInvalid {
			t.Errorf("%s: %v (code %s)\nwant %s", c.name, err, CodeOf(err), want)
		}
	}
}

func TestCheckDataRootsSyntheticOnly(t *testing.T) {
	s, err := ParseSpec([]byte("experiments:\n  e:\n    dataset: {synthetic: {}}\n    models: [{name: pixelgauss}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDataRoots(s, []string{t.TempDir()}); err != nil {
		t.Fatalf("synthetic data needs no root: %v", err)
	}
}
