package preprocess

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig reads JPEG headers too
	_ "image/png"

	"gocv.io/x/gocv"
)

// MaxImagePixels bounds the size an image file may declare (10,000 ×
// 10,000). Decoders allocate what the header says, so a 33-byte PNG could
// otherwise ask for gigabytes.
const MaxImagePixels = 100_000_000

// checkDeclaredSize refuses an image whose header declares more than
// MaxImagePixels, before anything decodes it.
func checkDeclaredSize(data []byte) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err == nil && int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return fmt.Errorf("image declares %d×%d pixels; at most %d are allowed", cfg.Width, cfg.Height, MaxImagePixels)
	}
	return nil
}

// blankRange is the smallest grey-level span an image must have: below it
// there is no hand to see (blank, all-white or all-black exposure).
const blankRange = 8

// decodeGrey decodes image bytes (PNG, JPEG, …) into an 8-bit single-channel
// Mat. 3- and 4-channel images are converted to grey; 16-bit images are
// stretched min–max to 8 bits because their used range (often 10–12 bits)
// varies by detector. The error text is the per-image skip reason.
func decodeGrey(data []byte, minSide int) (gocv.Mat, error) {
	if len(data) == 0 {
		return gocv.NewMat(), fmt.Errorf("empty file")
	}
	if err := checkDeclaredSize(data); err != nil {
		return gocv.NewMat(), err
	}
	m, err := gocv.IMDecode(data, gocv.IMReadUnchanged)
	if err != nil || m.Empty() {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("cannot decode image (corrupt or not an image, %d bytes)", len(data))
	}
	if w, h := m.Cols(), m.Rows(); w < minSide || h < minSide {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("tiny image %d×%d (shorter side below %d px)", w, h, minSide)
	}
	switch m.Channels() {
	case 1:
	case 3, 4:
		code := gocv.ColorBGRToGray
		if m.Channels() == 4 {
			code = gocv.ColorBGRAToGray
		}
		g := gocv.NewMat()
		gocv.CvtColor(m, &g, code)
		m.Close()
		m = g
	default:
		n := m.Channels()
		m.Close()
		return gocv.NewMat(), fmt.Errorf("unsupported channel count %d", n)
	}
	lo, hi, _, _ := gocv.MinMaxLoc(m)
	switch m.Type() {
	case gocv.MatTypeCV8U:
	case gocv.MatTypeCV16U:
		if hi > lo {
			g := gocv.NewMat()
			gocv.Normalize(m, &g, 0, 255, gocv.NormMinMax)
			g8 := gocv.NewMat()
			g.ConvertTo(&g8, gocv.MatTypeCV8U)
			g.Close()
			m.Close()
			m = g8
			lo, hi, _, _ = gocv.MinMaxLoc(m)
		} else {
			m.Close()
			return gocv.NewMat(), fmt.Errorf("blank 16-bit image: every pixel is %d", int(lo))
		}
	default:
		t := m.Type()
		m.Close()
		return gocv.NewMat(), fmt.Errorf("unsupported pixel type %v (want 8- or 16-bit)", t)
	}
	if hi-lo < blankRange {
		m.Close()
		switch {
		case lo >= 255-blankRange:
			return gocv.NewMat(), fmt.Errorf("all-white image (grey levels %d–%d)", int(lo), int(hi))
		case hi <= blankRange:
			return gocv.NewMat(), fmt.Errorf("all-black image (grey levels %d–%d)", int(lo), int(hi))
		default:
			return gocv.NewMat(), fmt.Errorf("blank image (grey levels only %d–%d)", int(lo), int(hi))
		}
	}
	return m, nil
}

// decodeMask decodes a binary mask file that must match the image size;
// any non-zero pixel is inside.
func decodeMask(data []byte, w, h int) (gocv.Mat, error) {
	if len(data) == 0 {
		return gocv.NewMat(), fmt.Errorf("empty file")
	}
	if err := checkDeclaredSize(data); err != nil {
		return gocv.NewMat(), err
	}
	m, err := gocv.IMDecode(data, gocv.IMReadGrayScale)
	if err != nil || m.Empty() {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("cannot decode mask (%d bytes)", len(data))
	}
	if m.Cols() != w || m.Rows() != h {
		mw, mh := m.Cols(), m.Rows()
		m.Close()
		return gocv.NewMat(), fmt.Errorf("mask is %d×%d, image is %d×%d", mw, mh, w, h)
	}
	b := gocv.NewMat()
	gocv.Threshold(m, &b, 0, 255, gocv.ThresholdBinary)
	m.Close()
	return b, nil
}

// readGreyPNG reads a cached 8-bit grey PNG written by the pipeline.
func readGreyPNG(path string) (gocv.Mat, error) {
	m := gocv.IMRead(path, gocv.IMReadGrayScale)
	if m.Empty() {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("cannot read cached image %s", path)
	}
	return m, nil
}
