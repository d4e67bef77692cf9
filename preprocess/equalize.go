package preprocess

import (
	"image"

	"gocv.io/x/gocv"
)

// CLAHE settings: OpenCV's customary clip limit with an 8×8 tile grid.
const (
	claheClip  = 2.0
	claheTiles = 8
)

// equalize applies global histogram equalisation, or CLAHE when clahe is
// set, to an 8-bit grey image and returns a new Mat. Global equalisation
// maps the darkest occupied level to 0, so a zeroed background (full
// variant) stays 0 and the hand's own levels are spread over 0–255.
func equalize(src gocv.Mat, clahe bool) gocv.Mat {
	dst := gocv.NewMat()
	if clahe {
		c := gocv.NewCLAHEWithParams(claheClip, image.Pt(claheTiles, claheTiles))
		defer c.Close()
		c.Apply(src, &dst)
		return dst
	}
	gocv.EqualizeHist(src, &dst)
	return dst
}
