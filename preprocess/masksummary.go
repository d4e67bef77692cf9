package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// MaxFlagged bounds how many suspicious images a MaskSummary lists by
// name: a 40k-image dataset whose masks all fail must not make a dataset
// record of megabytes; the counts still cover every image.
const MaxFlagged = 16

// MaskSummary aggregates the mask statistics (MeasureMask) of a dataset's
// images, in a size that does not grow with the dataset: distributions
// and counts over every image, and the first MaxFlagged suspicious images
// (in record order, so the same data lists the same images).
type MaskSummary struct {
	Images        int            `json:"images"`     // images with a measured mask
	Suspicious    int            `json:"suspicious"` // of them, flagged
	Share         Distribution   `json:"share"`
	BorderContact Distribution   `json:"border_contact"`
	Components    []int          `json:"components"` // images with 0, 1, 2, …, ≥ len-1 regions
	Checks        map[string]int `json:"checks"`     // flagged images per failed check (MaskChecks)
	Flagged       []FlaggedMask  `json:"flagged"`    // at most MaxFlagged
}

// maxComponentsBin is the last bin of MaskSummary.Components (≥ this many).
const maxComponentsBin = 5

// Distribution summarises a share in [0, 1] over images: its range, mean
// and a histogram of ten bins of 0.1 (the last holds 1.0).
type Distribution struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
	Hist [10]int `json:"hist"`

	sum float64
}

func (d *Distribution) add(v float64, n int) {
	if n == 1 {
		d.Min, d.Max = v, v
	}
	d.Min, d.Max = math.Min(d.Min, v), math.Max(d.Max, v)
	d.sum += v
	d.Mean = d.sum / float64(n)
	d.Hist[min(9, max(0, int(v*10)))]++
}

// FlaggedMask is one suspicious image of a MaskSummary.
type FlaggedMask struct {
	RelPath string `json:"rel_path"`
	Hands   int    `json:"hands"`
	MaskStats
	// Thumbnail is the run artifact showing the image with its mask, set by
	// whoever writes it ("" = none).
	Thumbnail string `json:"thumbnail,omitempty"`
}

// NewMaskSummary returns an empty summary.
func NewMaskSummary() *MaskSummary {
	return &MaskSummary{Components: make([]int, maxComponentsBin+1), Checks: map[string]int{}, Flagged: []FlaggedMask{}}
}

// Add counts one image's result (images without mask statistics, such as
// skipped ones or other variants than full, are left out). It returns the
// image's entry in Flagged when it was listed there, else nil.
func (s *MaskSummary) Add(res ImageResult) *FlaggedMask {
	if res.Mask == nil {
		return nil
	}
	m := *res.Mask
	s.Images++
	s.Share.add(m.Share, s.Images)
	s.BorderContact.add(m.Border, s.Images)
	s.Components[min(m.Components, maxComponentsBin)]++
	if !m.Suspicious {
		return nil
	}
	s.Suspicious++
	s.Checks[m.Check]++
	if len(s.Flagged) >= MaxFlagged {
		return nil
	}
	s.Flagged = append(s.Flagged, FlaggedMask{RelPath: res.RelPath, Hands: len(res.Hands), MaskStats: m})
	return &s.Flagged[len(s.Flagged)-1]
}

// MaskThumbnail draws the source image of rec, shrunk to fit a size×size
// square, with mask (in the source's pixel grid, as ForEachImage gives
// it) tinted red and outlined, so that a flagged mask can be judged at a
// glance.
func (p *Pipeline) MaskThumbnail(rec Record, mask *image.Gray, size int) (*image.RGBA, error) {
	if size < 8 {
		return nil, fmt.Errorf("preprocess: thumbnail size %d, want at least 8", size)
	}
	data, err := p.opt.Files.ReadFile(rec.Path)
	if err != nil {
		return nil, err
	}
	src, err := decodeGrey(data, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rec.Path, err)
	}
	defer src.Close()
	if mask.Bounds().Dx() != src.Cols() || mask.Bounds().Dy() != src.Rows() {
		return nil, fmt.Errorf("preprocess: thumbnail of %s: mask is %v, image %dx%d", rec.Path, mask.Bounds().Size(), src.Cols(), src.Rows())
	}
	mm, err := gocv.ImageGrayToMatGray(mask)
	if err != nil {
		return nil, err
	}
	defer mm.Close()
	w, h := fitSize(src.Cols(), src.Rows(), size)
	small, smask := gocv.NewMat(), gocv.NewMat()
	defer small.Close()
	defer smask.Close()
	gocv.Resize(src, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	gocv.Resize(mm, &smask, image.Pt(w, h), 0, 0, gocv.InterpolationNearestNeighbor)
	out := toBGR(small)
	defer out.Close()
	red := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 255, 0), h, w, gocv.MatTypeCV8UC3)
	blend := gocv.NewMat()
	gocv.AddWeighted(out, 0.7, red, 0.3, 0, &blend)
	blend.CopyToWithMask(&out, smask)
	red.Close()
	blend.Close()
	cs := gocv.FindContours(smask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	gocv.DrawContours(&out, cs, -1, color.RGBA{0, 0, 255, 0}, 1)
	cs.Close()
	img, err := out.ToImage()
	if err != nil {
		return nil, err
	}
	rgba := image.NewRGBA(img.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba, nil
}
