package eval

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat"
)

// Curve is a ROC curve: false- and true-positive rates at each distinct
// threshold, from (0,0) at +Inf down to (1,1).
type Curve struct {
	FPR       []float64 `json:"fpr"`
	TPR       []float64 `json:"tpr"`
	Threshold []float64 `json:"threshold"`
}

// checkBinary validates scores and labels for a ranking metric.
func checkBinary(scores []float64, labels []int) (pos, neg int, err error) {
	if len(scores) != len(labels) {
		return 0, 0, invalidf("%d scores but %d labels", len(scores), len(labels))
	}
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, 0, invalidf("score %d is NaN", i)
		}
		switch labels[i] {
		case 0:
			neg++
		case 1:
			pos++
		default:
			return 0, 0, invalidf("label %d is %d; labels must be 0 (normal) or 1 (abnormal)", i, labels[i])
		}
	}
	if pos == 0 || neg == 0 {
		return pos, neg, invalidf("ROC needs both classes; got %d normal and %d abnormal", neg, pos)
	}
	return pos, neg, nil
}

// ROC computes the ROC curve with gonum's stat.ROC (ties share one
// threshold, so tied scores move FPR and TPR together) and its area by the
// trapezoidal rule, which for tied scores equals the Mann-Whitney AUC with
// ties counted one half.
func ROC(scores []float64, labels []int) (*Curve, float64, error) {
	if _, _, err := checkBinary(scores, labels); err != nil {
		return nil, 0, err
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	y := make([]float64, len(idx))
	classes := make([]bool, len(idx))
	for i, j := range idx {
		y[i] = scores[j]
		classes[i] = labels[j] == 1
	}
	tpr, fpr, thresh := stat.ROC(nil, y, classes, nil)
	return &Curve{FPR: fpr, TPR: tpr, Threshold: thresh}, integrate.Trapezoidal(fpr, tpr), nil
}

// ROCAUC is the area under the ROC curve.
func ROCAUC(scores []float64, labels []int) (float64, error) {
	_, auc, err := ROC(scores, labels)
	return auc, err
}

// AveragePrecision is the area under the precision-recall curve as a step
// function, sum over distinct thresholds of (R_k − R_{k−1})·P_k, the
// definition scikit-learn's average_precision_score uses.
func AveragePrecision(scores []float64, labels []int) (float64, error) {
	pos, _, err := checkBinary(scores, labels)
	if err != nil {
		return 0, err
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var ap, prevRecall float64
	tp, fp := 0, 0
	for i := 0; i < len(idx); {
		// Take every image tied at this threshold at once.
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		recall := float64(tp) / float64(pos)
		precision := float64(tp) / float64(tp+fp)
		ap += (recall - prevRecall) * precision
		prevRecall = recall
		i = j
	}
	return ap, nil
}

// Summary is mean ± sample standard deviation over n values (e.g. seeds).
type Summary struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

func (s Summary) String() string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std)
}

// Summarize returns mean and sample standard deviation (0 for one value).
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	mean, std := stat.MeanStdDev(values, nil)
	if len(values) == 1 {
		std = 0
	}
	return Summary{Mean: mean, Std: std, N: len(values)}
}
