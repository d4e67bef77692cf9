package preprocess

import (
	"fmt"
	"image/color"

	"gocv.io/x/gocv"
)

// Sample is one model input after the online steps.
type Sample struct {
	// Image is Size×Size, row-major, in [0,1] (8-bit grey / 255).
	Image []float32
	// Mask is 1 inside the loss mask (the hand for full; every pixel that
	// came from the image, i.e. not padding, for raw and crop), 0 elsewhere.
	Mask []float32
	// AnomalyMask is the ground-truth anomaly mask under the same transforms
	// when the record has one, else nil.
	AnomalyMask []float32
}

// Load runs the online steps on one item: grey → histogram equalisation
// (when on) → augmentation (flips, brightness, scale, rotation; the same
// geometry on image, mask and anomaly mask) → resize keeping the aspect
// ratio (longer side = Size; under ResizeFit before the augmentation, under
// ResizePad only when larger than Size) → centre zero padding → [0,1]. The
// augmentation depends only on seed.
func (p *Pipeline) Load(it Item, augment string, seed int64) (Sample, error) {
	if err := validAugment(augment); err != nil {
		return Sample{}, err
	}
	return p.loadWith(it, drawAugment(augment, seed))
}

// loadWith is Load with the augmentation parameters given.
func (p *Pipeline) loadWith(it Item, a augParams) (Sample, error) {
	grey, mask, anomaly, err := p.itemMats(it)
	if err != nil {
		return Sample{}, fmt.Errorf("preprocess: load %s: %w", it.Record.Path, err)
	}
	defer grey.Close()
	defer mask.Close()
	defer anomaly.Close()

	if p.opt.HistEq {
		eq := equalize(grey, p.opt.CLAHE)
		grey.Close()
		grey = eq
		if p.opt.Variant == VariantFull {
			// CLAHE can lift a zeroed background: keep it outside the hand.
			fg := gocv.Zeros(grey.Rows(), grey.Cols(), gocv.MatTypeCV8U)
			grey.CopyToWithMask(&fg, mask)
			grey.Close()
			grey = fg
		}
	}

	replace := func(m *gocv.Mat, f func(gocv.Mat) gocv.Mat) {
		n := f(*m)
		m.Close()
		*m = n
	}
	if p.opt.Resize == ResizeFit {
		// the paper resizes BiGAN/α-GAN inputs before augmenting them
		replace(&grey, p.fitFirst)
		replace(&mask, p.fitFirst)
		if !anomaly.Empty() {
			replace(&anomaly, p.fitFirst)
		}
	}
	replace(&grey, a.flip)
	replace(&grey, a.brightness)
	replace(&grey, func(m gocv.Mat) gocv.Mat { return a.warp(m, false) })
	replace(&mask, a.flip)
	replace(&mask, func(m gocv.Mat) gocv.Mat { return a.warp(m, true) })
	hasAnomaly := !anomaly.Empty()
	if hasAnomaly {
		replace(&anomaly, a.flip)
		replace(&anomaly, func(m gocv.Mat) gocv.Mat { return a.warp(m, true) })
	}

	var s Sample
	s.Image = p.fit(grey, false)
	s.Mask = p.fit(mask, true)
	if hasAnomaly {
		s.AnomalyMask = p.fit(anomaly, true)
	}
	return s, nil
}

// itemMats returns the item's grey image, its loss mask before
// augmentation (the hand for full, all ones otherwise) and its anomaly mask
// (empty Mat when none).
func (p *Pipeline) itemMats(it Item) (grey, mask, anomaly gocv.Mat, err error) {
	grey, mask, anomaly = gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	fail := func(e error) (gocv.Mat, gocv.Mat, gocv.Mat, error) {
		grey.Close()
		mask.Close()
		anomaly.Close()
		return gocv.NewMat(), gocv.NewMat(), gocv.NewMat(), e
	}
	load := func(dst *gocv.Mat, path string, mem []byte) error {
		var m gocv.Mat
		var err error
		if path != "" {
			m, err = readGreyPNG(path)
		} else {
			m, err = matFromBytes(it.Width, it.Height, mem)
		}
		if err != nil {
			return err
		}
		if m.Cols() != it.Width || m.Rows() != it.Height {
			m.Close()
			return fmt.Errorf("cached image %s is %d×%d, item says %d×%d", path, m.Cols(), m.Rows(), it.Width, it.Height)
		}
		dst.Close()
		*dst = m
		return nil
	}
	if it.ImagePath == "" && it.img == nil {
		return fail(fmt.Errorf("item has no pixels (neither a cached image nor in-memory data)"))
	}
	if err := load(&grey, it.ImagePath, it.img); err != nil {
		return fail(err)
	}
	if it.MaskPath != "" || it.mask != nil {
		if err := load(&mask, it.MaskPath, it.mask); err != nil {
			return fail(err)
		}
	} else {
		mask.Close()
		mask = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), it.Height, it.Width, gocv.MatTypeCV8U)
	}
	if it.AnomalyPath != "" || it.anomaly != nil {
		if err := load(&anomaly, it.AnomalyPath, it.anomaly); err != nil {
			return fail(err)
		}
	}
	return grey, mask, anomaly, nil
}

// fitSize returns the size of a w×h image resized so that its longer side
// is size, keeping the aspect ratio (each side at least 1 pixel).
func fitSize(w, h, size int) (int, int) {
	if w >= h {
		return size, max(1, int(float64(h)*float64(size)/float64(w)+0.5))
	}
	return max(1, int(float64(w)*float64(size)/float64(h)+0.5)), size
}

// padOffsets returns the left/top zero padding that centres a w×h image in
// a size×size square; an odd remainder goes to the right/bottom.
func padOffsets(w, h, size int) (left, top int) { return (size - w) / 2, (size - h) / 2 }

// fit resizes an 8-bit image keeping its aspect ratio as the resize
// policy says (targetSize: area averaging when shrinking, bilinear when
// enlarging), pads it with zeros to Size×Size, centred, and returns it as
// float32: grey/255 for images, 0/1 for masks (a resized mask pixel is
// inside when at least half of it was).
func (p *Pipeline) fit(src gocv.Mat, isMask bool) []float32 {
	size := p.opt.Size
	rw, rh := p.targetSize(src.Cols(), src.Rows())
	cur := resized(src, rw, rh)
	defer cur.Close()
	left, top := padOffsets(rw, rh, size)
	padded := gocv.NewMat()
	defer padded.Close()
	gocv.CopyMakeBorder(cur, &padded, top, size-rh-top, left, size-rw-left, gocv.BorderConstant, color.RGBA{})
	px, _ := padded.DataPtrUint8()
	out := make([]float32, size*size)
	if isMask {
		for i, v := range px {
			if v >= 128 {
				out[i] = 1
			}
		}
		return out
	}
	for i, v := range px {
		out[i] = float32(v) / 255
	}
	return out
}
