package eval

import (
	"math"
	"testing"
)

func close12(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// Normalisations against hand-computed values.
func TestNormalisers(t *testing.T) {
	// val 1, 2, 3, 4: mean 2.5, population variance 1.25.
	z, err := FitNormaliser(NormZScore, []float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if !close12(z.Mean, 2.5) || !close12(z.Std, math.Sqrt(1.25)) {
		t.Errorf("zscore fit mean %v std %v, want 2.5 and √1.25", z.Mean, z.Std)
	}
	for _, c := range []struct{ x, want float64 }{{5, math.Sqrt(5)}, {1, -3 / math.Sqrt(5)}, {2.5, 0}} {
		if got := z.One(c.x); !close12(got, c.want) {
			t.Errorf("zscore(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	// val 1, 2, 2, 4: the share below x plus half the share equal to it.
	r, err := FitNormaliser(NormRank, []float64{4, 2, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Apply([]float64{0, 1, 2, 3, 4, 5})
	want := []float64{0, 0.125, 0.5, 0.75, 0.875, 1}
	for i := range want {
		if !close12(got[i], want[i]) {
			t.Errorf("rank(%v) = %v, want %v", []float64{0, 1, 2, 3, 4, 5}[i], got[i], want[i])
		}
	}
	for _, c := range []struct {
		kind string
		val  []float64
		want string
	}{
		{NormZScore, []float64{3, 3}, "normalise: the score is constant (3) on the validation images, so it has no z-score"},
		{NormZScore, nil, "normalise: no validation scores"},
		{NormRank, []float64{1, math.NaN()}, "normalise: validation score 1 is NaN"},
		{"minmax", []float64{1, 2}, `normalise: unknown normalisation "minmax"; known: zscore, rank`},
	} {
		if _, err := FitNormaliser(c.kind, c.val); err == nil || err.Error() != c.want {
			t.Errorf("FitNormaliser(%s, %v) = %v, want %q", c.kind, c.val, err, c.want)
		}
	}
}

func TestCombine(t *testing.T) {
	members := [][]float64{{1, 2}, {3, -2}}
	for _, c := range []struct {
		how  string
		w    []float64
		want []float64
	}{
		{CombineMean, nil, []float64{2, 0}},
		{CombineMax, nil, []float64{3, 2}},
		{CombineWeighted, []float64{0.25, 0.75}, []float64{2.5, -1}},
	} {
		got, err := Combine(c.how, members, c.w)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.want {
			if !close12(got[i], c.want[i]) {
				t.Errorf("%s = %v, want %v", c.how, got, c.want)
			}
		}
	}
	for _, c := range []struct {
		how     string
		members [][]float64
		w       []float64
		want    string
	}{
		{CombineMean, [][]float64{{1, 2}, {3}}, nil, "combine: member 1 has 1 scores, member 0 has 2"},
		{CombineWeighted, members, []float64{1}, "combine: 1 weights for 2 members"},
		{"median", members, nil, `combine: unknown combination "median"; known: mean, max, weighted`},
		{CombineMean, nil, nil, "combine: no members"},
	} {
		if _, err := Combine(c.how, c.members, c.w); err == nil || err.Error() != c.want {
			t.Errorf("Combine(%s) = %v, want %q", c.how, err, c.want)
		}
	}
}

// On a hand-made case only weights strictly between 1/2 and 2/3 for
// member A rank every abnormal image above every normal one; 0.6 is the
// one grid point there.
//
//	images  n1 n2 p1 p2        mix w·A + (1−w)·B
//	A        0  3  2  4        n1 = 4(1−w), n2 = 3w, p1 = 2, p2 = 4
//	B        4  0  2  4        perfect iff 2 > 4(1−w) and 2 > 3w
func TestFitWeightsMaximisesValidationAUC(t *testing.T) {
	a := []float64{0, 3, 2, 4}
	b := []float64{4, 0, 2, 4}
	labels := []int{0, 0, 1, 1}
	w, auc, err := FitWeights([][]float64{a, b}, labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 2 || !close12(w[0], 0.6) || !close12(w[1], 0.4) || !close12(auc, 1) {
		t.Errorf("weights %v with ROC-AUC %v, want [0.6 0.4] with 1", w, auc)
	}
	// Each member alone does worse: A 3/4, B (one tie) 2.5/4.
	for i, s := range [][]float64{a, b} {
		got, _ := ROCAUC(s, labels)
		if want := []float64{0.75, 0.625}[i]; !close12(got, want) {
			t.Errorf("member %d alone: %v, want %v", i, got, want)
		}
	}
	// Ties go to the weights nearest uniform: identical members tie everywhere.
	w, _, err = FitWeights([][]float64{a, a, a}, labels)
	if err != nil {
		t.Fatal(err)
	}
	// 10 steps cannot split in thirds; the nearest are (4,3,3)/10 and
	// permutations, of which the grid order meets (0.4, 0.3, 0.3) first.
	if !close12(w[0], 0.4) || !close12(w[1], 0.3) || !close12(w[2], 0.3) {
		t.Errorf("tied weights %v, want [0.4 0.3 0.3]", w)
	}
	if _, _, err := FitWeights([][]float64{a}, []int{1, 1, 1, 1}); err == nil || err.Error() != "ROC needs both classes; got 0 normal and 4 abnormal" {
		t.Errorf("one class: %v", err)
	}
}
