package ops

import (
	"math"
	"math/rand"
	"testing"
)

// TestAddTo: addTo gives the plain loop's sums bit for bit, for every
// length around its unrolled steps and its SIMD threshold, and leaves d
// beyond len(s) alone.
func TestAddTo(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for n := 0; n <= 70; n++ {
		s, d := make([]float32, n), make([]float32, n+3)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		for i := range d {
			d[i] = float32(r.NormFloat64())
		}
		want := append([]float32(nil), d...)
		for i, v := range s {
			want[i] += v
		}
		addTo(d, s)
		for i := range d {
			if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: d[%d] = %v, want %v", n, i, d[i], want[i])
			}
		}
	}
}
