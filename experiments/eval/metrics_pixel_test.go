package eval

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"xraylab/preprocess"
)

// randomPixels makes n w×h maps with blob-shaped truth (anomalous pixels
// score higher on average) and loss masks that drop a border.
func randomPixels(rng *rand.Rand, n, w, h int) (maps, truth, masks [][]float32) {
	for i := 0; i < n; i++ {
		a, t, m := make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
		cx, cy, r := rng.Intn(w), rng.Intn(h), 1+rng.Intn(max(2, w/6))
		hasBlob := i%4 != 0 // every fourth image is normal
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				j := y*w + x
				if x > 0 && y > 0 && x < w-1 && y < h-1 {
					m[j] = 1
				}
				if hasBlob && (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r {
					t[j] = 1
				}
				a[j] = float32(math.Round(rng.Float64()*200)/200) + 0.3*t[j]
			}
		}
		maps, truth, masks = append(maps, a), append(truth, t), append(masks, m)
	}
	return
}

// PixelROCAUC equals the image-level ROC code (gonum-based, independent of
// the radix sort and merge) applied to the in-mask pixels as float64.
func TestPixelROCAUCMatchesROCAUC(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := 0; trial < 5; trial++ {
		maps, truth, masks := randomPixels(rng, 6, 17+trial, 11)
		var scores []float64
		var labels []int
		for i := range maps {
			for j := range maps[i] {
				if masks[i][j] >= 0.5 {
					scores = append(scores, float64(maps[i][j]))
					labels = append(labels, int(truth[i][j]))
				}
			}
		}
		want, err := ROCAUC(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PixelROCAUC(maps, truth, masks)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("trial %d: PixelROCAUC = %v, ROCAUC on pixels = %v", trial, got, want)
		}
		// nil masks: every pixel counts, border included.
		all, _ := PixelROCAUC(maps, truth, nil)
		ones := make([][]float32, len(maps))
		for i := range ones {
			ones[i] = slices.Repeat([]float32{1}, len(maps[i]))
		}
		full, _ := PixelROCAUC(maps, truth, ones)
		if all != full {
			t.Errorf("trial %d: nil masks give %v, all-ones masks %v", trial, all, full)
		}
	}
}

// Analytic AUPRO values: a perfect map reaches PRO 1 at FPR 0 (area 1), an
// inverted one stays at PRO 0 until FPR 1 (area 0), a constant map is the
// diagonal: ∫₀^0.3 x dx / 0.3 = 0.15. Two regions of different sizes weigh
// equally: one region found at FPR 0 and the other only at FPR 1 gives ½.
func TestAUPROAnalytic(t *testing.T) {
	w, h := 4, 3
	truth := [][]float32{{
		1, 1, 0, 0,
		1, 0, 0, 0,
		0, 0, 0, 1,
	}}
	cases := []struct {
		name  string
		m     []float32
		limit float64
		want  float64
	}{
		{"perfect", []float32{1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, 0.3, 1},
		{"inverted", []float32{0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0}, 0.3, 0},
		{"constant", []float32{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 0.3, 0.15},
		{"constant to 1", []float32{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 1, 0.5},
		// Big region (3 px) found first, small one (1 px) scored lowest: PRO ½ from FPR 0 to 1.
		{"one region of two", []float32{9, 9, 2, 2, 9, 2, 2, 2, 2, 2, 2, 0}, 0.3, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := AUPRO([][]float32{c.m}, truth, nil, w, h, c.limit, preprocess.LabelRegions)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-c.want) > 1e-12 {
				t.Errorf("AUPRO = %v, want %v", got, c.want)
			}
		})
	}
}

func TestPixelErrors(t *testing.T) {
	one := [][]float32{{0.1, 0.2, 0.3, 0.4}}
	cases := []struct {
		name               string
		maps, truth, masks [][]float32
		limit              float64
		want               string
	}{
		{"no anomalous pixel", one, [][]float32{{0, 0, 0, 0}}, nil, 0.3,
			"%s needs both classes inside the loss masks; got 4 normal and 0 anomalous pixels"},
		{"anomaly only outside the mask", one, [][]float32{{1, 0, 0, 0}}, [][]float32{{0, 1, 1, 1}}, 0.3,
			"%s needs both classes inside the loss masks; got 3 normal and 0 anomalous pixels"},
		{"no normal pixel", one, [][]float32{{1, 1, 1, 1}}, nil, 0.3,
			"%s needs both classes inside the loss masks; got 0 normal and 4 anomalous pixels"},
		{"empty masks", one, [][]float32{{1, 0, 0, 0}}, [][]float32{{0, 0, 0, 0}}, 0.3, "no pixel lies inside the loss masks"},
		{"no maps", nil, nil, nil, 0.3, "pixel metrics need at least one anomaly map"},
		{"truth count", one, nil, nil, 0.3, "1 anomaly maps but 0 truth masks"},
		{"mask count", one, [][]float32{{1, 0, 0, 0}}, [][]float32{}, 0.3, "1 anomaly maps but 0 loss masks"},
		{"truth size", one, [][]float32{{1, 0, 0}}, nil, 0.3, "anomaly map 0 has 4 pixels but its truth mask 3"},
		{"mask size", one, [][]float32{{1, 0, 0, 0}}, [][]float32{{1}}, 0.3, "anomaly map 0 has 4 pixels but its loss mask 1"},
		{"NaN", [][]float32{{0.1, float32(math.NaN()), 0, 0}}, [][]float32{{1, 0, 0, 0}}, nil, 0.3, "anomaly map 0 is NaN at pixel 1%s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// %s stands for the metric's name, or the NaN's coordinates,
			// which only AUPRO (that knows the width) gives.
			_, err := PixelROCAUC(c.maps, c.truth, c.masks)
			want := strings.Replace(c.want, "%s", "pixel ROC-AUC", 1)
			if c.name == "NaN" {
				want = strings.Replace(c.want, "%s", "", 1)
			}
			if err == nil || err.Error() != want {
				t.Errorf("PixelROCAUC error = %v, want %q", err, want)
			}
			_, err = AUPRO(c.maps, c.truth, c.masks, 2, 2, c.limit, preprocess.LabelRegions)
			want = strings.Replace(c.want, "%s", "AUPRO", 1)
			if c.name == "NaN" {
				want = strings.Replace(c.want, "%s", " (x=1, y=0)", 1)
			}
			if err == nil || err.Error() != want {
				t.Errorf("AUPRO error = %v, want %q", err, want)
			}
		})
	}
	for _, c := range []struct {
		w, h  int
		limit float64
		want  string
	}{
		{2, 2, 0, "AUPRO FPR limit 0: must be in (0, 1]"},
		{2, 2, 1.5, "AUPRO FPR limit 1.5: must be in (0, 1]"},
		{0, 4, 0.3, "AUPRO image size 0×4: width and height must be positive"},
		{4, 2, 0.3, "anomaly map 0 has 4 pixels; want 4×2 = 8"},
	} {
		_, err := AUPRO(one, [][]float32{{1, 0, 0, 0}}, nil, c.w, c.h, c.limit, preprocess.LabelRegions)
		if err == nil || err.Error() != c.want {
			t.Errorf("AUPRO(%d×%d, %v) error = %v, want %q", c.w, c.h, c.limit, err, c.want)
		}
	}
}

// floatKey preserves float32 order, including negatives, ±0 and ±Inf, and
// radixSort sorts by the selected 32 bits.
func TestFloatKeyAndRadixSort(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	vals := []float32{float32(math.Inf(-1)), -3, -1e-30, float32(math.Copysign(0, -1)), 0, 1e-30, 2, float32(math.Inf(1))}
	for i := 0; i < 2000; i++ {
		vals = append(vals, float32(rng.NormFloat64()*100))
	}
	keys := make([]uint64, len(vals))
	for i, v := range vals {
		keys[i] = uint64(floatKey(v))<<32 | uint64(i)
	}
	radixSort(keys, make([]uint64, len(keys)), 32)
	for k := 1; k < len(keys); k++ {
		a, b := vals[uint32(keys[k-1])], vals[uint32(keys[k])]
		if a > b {
			t.Fatalf("position %d: %v before %v", k, a, b)
		}
		if a == b && keys[k-1]>>32 != keys[k]>>32 {
			t.Fatalf("equal values %v and %v have different keys", a, b)
		}
	}
	small := make([]uint32, 500)
	for i := range small {
		small[i] = rng.Uint32()
	}
	want := slices.Clone(small)
	slices.Sort(want)
	radixSort(small, make([]uint32, len(small)), 0)
	if !slices.Equal(small, want) {
		t.Error("radixSort of uint32 differs from slices.Sort")
	}
}

// go test -run '^$' -bench 'Pixel|AUPRO' -benchmem ./experiments/eval/
func benchPixels(b *testing.B) (maps, truth, masks [][]float32) {
	b.Helper()
	return randomPixels(rand.New(rand.NewSource(1)), 100, 128, 128)
}

func BenchmarkPixelROCAUC(b *testing.B) {
	maps, truth, masks := benchPixels(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := PixelROCAUC(maps, truth, masks); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAUPRO(b *testing.B) {
	maps, truth, masks := benchPixels(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := AUPRO(maps, truth, masks, 128, 128, 0.3, preprocess.LabelRegions); err != nil {
			b.Fatal(err)
		}
	}
}
