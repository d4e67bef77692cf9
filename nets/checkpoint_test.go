package nets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"testing"
)

func savedCAE(t *testing.T) (*cae, []byte, *Batch) {
	t.Helper()
	m := tinyCAE(t, 11, 32, 0.125)
	b := synthBatch(rand.New(rand.NewSource(12)), 3, 32)
	return m, trainAndSave(t, m, b, 3), b
}

// A loaded model scores identically and keeps training exactly as the
// original (weights, Adam moments and step, BN statistics all restored).
func TestCheckpointRoundTrip(t *testing.T) {
	orig, data, b := savedCAE(t)
	loaded := tinyCAE(t, 99, 32, 0.125) // another seed: every value must come from the file
	if err := loaded.Load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if loaded.Epoch() != 3 {
		t.Fatalf("epoch %d after load, want 3", loaded.Epoch())
	}
	test := synthBatch(rand.New(rand.NewSource(13)), 2, 32)
	scoreSame(t, orig, loaded, test)
	lo, err := orig.TrainStep(b)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := loaded.TrainStep(b)
	if err != nil {
		t.Fatal(err)
	}
	if lo["mse"] != ll["mse"] {
		t.Fatalf("next step loss %v after load, %v without", ll["mse"], lo["mse"])
	}

	// LoadModel rebuilds the model from the file alone.
	lm, err := LoadModel(bytes.NewReader(data), rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	if lm.Name() != "cae" {
		t.Fatalf("LoadModel built %s", lm.Name())
	}
	orig2 := tinyCAE(t, 99, 32, 0.125)
	if err := orig2.Load(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s1, _ := orig2.Score(test)
	s2, err := lm.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, s1, s2)
}

func TestCheckpointRejects(t *testing.T) {
	_, data, _ := savedCAE(t)
	head := len(ckptMagic) + 12
	bodyLen := len(data) - head - 32
	corrupt := append([]byte(nil), data...)
	corrupt[head+bodyLen/2] ^= 0xff
	badVersion := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(badVersion[len(ckptMagic):], 7)
	var pg bytes.Buffer
	pgm, err := New("pixelgauss", Config{Size: 32, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	if err := pgm.Save(&pg); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "checkpoint: not an xraylab model checkpoint (bad magic)"},
		{"foreign", pg.Bytes(), "checkpoint: not an xraylab model checkpoint (bad magic)"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "checkpoint: not an xraylab model checkpoint (bad magic)"},
		{"header cut", data[:len(ckptMagic)+5], "checkpoint: truncated inside the header"},
		{"body cut", data[:len(data)-100], fmt.Sprintf("checkpoint: truncated: %d bytes after the header, expected %d", bodyLen+32-100, bodyLen+32)},
		{"checksum cut", data[:len(data)-1], fmt.Sprintf("checkpoint: truncated: %d bytes after the header, expected %d", bodyLen+31, bodyLen+32)},
		{"trailing", append(append([]byte(nil), data...), 0), "checkpoint: trailing data after the checksum"},
		{"corrupt", corrupt, "checkpoint: checksum mismatch, the file is corrupted"},
		{"version", badVersion, "checkpoint: format version 7, this build reads version 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tinyCAE(t, 1, 32, 0.125)
			before := append([]float32(nil), m.ps.vals[0].Float32s()...)
			err := m.Load(bytes.NewReader(c.data))
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			for i, v := range m.ps.vals[0].Float32s() {
				if v != before[i] {
					t.Fatal("a rejected checkpoint changed the model")
				}
			}
		})
	}
}

func TestCheckpointOtherConfig(t *testing.T) {
	_, data, _ := savedCAE(t)
	cases := []struct {
		name string
		m    *cae
		want string
	}{
		{"width", tinyCAE(t, 1, 32, 0.25), "checkpoint: width 0.125, the model has 0.25"},
		{"size", tinyCAE(t, 1, 64, 0.125), "checkpoint: image size 32, the model has 64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.m.Load(bytes.NewReader(data)); err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// An inference graph built before training must see the trained weights and
// statistics: graphs share the model's tensors rather than copying them.
func TestCAEInferenceGraphFollowsTraining(t *testing.T) {
	m := tinyCAE(t, 21, 32, 0.125)
	test := synthBatch(rand.New(rand.NewSource(22)), 2, 32)
	before, err := m.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	tr := synthBatch(rand.New(rand.NewSource(23)), 3, 32)
	if _, err := m.TrainStep(tr); err != nil {
		t.Fatal(err)
	}
	after, err := m.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	if after.Scores["mse"][0] == before.Scores["mse"][0] {
		t.Fatal("scores did not change after a training step")
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	fresh := tinyCAE(t, 1, 32, 0.125)
	if err := fresh.Load(&buf); err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	sameScores(t, after, want)
}
