package nets

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// defaultTopK is the paper's k, used when the spec gives none.
const defaultTopK = 200

// ResolveParams checks cfg.Params against the spec (names known, values in
// range, integers where required) and fills in defaults.
func ResolveParams(s Spec, cfg Config) (map[string]float64, error) {
	out := make(map[string]float64, len(s.Params))
	for name, r := range s.Params {
		out[name] = r.Default
	}
	names := make([]string, 0, len(cfg.Params))
	for n := range cfg.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := cfg.Params[n]
		r, ok := s.Params[n]
		if !ok {
			known := make([]string, 0, len(s.Params))
			for k := range s.Params {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("%s: unknown parameter %q (accepted: %s)", s.Name, n, strings.Join(known, ", "))
		}
		if math.IsNaN(v) || v < r.Min || v > r.Max {
			return nil, fmt.Errorf("%s: parameter %s = %g is outside [%g, %g]", s.Name, n, v, r.Min, r.Max)
		}
		if r.Integer && v != math.Trunc(v) {
			return nil, fmt.Errorf("%s: parameter %s = %g must be an integer", s.Name, n, v)
		}
		out[n] = v
	}
	return out, nil
}

// ResolveTopK checks the k values of the top-k scores; none means the
// paper's k = 200.
func ResolveTopK(model string, ks []int) ([]int, error) {
	if len(ks) == 0 {
		return []int{defaultTopK}, nil
	}
	seen := map[int]bool{}
	for _, k := range ks {
		if k <= 0 {
			return nil, fmt.Errorf("%s: top-k value %d must be positive", model, k)
		}
		if seen[k] {
			return nil, fmt.Errorf("%s: top-k value %d is listed twice", model, k)
		}
		seen[k] = true
	}
	return append([]int(nil), ks...), nil
}

// CheckTopKFrac checks the shares of the top-k-share scores: each in
// (0, 1], none twice.
func CheckTopKFrac(model string, fs []float64) error {
	seen := map[float64]bool{}
	for _, f := range fs {
		if math.IsNaN(f) || f <= 0 || f > 1 {
			return fmt.Errorf("%s: top-k share %g must be in (0, 1]", model, f)
		}
		if seen[f] {
			return fmt.Errorf("%s: top-k share %g is listed twice", model, f)
		}
		seen[f] = true
	}
	return nil
}
