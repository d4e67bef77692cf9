package plots

import (
	"testing"

	"gonum.org/v1/plot/vg"
)

// BenchmarkROC builds and renders three 401-point curves, the size of one
// run's test-set ROC figure.
func BenchmarkROC(b *testing.B) {
	curves := sampleCurves(1)
	for _, f := range []string{"png", "svg"} {
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				p, err := ROC("ROC", curves)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Render(p, 4*vg.Inch, 4*vg.Inch, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHeatmapOverlay draws one 64 px overlay enlarged to 256 px, and
// one at the paper's 512 px (no enlargement).
func BenchmarkHeatmapOverlay(b *testing.B) {
	for _, n := range []int{64, 512} {
		img, mask, truth, amap := handImage(n, n, n*5/8, n*3/8, n/12, 1)
		o := Overlay{W: n, H: n, Image: img, Map: amap, Mask: mask, Truth: truth}
		b.Run(map[int]string{64: "64to256", 512: "512"}[n], func(b *testing.B) {
			for b.Loop() {
				if _, err := HeatmapOverlay(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTable(b *testing.B) {
	t := paperTable()
	for b.Loop() {
		if _, err := RenderTable(t, "png"); err != nil {
			b.Fatal(err)
		}
	}
}
