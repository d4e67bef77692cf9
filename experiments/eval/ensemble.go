package eval

import (
	"math"
	"sort"
)

// Ensemble arithmetic: members' scores are normalised with statistics of
// the validation images only, then combined into one score. Written here
// rather than taken from a library because it is a few lines of plain
// arithmetic whose exact definition (ties, population std, the weight
// grid) the README documents.

// Normalisations of an ensemble member's score.
const (
	NormZScore = "zscore" // (x − mean_val) / std_val, population std
	NormRank   = "rank"   // the validation scores' empirical CDF at x, ties counted one half
)

// Combinations of normalised member scores.
const (
	CombineMean     = "mean"
	CombineMax      = "max"
	CombineWeighted = "weighted" // Σ w_i s_i with weights fitted to maximise validation ROC-AUC
)

// Normaliser maps one member's raw scores to its normalised scale. It is
// fitted on the validation scores and applied to every part alike.
type Normaliser struct {
	Kind string    `json:"kind"`
	Mean float64   `json:"mean,omitempty"` // zscore
	Std  float64   `json:"std,omitempty"`  // zscore
	ref  []float64 // rank: the sorted validation scores
}

// FitNormaliser fits kind on the validation scores val.
func FitNormaliser(kind string, val []float64) (*Normaliser, error) {
	if len(val) == 0 {
		return nil, invalidf("normalise: no validation scores")
	}
	for i, v := range val {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, invalidf("normalise: validation score %d is %v", i, v)
		}
	}
	switch kind {
	case NormZScore:
		var sum float64
		for _, v := range val {
			sum += v
		}
		mean := sum / float64(len(val))
		var ss float64
		for _, v := range val {
			ss += (v - mean) * (v - mean)
		}
		std := math.Sqrt(ss / float64(len(val)))
		if std == 0 {
			return nil, invalidf("normalise: the score is constant (%g) on the validation images, so it has no z-score", mean)
		}
		return &Normaliser{Kind: kind, Mean: mean, Std: std}, nil
	case NormRank:
		ref := append([]float64(nil), val...)
		sort.Float64s(ref)
		return &Normaliser{Kind: kind, ref: ref}, nil
	}
	return nil, invalidf("normalise: unknown normalisation %q; known: %s, %s", kind, NormZScore, NormRank)
}

// Apply normalises scores.
func (n *Normaliser) Apply(scores []float64) []float64 {
	out := make([]float64, len(scores))
	for i, v := range scores {
		out[i] = n.One(v)
	}
	return out
}

// One normalises one value.
func (n *Normaliser) One(v float64) float64 {
	if n.Kind == NormZScore {
		return (v - n.Mean) / n.Std
	}
	below := sort.SearchFloat64s(n.ref, v)                                    // ref[i] < v for i < below
	upto := sort.Search(len(n.ref), func(i int) bool { return n.ref[i] > v }) // ref[i] <= v for i < upto
	return (float64(below) + 0.5*float64(upto-below)) / float64(len(n.ref))
}

// Combine combines normalised member scores (members[m][i]: member m's
// score of image i) by mean, max or the weighted mean with weights w.
func Combine(how string, members [][]float64, w []float64) ([]float64, error) {
	if len(members) == 0 {
		return nil, invalidf("combine: no members")
	}
	n := len(members[0])
	for m, s := range members {
		if len(s) != n {
			return nil, invalidf("combine: member %d has %d scores, member 0 has %d", m, len(s), n)
		}
	}
	switch how {
	case CombineMean:
		w = make([]float64, len(members))
		for i := range w {
			w[i] = 1 / float64(len(members))
		}
	case CombineWeighted:
		if len(w) != len(members) {
			return nil, invalidf("combine: %d weights for %d members", len(w), len(members))
		}
	case CombineMax:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Inf(-1)
			for _, s := range members {
				out[i] = math.Max(out[i], s[i])
			}
		}
		return out, nil
	default:
		return nil, invalidf("combine: unknown combination %q; known: %s, %s, %s", how, CombineMean, CombineMax, CombineWeighted)
	}
	out := make([]float64, n)
	for m, s := range members {
		for i, v := range s {
			out[i] += w[m] * v
		}
	}
	return out, nil
}

// WeightSteps is the resolution of the weight search: weights are
// multiples of 1/WeightSteps that sum to 1.
const WeightSteps = 10

// FitWeights searches the simplex grid of weights (non-negative multiples
// of 1/WeightSteps summing to 1) exhaustively for the weighted mean of the
// normalised validation scores val with the highest ROC-AUC against
// labels. An exhaustive grid is deterministic (nothing random, so no seed)
// and cheap for the at most 8 members a spec allows (19 448 points). Ties
// go to the weights nearest the uniform ones, then to the first in the
// grid's lexicographic order (weight of member 0 largest first). It
// returns the weights and their validation ROC-AUC.
func FitWeights(val [][]float64, labels []int) ([]float64, float64, error) {
	m := len(val)
	if m == 0 {
		return nil, 0, invalidf("fit weights: no members")
	}
	best, bestAUC, bestDist := []float64(nil), math.Inf(-1), math.Inf(1)
	counts := make([]int, m)
	var walk func(i, left int) error
	walk = func(i, left int) error {
		if i == m-1 {
			counts[i] = left
			w := make([]float64, m)
			var dist float64
			for k, c := range counts {
				w[k] = float64(c) / WeightSteps
				d := w[k] - 1/float64(m)
				dist += d * d
			}
			s, err := Combine(CombineWeighted, val, w)
			if err != nil {
				return err
			}
			auc, err := ROCAUC(s, labels)
			if err != nil {
				return err
			}
			// A small tolerance, so sums that differ only by rounding tie.
			if auc > bestAUC+1e-12 || (math.Abs(auc-bestAUC) <= 1e-12 && dist < bestDist-1e-12) {
				best, bestAUC, bestDist = w, auc, dist
			}
			return nil
		}
		for c := left; c >= 0; c-- {
			counts[i] = c
			if err := walk(i+1, left-c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0, WeightSteps); err != nil {
		return nil, 0, err
	}
	return best, bestAUC, nil
}
