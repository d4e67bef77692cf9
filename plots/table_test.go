package plots

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestTableErrors(t *testing.T) {
	ok := func() Table {
		return Table{
			Groups: []string{"raw", "full"}, Subgroups: []string{"w/o HE", "w/ HE"},
			Blocks: []TableBlock{{Name: "CAE", Rows: []TableRow{{Label: "MSE", Cells: make([]Cell, 4)}}}},
		}
	}
	with := func(f func(*Table)) Table { tb := ok(); f(&tb); return tb }
	tests := []struct {
		name string
		t    Table
		want string
	}{
		{"no groups", with(func(t *Table) { t.Groups = nil }), `plots: invalid input: table has no Groups (column headers)`},
		{"no blocks", with(func(t *Table) { t.Blocks = nil }), `plots: invalid input: table has no Blocks (models)`},
		{"no rows", with(func(t *Table) { t.Blocks = append(t.Blocks, TableBlock{Name: "VAE"}) }), `plots: invalid input: table block 1 ("VAE") has no rows`},
		{"cells", with(func(t *Table) { t.Blocks[0].Rows[0].Cells = make([]Cell, 3) }),
			`plots: invalid input: table block 0 ("CAE") row 0 ("MSE") has 3 cells, want 2 groups × 2 subgroups = 4`},
		{"cells without subgroups", with(func(t *Table) { t.Subgroups = nil }),
			`plots: invalid input: table block 0 ("CAE") row 0 ("MSE") has 4 cells, want 2 groups × 1 subgroups = 2`},
		{"NaN mean", with(func(t *Table) { t.Blocks[0].Rows[0].Cells[2] = Cell{Mean: math.NaN(), Valid: true} }),
			`plots: invalid input: table block 0 ("CAE") row 0 ("MSE") cell 2: mean NaN ± std 0 is not finite`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := RenderTable(tc.t, "png")
			if b != nil {
				t.Error("got bytes with an error")
			}
			wantErr(t, err, tc.want)
		})
	}
	// A NaN in a missing cell is not drawn and not an error.
	tb := ok()
	tb.Blocks[0].Rows[0].Cells[1] = Cell{Mean: math.NaN()}
	if _, err := RenderTable(tb, "svg"); err != nil {
		t.Errorf("missing cell with NaN: %v", err)
	}
	_, err := RenderTable(ok(), "gif")
	wantErr(t, err, `plots: invalid input: format "gif" is not supported (want png or svg)`)
}

func TestCellText(t *testing.T) {
	tests := []struct {
		c    Cell
		want string
	}{
		{Cell{Mean: 0.5704, Std: 0.0186, Valid: true}, "0.570 ± 0.019"},
		{Cell{Mean: 1, Std: 0, Valid: true}, "1.000 ± 0.000"},
		{Cell{}, "–"},
		{Cell{Mean: 0.5, Valid: false}, "–"},
		{Cell{Mean: 0.5, Std: 0.1, Valid: true, Text: ".500 ± .100 (n=3)"}, ".500 ± .100 (n=3)"},
	}
	for _, tc := range tests {
		if got := tc.c.cellText(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestBoldCells(t *testing.T) {
	v := func(m float64) Cell { return Cell{Mean: m, Valid: true} }
	tb := Table{
		Groups:   []string{"a", "b", "c"},
		BoldBest: true,
		Blocks: []TableBlock{
			// Ties as printed are all bold (the paper bolds α-GAN's D and
			// C + D alike); a missing cell never is, whatever its Mean.
			{Name: "x", Rows: []TableRow{
				{Label: "1", Cells: []Cell{v(0.6071), v(0.5), {Mean: 0.9}}},
				{Label: "2", Cells: []Cell{v(0.6068), v(0.6064), v(0.1)}},
			}},
			// Each block has its own best.
			{Name: "y", Rows: []TableRow{{Label: "1", Cells: []Cell{v(0.2), v(0.3), v(0.25)}}}},
		},
	}
	want := [][][]bool{
		{{true, false, false}, {true, false, false}},
		{{false, true, false}},
	}
	if got := tb.boldCells(); !equalBools(got, want) {
		t.Errorf("BoldBest: %v, want %v", got, want)
	}
	// Without BoldBest the caller's marks are used.
	tb.BoldBest = false
	tb.Blocks[1].Rows[0].Cells[0].Bold = true
	want = [][][]bool{
		{{false, false, false}, {false, false, false}},
		{{true, false, false}},
	}
	if got := tb.boldCells(); !equalBools(got, want) {
		t.Errorf("caller's Bold: %v, want %v", got, want)
	}
}

func equalBools(a, b [][][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if len(a[i][j]) != len(b[i][j]) {
				return false
			}
			for k := range a[i][j] {
				if a[i][j][k] != b[i][j][k] {
					return false
				}
			}
		}
	}
	return true
}

func TestTableSVG(t *testing.T) {
	b, err := RenderTable(paperTable(), "svg")
	if err != nil {
		t.Fatal(err)
	}
	ts := svgTexts(t, b)
	count := func(s string) int {
		n := 0
		for _, x := range ts {
			if x.text == s {
				n++
			}
		}
		return n
	}
	// Two-level header: each group once, each subgroup once per group.
	for _, g := range []string{"raw", "crop", "full"} {
		if n := count(g); n != 1 {
			t.Errorf("group %q drawn %d times, want 1", g, n)
		}
	}
	for _, s := range []string{"w/o HE", "w/ HE"} {
		if n := count(s); n != 3 {
			t.Errorf("subgroup %q drawn %d times, want 3", s, n)
		}
	}
	// BiGAN's w/ HE cells on raw and crop are missing in the paper.
	if n := count("–"); n != 6 {
		t.Errorf("%d missing cells drawn, want 6", n)
	}
	// The best cell of each model is bold, others are not; model names are
	// bold, score labels not.
	bold := map[string]bool{}
	for _, x := range ts {
		if strings.Contains(x.style, "font-weight:bold") {
			bold[x.text] = true
		}
	}
	for _, s := range []string{"0.570 ± 0.019", "0.530 ± 0.027", "0.549 ± 0.006", "CAE", "DCGAN", "BiGAN"} {
		if !bold[s] {
			t.Errorf("%q is not bold", s)
		}
	}
	for _, s := range []string{"0.553 ± 0.023", "0.527 ± 0.022", "MSE", "raw"} {
		if bold[s] {
			t.Errorf("%q is bold", s)
		}
	}
	if len(bold) != 6 {
		t.Errorf("%d bold texts, want 6: %v", len(bold), bold)
	}
	if !hasText(ts, "Test ROC-AUC of the configuration chosen on validation ROC-AUC; mean ± std over 4 seeds.") {
		t.Error("caption missing")
	}
}

func TestTablePNG(t *testing.T) {
	// Two cells with the same text, one bold: the bold one has more ink.
	tb := Table{
		Groups:    []string{"full"},
		Subgroups: []string{"w/o HE", "w/ HE"},
		Blocks: []TableBlock{{Name: "CAE", Rows: []TableRow{
			{Label: "MSE", Cells: []Cell{{Mean: 0.5, Std: 0.01, Valid: true, Bold: true}, {Mean: 0.5, Std: 0.01, Valid: true}}},
			{Label: "L1", Cells: []Cell{{}, {Mean: 0.5, Std: 0.01, Valid: true}}},
		}}},
	}
	b, err := RenderTable(tb, "png")
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	L := tb.layout()
	if w, h := int(L.w.Dots(DPI)), int(L.h.Dots(DPI)); L.w != vg.Length(math.Round(float64(L.w))) || img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("size %v, want %d×%d from the layout", img.Bounds().Size(), w, h)
	}
	ink := func(b, r, c int) int {
		rect := L.cells[b][r][c]
		n := 0
		for y := int(rect.Min.Y.Dots(DPI)); y < int(rect.Max.Y.Dots(DPI)); y++ {
			for x := int(rect.Min.X.Dots(DPI)); x < int(rect.Max.X.Dots(DPI)); x++ {
				if r, g, bb := rgb(img.At(x, y)); r+g+bb < 3*128 {
					n++
				}
			}
		}
		return n
	}
	boldInk, regInk, missingInk := ink(0, 0, 0), ink(0, 0, 1), ink(0, 1, 0)
	if regInk < 50 {
		t.Fatalf("regular cell has %d dark pixels: nothing drawn", regInk)
	}
	if float64(boldInk) < 1.15*float64(regInk) {
		t.Errorf("bold cell has %d dark pixels, regular %d: want ≥ 15%% more", boldInk, regInk)
	}
	if missingInk == 0 || missingInk*4 > regInk {
		t.Errorf("missing cell has %d dark pixels (regular %d): want a dash", missingInk, regInk)
	}
	b, err = RenderTable(paperTable(), "png")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "table.png", b, 0.03)
}
