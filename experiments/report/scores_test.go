package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestScoreTableRoundTrip(t *testing.T) {
	in := &ScoreTable{Scores: []string{"mse", "mse_top200"}, Rows: []ScoreRow{
		{Part: "val", Path: "train/XR_HAND/patient00001/study1_positive/image1.png", Patient: "00001", Study: "train/00001/study1", View: 1, Label: 1, Scores: map[string]float64{"mse": 0.1, "mse_top200": 1.0 / 3}},
		{Part: "test", Path: "a,b.png", Patient: "00002", Study: "s", View: 2, Half: 2, Scores: map[string]float64{"mse": 1e-300, "mse_top200": 7}},
	}}
	var buf bytes.Buffer
	if err := in.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := ReadScoresCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\n%+v", in, out)
	}
}

func TestReadScoresCSVErrors(t *testing.T) {
	cases := []struct{ csv, want string }{
		{"", "scores.csv: no header: EOF"},
		{"part,path\n", "scores.csv: header has 2 columns, want at least 7"},
		{"part,path,patient,study,view,half,lbl\n", `scores.csv: column 7 is "lbl", want "label"`},
		{"part,path,patient,study,view,half,label,mse\nval,p,1,s,x,0,1,0.5\n", `scores.csv line 2: view "x" is not an integer`},
		{"part,path,patient,study,view,half,label,mse\nval,p,1,s,1,0,1,high\n", `scores.csv line 2: score mse "high" is not a number`},
		{"part,path,patient,study,view,half,label,mse\nval,p,1\n", "scores.csv: record on line 2: wrong number of fields"},
	}
	for _, c := range cases {
		if _, err := ReadScoresCSV(strings.NewReader(c.csv)); err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %q", c.csv, err, c.want)
		}
	}
}
