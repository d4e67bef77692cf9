package nets_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"xraylab/nets"
	"xraylab/nets/internal/nettest"
	_ "xraylab/nets/models"
)

// tinyCAE is a 32 px CAE at width 0.125, built by name.
func tinyCAE(t testing.TB, seed int64) nets.Model {
	t.Helper()
	m, err := nets.New("cae", nets.Config{Size: 32, TopK: []int{5, 50}, Params: map[string]float64{"width": 0.125, "lr": 1e-3},
		Rand: rand.New(rand.NewSource(seed))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// savedCAE is a CAE's checkpoint after two steps and three epochs.
func savedCAE(t *testing.T) []byte {
	t.Helper()
	m := tinyCAE(t, 11)
	b := nettest.SynthBatch(rand.New(rand.NewSource(12)), 3, 32)
	return nettest.TrainAndSave(t, m, b, 3)
}

// The reader refuses every damaged or foreign file, and a refused file
// leaves the model as it was.
func TestCheckpointRejects(t *testing.T) {
	data := savedCAE(t)
	head := len(nets.CkptMagic) + 12
	bodyLen := len(data) - head - 32
	corrupt := append([]byte(nil), data...)
	corrupt[head+bodyLen/2] ^= 0xff
	badVersion := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(badVersion[len(nets.CkptMagic):], 7)
	var pg bytes.Buffer
	pgm, err := nets.New("pixelgauss", nets.Config{Size: 32, Rand: rand.New(rand.NewSource(1))})
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
		{"header cut", data[:len(nets.CkptMagic)+5], "checkpoint: truncated inside the header"},
		{"body cut", data[:len(data)-100], fmt.Sprintf("checkpoint: truncated: %d bytes after the header, expected %d", bodyLen+32-100, bodyLen+32)},
		{"checksum cut", data[:len(data)-1], fmt.Sprintf("checkpoint: truncated: %d bytes after the header, expected %d", bodyLen+31, bodyLen+32)},
		{"trailing", append(append([]byte(nil), data...), 0), "checkpoint: trailing data after the checksum"},
		{"corrupt", corrupt, "checkpoint: checksum mismatch, the file is corrupted"},
		{"version", badVersion, "checkpoint: format version 7, this build reads versions 1 and 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tinyCAE(t, 1)
			before := nettest.Saved(t, m)
			err := m.Load(bytes.NewReader(c.data))
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if !bytes.Equal(nettest.Saved(t, m), before) {
				t.Fatal("a rejected checkpoint changed the model")
			}
		})
	}
}

// A version 1 file (before the top-k shares) still loads and scores as
// the model that wrote it; a version 2 file keeps the shares, so a model
// rebuilt from the file alone has the same score names.
func TestCheckpointVersions(t *testing.T) {
	m := tinyCAE(t, 11)
	b := nettest.SynthBatch(rand.New(rand.NewSource(12)), 3, 32)
	data := nettest.TrainAndSave(t, m, b, 3)
	// v1 body: the same fields without the share count, which follows
	// the model name, the size and the two k values.
	head := len(nets.CkptMagic) + 12
	body := data[head : len(data)-32]
	at := 8 + len("cae") + 8 + 8 + 2*8
	if binary.LittleEndian.Uint64(body[at:]) != 0 {
		t.Fatal("the share count is not where the layout puts it")
	}
	v1body := append(append([]byte(nil), body[:at]...), body[at+8:]...)
	var v1 bytes.Buffer
	v1.WriteString(nets.CkptMagic)
	binary.Write(&v1, binary.LittleEndian, uint32(1))
	binary.Write(&v1, binary.LittleEndian, uint64(len(v1body)))
	v1.Write(v1body)
	sum := sha256.Sum256(v1body)
	v1.Write(sum[:])
	old, err := nets.LoadModel(bytes.NewReader(v1.Bytes()), rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	nettest.ScoreSame(t, m, old, b)

	f, err := nets.New("cae", nets.Config{Size: 32, TopK: []int{5}, TopKFrac: []float64{0.01, 0.5},
		Params: map[string]float64{"width": 0.125}, Rand: rand.New(rand.NewSource(3))})
	if err != nil {
		t.Fatal(err)
	}
	lm, err := nets.LoadModel(bytes.NewReader(nettest.Saved(t, f)), rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lm.ScoreNames(), ","); got != "mse,mse_top5,mse_topk_frac_0.01,mse_topk_frac_0.5" {
		t.Fatalf("score names after LoadModel: %s", got)
	}
	nettest.ScoreSame(t, f, lm, b)
	if _, err := nets.New("cae", nets.Config{Size: 32, TopKFrac: []float64{2}, Rand: rand.New(rand.NewSource(3))}); err == nil ||
		err.Error() != "cae: top-k share 2 must be in (0, 1]" {
		t.Fatalf("a share of 2: %v", err)
	}
}
