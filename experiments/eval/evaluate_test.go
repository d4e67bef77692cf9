package eval

import (
	"errors"
	"math"
	"math/rand"
	"testing"
)

// mannWhitneyAUC is an independent reference: the probability that a random
// abnormal image scores above a random normal one, ties counting one half.
func mannWhitneyAUC(scores []float64, labels []int) float64 {
	var wins float64
	var pairs int
	for i := range scores {
		if labels[i] != 1 {
			continue
		}
		for j := range scores {
			if labels[j] != 0 {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				wins++
			case scores[i] == scores[j]:
				wins += 0.5
			}
		}
	}
	return wins / float64(pairs)
}

func TestROCAUC(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		labels []int
		auc    float64
		ap     float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []int{0, 0, 1, 1}, 1, 1},
		// AP: recall 0.5 at precision 1/3, then 1 at 1/2.
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []int{0, 0, 1, 1}, 0, 0.5/3 + 0.5*0.5},
		// One tie across classes: 3.5 of 4 pairs; AP = 0.5·(2/3) + 0.5·1.
		{"tie", []float64{0.1, 0.4, 0.4, 0.8}, []int{0, 1, 0, 1}, 0.875, 0.5*1 + 0.5*2.0/3},
		{"all tied", []float64{3, 3, 3, 3, 3}, []int{0, 1, 0, 1, 0}, 0.5, 0.4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auc, err := ROCAUC(c.scores, c.labels)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(auc-c.auc) > 1e-12 {
				t.Errorf("AUC = %v, want %v", auc, c.auc)
			}
			ap, err := AveragePrecision(c.scores, c.labels)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ap-c.ap) > 1e-12 {
				t.Errorf("AP = %v, want %v", ap, c.ap)
			}
		})
	}
}

// On random data with many ties, the gonum-based AUC equals the pairwise
// Mann-Whitney count to 1e-9.
func TestROCAUCMatchesMannWhitney(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		n := 2 + rng.Intn(300)
		scores := make([]float64, n)
		labels := make([]int, n)
		for i := range scores {
			scores[i] = float64(rng.Intn(1 + trial)) // few distinct values: ties
			labels[i] = rng.Intn(2)
		}
		labels[0], labels[1] = 0, 1
		auc, err := ROCAUC(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		if want := mannWhitneyAUC(scores, labels); math.Abs(auc-want) > 1e-9 {
			t.Fatalf("trial %d: AUC %v, Mann-Whitney %v", trial, auc, want)
		}
	}
}

func TestROCErrors(t *testing.T) {
	cases := []struct {
		scores []float64
		labels []int
		want   string
	}{
		{[]float64{1, 2}, []int{0, 0}, "ROC needs both classes; got 2 normal and 0 abnormal"},
		{[]float64{1, 2}, []int{1, 1}, "ROC needs both classes; got 0 normal and 2 abnormal"},
		{[]float64{1}, []int{0, 1}, "1 scores but 2 labels"},
		{[]float64{1, math.NaN()}, []int{0, 1}, "score 1 is NaN"},
		{[]float64{1, 2}, []int{0, 2}, "label 1 is 2; labels must be 0 (normal) or 1 (abnormal)"},
	}
	for _, c := range cases {
		_, err := ROCAUC(c.scores, c.labels)
		if err == nil || err.Error() != c.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("ROCAUC(%v, %v) = %v, want %q", c.scores, c.labels, err, c.want)
		}
		if _, err := AveragePrecision(c.scores, c.labels); err == nil || err.Error() != c.want {
			t.Errorf("AveragePrecision(%v, %v) = %v, want %q", c.scores, c.labels, err, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{0.5, 0.6, 0.7})
	if math.Abs(s.Mean-0.6) > 1e-12 || math.Abs(s.Std-0.1) > 1e-12 || s.N != 3 {
		t.Errorf("Summarize = %+v", s)
	}
	if got := s.String(); got != "0.600 ± 0.100" {
		t.Errorf("String = %q", got)
	}
	if one := Summarize([]float64{0.5}); one.Std != 0 || one.N != 1 {
		t.Errorf("one value: %+v", one)
	}
}
