package preprocess

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"gocv.io/x/gocv"
)

// ContactOptions configures ContactSheet.
type ContactOptions struct {
	Tile    int    // panel side in pixels (0 = 160)
	Augment string // policy for the final-input column ("" = none)
	Seed    int64  // augmentation seed of the first row (row k uses Seed+k)
}

// ContactSheet draws one row per item with four panels: the original image
// with the carrier found (green) and the item's region (red); the offline
// image (crop); the offline image with its loss mask tinted red; and the
// final model input (after equalisation, augmentation, resize and padding)
// with the loss mask outline. It is the visual check of `xraylab
// preprocess`.
func ContactSheet(p *Pipeline, items []Item, o ContactOptions) (*image.RGBA, error) {
	if len(items) == 0 {
		return nil, errors.New("preprocess: contact sheet: no items")
	}
	if o.Tile == 0 {
		o.Tile = 160
	}
	if o.Augment == "" {
		o.Augment = AugmentNone
	}
	if err := validAugment(o.Augment); err != nil {
		return nil, err
	}
	const gap = 4
	t := o.Tile
	sheet := image.NewRGBA(image.Rect(0, 0, 4*t+5*gap, len(items)*(t+gap)+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	for k, it := range items {
		panels, err := contactRow(p, it, o, int64(k))
		if err != nil {
			return nil, fmt.Errorf("preprocess: contact sheet: %s: %w", it.Record.Path, err)
		}
		for c, pm := range panels {
			img, err := fitPanel(pm, t)
			pm.Close()
			if err != nil {
				return nil, err
			}
			off := image.Pt(gap+c*(t+gap)+(t-img.Bounds().Dx())/2, gap+k*(t+gap)+(t-img.Bounds().Dy())/2)
			draw.Draw(sheet, img.Bounds().Add(off), img, image.Point{}, draw.Src)
		}
	}
	return sheet, nil
}

// WriteContactSheet renders ContactSheet into a PNG file.
func WriteContactSheet(path string, p *Pipeline, items []Item, o ContactOptions) error {
	img, err := ContactSheet(p, items, o)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("preprocess: contact sheet: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("preprocess: contact sheet %s: %w", path, err)
	}
	return f.Close()
}

// contactRow builds the four BGR panels of one item.
func contactRow(p *Pipeline, it Item, o ContactOptions, k int64) ([4]gocv.Mat, error) {
	var out [4]gocv.Mat
	data, err := p.opt.Files.ReadFile(it.Record.Path)
	if err != nil {
		return out, err
	}
	src, err := decodeGrey(data, 1)
	if err != nil {
		return out, err
	}
	orig := toBGR(src)
	src.Close()
	thick := max(1, max(orig.Cols(), orig.Rows())/200)
	if len(it.Carrier) == 4 {
		drawPoly(&orig, it.Carrier, color.RGBA{0, 255, 0, 0}, thick)
	}
	if inv, ok := inv3(it.Transform); ok {
		w, h := float64(it.Width), float64(it.Height)
		var poly [][2]float64
		for _, q := range [][2]float64{{0, 0}, {w, 0}, {w, h}, {0, h}} {
			poly = append(poly, applyH(inv, q))
		}
		drawPoly(&orig, poly, color.RGBA{0, 0, 255, 0}, thick) // BGR: red
	}
	out[0] = orig

	grey, mask, anomaly, err := p.itemMats(it)
	if err != nil {
		out[0].Close()
		return out, err
	}
	defer grey.Close()
	defer mask.Close()
	anomaly.Close()
	out[1] = toBGR(grey)
	tint := toBGR(grey)
	red := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 255, 0), grey.Rows(), grey.Cols(), gocv.MatTypeCV8UC3)
	blend := gocv.NewMat()
	gocv.AddWeighted(tint, 0.6, red, 0.4, 0, &blend)
	blend.CopyToWithMask(&tint, mask)
	red.Close()
	blend.Close()
	out[2] = tint

	s, err := p.Load(it, o.Augment, o.Seed+k)
	if err != nil {
		out[0].Close()
		out[1].Close()
		out[2].Close()
		return out, err
	}
	n := p.opt.Size
	fin := gocv.NewMatWithSize(n, n, gocv.MatTypeCV8U)
	fm := gocv.NewMatWithSize(n, n, gocv.MatTypeCV8U)
	fp, _ := fin.DataPtrUint8()
	mp, _ := fm.DataPtrUint8()
	for i := range s.Image {
		fp[i] = uint8(s.Image[i]*255 + 0.5)
		mp[i] = uint8(s.Mask[i] * 255)
	}
	final := toBGR(fin)
	fin.Close()
	cs := gocv.FindContours(fm, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	gocv.DrawContours(&final, cs, -1, color.RGBA{0, 0, 255, 0}, 1)
	cs.Close()
	fm.Close()
	out[3] = final
	return out, nil
}

func toBGR(grey gocv.Mat) gocv.Mat {
	m := gocv.NewMat()
	gocv.CvtColor(grey, &m, gocv.ColorGrayToBGR)
	return m
}

func drawPoly(m *gocv.Mat, pts [][2]float64, c color.RGBA, thick int) {
	for i := range pts {
		a, b := pts[i], pts[(i+1)%len(pts)]
		gocv.Line(m, image.Pt(int(a[0]+0.5), int(a[1]+0.5)), image.Pt(int(b[0]+0.5), int(b[1]+0.5)), c, thick)
	}
}

// fitPanel shrinks a BGR Mat to fit a t×t panel and converts it to an image.
func fitPanel(m gocv.Mat, t int) (image.Image, error) {
	w, h := fitSize(m.Cols(), m.Rows(), t)
	r := gocv.NewMat()
	defer r.Close()
	interp := gocv.InterpolationArea
	if w > m.Cols() {
		interp = gocv.InterpolationNearestNeighbor
	}
	gocv.Resize(m, &r, image.Pt(w, h), 0, 0, interp)
	return r.ToImage()
}

// applyH maps a point through a 3×3 homography.
func applyH(m [9]float64, q [2]float64) [2]float64 {
	x := m[0]*q[0] + m[1]*q[1] + m[2]
	y := m[3]*q[0] + m[4]*q[1] + m[5]
	z := m[6]*q[0] + m[7]*q[1] + m[8]
	return [2]float64{x / z, y / z}
}

// inv3 inverts a 3×3 matrix (false when singular).
func inv3(m [9]float64) ([9]float64, bool) {
	a, b, c, d, e, f, g, h, i := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	A, B, C := e*i-f*h, -(d*i - f*g), d*h-e*g
	det := a*A + b*B + c*C
	if det == 0 {
		return [9]float64{}, false
	}
	r := [9]float64{A, -(b*i - c*h), b*f - c*e, B, a*i - c*g, -(a*f - c*d), C, -(a*h - b*g), a*e - b*d}
	for k := range r {
		r[k] /= det
	}
	return r, true
}
