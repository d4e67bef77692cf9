package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The adversarial losses work on logits, never on probabilities, so a
// saturated discriminator gives a large finite loss instead of log(0).

// ScalarNode is the constant v in dtype dt.
func ScalarNode(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float32 {
		return G.NewConstant(float32(v))
	}
	return G.NewConstant(v)
}

// BCEWithLogits is mean(softplus(l) − l·t), the binary cross-entropy of
// sigmoid(l) against targets t in [0,1] (soft labels allowed). It is what
// PyTorch's BCELoss computes on sigmoid outputs, without the log(0) and
// without Gorgonia's BinaryXent, which panics on constant targets.
// Gorgonia's Softplus is the stable form (x above 14 in float32 returns x).
func BCEWithLogits(logits, targets *G.Node) (*G.Node, error) {
	if !logits.Shape().Eq(targets.Shape()) {
		return nil, fmt.Errorf("bce: logits %v and targets %v differ in shape", logits.Shape(), targets.Shape())
	}
	sp, err := G.Softplus(logits)
	if err != nil {
		return nil, fmt.Errorf("bce: %w", err)
	}
	lt, err := G.HadamardProd(logits, targets)
	if err != nil {
		return nil, fmt.Errorf("bce: %w", err)
	}
	d, err := G.Sub(sp, lt)
	if err != nil {
		return nil, fmt.Errorf("bce: %w", err)
	}
	return G.Mean(d)
}

// BCEConst is BCEWithLogits against the constant target t ∈ {0, 1}:
// mean(softplus(l)) for 0 and mean(softplus(−l)) for 1.
func BCEConst(logits *G.Node, t float64) (*G.Node, error) {
	x := logits
	if t == 1 {
		var err error
		if x, err = G.Neg(logits); err != nil {
			return nil, err
		}
	} else if t != 0 {
		return nil, fmt.Errorf("bce: constant target %g must be 0 or 1; use BCEWithLogits for soft targets", t)
	}
	sp, err := G.Softplus(x)
	if err != nil {
		return nil, fmt.Errorf("bce: %w", err)
	}
	return G.Mean(sp)
}

// HingeLoss is the discriminator's hinge loss on one side (Lim & Ye 2017,
// as in SN-GAN): mean(relu(1 − l)) for real samples, mean(relu(1 + l)) for
// fake ones.
func HingeLoss(logits *G.Node, real bool) (*G.Node, error) {
	one := ScalarNode(logits.Dtype(), 1)
	var m *G.Node
	var err error
	if real {
		m, err = G.Sub(one, logits)
	} else {
		m, err = G.Add(one, logits)
	}
	if err != nil {
		return nil, fmt.Errorf("hinge: %w", err)
	}
	if m, err = G.Rectify(m); err != nil {
		return nil, fmt.Errorf("hinge: %w", err)
	}
	return G.Mean(m)
}

// NegMean is −mean(l): the generator's hinge loss, and also exactly the
// authors' α-GAN encoder/generator loss BCE(σ(l),1) − BCE(σ(l),0), since
// softplus(−l) − softplus(l) = −l.
func NegMean(logits *G.Node) (*G.Node, error) {
	m, err := G.Mean(logits)
	if err != nil {
		return nil, err
	}
	return G.Neg(m)
}

// DiscLoss is a discriminator's loss on real and fake logits: hinge, or
// BCE with targets 1 for real and 0 for fake.
func DiscLoss(hinge bool, real []*G.Node, fake []*G.Node) (*G.Node, error) {
	var total *G.Node
	add := func(l *G.Node, isReal bool) error {
		var t *G.Node
		var err error
		if hinge {
			t, err = HingeLoss(l, isReal)
		} else if isReal {
			t, err = BCEConst(l, 1)
		} else {
			t, err = BCEConst(l, 0)
		}
		if err != nil {
			return err
		}
		if total == nil {
			total = t
		} else if total, err = G.Add(total, t); err != nil {
			return err
		}
		return nil
	}
	for _, l := range real {
		if err := add(l, true); err != nil {
			return nil, err
		}
	}
	for _, l := range fake {
		if err := add(l, false); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// AddLosses sums scalar nodes.
func AddLosses(ls ...*G.Node) (*G.Node, error) {
	total := ls[0]
	for _, l := range ls[1:] {
		var err error
		if total, err = G.Add(total, l); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// MeanAbsDiff is mean|a − b| over all elements (PyTorch's L1Loss).
func MeanAbsDiff(a, b *G.Node) (*G.Node, error) {
	d, err := G.Sub(a, b)
	if err != nil {
		return nil, err
	}
	if d, err = G.Abs(d); err != nil {
		return nil, err
	}
	return G.Mean(d)
}

// MaskedMSE is the paper's masked reconstruction loss as coded:
// Σ(m⊙(x−x̂))² / Σm.
func MaskedMSE(x, recon, mask *G.Node) (*G.Node, error) { return maskedMean(x, recon, mask, G.Square) }

// MaskedL1 is MaskedMSE's L1 form, Σ|m⊙(x−x̂)| / Σm: the α-GAN's
// reconstruction loss masked as the autoencoders' is (mask_recon).
func MaskedL1(x, recon, mask *G.Node) (*G.Node, error) { return maskedMean(x, recon, mask, G.Abs) }

// maskedMean is Σ f(m⊙(x−x̂)) / Σm.
func maskedMean(x, recon, mask *G.Node, f func(*G.Node) (*G.Node, error)) (*G.Node, error) {
	d, err := G.Sub(x, recon)
	if err != nil {
		return nil, err
	}
	if d, err = G.HadamardProd(mask, d); err != nil {
		return nil, err
	}
	if d, err = f(d); err != nil {
		return nil, err
	}
	num, err := G.Sum(d)
	if err != nil {
		return nil, err
	}
	den, err := G.Sum(mask)
	if err != nil {
		return nil, err
	}
	return G.Div(num, den)
}
