package preprocess

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"xraylab/preprocess/synth"
)

// checkSplit asserts the paper's split properties for recs.
func checkSplit(t *testing.T, recs []Record, s *Split) {
	t.Helper()
	part := map[string]string{}
	posPatient := map[string]bool{}
	for _, r := range recs {
		posPatient[r.Patient] = posPatient[r.Patient] || r.Label == 1
	}
	count := 0
	for name, rs := range map[string][]Record{"train": s.Train, "val": s.Val, "test": s.Test} {
		for _, r := range rs {
			count++
			if p, ok := part[r.Patient]; ok && p != name {
				t.Fatalf("patient %s is in %s and %s", r.Patient, p, name)
			}
			part[r.Patient] = name
			if name == "train" && r.Label == 1 {
				t.Fatalf("positive image %s in training", r.RelPath)
			}
		}
	}
	if count != len(recs) {
		t.Fatalf("split holds %d records, input %d", count, len(recs))
	}
	n := map[string][2]int{} // part → (P+, P−) patients
	for p, name := range part {
		c := n[name]
		if posPatient[p] {
			c[0]++
		} else {
			c[1]++
		}
		n[name] = c
	}
	totalPos := n["val"][0] + n["test"][0]
	if d := n["test"][0] - n["val"][0]; d < 0 || d > 1 {
		t.Errorf("P+ val %d test %d: not shared evenly", n["val"][0], n["test"][0])
	}
	if n["val"][1] != n["val"][0] || n["test"][1] != n["test"][0] {
		t.Errorf("val P+/P− %v, test %v: not balanced", n["val"], n["test"])
	}
	wantTrain := len(posPatient) - 2*totalPos
	if n["train"][0] != 0 || n["train"][1] != wantTrain {
		t.Errorf("train P+/P− %v, want 0/%d", n["train"], wantTrain)
	}
}

func TestSplitPatientsFixture(t *testing.T) {
	ds, err := LoadMURA(fixtureRoot, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SplitPatients(ds.Records, rand.New(rand.NewSource(42)))
	if err != nil {
		t.Fatal(err)
	}
	checkSplit(t, ds.Records, s)
	sum := s.Summary()
	// The fixture has 4 P+ and 7 P− patients: 2+2 each for val and test,
	// 3 P− patients for training; all 7 positive images in val and test.
	if sum.Val.Patients != 4 || sum.Test.Patients != 4 || sum.Train.Patients != 3 {
		t.Errorf("patients %+v", sum)
	}
	if sum.Train.PositiveImages != 0 || sum.Val.PositiveImages+sum.Test.PositiveImages != 7 {
		t.Errorf("positive images %+v", sum)
	}
	if sum.Train.Images+sum.Val.Images+sum.Test.Images != 23 || sum.Train.Studies+sum.Val.Studies+sum.Test.Studies != 14 {
		t.Errorf("images/studies %+v", sum)
	}
	checkDeterminism(t, ds.Records)
}

func checkDeterminism(t *testing.T, recs []Record) {
	t.Helper()
	a, _ := SplitPatients(recs, rand.New(rand.NewSource(4242)))
	b, _ := SplitPatients(recs, rand.New(rand.NewSource(4242)))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different splits")
	}
	// Input order must not matter: patient ids are sorted before shuffling.
	shuffled := append([]Record(nil), recs...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	c, _ := SplitPatients(shuffled, rand.New(rand.NewSource(4242)))
	if !reflect.DeepEqual(a, c) {
		t.Fatal("record order changed the split")
	}
	// The paper's four seeds: each gives a valid split, and they differ.
	distinct := map[string]bool{}
	for _, seed := range []int64{42, 4242, 424242, 42424242} {
		s, err := SplitPatients(recs, rand.New(rand.NewSource(seed)))
		if err != nil {
			t.Fatal(err)
		}
		checkSplit(t, recs, s)
		var key []string
		for _, r := range s.Val {
			key = append(key, r.RelPath)
		}
		distinct[strings.Join(key, ",")] = true
	}
	if len(distinct) < 3 {
		t.Errorf("4 seeds gave only %d distinct validation sets", len(distinct))
	}
}

func TestSplitPatientsErrors(t *testing.T) {
	rec := func(patient string, label int) Record {
		return Record{RelPath: "train/XR_HAND/patient" + patient + "/x.png", Patient: patient, Study: patient, Label: label}
	}
	cases := []struct {
		name string
		recs []Record
		want string
	}{
		{"empty", nil, "split: no records"},
		{"all negative", []Record{rec("00001", 0), rec("00002", 0)},
			"split: no patient has a positive study (2 patients, all negative); validation and test need both classes"},
		{"too few negative", []Record{rec("00001", 1), rec("00002", 1), rec("00003", 0), rec("00004", 0)},
			"split: too few patients without a positive study: 2 P− against 2 P+; need more than 2 P− so that training is not empty"},
		{"no patient id", []Record{{RelPath: "a.png", Label: 1}}, "split: record a.png has no patient id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SplitPatients(tc.recs, rand.New(rand.NewSource(1)))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := SplitPatients([]Record{rec("00001", 1)}, nil); err == nil || err.Error() != "split: no random source given" {
		t.Fatalf("nil rng: %v", err)
	}
	// The smallest valid input: one P+ goes to test, val gets none, and
	// one P− each to test and training.
	s, err := SplitPatients([]Record{rec("00001", 1), rec("00002", 0), rec("00003", 0)}, rand.New(rand.NewSource(1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Val) != 0 || len(s.Test) != 2 || len(s.Train) != 1 || s.Train[0].Label != 0 {
		t.Errorf("minimal split %+v", s)
	}
}

// The split works on generated data: the dataset synth's round-trip test
// reads (60 patients, 96 px, seed 7), train part only.
func TestSplitSynthetic(t *testing.T) {
	out := t.TempDir()
	rep, err := synth.Generate(context.Background(), synth.Options{Out: out, Patients: 60, Size: 96, Seed: 7, Workers: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	train, err := LoadMURA(rep.Root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SplitPatients(train.Records, rand.New(rand.NewSource(42)))
	if err != nil {
		t.Fatal(err)
	}
	checkSplit(t, train.Records, s)
	checkDeterminism(t, train.Records)
}
