package experiments_test

import (
	"os"
	"path/filepath"
	"testing"

	"xraylab/experiments"
	"xraylab/preprocess"
)

// The submission check says what the loader would say, so that a run on a
// cluster node (which alone may see the data) fails with the same words.
func TestCheckMURARootSpeaksLikeTheLoader(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		filepath.Join(dir, "missing"): "MURA root " + filepath.Join(dir, "missing") + ": no such folder",
		file:                          "MURA root " + file + ": not a folder",
	}
	for p, want := range cases {
		err := experiments.CheckMURARoot(p)
		if err == nil || err.Error() != want {
			t.Errorf("CheckMURARoot(%s) = %v, want %s", p, err, want)
		}
		if _, lerr := preprocess.LoadMURA(p, preprocess.LoadOptions{}); lerr == nil || lerr.Error() != want {
			t.Errorf("LoadMURA(%s) = %v, want %s", p, lerr, want)
		}
	}
	if err := experiments.CheckMURARoot(dir); err != nil {
		t.Errorf("CheckMURARoot of a folder: %v", err)
	}
}
