package pixelgauss

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	"xraylab/nets"
)

func newPG(t *testing.T, size int, topK ...int) nets.Model {
	t.Helper()
	m, err := nets.New("pixelgauss", nets.Config{Size: size, TopK: topK, Params: map[string]float64{"var_floor": 0.01}, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ones(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// Two 2×2 training images give per-pixel mean and sample variance that
// the z-scores of a test image can be checked against by hand.
func TestPixelGaussScores(t *testing.T) {
	m := newPG(t, 2, 2)
	train := &nets.Batch{N: 2, H: 2, W: 2,
		Images: []float32{0.2, 0.4, 0.6, 0.8, 0.4, 0.4, 0.2, 0.8},
		Masks:  ones(8)}
	if _, err := m.TrainStep(train); err != nil {
		t.Fatal(err)
	}
	// means 0.3 0.4 0.4 0.8; sample variances 0.02 0 0.08 0; floor 0.01.
	test := &nets.Batch{N: 1, H: 2, W: 2, Images: []float32{0.3, 0.5, 0.0, 0.8}, Masks: []float32{1, 1, 1, 0}}
	sc, err := m.Score(test)
	if err != nil {
		t.Fatal(err)
	}
	f := func(x float32) float64 { return float64(x) }
	want := []float64{
		math.Pow(f(0.3)-0.3, 2) / (0.01 + 0.02),
		math.Pow(f(0.5)-f(0.4), 2) / 0.01,
		math.Pow(0-f(0.4), 2) / (0.01 + 0.08),
		0, // outside the mask
	}
	for i, w := range want {
		if math.Abs(float64(sc.Maps[i])-w) > 1e-5 {
			t.Errorf("map[%d] = %v, want %v", i, sc.Maps[i], w)
		}
	}
	mean := (want[0] + want[1] + want[2]) / 3
	if got := sc.Scores["mean"][0]; math.Abs(got-mean) > 1e-5 {
		t.Errorf("mean = %v, want %v", got, mean)
	}
	top2 := (want[1] + want[2]) / 2
	if got := sc.Scores["mean_top2"][0]; math.Abs(got-top2) > 1e-5 {
		t.Errorf("mean_top2 = %v, want %v", got, top2)
	}
	if got := strings.Join(m.ScoreNames(), ","); got != "mean,mean_top2" {
		t.Errorf("ScoreNames = %s", got)
	}
}

func TestPixelGaussSaveLoad(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	m := newPG(t, 4, 3)
	b := &nets.Batch{N: 5, H: 4, W: 4, Images: make([]float32, 80), Masks: ones(80)}
	for i := range b.Images {
		b.Images[i] = rng.Float32()
	}
	m.TrainStep(b)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()
	m2 := newPG(t, 4, 3)
	if err := m2.Load(bytes.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	a, _ := m.Score(b)
	c, _ := m2.Score(b)
	for i := range a.Scores["mean"] {
		if a.Scores["mean"][i] != c.Scores["mean"][i] || a.Scores["mean_top3"][i] != c.Scores["mean_top3"][i] {
			t.Fatalf("scores differ after load at %d", i)
		}
	}
	cases := []struct {
		name  string
		model nets.Model
		data  []byte
		want  string
	}{
		{"truncated", newPG(t, 4), saved[:len(saved)-5], "pixelgauss: truncated state: unexpected EOF"},
		{"foreign", newPG(t, 4), []byte("PNG...."), "pixelgauss: not a pixelgauss state (bad header)"},
		{"other size", newPG(t, 8), saved, "pixelgauss: state is for 4 px images, model is 8 px"},
	}
	for _, c := range cases {
		if err := c.model.Load(bytes.NewReader(c.data)); err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
