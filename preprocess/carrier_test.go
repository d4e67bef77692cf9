package preprocess

import (
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// drawCarrier draws a grey carrier (level 90) rotated by deg about
// (cx, cy) on a black w×h image, with a brighter blob inside, and returns
// the image and the corners TL, TR, BR, BL.
func drawCarrier(w, h int, cx, cy, cw, ch, deg float64) (gocv.Mat, [4][2]float64) {
	m := gocv.Zeros(h, w, gocv.MatTypeCV8U)
	th := deg * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	var corners [4][2]float64
	var pts []image.Point
	for i, d := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		x, y := d[0]*cw/2, d[1]*ch/2
		corners[i] = [2]float64{cx + c*x - s*y, cy + s*x + c*y}
		pts = append(pts, image.Pt(int(math.Round(corners[i][0])), int(math.Round(corners[i][1]))))
	}
	pv := gocv.NewPointsVectorFromPoints([][]image.Point{pts})
	gocv.FillPoly(&m, pv, color.RGBA{90, 90, 90, 0})
	pv.Close()
	gocv.Circle(&m, image.Pt(int(cx), int(cy)), int(math.Min(cw, ch)/5), color.RGBA{180, 180, 180, 0}, -1)
	return m, corners
}

func TestFindCarrier(t *testing.T) {
	cases := []struct {
		name                string
		cx, cy, cw, ch, deg float64
		reason              string // "" = found
	}{
		{"upright", 150, 200, 200, 300, 0, ""},
		{"tilted 12°", 150, 200, 190, 280, 12, ""},
		{"tilted -25°", 150, 200, 160, 230, -25, ""},
		{"landscape", 150, 200, 260, 180, 5, ""},
		{"too small", 150, 200, 80, 110, 0, "no carrier: largest candidate covers only"},
		{"too tilted", 150, 200, 150, 220, 40, "no carrier: candidate too tilted"},
		{"tilted and cut by the border", 150, 330, 200, 300, 20, "no carrier: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, want := drawCarrier(300, 400, c.cx, c.cy, c.cw, c.ch, c.deg)
			defer img.Close()
			fit := findCarrier(img)
			if c.reason != "" {
				if fit.OK || !strings.HasPrefix(fit.Reason, c.reason) {
					t.Fatalf("fit %+v, want reason %q", fit, c.reason)
				}
				return
			}
			if !fit.OK {
				t.Fatalf("no carrier: %s", fit.Reason)
			}
			for i := range want {
				if d := math.Hypot(fit.Corners[i][0]-want[i][0], fit.Corners[i][1]-want[i][1]); d > 3 {
					t.Errorf("corner %d at %v, want %v (%.1f px off)", i, fit.Corners[i], want[i], d)
				}
			}
			if math.Abs(fit.Tilt-c.deg) > 1.5 {
				t.Errorf("tilt %.1f°, want %.1f°", fit.Tilt, c.deg)
			}
		})
	}
}

// TestWarpCarrierUpright: the warped crop of a tilted carrier is upright,
// has the carrier's size less the inset, and the homography maps the
// carrier centre to the crop centre.
func TestWarpCarrierUpright(t *testing.T) {
	img, corners := drawCarrier(300, 400, 150, 200, 190, 280, 12)
	defer img.Close()
	crop, hm := warpCarrier(img, corners)
	defer crop.Close()
	in := carrierInsetShare*190 + 2
	if math.Abs(float64(crop.Cols())-(190-2*in)) > 1 || math.Abs(float64(crop.Rows())-(280-2*in)) > 1 {
		t.Fatalf("crop %d×%d, want about %.0f×%.0f", crop.Cols(), crop.Rows(), 190-2*in, 280-2*in)
	}
	c := applyH(hm, [2]float64{150, 200})
	if math.Abs(c[0]-float64(crop.Cols())/2) > 1 || math.Abs(c[1]-float64(crop.Rows())/2) > 1 {
		t.Fatalf("centre maps to %v in a %d×%d crop", c, crop.Cols(), crop.Rows())
	}
	// No black surround is left inside the crop: every pixel is carrier or blob.
	if lo, _, _, _ := gocv.MinMaxLoc(crop); lo < 80 {
		t.Fatalf("crop holds level %v: surround leaked in", lo)
	}
}

func TestOrderCornersAndClip(t *testing.T) {
	// A rectangle tilted by 20°, corners given in a scrambled order.
	m, want := drawCarrier(300, 400, 150, 200, 100, 160, 20)
	m.Close()
	o, tilt := orderCorners([4][2]float64{want[2], want[0], want[3], want[1]})
	if o != want || math.Abs(tilt-20) > 1e-9 {
		t.Fatalf("order %v tilt %v, want %v and 20", o, tilt, want)
	}
	sq := [][2]float64{{-5, -5}, {5, -5}, {5, 5}, {-5, 5}}
	if a := polyArea(clipPoly(sq, 10, 10)); a != 25 {
		t.Fatalf("clipped area %v, want 25", a)
	}
	if m, ok := inv3(mul3(translate3(3, 4), [9]float64{2, 0, 0, 0, 2, 0, 0, 0, 1})); !ok || applyH(m, [2]float64{5, 6}) != [2]float64{1, 1} {
		t.Fatalf("inverse %v", m)
	}
}
