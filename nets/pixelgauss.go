package nets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// pixelgauss is the classical baseline: a Gaussian per pixel fitted to the
// normal training images. The anomaly map is the squared z-score under the
// mask; image scores are its masked mean and the mean of its k largest
// values. It trains in one pass and needs no deep learning, so every
// pipeline can be tested end to end in seconds.
type pixelgauss struct {
	size  int
	topK  []int
	eps   float64
	count []float64 // masked observations per pixel
	mean  []float64
	m2    []float64 // Welford's running sum of squared deviations
}

func init() {
	register(Spec{
		Name:   "pixelgauss",
		Scores: []string{"mean", "mean_topk"},
		Params: map[string]ParamRange{
			// Variance floor: keeps z finite where training pixels never vary.
			"var_floor": {Min: 1e-8, Max: 1, Default: 1e-3},
		},
		New: newPixelGauss,
	})
}

func newPixelGauss(cfg Config) (Model, error) {
	n := cfg.Size * cfg.Size
	return &pixelgauss{
		size: cfg.Size, topK: cfg.TopK, eps: cfg.Param("var_floor", 1e-3),
		count: make([]float64, n), mean: make([]float64, n), m2: make([]float64, n),
	}, nil
}

func (m *pixelgauss) Name() string { return "pixelgauss" }

func (m *pixelgauss) ScoreNames() []string {
	return ExpandScores([]string{"mean", "mean_topk"}, m.topK)
}

func (m *pixelgauss) checkSize(b *Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.H != m.size || b.W != m.size {
		return fmt.Errorf("pixelgauss: batch images are %dx%d, model was built for %dx%d", b.H, b.W, m.size, m.size)
	}
	return nil
}

func (m *pixelgauss) TrainStep(b *Batch) (map[string]float64, error) {
	if err := m.checkSize(b); err != nil {
		return nil, err
	}
	for i := 0; i < b.N; i++ {
		img, mask := b.Image(i), b.Mask(i)
		for p, v := range img {
			if mask[p] == 0 {
				continue
			}
			x := float64(v)
			m.count[p]++
			d := x - m.mean[p]
			m.mean[p] += d / m.count[p]
			m.m2[p] += d * (x - m.mean[p])
		}
	}
	return map[string]float64{}, nil
}

func (m *pixelgauss) EndEpoch(int) error { return nil }

func (m *pixelgauss) Score(b *Batch) (*Scored, error) {
	if err := m.checkSize(b); err != nil {
		return nil, err
	}
	names := m.ScoreNames()
	out := &Scored{Scores: map[string][]float64{}, Maps: make([]float32, len(b.Images))}
	for _, n := range names {
		out.Scores[n] = make([]float64, b.N)
	}
	z := make([]float64, 0, b.Pixels())
	for i := 0; i < b.N; i++ {
		img, mask := b.Image(i), b.Mask(i)
		amap := out.Maps[i*b.Pixels() : (i+1)*b.Pixels()]
		z = z[:0]
		for p, v := range img {
			if mask[p] == 0 {
				continue
			}
			variance := m.eps
			if m.count[p] > 1 {
				variance += m.m2[p] / (m.count[p] - 1)
			}
			d := float64(v) - m.mean[p]
			zz := d * d / variance
			amap[p] = float32(zz)
			z = append(z, zz)
		}
		out.Scores["mean"][i] = Mean(z)
		for _, k := range m.topK {
			out.Scores[TopKName("mean", k)][i] = TopKMean(z, k)
		}
	}
	return out, nil
}

const pixelgaussMagic = "XRLPGv1\n"

func (m *pixelgauss) Save(w io.Writer) error {
	if _, err := io.WriteString(w, pixelgaussMagic); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, int64(m.size)); err != nil {
		return err
	}
	for _, s := range [][]float64{m.count, m.mean, m.m2} {
		if err := binary.Write(w, binary.LittleEndian, s); err != nil {
			return err
		}
	}
	return nil
}

func (m *pixelgauss) Load(r io.Reader) error {
	magic := make([]byte, len(pixelgaussMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != pixelgaussMagic {
		return errors.New("pixelgauss: not a pixelgauss state (bad header)")
	}
	var size int64
	if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
		return fmt.Errorf("pixelgauss: truncated state: %w", err)
	}
	if int(size) != m.size {
		return fmt.Errorf("pixelgauss: state is for %d px images, model is %d px", size, m.size)
	}
	for _, s := range [][]float64{m.count, m.mean, m.m2} {
		if err := binary.Read(r, binary.LittleEndian, s); err != nil {
			return fmt.Errorf("pixelgauss: truncated state: %w", err)
		}
	}
	return nil
}

// Mean is the arithmetic mean, 0 for no values.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TopKMean is the mean of the k largest values (all of them when fewer).
// It sorts v in place.
func TopKMean(v []float64, k int) float64 {
	if len(v) == 0 || k <= 0 {
		return 0
	}
	if k >= len(v) {
		return Mean(v)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(v)))
	return Mean(v[:k])
}

// TopKName is the name of the top-k variant of a score family.
func TopKName(family string, k int) string { return fmt.Sprintf("%s_top%d", family, k) }

// ExpandScores turns score families into concrete score names: a family
// "x_topk" becomes "x_top<k>" for every k.
func ExpandScores(families []string, topK []int) []string {
	var out []string
	for _, f := range families {
		if base, ok := cutSuffix(f, "_topk"); ok {
			for _, k := range topK {
				out = append(out, TopKName(base, k))
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}
