package synth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
)

// treeHash is sha256 over every file under dir in path order, each as its
// slash-separated relative path, a NUL, its length and its bytes.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	files := treeFiles(t, dir)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		h.Write([]byte(filepath.ToSlash(p)))
		h.Write([]byte{0})
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(files[p])))
		h.Write(n[:])
		h.Write(files[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestSynthGoldenHash pins the exact bytes of fixed-seed datasets, so a
// speed-up cannot change the output unnoticed. A change that is meant to
// alter pixels, PNG bytes or truth files must bump Version (which is
// itself in synthetic.json, so it changes these hashes) and update them.
// The hashes hold for amd64: other architectures may fuse multiply-adds,
// which Go permits, and so round some pixels differently.
func TestSynthGoldenHash(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("golden hashes are for amd64, not %s", runtime.GOARCH)
	}
	cases := []struct {
		patients, size int
		seed           int64
		difficulty     string
		want           string
	}{
		{20, 512, 1, "medium", "c71ed27ae855641ad3027705a8ef0ba02d066f5479cf4891ce9975a12b0ffc3f"},
		{40, 128, 2, "hard", "020141f1d80812f26720a9873c07141b61450a6d802525ae0d0668f2ed6093a5"},
		{40, 96, 3, "easy", "412211495ec410e4b9bab9c30fb83f055bae146afa1fec24a22c91f47989ed5c"},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "d")
		if _, err := Generate(context.Background(), Options{Out: out, Patients: c.patients, Size: c.size,
			Seed: c.seed, Difficulty: c.difficulty, Workers: 2}, nil); err != nil {
			t.Fatal(err)
		}
		if got := treeHash(t, out); got != c.want {
			t.Errorf("%d patients, %d px, seed %d, %s: tree hash %s, want %s (bump Version if the change is meant)",
				c.patients, c.size, c.seed, c.difficulty, got, c.want)
		}
	}
}
