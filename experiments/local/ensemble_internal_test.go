package local

import (
	"testing"

	"xraylab/experiments/report"
)

// Score tables of members on different validation or test sets are told
// apart, with the first difference named.
func TestSameImages(t *testing.T) {
	table := func(rows ...report.ScoreRow) *report.ScoreTable { return &report.ScoreTable{Rows: rows} }
	v1 := report.ScoreRow{Part: "val", Path: "a.png"}
	v2 := report.ScoreRow{Part: "val", Path: "b.png"}
	t1 := report.ScoreRow{Part: "test", Path: "c.png", Label: 1}
	t2 := report.ScoreRow{Part: "test", Path: "d.png", Label: 1}
	half := t1
	half.Half = 2
	for _, c := range []struct {
		a, b *report.ScoreTable
		want string
	}{
		{table(v1, t1), table(v1, t1), ""},
		{table(v1, t1), table(v1, v2, t1), "scored different validation sets (1 and 2 images)"},
		{table(v1, t1), table(v1, t1, t2), "scored different test sets (1 and 2 images)"},
		{table(v1, t1), table(v2, t1), "scored different validation sets (row 1: a.png against b.png)"},
		{table(v1, t1), table(v1, t2), "scored different test sets (row 2: c.png against d.png)"},
		{table(v1, t1), table(v1, half), "scored different test sets (row 2: c.png against c.png (hand 2))"},
	} {
		if got := sameImages(c.a, c.b); got != c.want {
			t.Errorf("sameImages = %q, want %q", got, c.want)
		}
	}
}
