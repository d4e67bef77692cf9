package preprocess

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
)

// Split is the paper's patient-level partition (its Figure 4).
type Split struct {
	Train, Val, Test []Record
}

// PartSummary counts one part of a split.
type PartSummary struct {
	Patients       int `json:"patients"`
	Studies        int `json:"studies"`
	Images         int `json:"images"`
	PositiveImages int `json:"positive_images"`
}

// SplitSummary counts every part of a split.
type SplitSummary struct {
	Train PartSummary `json:"train"`
	Val   PartSummary `json:"val"`
	Test  PartSummary `json:"test"`
}

// SplitPatients implements the paper's split: the patients with any positive
// study (P+) are shared evenly at random between validation and test (test
// gets the odd one); each of validation and test then gets as many randomly
// drawn patients without a positive study (P−) as it got P+ patients; every
// other P− patient is training. So training holds only normal images and no
// patient is in two parts. Patient ids are sorted before shuffling, so the
// result depends only on the records and the rng's state, not their order.
func SplitPatients(recs []Record, rng *rand.Rand) (*Split, error) {
	if rng == nil {
		return nil, errors.New("split: no random source given")
	}
	if len(recs) == 0 {
		return nil, errors.New("split: no records")
	}
	positive := map[string]bool{}
	for _, r := range recs {
		if r.Patient == "" {
			return nil, fmt.Errorf("split: record %s has no patient id", r.RelPath)
		}
		positive[r.Patient] = positive[r.Patient] || r.Label == 1
	}
	var pos, neg []string
	for p, isPos := range positive {
		if isPos {
			pos = append(pos, p)
		} else {
			neg = append(neg, p)
		}
	}
	sort.Strings(pos)
	sort.Strings(neg)
	if len(pos) == 0 {
		return nil, fmt.Errorf("split: no patient has a positive study (%d patients, all negative); validation and test need both classes", len(neg))
	}
	// Training needs at least one patient left after val and test took as
	// many P− patients as there are P+ patients.
	if len(neg) <= len(pos) {
		return nil, fmt.Errorf("split: too few patients without a positive study: %d P− against %d P+; need more than %d P− so that training is not empty",
			len(neg), len(pos), len(pos))
	}
	rng.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
	rng.Shuffle(len(neg), func(i, j int) { neg[i], neg[j] = neg[j], neg[i] })

	nVal := len(pos) / 2
	nTest := len(pos) - nVal
	where := make(map[string]int, len(positive)) // 0 train, 1 val, 2 test
	for i, p := range pos {
		where[p] = 1
		if i >= nVal {
			where[p] = 2
		}
	}
	for i, p := range neg {
		switch {
		case i < nVal:
			where[p] = 1
		case i < nVal+nTest:
			where[p] = 2
		default:
			where[p] = 0
		}
	}

	sorted := append([]Record(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].RelPath != sorted[j].RelPath {
			return sorted[i].RelPath < sorted[j].RelPath
		}
		return sorted[i].Half < sorted[j].Half
	})
	s := &Split{}
	for _, r := range sorted {
		switch where[r.Patient] {
		case 0:
			s.Train = append(s.Train, r)
		case 1:
			s.Val = append(s.Val, r)
		case 2:
			s.Test = append(s.Test, r)
		}
	}
	return s, nil
}

// Summary counts patients, studies, images and positive images per part.
func (s *Split) Summary() SplitSummary {
	return SplitSummary{Train: summarize(s.Train), Val: summarize(s.Val), Test: summarize(s.Test)}
}

func summarize(recs []Record) PartSummary {
	patients := map[string]bool{}
	studies := map[string]bool{}
	ps := PartSummary{Images: len(recs)}
	for _, r := range recs {
		patients[r.Patient] = true
		studies[r.Study] = true
		ps.PositiveImages += r.Label
	}
	ps.Patients = len(patients)
	ps.Studies = len(studies)
	return ps
}
