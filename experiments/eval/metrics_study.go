package eval

import (
	"math"
)

// Study-level aggregation. MURA labels studies, not images, so a study's
// score is the mean or the maximum of its images' scores and its label is
// the study label every one of its images carries.

// Study aggregations accepted by StudyScores.
const (
	StudyMean = "mean"
	StudyMax  = "max"
)

// StudyScores aggregates image scores per study. studies[i] is image i's
// study key (unique across patients, e.g. preprocess.Record.Study); agg is
// "mean" or "max". Studies come out in order of first appearance. An image
// whose label differs from an earlier image of the same study is an error
// naming the study. The mean is a left-to-right sum divided by the count,
// so identical inputs give bit-identical study scores.
func StudyScores(studies []string, scores []float64, labels []int, agg string) (ss []float64, sl []int, err error) {
	if agg != StudyMean && agg != StudyMax {
		return nil, nil, invalidf("study aggregation %q: must be %q or %q", agg, StudyMean, StudyMax)
	}
	if len(studies) != len(scores) || len(scores) != len(labels) {
		return nil, nil, invalidf("%d studies, %d scores and %d labels: need one of each per image", len(studies), len(scores), len(labels))
	}
	index := map[string]int{}
	var counts []int
	for i, st := range studies {
		if st == "" {
			return nil, nil, invalidf("image %d has an empty study key", i)
		}
		if math.IsNaN(scores[i]) {
			return nil, nil, invalidf("score of image %d (study %q) is NaN", i, st)
		}
		if labels[i] != 0 && labels[i] != 1 {
			return nil, nil, invalidf("label of image %d (study %q) is %d; labels must be 0 (normal) or 1 (abnormal)", i, st, labels[i])
		}
		k, ok := index[st]
		if !ok {
			index[st] = len(ss)
			ss = append(ss, scores[i])
			sl = append(sl, labels[i])
			counts = append(counts, 1)
			continue
		}
		if labels[i] != sl[k] {
			return nil, nil, invalidf("study %q has images labelled both 0 and 1 (image %d is %d); a study has one label", st, i, labels[i])
		}
		counts[k]++
		if agg == StudyMean {
			ss[k] += scores[i]
		} else if scores[i] > ss[k] {
			ss[k] = scores[i]
		}
	}
	if agg == StudyMean {
		for k := range ss {
			ss[k] /= float64(counts[k])
		}
	}
	return ss, sl, nil
}

// StudyROCAUC is the ROC-AUC of the study scores StudyScores builds.
func StudyROCAUC(studies []string, scores []float64, labels []int, agg string) (float64, error) {
	ss, sl, err := StudyScores(studies, scores, labels, agg)
	if err != nil {
		return 0, err
	}
	return ROCAUC(ss, sl)
}
