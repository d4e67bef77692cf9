package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// ScoreRow is one scored image of a run: where it came from, its label and
// every score. scores.csv holds these rows so that anyone can recompute any
// figure of the run with their own tools.
type ScoreRow struct {
	Part    string             `json:"part"` // "val" or "test"
	Path    string             `json:"path"` // relative to the dataset root
	Patient string             `json:"patient"`
	Study   string             `json:"study"`
	View    int                `json:"view"`
	Half    int                `json:"half"` // 0 whole image; 1, 2 the hands of a two-hand image
	Label   int                `json:"label"`
	Scores  map[string]float64 `json:"scores"`
}

// ScoreTable is the content of a run's scores.csv.
type ScoreTable struct {
	Scores []string   `json:"scores"` // score names, in column order
	Rows   []ScoreRow `json:"rows"`
}

var scoreColumns = []string{"part", "path", "patient", "study", "view", "half", "label"}

// WriteCSV writes the table with a header row.
func (t *ScoreTable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append(append([]string(nil), scoreColumns...), t.Scores...))
	for _, r := range t.Rows {
		row := []string{r.Part, r.Path, r.Patient, r.Study, strconv.Itoa(r.View), strconv.Itoa(r.Half), strconv.Itoa(r.Label)}
		for _, n := range t.Scores {
			row = append(row, strconv.FormatFloat(r.Scores[n], 'g', -1, 64))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// ReadScoresCSV parses a scores.csv written by WriteCSV.
func ReadScoresCSV(r io.Reader) (*ScoreTable, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("scores.csv: no header: %w", err)
	}
	if len(header) < len(scoreColumns) {
		return nil, fmt.Errorf("scores.csv: header has %d columns, want at least %d", len(header), len(scoreColumns))
	}
	for i, c := range scoreColumns {
		if header[i] != c {
			return nil, fmt.Errorf("scores.csv: column %d is %q, want %q", i+1, header[i], c)
		}
	}
	t := &ScoreTable{Scores: header[len(scoreColumns):]}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("scores.csv: %w", err)
		}
		row := ScoreRow{Part: rec[0], Path: rec[1], Patient: rec[2], Study: rec[3], Scores: map[string]float64{}}
		ints := []*int{&row.View, &row.Half, &row.Label}
		for i, dst := range ints {
			if *dst, err = strconv.Atoi(rec[4+i]); err != nil {
				return nil, fmt.Errorf("scores.csv line %d: %s %q is not an integer", line, scoreColumns[4+i], rec[4+i])
			}
		}
		for i, n := range t.Scores {
			v, err := strconv.ParseFloat(rec[len(scoreColumns)+i], 64)
			if err != nil {
				return nil, fmt.Errorf("scores.csv line %d: score %s %q is not a number", line, n, rec[len(scoreColumns)+i])
			}
			row.Scores[n] = v
		}
		t.Rows = append(t.Rows, row)
	}
}
