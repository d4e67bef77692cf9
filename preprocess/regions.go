package preprocess

import (
	"encoding/binary"
	"fmt"

	"gocv.io/x/gocv"
)

// LabelRegions labels the 8-connected components of truth ∧ mask (values
// ≥ 0.5; mask nil = every pixel) of a w×h image with OpenCV: 0 outside
// any region, 1..n inside. It is the labelling eval.AUPRO needs.
func LabelRegions(truth, mask []float32, w, h int) ([]int32, int, error) {
	bin := make([]byte, w*h)
	found := false
	for j, t := range truth {
		if t >= 0.5 && (mask == nil || mask[j] >= 0.5) {
			bin[j] = 255
			found = true
		}
	}
	out := make([]int32, w*h)
	if !found {
		return out, 0, nil
	}
	src, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8U, bin)
	if err != nil {
		return nil, 0, fmt.Errorf("truth mask to OpenCV: %w", err)
	}
	defer src.Close()
	lab := gocv.NewMat()
	defer lab.Close()
	n := gocv.ConnectedComponentsWithParams(src, &lab, 8, gocv.MatTypeCV32S, gocv.CCL_DEFAULT)
	raw := lab.ToBytes()
	if len(raw) != 4*w*h {
		return nil, 0, fmt.Errorf("OpenCV labels have %d bytes, want %d", len(raw), 4*w*h)
	}
	for j := range out {
		out[j] = int32(binary.LittleEndian.Uint32(raw[4*j:]))
	}
	return out, n - 1, nil // n counts the background
}
