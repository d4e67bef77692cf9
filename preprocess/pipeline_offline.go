package preprocess

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// cropAndMask runs the offline steps of the crop and full variants on one
// grey image: carrier crop (or the whole image when no plausible carrier),
// foreground mask, hand localisation and two-hand split; for full, the
// background outside the hand mask is zeroed and the mask kept as the loss
// mask. The anomaly mask, when given, follows the same geometry.
func (p *Pipeline) cropAndMask(rec Record, grey, anomaly gocv.Mat) *offlineResult {
	res := &offlineResult{}
	fit := findCarrier(grey)
	hm := identity3()
	var carrier [][2]float64
	var crop gocv.Mat
	if fit.OK {
		crop, hm = warpCarrier(grey, fit.Corners)
		carrier = append([][2]float64(nil), fit.Corners[:]...)
	} else {
		crop = grey.Clone()
		res.FellBack = fit.Reason
	}
	defer crop.Close()
	cropAnomaly := gocv.NewMat()
	defer func() { cropAnomaly.Close() }()
	if !anomaly.Empty() {
		cropAnomaly.Close()
		cropAnomaly = warpHomography(anomaly, hm, crop.Cols(), crop.Rows(), true)
	}

	fg, comps := foregroundMask(crop, p.opt.GrabCut)
	defer fg.Close()
	var boxes []image.Rectangle
	if p.det != nil {
		var err error
		if boxes, err = p.det.detect(crop); err != nil {
			return &offlineResult{Skip: "hand detector: " + err.Error()}
		}
		if len(boxes) == 0 {
			return &offlineResult{Skip: "hand detector found no hand"}
		}
	} else if boxes = locateHands(fg, comps); len(boxes) == 0 {
		return &offlineResult{Skip: "no hand found (no hand-like region in the foreground mask)"}
	}

	for k, b := range boxes {
		it := Item{Record: rec, Width: b.Dx(), Height: b.Dy(), Carrier: carrier, FellBack: res.FellBack, Hands: len(boxes)}
		if len(boxes) == 2 {
			it.Record.Half = k + 1
		}
		it.Transform = mul3(translate3(-float64(b.Min.X), -float64(b.Min.Y)), hm)
		img := crop.Region(b)
		if p.opt.Variant == VariantFull {
			m := fg.Region(b)
			if gocv.CountNonZero(m) == 0 {
				m.Close()
				img.Close()
				return &offlineResult{Skip: fmt.Sprintf("no foreground inside hand box %v", b)}
			}
			it.mask = matBytes(m)
			masked := gocv.Zeros(b.Dy(), b.Dx(), gocv.MatTypeCV8U)
			img.CopyToWithMask(&masked, m)
			it.img = matBytes(masked)
			masked.Close()
			m.Close()
		} else {
			it.img = matBytes(img)
		}
		img.Close()
		if !cropAnomaly.Empty() {
			a := cropAnomaly.Region(b)
			it.anomaly = matBytes(a)
			a.Close()
		}
		res.Items = append(res.Items, it)
	}
	return res
}
