package preprocess

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// pickContactItems chooses up to n items showing each kind of outcome:
// both halves of a two-hand split, a carrier fallback, a carrier crop,
// then the rest in order.
func pickContactItems(items []Item, n int) []Item {
	var out []Item
	used := map[int]bool{}
	take := func(i int) {
		if !used[i] && len(out) < n {
			used[i] = true
			out = append(out, items[i])
		}
	}
	for i, it := range items {
		if it.Record.Half == 1 && i+1 < len(items) {
			take(i)
			take(i + 1)
			break
		}
	}
	for _, want := range []bool{true, false} {
		for i, it := range items {
			if (it.FellBack != "") == want && it.Record.Half == 0 {
				take(i)
				break
			}
		}
	}
	for i := range items {
		take(i)
	}
	return out
}

func TestContactSheet(t *testing.T) {
	recs := synthRecords(t, 4, 256, "medium", 2)
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 64, HistEq: true})
	items, _, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel := pickContactItems(items, 5)
	img, err := ContactSheet(p, sel, ContactOptions{Tile: 50, Augment: AugmentAdvanced, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 4*50+5*4 || b.Dy() != len(sel)*54+4 {
		t.Fatalf("sheet %v for %d rows", b, len(sel))
	}
	if _, err := ContactSheet(p, nil, ContactOptions{}); err == nil || err.Error() != "preprocess: contact sheet: no items" {
		t.Fatalf("empty: %v", err)
	}
	if _, err := ContactSheet(p, sel, ContactOptions{Augment: "x"}); err == nil {
		t.Fatal("bad augmentation accepted")
	}
}

// TestWriteDocsContactSheets regenerates docs/contact-*.png when
// XRAYLAB_DOCS=1 (go test ./preprocess -run DocsContact).
func TestWriteDocsContactSheets(t *testing.T) {
	if os.Getenv("XRAYLAB_DOCS") == "" {
		t.Skip("set XRAYLAB_DOCS=1 to regenerate docs/contact-synthetic.png and docs/contact-real-hands.png")
	}
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 256, HistEq: true})
	recs := synthRecords(t, 12, 512, "medium", 5)
	items, _, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := ContactOptions{Tile: 180, Augment: AugmentAdvanced, Seed: 1}
	if err := WriteContactSheet(filepath.Join("..", "docs", "contact-synthetic.png"), p, pickContactItems(items, 8), o); err != nil {
		t.Fatal(err)
	}
	real := realHandRecords(t)
	items, _, err = p.Prepare(context.Background(), real, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteContactSheet(filepath.Join("..", "docs", "contact-real-hands.png"), p, items, o); err != nil {
		t.Fatal(err)
	}
}
