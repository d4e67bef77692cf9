package plots

import (
	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/plot/vg"
)

// paperTable is part of the paper's Table 1 (CAE, DCGAN, BiGAN), with the
// paper's missing cells, as a realistic fixture.
func paperTable() Table {
	v := func(m, s float64) Cell { return Cell{Mean: m, Std: s, Valid: true} }
	return Table{
		Caption:   "Test ROC-AUC of the configuration chosen on validation ROC-AUC; mean ± std over 4 seeds.",
		Groups:    []string{"raw", "crop", "full"},
		Subgroups: []string{"w/o HE", "w/ HE"},
		BoldBest:  true,
		Blocks: []TableBlock{
			{Name: "CAE", Rows: []TableRow{
				{Label: "MSE", Cells: []Cell{v(.460, .033), v(.504, .034), v(.466, .022), v(.510, .021), v(.501, .013), v(.570, .019)}},
				{Label: "MSE (top-200)", Cells: []Cell{v(.466, .013), v(.448, .025), v(.486, .015), v(.473, .018), v(.506, .039), v(.553, .023)}},
			}},
			{Name: "DCGAN", Rows: []TableRow{
				{Label: "Disc. (D)", Cells: []Cell{v(.497, .018), v(.491, .041), v(.493, .015), v(.493, .025), v(.530, .027), v(.527, .022)}},
			}},
			{Name: "BiGAN", Rows: []TableRow{
				{Label: "MSE", Cells: []Cell{v(.471, .021), {}, v(.438, .039), {}, v(.491, .042), v(.522, .017)}},
				{Label: "MSE (top-200)", Cells: []Cell{v(.471, .011), {}, v(.459, .030), {}, v(.475, .033), v(.508, .026)}},
				{Label: "Disc. (D)", Cells: []Cell{v(.508, .007), {}, v(.534, .016), {}, v(.549, .006), v(.522, .019)}},
			}},
		},
	}
}

func sampleOverlays(t testing.TB) []Tile {
	var tiles []Tile
	for i, c := range []struct {
		ax, ay  int
		normal  bool
		caption string
	}{{40, 24, false, "score 0.0412\nabnormal"}, {22, 40, false, "score 0.0187\nabnormal"}, {32, 32, true, "score 0.0093\nnormal"}} {
		r := 5
		if c.normal {
			r = 0
		}
		img, mask, truth, amap := handImage(64, 64, c.ax, c.ay, r, int64(i+1))
		if c.normal {
			truth = nil // no true anomaly to outline
		}
		o, err := HeatmapOverlay(Overlay{W: 64, H: 64, Image: img, Map: amap, Mask: mask, Truth: truth, Max: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		tiles = append(tiles, Tile{Image: o, Caption: c.caption})
	}
	return tiles
}

// TestSamples renders one of every figure; with -samples=DIR it writes them
// for viewing. It checks only that each renders: the figure tests check
// what is drawn.
func TestSamples(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	roc, err := ROC("ROC, CAE full w/ HE (seed 42)", sampleCurves(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(roc, 4*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "roc.png", b)

	var steps, rec, disc, epochs, auc []float64
	for s := 0; s < 400; s++ {
		steps = append(steps, float64(s))
		rec = append(rec, 0.08*math.Exp(-float64(s)/80)+0.01+0.004*rng.Float64())
		disc = append(disc, 0.05*math.Exp(-float64(s)/150)+0.02+0.004*rng.Float64())
	}
	for e := 1; e <= 10; e++ {
		epochs = append(epochs, float64(e))
		auc = append(auc, 0.5+0.06*(1-math.Exp(-float64(e)/3))+0.01*rng.Float64())
	}
	tr, err := Training("Training, CAE full w/ HE (seed 42)", "step",
		[]Series{{Label: "reconstruction", X: steps, Y: rec}, {Label: "KLD", X: steps, Y: disc}},
		[]Series{{Label: "mse", X: epochs, Y: auc}}, 6*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "training.png", tr)

	n, a := scores(rng, 400, 0.6)
	for i := range a[:150] {
		a[i] = 0.3 * a[i] // a narrower abnormal group, so the shapes differ
	}
	h, err := ScoreHistogram("Test scores, CAE mse", "anomaly score (mse)", n, a[:300], HistOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err = Render(h, 5*vg.Inch, 3.5*vg.Inch, "png")
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "histogram.png", b)

	tiles := sampleOverlays(t)
	b, err = EncodePNG(tiles[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "heatmap.png", b)
	key, err := HeatmapKey(0.3, 256)
	if err != nil {
		t.Fatal(err)
	}
	b, err = EncodePNG(key)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "heatmap-key.png", b)
	g, err := Gallery(tiles, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err = EncodePNG(g)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "gallery.png", b)

	b, err = RenderTable(paperTable(), "png")
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, "table.png", b)
}
