package plots

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Cell is one figure of the comparison table. The zero Cell is a missing
// figure, drawn "–".
type Cell struct {
	// Mean and Std are drawn as "0.570 ± 0.019" when Valid.
	Mean, Std float64
	Valid     bool
	// Text, when non-empty, is drawn instead of the formatted numbers (e.g.
	// "0.570 ± 0.019 (n=3)"); Mean still decides Table.BoldBest.
	Text string
	// Bold marks the best figure when Table.BoldBest is false.
	Bold bool
}

// TableRow is one score of a model, e.g. "MSE (top-200)".
type TableRow struct {
	Label string
	Cells []Cell // len(Groups) × max(1, len(Subgroups)), group-major
}

// TableBlock is one model: its name as a bold row, then its scores.
type TableBlock struct {
	Name string
	Rows []TableRow
}

// Table is the comparison table in the paper's Table 1 layout: rows model ×
// score, columns a two-level header (preprocessing × histogram equalisation).
type Table struct {
	// Caption is set above the table, wrapped to its width; may be empty.
	Caption string
	// Groups is the upper header level, e.g. raw, crop, full.
	Groups []string
	// Subgroups is the lower header level repeated under every group, e.g.
	// "w/o HE", "w/ HE"; empty gives one column per group.
	Subgroups []string
	Blocks    []TableBlock
	// BoldBest bolds the highest mean of each block, compared as printed
	// (three decimals) so equal-looking figures are all bold, as in the
	// paper; otherwise Cell.Bold is used.
	BoldBest bool
}

const tableFontSize = 10 // points

var tableFont = font.Font{Typeface: "Liberation", Variant: "Serif"}

func (t *Table) cols() int { return len(t.Groups) * max(1, len(t.Subgroups)) }

func (t *Table) validate() error {
	if len(t.Groups) == 0 {
		return invalidf("table has no Groups (column headers)")
	}
	if len(t.Blocks) == 0 {
		return invalidf("table has no Blocks (models)")
	}
	for b, blk := range t.Blocks {
		if len(blk.Rows) == 0 {
			return invalidf("table block %d (%q) has no rows", b, blk.Name)
		}
		for r, row := range blk.Rows {
			name := fmt.Sprintf("table block %d (%q) row %d (%q)", b, blk.Name, r, row.Label)
			if len(row.Cells) != t.cols() {
				return invalidf("%s has %d cells, want %d groups × %d subgroups = %d",
					name, len(row.Cells), len(t.Groups), max(1, len(t.Subgroups)), t.cols())
			}
			for c, cell := range row.Cells {
				if cell.Valid && (math.IsNaN(cell.Mean) || math.IsInf(cell.Mean, 0) || math.IsNaN(cell.Std) || math.IsInf(cell.Std, 0)) {
					return invalidf("%s cell %d: mean %v ± std %v is not finite", name, c, cell.Mean, cell.Std)
				}
			}
		}
	}
	return nil
}

// cellText is what a cell shows.
func (c Cell) cellText() string {
	switch {
	case c.Text != "":
		return c.Text
	case c.Valid:
		return fmt.Sprintf("%.3f ± %.3f", c.Mean, c.Std)
	default:
		return "–"
	}
}

// boldCells returns, per block, row and column, whether the cell is bold.
func (t *Table) boldCells() [][][]bool {
	out := make([][][]bool, len(t.Blocks))
	for b, blk := range t.Blocks {
		best := math.Inf(-1)
		if t.BoldBest {
			for _, row := range blk.Rows {
				for _, c := range row.Cells {
					if c.Valid {
						best = math.Max(best, math.Round(c.Mean*1000))
					}
				}
			}
		}
		out[b] = make([][]bool, len(blk.Rows))
		for r, row := range blk.Rows {
			out[b][r] = make([]bool, len(row.Cells))
			for c, cell := range row.Cells {
				if t.BoldBest {
					out[b][r][c] = cell.Valid && math.Round(cell.Mean*1000) == best
				} else {
					out[b][r][c] = cell.Bold
				}
			}
		}
	}
	return out
}

// tableText is one string placed on the table canvas; (X, Y) is measured
// from the top-left corner, Y at the text's vertical centre.
type tableText struct {
	s     string
	x, y  vg.Length
	align draw.XAlignment
	bold  bool
}

// tableRule is a horizontal line at y from the top.
type tableRule struct {
	x0, x1, y, width vg.Length
}

// tableLayout is the table measured and placed, in points from the top-left.
type tableLayout struct {
	w, h  vg.Length
	texts []tableText
	rules []tableRule
	// cells[b][r][c] is the rectangle of data cell c of row r of block b
	// (Min = top-left), for tests that look at the drawn pixels.
	cells [][][]vg.Rectangle
}

func tableStyle(bold bool) text.Style {
	f := font.From(tableFont, tableFontSize)
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{Color: color.Black, Font: f, XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

func (t *Table) layout() tableLayout {
	reg, bold := tableStyle(false), tableStyle(true)
	width := func(s string, b bool) vg.Length {
		if b {
			return bold.Width(s)
		}
		return reg.Width(s)
	}
	em := reg.Width("M")
	padX := em // space between columns
	rowH := vg.Points(tableFontSize * 1.55)
	margin := vg.Points(8)
	indent := em

	// Column widths: the label column fits block names (bold) and indented
	// score labels; data columns fit their cells, in bold since any may be.
	labelW := vg.Length(0)
	for _, blk := range t.Blocks {
		labelW = max(labelW, width(blk.Name, true))
		for _, row := range blk.Rows {
			labelW = max(labelW, indent+width(row.Label, false))
		}
	}
	nSub := max(1, len(t.Subgroups))
	colW := make([]vg.Length, t.cols())
	for c := range colW {
		if len(t.Subgroups) > 0 {
			colW[c] = width(t.Subgroups[c%nSub], false)
		}
		for _, blk := range t.Blocks {
			for _, row := range blk.Rows {
				colW[c] = max(colW[c], width(row.Cells[c].cellText(), true))
			}
		}
	}
	// A group name wider than its columns widens them evenly.
	for g, name := range t.Groups {
		span := vg.Length(0)
		for s := 0; s < nSub; s++ {
			span += colW[g*nSub+s]
		}
		span += padX * vg.Length(nSub-1)
		if need := width(name, false); need > span {
			extra := (need - span) / vg.Length(nSub)
			for s := 0; s < nSub; s++ {
				colW[g*nSub+s] += extra
			}
		}
	}
	colX := make([]vg.Length, len(colW)) // left edge of each data column
	x := margin + labelW + padX
	for c, cw := range colW {
		// A little more space between groups than inside one keeps the
		// header spans readable.
		if c > 0 && c%nSub == 0 {
			x += padX / 2
		}
		colX[c] = x
		x += cw + padX
	}
	tableW := x - padX + margin

	var L tableLayout
	y := margin
	if t.Caption != "" {
		for _, line := range wrap(t.Caption, reg, tableW-2*margin) {
			L.texts = append(L.texts, tableText{s: line, x: margin, y: y + rowH/2, align: draw.XLeft})
			y += rowH * 0.9
		}
		y += rowH * 0.3
	}
	left, right := margin, tableW-margin
	L.rules = append(L.rules, tableRule{left, right, y, vg.Points(0.9)})
	y += vg.Points(2)
	// Upper header: group names centred over their spans, with a short rule
	// under each span (booktabs' \cmidrule).
	for g, name := range t.Groups {
		x0, x1 := colX[g*nSub], colX[g*nSub+nSub-1]+colW[g*nSub+nSub-1]
		L.texts = append(L.texts, tableText{s: name, x: (x0 + x1) / 2, y: y + rowH/2, align: draw.XCenter})
		if len(t.Subgroups) > 0 {
			L.rules = append(L.rules, tableRule{x0, x1, y + rowH, vg.Points(0.5)})
		}
	}
	y += rowH
	if len(t.Subgroups) > 0 {
		for c := range colW {
			L.texts = append(L.texts, tableText{s: t.Subgroups[c%nSub], x: colX[c] + colW[c]/2, y: y + rowH/2, align: draw.XCenter})
		}
		y += rowH
	}
	y += vg.Points(2)
	L.rules = append(L.rules, tableRule{left, right, y, vg.Points(0.6)})
	y += vg.Points(2)
	bolds := t.boldCells()
	L.cells = make([][][]vg.Rectangle, len(t.Blocks))
	for b, blk := range t.Blocks {
		if b > 0 {
			y += rowH * 0.25
		}
		L.texts = append(L.texts, tableText{s: blk.Name, x: margin, y: y + rowH/2, align: draw.XLeft, bold: true})
		y += rowH
		L.cells[b] = make([][]vg.Rectangle, len(blk.Rows))
		for r, row := range blk.Rows {
			L.texts = append(L.texts, tableText{s: row.Label, x: margin + indent, y: y + rowH/2, align: draw.XLeft})
			L.cells[b][r] = make([]vg.Rectangle, len(row.Cells))
			for c, cell := range row.Cells {
				L.texts = append(L.texts, tableText{s: cell.cellText(), x: colX[c] + colW[c]/2, y: y + rowH/2, align: draw.XCenter, bold: bolds[b][r][c]})
				L.cells[b][r][c] = vg.Rectangle{Min: vg.Point{X: colX[c], Y: y}, Max: vg.Point{X: colX[c] + colW[c], Y: y + rowH}}
			}
			y += rowH
		}
	}
	y += vg.Points(2)
	L.rules = append(L.rules, tableRule{left, right, y, vg.Points(0.9)})
	// Whole points give whole pixels at DPI, so nothing is cut by rounding.
	L.w, L.h = vg.Length(math.Ceil(float64(tableW))), vg.Length(math.Ceil(float64(y+margin)))
	return L
}

// wrap breaks s into lines no wider than w (a single long word stays whole).
func wrap(s string, sty text.Style, w vg.Length) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			try := word
			if line != "" {
				try = line + " " + word
			}
			if line != "" && sty.Width(try) > w {
				lines = append(lines, line)
				try = word
			}
			line = try
		}
		lines = append(lines, line)
	}
	return lines
}

// RenderTable draws the table as "png" (at DPI) or "svg"; its size follows
// from its contents.
func RenderTable(t Table, format string) ([]byte, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	L := t.layout()
	return render(L.w, L.h, format, func(c draw.Canvas) {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		top := c.Max.Y
		for _, r := range L.rules {
			sty := draw.LineStyle{Color: color.Black, Width: r.width}
			c.StrokeLine2(sty, r.x0, top-r.y, r.x1, top-r.y)
		}
		for _, tx := range L.texts {
			sty := tableStyle(tx.bold)
			sty.XAlign = tx.align
			c.FillText(sty, vg.Point{X: tx.x, Y: top - tx.y}, tx.s)
		}
	})
}
