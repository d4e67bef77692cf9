package nets_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"xraylab/nets"
	_ "xraylab/nets/models"
)

// wrapBody frames body as a checkpoint file with a correct header and
// checksum, so fuzzing reaches the body decoder instead of stopping at the
// checksum every time.
func wrapBody(body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(nets.CkptMagic)
	binary.Write(&b, binary.LittleEndian, uint32(nets.CkptVersion))
	binary.Write(&b, binary.LittleEndian, uint64(len(body)))
	b.Write(body)
	sum := sha256.Sum256(body)
	b.Write(sum[:])
	return b.Bytes()
}

// maxFuzzSize keeps the fuzzer from building large models: a checkpoint
// may name any image size its model accepts, and building a 1024 px GAN is
// a legitimate, slow and memory-hungry thing to do.
const maxFuzzSize = 128

// FuzzLoadModel feeds arbitrary files (wrap=false) and arbitrary bodies
// in a valid frame (wrap=true) to the checkpoint reader: it must return a
// model or an error, never panic, and a model it returns must save to a
// file that loads again.
func FuzzLoadModel(f *testing.F) {
	// Real checkpoints are in testdata/fuzz/FuzzLoadModel (written by
	// TestWriteFuzzCorpus); building models here would slow every go test.
	f.Add([]byte(nets.CkptMagic+"\x01\x00\x00\x00"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			data = wrapBody(data)
		}
		if ck, err := nets.ReadCheckpoint(bytes.NewReader(data)); err == nil && (ck.Size > maxFuzzSize || ck.Size < 0) {
			t.Skipf("checkpoint asks for a %d px model; not built while fuzzing", ck.Size)
		}
		m, err := nets.LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
		if err != nil {
			if m != nil {
				t.Fatalf("LoadModel returned a model with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		var out bytes.Buffer
		if err := m.Save(&out); err != nil {
			t.Fatalf("a loaded %s does not save: %v", m.Name(), err)
		}
		m2, err := nets.LoadModel(bytes.NewReader(out.Bytes()), rand.New(rand.NewSource(1)))
		if err != nil {
			t.Fatalf("a saved %s does not load: %v", m.Name(), err)
		}
		if m2.Name() != m.Name() {
			t.Fatalf("reloaded %s as %s", m.Name(), m2.Name())
		}
	})
}

// checkpointSeeds are real checkpoints of checkpoint-format models small
// enough to keep in the repository (under 64 KiB at 32 px and the smallest
// width; a CAE file is
// megabytes), a CAE file's head, and broken files.
func checkpointSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range nets.Names() {
		spec, _ := nets.Lookup(name)
		params := map[string]float64{}
		if w, ok := spec.Params["width"]; ok {
			params["width"] = w.Min
		}
		m, err := nets.New(name, nets.Config{Size: 32, TopK: []int{5}, Params: params, Rand: rand.New(rand.NewSource(1))})
		if err != nil {
			continue // a model that cannot be built this small adds no seed
		}
		var b bytes.Buffer
		if m.Save(&b) == nil && b.Len() < 64<<10 && bytes.HasPrefix(b.Bytes(), []byte(nets.CkptMagic)) {
			out = append(out, b.Bytes())
		}
	}
	if len(out) == 0 {
		t.Fatal("no model saves a checkpoint under 64 KiB at 32 px")
	}
	good := out[0]
	var cae bytes.Buffer
	if err := tinyCAE(t, 1).Save(&cae); err != nil {
		t.Fatal(err)
	}
	out = append(out,
		cae.Bytes()[:4096],
		nil,
		[]byte(nets.CkptMagic),
		good[:len(good)/2],
		append(append([]byte{}, good...), 0),
		wrapBody(nil),
		wrapBody([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
	)
	return out
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzLoadModel when
// XRAYLAB_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("XRAYLAB_WRITE_CORPUS") != "1" {
		t.Skip("set XRAYLAB_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoadModel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range checkpointSeeds(t) {
		for _, wrap := range []bool{false, true} {
			data := s
			if wrap {
				if len(s) <= len(nets.CkptMagic)+12+sha256.Size {
					continue
				}
				data = s[len(nets.CkptMagic)+12 : len(s)-sha256.Size]
			}
			text := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nbool(%v)\n", strconv.Quote(string(data)), wrap)
			name := filepath.Join(dir, fmt.Sprintf("seed-%02d-wrap-%v", i, wrap))
			if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
