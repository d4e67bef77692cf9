package preprocess

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// Resize policies: how an image reaches Size×Size (PipelineOptions.Resize).
// The empty policy is that of runs recorded before policies existed:
// augmentation, then the longer side to Size, then padding.
const (
	// ResizeFit resizes the longer side to Size before augmentation, then
	// pads: the paper's BiGAN and α-GAN inputs (128 px).
	ResizeFit = "fit"
	// ResizePad keeps the native scale and pads; only an image larger than
	// Size shrinks (longer side to Size, after augmentation): the paper's
	// autoencoder and DCGAN inputs, padded to 512 px.
	ResizePad = "pad"
)

// ResizePolicies are the policy names a spec accepts.
var ResizePolicies = []string{ResizePad, ResizeFit}

func validResize(r string) error {
	switch r {
	case "", ResizeFit, ResizePad:
		return nil
	}
	return fmt.Errorf("preprocess: options: unknown Resize %q (want pad or fit)", r)
}

// targetSize is the size a w×h image takes before padding: itself under
// pad when it fits, else the longer side to Size.
func (p *Pipeline) targetSize(w, h int) (int, int) {
	if p.opt.Resize == ResizePad && w <= p.opt.Size && h <= p.opt.Size {
		return w, h
	}
	return fitSize(w, h, p.opt.Size)
}

// resized is src at w×h (area averaging when shrinking, bilinear when
// enlarging), or a copy when it has that size.
func resized(src gocv.Mat, w, h int) gocv.Mat {
	dst := gocv.NewMat()
	if src.Cols() == w && src.Rows() == h {
		src.CopyTo(&dst)
		return dst
	}
	interp := gocv.InterpolationArea
	if w > src.Cols() || h > src.Rows() {
		interp = gocv.InterpolationLinear
	}
	gocv.Resize(src, &dst, image.Pt(w, h), 0, 0, interp)
	return dst
}

// fitFirst resizes src's longer side to Size, the fit policy's step
// before augmentation.
func (p *Pipeline) fitFirst(src gocv.Mat) gocv.Mat {
	w, h := fitSize(src.Cols(), src.Rows(), p.opt.Size)
	return resized(src, w, h)
}
