package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand"

	"gocv.io/x/gocv"
)

// augParams is one draw of the paper's augmentation policies (supplement
// .3). The zero value of Bright/ScaleX/ScaleY means "not applied" and is
// normalised to 1 by drawAugment.
type augParams struct {
	HFlip, VFlip   bool
	Bright         float64 // brightness factor (1 = unchanged)
	ScaleX, ScaleY float64 // independent axis scales about the centre (1 = unchanged)
	Angle          float64 // rotation in degrees, counter-clockwise on screen (0 = none)
}

// validAugment reports an error for an unknown policy name.
func validAugment(policy string) error {
	switch policy {
	case AugmentNone, AugmentDefault, AugmentAdvanced:
		return nil
	}
	return fmt.Errorf("preprocess: unknown augmentation %q (want none, default or advanced)", policy)
}

// drawAugment draws the parameters of one sample from its own seed. Every
// policy consumes the same random numbers in the same order whether or not a
// step fires, so a sample's transform depends on its seed alone.
func drawAugment(policy string, seed int64) augParams {
	a := augParams{Bright: 1, ScaleX: 1, ScaleY: 1}
	if policy == AugmentNone {
		return a
	}
	r := rand.New(rand.NewSource(seed))
	a.HFlip = r.Float64() < 0.5
	a.VFlip = r.Float64() < 0.5
	if policy != AugmentAdvanced {
		return a
	}
	uni := func(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }
	doBright, bright := r.Float64() < 0.5, uni(0.8, 1.2)
	doScale, sx, sy := r.Float64() < 0.5, uni(0.8, 1.2), uni(0.8, 1.2)
	doRot, ang := r.Float64() < 0.5, uni(-20, 20)
	if doBright {
		a.Bright = bright
	}
	if doScale {
		a.ScaleX, a.ScaleY = sx, sy
	}
	if doRot {
		a.Angle = ang
	}
	return a
}

// affine returns the 2×3 matrix of the scale-then-rotate step about the
// pixel-grid centre of a w×h image, or ok=false when the step is the
// identity. Output keeps the input size (imgaug's Affine does the same).
func (a augParams) affine(w, h int) (m [6]float64, ok bool) {
	if a.ScaleX == 1 && a.ScaleY == 1 && a.Angle == 0 {
		return m, false
	}
	cx, cy := float64(w-1)/2, float64(h-1)/2
	t := a.Angle * math.Pi / 180
	c, s := math.Cos(t), math.Sin(t)
	// Screen coordinates (y down): a positive angle turns counter-clockwise
	// on screen, as cv::getRotationMatrix2D does.
	m[0], m[1] = c*a.ScaleX, s*a.ScaleY
	m[3], m[4] = -s*a.ScaleX, c*a.ScaleY
	m[2] = cx - m[0]*cx - m[1]*cy
	m[5] = cy - m[3]*cx - m[4]*cy
	return m, true
}

// flip applies the flips to one 8-bit image (image or mask alike).
func (a augParams) flip(src gocv.Mat) gocv.Mat {
	dst := gocv.NewMat()
	if !a.HFlip && !a.VFlip {
		src.CopyTo(&dst)
		return dst
	}
	code := 1 // around the vertical axis
	switch {
	case a.HFlip && a.VFlip:
		code = -1
	case a.VFlip:
		code = 0
	}
	gocv.Flip(src, &dst, code)
	return dst
}

// warp applies the scale-and-rotate step to one 8-bit image; pixels coming
// from outside the image are 0. Masks use nearest-neighbour interpolation so
// they stay binary.
func (a augParams) warp(src gocv.Mat, isMask bool) gocv.Mat {
	dst := gocv.NewMat()
	m, ok := a.affine(src.Cols(), src.Rows())
	if !ok {
		src.CopyTo(&dst)
		return dst
	}
	mm := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer mm.Close()
	for i, v := range m {
		mm.SetDoubleAt(i/3, i%3, v)
	}
	interp := gocv.InterpolationLinear
	if isMask {
		interp = gocv.InterpolationNearestNeighbor
	}
	gocv.WarpAffineWithParams(src, &dst, mm, image.Pt(src.Cols(), src.Rows()), interp, gocv.BorderConstant, color.RGBA{})
	return dst
}

// brightness multiplies an 8-bit image by a.Bright with rounding and
// saturation (imgaug's Multiply on uint8 clips the same way).
func (a augParams) brightness(src gocv.Mat) gocv.Mat {
	dst := gocv.NewMat()
	if a.Bright == 1 {
		src.CopyTo(&dst)
		return dst
	}
	src.ConvertToWithParams(&dst, gocv.MatTypeCV8U, float32(a.Bright), 0)
	return dst
}
