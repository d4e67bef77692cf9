package eval

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestStudyScores(t *testing.T) {
	studies := []string{"p1/study1", "p2/study1", "p1/study1", "p1/study2", "p2/study1", "p1/study1"}
	scores := []float64{0.2, 0.9, 0.5, 0.3, 0.1, 0.8}
	labels := []int{1, 0, 1, 0, 0, 1}
	cases := []struct {
		agg    string
		scores []float64
	}{
		{"mean", []float64{0.5, 0.5, 0.3}}, // (0.2+0.5+0.8)/3, (0.9+0.1)/2
		{"max", []float64{0.8, 0.9, 0.3}},
	}
	for _, c := range cases {
		t.Run(c.agg, func(t *testing.T) {
			ss, sl, err := StudyScores(studies, scores, labels, c.agg)
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != 3 {
				t.Fatalf("%d studies, want 3", len(ss))
			}
			for i := range ss {
				if math.Abs(ss[i]-c.scores[i]) > 1e-15 {
					t.Errorf("study %d score %v, want %v", i, ss[i], c.scores[i])
				}
			}
			// Order of first appearance: p1/study1, p2/study1, p1/study2.
			if !reflect.DeepEqual(sl, []int{1, 0, 0}) {
				t.Errorf("labels %v, want [1 0 0]", sl)
			}
		})
	}
	// max: the abnormal study (0.8) is below one normal study (0.9) and above
	// the other (0.3): AUC 1/2. mean: it ties 0.5 and beats 0.3: (½ + 1)/2.
	for agg, want := range map[string]float64{"max": 0.5, "mean": 0.75} {
		auc, err := StudyROCAUC(studies, scores, labels, agg)
		if err != nil {
			t.Fatal(err)
		}
		if auc != want {
			t.Errorf("%s study AUC = %v, want %v", agg, auc, want)
		}
	}
}

func TestStudyScoresErrors(t *testing.T) {
	cases := []struct {
		name    string
		studies []string
		scores  []float64
		labels  []int
		agg     string
		want    string
	}{
		{"label disagrees", []string{"a", "b", "a"}, []float64{1, 2, 3}, []int{1, 0, 0}, "mean",
			`study "a" has images labelled both 0 and 1 (image 2 is 0); a study has one label`},
		{"bad aggregation", []string{"a"}, []float64{1}, []int{1}, "median",
			`study aggregation "median": must be "mean" or "max"`},
		{"length mismatch", []string{"a", "b"}, []float64{1}, []int{1, 0}, "max",
			"2 studies, 1 scores and 2 labels: need one of each per image"},
		{"empty study", []string{"a", ""}, []float64{1, 2}, []int{1, 0}, "max", "image 1 has an empty study key"},
		{"NaN score", []string{"a", "b"}, []float64{1, math.NaN()}, []int{1, 0}, "max", `score of image 1 (study "b") is NaN`},
		{"bad label", []string{"a", "b"}, []float64{1, 2}, []int{1, 2}, "max",
			`label of image 1 (study "b") is 2; labels must be 0 (normal) or 1 (abnormal)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := StudyScores(c.studies, c.scores, c.labels, c.agg)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error = %v, want %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
		})
	}
	// One class missing after aggregation: the ROC's own clear error.
	_, err := StudyROCAUC([]string{"a", "a", "b"}, []float64{1, 2, 3}, []int{1, 1, 1}, "mean")
	if want := "ROC needs both classes; got 0 normal and 2 abnormal"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
