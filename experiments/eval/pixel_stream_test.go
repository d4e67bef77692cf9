package eval

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"xraylab/preprocess"
)

// A stream that spills many sorted runs to disk gives exactly the figures
// of one that holds every pixel (TestPixelSubsample checked the sampler
// this replaced).
func TestPixelStreamSpills(t *testing.T) {
	maps, truth, masks := randomPixels(rand.New(rand.NewSource(11)), 12, 40, 40)
	exactAUC, err := PixelROCAUC(maps, truth, masks)
	if err != nil {
		t.Fatal(err)
	}
	exactPRO, err := AUPRO(maps, truth, masks, 40, 40, 0.3, preprocess.LabelRegions)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{97, 999, 6000, 1 << 20} {
		s := NewPixelStream(40, 40, preprocess.LabelRegions, t.TempDir())
		s.chunk = chunk
		for i := range maps {
			if err := s.Add(maps[i], truth[i], masks[i]); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.Compute(0.3)
		if err != nil {
			t.Fatal(err)
		}
		if r.ROCAUC != exactAUC || r.AUPRO != exactPRO || r.Images != 12 || r.Pixels != 12*38*38 {
			t.Errorf("chunk %d: %+v; in memory AUC %v, AUPRO %v, 12 images of 38×38 in-mask pixels", chunk, r, exactAUC, exactPRO)
		}
		// A full buffer spills; the rest stays in memory for the merge.
		if want := 12 * 38 * 38 / chunk; len(s.runs) != want {
			t.Errorf("chunk %d: %d runs spilled", chunk, len(s.runs))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Past 2^23 in-mask pixels (the old limit: the maps of 32 images at
// 512 px) every image still counts, exactly: the stream agrees with an
// independent count over quantised values, and the images past the limit
// change the figure.
func TestPixelStreamPastOldLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("ranks 9.4 M pixels")
	}
	const side, images, levels = 1024, 9, 256
	rng := rand.New(rand.NewSource(8))
	s := NewPixelStream(0, 0, nil, t.TempDir())
	defer s.Close()
	// hist[class][level] of all images, and of those within the old limit.
	var all, within [2][levels]int64
	m, tr := make([]float32, side*side), make([]float32, side*side)
	for img := 0; img < images; img++ {
		cx, cy, r := rng.Intn(side), rng.Intn(side), 50+rng.Intn(200)
		late := (img+1)*side*side > 1<<23
		for j := range m {
			x, y := j%side, j/side
			c := 0
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r {
				c = 1
			}
			l := rng.Intn(levels/2) + c*levels/4
			if late && c == 1 {
				l = rng.Intn(levels / 4) // late anomalies score low
			}
			m[j], tr[j] = float32(l)/levels, float32(c)
			all[c][l]++
			if !late {
				within[c][l]++
			}
		}
		if err := s.Add(m, tr, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Compute(1)
	if err != nil {
		t.Fatal(err)
	}
	want, old := histAUC(all), histAUC(within)
	if got.Pixels != images*side*side || got.Pixels <= 1<<23 || len(s.runs) < 4 {
		t.Errorf("ranked %d pixels in %d runs", got.Pixels, len(s.runs))
	}
	if math.Abs(got.ROCAUC-want) > 1e-12 {
		t.Errorf("pixel ROC-AUC = %.15g, counted %.15g", got.ROCAUC, want)
	}
	if math.Abs(want-old) < 1e-3 {
		t.Errorf("the image past the limit should change the figure: %v with it, %v without", want, old)
	}
}

// histAUC is the Mann-Whitney ROC-AUC from per-level class counts.
func histAUC(h [2][256]int64) float64 {
	var twice, below, pos, neg int64
	for l := range h[0] {
		twice += h[1][l] * (2*below + h[0][l])
		below += h[0][l]
		pos += h[1][l]
		neg += h[0][l]
	}
	return float64(twice) / (2 * float64(pos) * float64(neg))
}

// Over a whole generated test set, ranked through runs spilled to disk,
// the stream agrees with scikit-learn's roc_auc_score and MVTec AD's PRO.
func TestSklearnPixelStream(t *testing.T) {
	var fx struct {
		Cases []struct {
			Name   string             `json:"name"`
			W      int                `json:"w"`
			H      int                `json:"h"`
			Gen    pixelGen           `json:"gen"`
			Pixels int64              `json:"pixels"`
			ROCAUC float64            `json:"roc_auc"`
			AUPRO  map[string]float64 `json:"aupro"`
		} `json:"cases"`
	}
	loadFixture(t, "pixel_full.json", &fx)
	if len(fx.Cases) != 1 || len(fx.Cases[0].AUPRO) != 3 {
		t.Fatalf("pixel_full.json: %+v", fx)
	}
	c := fx.Cases[0]
	maps, truth, masks := c.Gen.generate()
	for lim, want := range c.AUPRO {
		var limit float64
		fmt.Sscan(lim, &limit)
		s := NewPixelStream(c.W, c.H, preprocess.LabelRegions, t.TempDir())
		s.chunk = 4096
		for i := range maps {
			if err := s.Add(maps[i], truth[i], masks[i]); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.Compute(limit)
		if err != nil {
			t.Fatal(err)
		}
		if r.Pixels != c.Pixels || r.Images != c.Gen.Images || len(s.runs) < 20 {
			t.Fatalf("%d pixels of %d images in %d runs; reference %d pixels of %d", r.Pixels, r.Images, len(s.runs), c.Pixels, c.Gen.Images)
		}
		if !near(r.ROCAUC, c.ROCAUC) { // 1e-9, inside the 1e-6 asked of it
			t.Errorf("pixel ROC-AUC = %.15g, sklearn %.15g", r.ROCAUC, c.ROCAUC)
		}
		if !near(r.AUPRO, want) {
			t.Errorf("AUPRO to FPR %s = %.15g, reference %.15g", lim, r.AUPRO, want)
		}
		s.Close()
	}
}
