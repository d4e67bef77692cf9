package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"xraylab/preprocess"
)

// Fixtures written once by bench/sklearn_reference.py with scikit-learn
// (roc_auc_score, average_precision_score, roc_curve), scipy.ndimage.label
// and a float64 port of MVTec AD's PRO code. Large cases are stored as a
// generator that lcg below reproduces bit for bit.

const sklearnTol = 1e-9

// lcg is Knuth's MMIX LCG, as LCG in bench/sklearn_reference.py.
type lcg struct{ state uint64 }

func (r *lcg) next() uint64 {
	r.state = r.state*6364136223846793005 + 1442695040888963407
	return r.state >> 11
}
func (r *lcg) uniform() float64 { return float64(r.next()) / (1 << 53) }
func (r *lcg) intn(n int) int   { return int(r.next() % uint64(n)) }

type imageGen struct {
	Kind   string  `json:"kind"`
	Seed   uint64  `json:"seed"`
	N      int     `json:"n"`
	PosPct int     `json:"pos_pct"`
	Levels int     `json:"levels"`
	Shift  float64 `json:"shift"`
}

func (g imageGen) generate() ([]float64, []int) {
	r := &lcg{g.Seed}
	scores, labels := make([]float64, g.N), make([]int, g.N)
	for i := range scores {
		y := 0
		if r.intn(100) < g.PosPct {
			y = 1
		}
		if g.Kind == "quantized" {
			scores[i] = float64(r.intn(g.Levels)+y*int(g.Shift)) / float64(g.Levels)
		} else {
			scores[i] = r.uniform() + float64(y)*g.Shift
		}
		labels[i] = y
	}
	return scores, labels
}

type studyGen struct {
	Seed      uint64  `json:"seed"`
	Studies   int     `json:"studies"`
	MaxImages int     `json:"max_images"`
	PosPct    int     `json:"pos_pct"`
	Shift     float64 `json:"shift"`
}

func (g studyGen) generate() (studies []string, scores []float64, labels []int) {
	r := &lcg{g.Seed}
	for s := 0; s < g.Studies; s++ {
		y := 0
		if r.intn(100) < g.PosPct {
			y = 1
		}
		for k := 1 + r.intn(g.MaxImages); k > 0; k-- {
			studies = append(studies, fmt.Sprintf("patient%05d/study%d", s/2, s%2+1))
			scores = append(scores, r.uniform()+float64(y)*g.Shift)
			labels = append(labels, y)
		}
	}
	return
}

type pixelGen struct {
	Seed   uint64 `json:"seed"`
	Images int    `json:"images"`
	W      int    `json:"w"`
	H      int    `json:"h"`
}

func (g pixelGen) generate() (maps, truth, masks [][]float32) {
	r := &lcg{g.Seed}
	w, h := g.W, g.H
	for i := 0; i < g.Images; i++ {
		bx, by := r.intn(w/4), r.intn(h/4)
		type blob struct{ cx, cy, rad int }
		var blobs []blob
		for k := r.intn(3); k > 0; k-- {
			// Go evaluates these left to right, as Python's tuple does.
			blobs = append(blobs, blob{r.intn(w), r.intn(h), 1 + r.intn(max(2, w/8))})
		}
		a, t, m := make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if x >= bx && x < w-bx && y >= by && y < h-by {
					m[y*w+x] = 1
				}
				for _, b := range blobs {
					if (x-b.cx)*(x-b.cx)+(y-b.cy)*(y-b.cy) <= b.rad*b.rad {
						t[y*w+x] = 1
					}
				}
			}
		}
		for j := range a {
			k := r.intn(64)
			if t[j] == 1 {
				k += 24
			}
			a[j] = float32(k) / 64
		}
		maps, truth, masks = append(maps, a), append(truth, t), append(masks, m)
	}
	return
}

func loadFixture(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sklearn", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= sklearnTol }

func TestSklearnImageLevel(t *testing.T) {
	var fx struct {
		Cases []struct {
			Name   string    `json:"name"`
			Scores []float64 `json:"scores"`
			Labels []int     `json:"labels"`
			Gen    *imageGen `json:"gen"`
			ROCAUC float64   `json:"roc_auc"`
			AP     float64   `json:"ap"`
			Curve  struct {
				Points    int        `json:"points"`
				Index     []int      `json:"index"`
				FPR       []float64  `json:"fpr"`
				TPR       []float64  `json:"tpr"`
				Threshold []*float64 `json:"threshold"`
			} `json:"curve"`
		} `json:"cases"`
		Errors []struct {
			Name   string    `json:"name"`
			Scores []float64 `json:"scores"`
			Labels []int     `json:"labels"`
		} `json:"errors"`
	}
	loadFixture(t, "image.json", &fx)
	if len(fx.Cases) < 9 {
		t.Fatalf("image.json has %d cases; want at least 9", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			scores, labels := c.Scores, c.Labels
			if c.Gen != nil {
				scores, labels = c.Gen.generate()
			}
			curve, auc, err := ROC(scores, labels)
			if err != nil {
				t.Fatal(err)
			}
			if !near(auc, c.ROCAUC) {
				t.Errorf("ROC-AUC = %.15g, sklearn %.15g", auc, c.ROCAUC)
			}
			ap, err := AveragePrecision(scores, labels)
			if err != nil {
				t.Fatal(err)
			}
			if !near(ap, c.AP) {
				t.Errorf("AP = %.15g, sklearn %.15g", ap, c.AP)
			}
			if len(curve.FPR) != c.Curve.Points {
				t.Fatalf("curve has %d points, sklearn %d", len(curve.FPR), c.Curve.Points)
			}
			for k, i := range c.Curve.Index {
				if !near(curve.FPR[i], c.Curve.FPR[k]) || !near(curve.TPR[i], c.Curve.TPR[k]) {
					t.Errorf("point %d = (%v, %v), sklearn (%v, %v)", i, curve.FPR[i], curve.TPR[i], c.Curve.FPR[k], c.Curve.TPR[k])
				}
				if th := c.Curve.Threshold[k]; th == nil {
					if !math.IsInf(curve.Threshold[i], 1) {
						t.Errorf("threshold %d = %v, want +Inf", i, curve.Threshold[i])
					}
				} else if curve.Threshold[i] != *th {
					t.Errorf("threshold %d = %v, sklearn %v", i, curve.Threshold[i], *th)
				}
			}
		})
	}
	for _, c := range fx.Errors {
		t.Run(c.Name, func(t *testing.T) {
			neg, pos := 0, 0
			for _, y := range c.Labels {
				if y == 1 {
					pos++
				} else {
					neg++
				}
			}
			want := fmt.Sprintf("ROC needs both classes; got %d normal and %d abnormal", neg, pos)
			if _, err := ROCAUC(c.Scores, c.Labels); err == nil || err.Error() != want {
				t.Errorf("ROCAUC error = %v, want %q", err, want)
			}
			if _, err := AveragePrecision(c.Scores, c.Labels); err == nil || err.Error() != want {
				t.Errorf("AveragePrecision error = %v, want %q", err, want)
			}
		})
	}
}

func TestSklearnStudyLevel(t *testing.T) {
	var fx struct {
		Cases []struct {
			Name         string    `json:"name"`
			Agg          string    `json:"agg"`
			Studies      []string  `json:"studies"`
			Scores       []float64 `json:"scores"`
			Labels       []int     `json:"labels"`
			StudyScores  []float64 `json:"study_scores"`
			StudyLabels  []int     `json:"study_labels"`
			Gen          *studyGen `json:"gen"`
			StudiesCount int       `json:"studies_count"`
			ROCAUC       float64   `json:"roc_auc"`
		} `json:"cases"`
	}
	loadFixture(t, "study.json", &fx)
	if len(fx.Cases) != 6 {
		t.Fatalf("study.json has %d cases; want 6", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			studies, scores, labels := c.Studies, c.Scores, c.Labels
			if c.Gen != nil {
				studies, scores, labels = c.Gen.generate()
			}
			ss, sl, err := StudyScores(studies, scores, labels, c.Agg)
			if err != nil {
				t.Fatal(err)
			}
			if c.Gen != nil {
				if len(ss) != c.StudiesCount {
					t.Errorf("%d studies, sklearn reference %d", len(ss), c.StudiesCount)
				}
			} else {
				if len(ss) != len(c.StudyScores) {
					t.Fatalf("%d studies, reference %d", len(ss), len(c.StudyScores))
				}
				for i := range ss {
					if ss[i] != c.StudyScores[i] || sl[i] != c.StudyLabels[i] {
						t.Errorf("study %d: (%v, %d), reference (%v, %d)", i, ss[i], sl[i], c.StudyScores[i], c.StudyLabels[i])
					}
				}
			}
			auc, err := StudyROCAUC(studies, scores, labels, c.Agg)
			if err != nil {
				t.Fatal(err)
			}
			if !near(auc, c.ROCAUC) {
				t.Errorf("study ROC-AUC = %.15g, sklearn %.15g", auc, c.ROCAUC)
			}
		})
	}
}

// decodeBits turns a fixture's "0101…" mask into 0/1 values.
func decodeBits(s string) []float32 {
	out := make([]float32, len(s))
	for i := range s {
		if s[i] == '1' {
			out[i] = 1
		}
	}
	return out
}

func TestSklearnPixelLevel(t *testing.T) {
	var fx struct {
		Cases []struct {
			Name       string             `json:"name"`
			W          int                `json:"w"`
			H          int                `json:"h"`
			Maps       [][]float64        `json:"maps"`
			Truth      []string           `json:"truth"`
			Masks      []string           `json:"masks"`
			Gen        *pixelGen          `json:"gen"`
			Pixels     int                `json:"pixels"`
			ROCAUC     float64            `json:"roc_auc"`
			Components []int              `json:"components"`
			AUPRO      map[string]float64 `json:"aupro"`
		} `json:"cases"`
	}
	loadFixture(t, "pixel.json", &fx)
	if len(fx.Cases) != 2 {
		t.Fatalf("pixel.json has %d cases; want 2", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var maps, truth, masks [][]float32
			if c.Gen != nil {
				maps, truth, masks = c.Gen.generate()
			} else {
				for i := range c.Maps {
					m := make([]float32, len(c.Maps[i]))
					for j, v := range c.Maps[i] {
						m[j] = float32(v)
					}
					maps = append(maps, m)
					truth = append(truth, decodeBits(c.Truth[i]))
					masks = append(masks, decodeBits(c.Masks[i]))
				}
			}
			inside := 0
			for _, m := range masks {
				for _, v := range m {
					if v >= 0.5 {
						inside++
					}
				}
			}
			if inside != c.Pixels {
				t.Fatalf("%d pixels inside the masks, reference %d: generator differs", inside, c.Pixels)
			}
			for i := range maps {
				_, n, err := preprocess.LabelRegions(truth[i], masks[i], c.W, c.H)
				if err != nil {
					t.Fatal(err)
				}
				if n != c.Components[i] {
					t.Errorf("image %d: %d regions, scipy.ndimage.label %d", i, n, c.Components[i])
				}
			}
			auc, err := PixelROCAUC(maps, truth, masks)
			if err != nil {
				t.Fatal(err)
			}
			if !near(auc, c.ROCAUC) {
				t.Errorf("pixel ROC-AUC = %.15g, sklearn %.15g", auc, c.ROCAUC)
			}
			if len(c.AUPRO) != 3 {
				t.Fatalf("fixture has %d AUPRO limits; want 3", len(c.AUPRO))
			}
			for lim, want := range c.AUPRO {
				var limit float64
				fmt.Sscan(lim, &limit)
				got, err := AUPRO(maps, truth, masks, c.W, c.H, limit, preprocess.LabelRegions)
				if err != nil {
					t.Fatal(err)
				}
				if !near(got, want) {
					t.Errorf("AUPRO to FPR %s = %.15g, reference %.15g", lim, got, want)
				}
			}
		})
	}
}
