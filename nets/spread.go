package nets

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// Spread describes how one anomaly score varies over a set of images. A
// GAN whose discriminator has collapsed gives every image (nearly) the
// same score, which no ROC curve can use.
type Spread struct {
	N        int
	Min, Max float64
	Mean     float64
	Std      float64 // sample standard deviation (0 for fewer than 2 values)
	Distinct int     // number of distinct values
	NaN      int     // values that are NaN or infinite (left out of the rest)
}

// Constant reports whether the score fails to tell images apart: fewer than
// two distinct finite values, or a range within tol of the scores' own
// magnitude (max(|Min|, |Max|)).
func (s Spread) Constant(tol float64) bool {
	if s.Distinct < 2 {
		return true
	}
	scale := math.Max(math.Abs(s.Min), math.Abs(s.Max))
	return s.Max-s.Min <= tol*scale
}

// ScoreSpread summarises every score of a scoring pass (typically the
// validation set's, concatenated over batches).
func ScoreSpread(scores map[string][]float64) map[string]Spread {
	out := make(map[string]Spread, len(scores))
	for name, vs := range scores {
		finite := make([]float64, 0, len(vs))
		s := Spread{N: len(vs)}
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				s.NaN++
				continue
			}
			finite = append(finite, v)
		}
		if len(finite) > 0 {
			sort.Float64s(finite)
			s.Min, s.Max = finite[0], finite[len(finite)-1]
			s.Distinct = 1
			for i := 1; i < len(finite); i++ {
				if finite[i] != finite[i-1] {
					s.Distinct++
				}
			}
			if len(finite) > 1 {
				s.Mean, s.Std = stat.MeanStdDev(finite, nil)
			} else {
				s.Mean = finite[0]
			}
		}
		out[name] = s
	}
	return out
}

// CollapsedScores lists, sorted, the scores whose Spread is Constant(tol).
func CollapsedScores(scores map[string][]float64, tol float64) []string {
	var out []string
	for name, s := range ScoreSpread(scores) {
		if s.Constant(tol) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
