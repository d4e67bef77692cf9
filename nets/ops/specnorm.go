package ops

import (
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// snEps keeps the power iteration's normalisation finite for a zero
// weight, as in the authors' l2normalize.
const snEps = 1e-12

// SNState is the power-iteration state of one spectrally normalised
// weight: u (the weight's first dimension) and v (the product of the
// others). It lives in the model, is updated once per training step and is
// checkpointed, so a resumed run continues the same iteration.
type SNState struct {
	Weight string // the parameter it normalises
	U, V   *tensor.Dense
}

// NewSNState draws u and v from N(0,1) and normalises them, as the
// authors' SpectralNorm does.
func NewSNState(dt tensor.Dtype, weight string, shape tensor.Shape, r *rand.Rand) *SNState {
	h := shape[0]
	w := shape.TotalSize() / h
	s := &SNState{Weight: weight,
		U: tensor.New(tensor.Of(dt), tensor.WithShape(h)),
		V: tensor.New(tensor.Of(dt), tensor.WithShape(w))}
	for _, t := range []*tensor.Dense{s.U, s.V} {
		switch d := t.Data().(type) {
		case []float32:
			for i := range d {
				d[i] = float32(r.NormFloat64())
			}
			normalize(d)
		case []float64:
			for i := range d {
				d[i] = r.NormFloat64()
			}
			normalize(d)
		}
	}
	return s
}

// PowerIterate runs one step of the power iteration on w viewed as a
// (shape[0] × rest) matrix: v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖.
func PowerIterate(w *tensor.Dense, s *SNState) {
	switch wd := w.Data().(type) {
	case []float32:
		powerStep(wd, s.U.Float32s(), s.V.Float32s())
	case []float64:
		powerStep(wd, s.U.Float64s(), s.V.Float64s())
	}
}

func powerStep[T Float](w, u, v []T) {
	h, n := len(u), len(v)
	// accumulate in float64 so float32 weights do not lose the iteration
	acc := make([]float64, n)
	for i := 0; i < h; i++ {
		ui := float64(u[i])
		row := w[i*n : (i+1)*n]
		for j, x := range row {
			acc[j] += float64(x) * ui
		}
	}
	for j := range v {
		v[j] = T(acc[j])
	}
	normalize(v)
	for i := 0; i < h; i++ {
		var s float64
		row := w[i*n : (i+1)*n]
		for j, x := range row {
			s += float64(x) * float64(v[j])
		}
		u[i] = T(s)
	}
	normalize(u)
}

func normalize[T Float](x []T) {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	d := math.Sqrt(s) + snEps
	for i := range x {
		x[i] = T(float64(x[i]) / d)
	}
}

// SpectralNorm returns w/σ with σ = uᵀ·W·v, W being w viewed as a
// (shape[0] × rest) matrix and u, v the power-iteration vectors (Miyato et
// al. 2018). u and v are constants of the graph (the iteration runs outside
// it, once per update), but σ is computed from w in the graph, so the
// gradient includes the −(g·W)/σ²·u·vᵀ term through σ, as in the authors'
// PyTorch code.
func SpectralNorm(w, u, v *G.Node) (*G.Node, error) {
	ws := w.Shape()
	if ws.Dims() < 2 {
		return nil, fmt.Errorf("spectral norm: weight %v must have at least 2 dimensions", ws)
	}
	h := ws[0]
	n := ws.TotalSize() / h
	if !u.Shape().Eq(tensor.Shape{h}) || !v.Shape().Eq(tensor.Shape{n}) {
		return nil, fmt.Errorf("spectral norm: weight %v needs u of shape (%d) and v of shape (%d), got %v and %v", ws, h, n, u.Shape(), v.Shape())
	}
	wm := w
	if ws.Dims() != 2 {
		var err error
		if wm, err = Reshape(w, tensor.Shape{h, n}); err != nil {
			return nil, fmt.Errorf("spectral norm: %w", err)
		}
	}
	wv, err := G.Mul(wm, v)
	if err != nil {
		return nil, fmt.Errorf("spectral norm: W·v: %w", err)
	}
	sigma, err := G.Mul(u, wv)
	if err != nil {
		return nil, fmt.Errorf("spectral norm: uᵀ·W·v: %w", err)
	}
	out, err := G.Div(w, sigma)
	if err != nil {
		return nil, fmt.Errorf("spectral norm: W/σ: %w", err)
	}
	return out, nil
}
