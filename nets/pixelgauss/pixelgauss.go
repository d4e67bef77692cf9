// Package pixelgauss is the classical baseline, registered as
// "pixelgauss": a Gaussian per pixel fitted to the normal training images,
// scored by squared z-scores. It needs no deep learning, so every pipeline
// can be tested end to end in seconds.
package pixelgauss

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"xraylab/nets"
)

// pixelgauss is the classical baseline: a Gaussian per pixel fitted to the
// normal training images. The anomaly map is the squared z-score under the
// mask; image scores are its masked mean and the mean of its k largest
// values. It trains in one pass and needs no deep learning, so every
// pipeline can be tested end to end in seconds.
type pixelgauss struct {
	size  int
	topK  nets.TopK
	eps   float64
	count []float64 // masked observations per pixel
	mean  []float64
	m2    []float64 // Welford's running sum of squared deviations
}

func init() {
	nets.Register(nets.Spec{
		Name:   "pixelgauss",
		Scores: []string{"mean", "mean_topk"},
		Params: map[string]nets.ParamRange{
			// Variance floor: keeps z finite where training pixels never vary.
			"var_floor": {Min: 1e-8, Max: 1, Default: 1e-3},
		},
		New: newPixelGauss,
	})
}

func newPixelGauss(cfg nets.Config) (nets.Model, error) {
	n := cfg.Size * cfg.Size
	return &pixelgauss{
		size: cfg.Size, topK: nets.TopK{Counts: cfg.TopK, Fracs: cfg.TopKFrac}, eps: cfg.Param("var_floor", 1e-3),
		count: make([]float64, n), mean: make([]float64, n), m2: make([]float64, n),
	}, nil
}

func (m *pixelgauss) Name() string { return "pixelgauss" }

func (m *pixelgauss) ScoreNames() []string {
	return nets.ExpandScores([]string{"mean", "mean_topk"}, m.topK.Counts, m.topK.Fracs...)
}

func (m *pixelgauss) checkSize(b *nets.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.H != m.size || b.W != m.size {
		return fmt.Errorf("pixelgauss: batch images are %dx%d, model was built for %dx%d", b.H, b.W, m.size, m.size)
	}
	return nil
}

func (m *pixelgauss) TrainStep(b *nets.Batch) (map[string]float64, error) {
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

func (m *pixelgauss) Score(b *nets.Batch) (*nets.Scored, error) {
	if err := m.checkSize(b); err != nil {
		return nil, err
	}
	names := m.ScoreNames()
	out := &nets.Scored{Scores: map[string][]float64{}, Maps: make([]float32, len(b.Images))}
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
		out.Scores["mean"][i] = nets.Mean(z)
		nets.TopKScores(out.Scores, "mean", i, z, m.topK)
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
