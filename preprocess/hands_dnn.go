package preprocess

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "hands_dnnprobe.h"
*/
import "C"

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"gocv.io/x/gocv"
)

// Detector input: the SSD-MobileNet convention of the paper's TensorFlow
// detector (300×300, RGB scaled to [-1,1]). SSD class 0 is the background,
// so the single object class of a hand detector is 1 (as in the TF Object
// Detection API's label maps and OpenCV's DetectionOutput layer).
const (
	detInput     = 300
	detMinConf   = 0.5
	detHandClass = 1
)

// dnnDetector wraps a gocv DNN detection model (SSD output [1,1,N,7]:
// image id, class, confidence, x0, y0, x1, y1 normalised). A gocv Net is
// not safe for concurrent use, hence the mutex.
type dnnDetector struct {
	mu   sync.Mutex
	net  gocv.Net
	hash string
}

// loadDetector checks and loads a detection model. The model is first
// loaded and run once under a C++ try/catch so that a bad file is an error
// rather than a crash, then loaded with gocv.ReadNet for use.
func loadDetector(path string) (*dnnDetector, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".onnx" && ext != ".pb" {
		return nil, fmt.Errorf("preprocess: detector %s: unsupported model format %q (want .onnx or a TensorFlow .pb)", path, ext)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: detector: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("preprocess: detector %s: empty file", path)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	buf := make([]byte, 512)
	if C.xl_probe_net(cpath, C.int(detInput), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != 0 {
		msg := string(buf[:strings.IndexByte(string(buf), 0)])
		return nil, fmt.Errorf("preprocess: detector %s: cannot load model: %s", path, strings.TrimSpace(msg))
	}
	net := gocv.ReadNet(path, "")
	if net.Empty() {
		net.Close()
		return nil, fmt.Errorf("preprocess: detector %s: cannot load model", path)
	}
	sum := sha256.Sum256(data)
	return &dnnDetector{net: net, hash: hex.EncodeToString(sum[:8])}, nil
}

func (d *dnnDetector) Close() error { return d.net.Close() }

// detect returns up to two hand boxes, left to right, in grey's pixels.
func (d *dnnDetector) detect(grey gocv.Mat) ([]image.Rectangle, error) {
	w, h := grey.Cols(), grey.Rows()
	bgr := gocv.NewMat()
	defer bgr.Close()
	gocv.CvtColor(grey, &bgr, gocv.ColorGrayToBGR)
	blob := gocv.BlobFromImage(bgr, 1/127.5, image.Pt(detInput, detInput), gocv.NewScalar(127.5, 127.5, 127.5, 0), true, false)
	defer blob.Close()
	d.mu.Lock()
	d.net.SetInput(blob, "")
	out := d.net.Forward("")
	// Forward's Mat shares the net's output buffer, which the next Forward
	// overwrites: copy the rows before another worker may run the net.
	shape := out.Size()
	vals, err := out.DataPtrFloat32()
	vals = append([]float32(nil), vals...)
	d.mu.Unlock()
	out.Close()
	if err != nil || len(shape) != 4 || shape[0] != 1 || shape[1] != 1 || shape[3] != 7 {
		return nil, fmt.Errorf("detector output has shape %v, want SSD detections [1,1,N,7]", shape)
	}
	type det struct {
		r    image.Rectangle
		conf float32
	}
	var dets []det
	for i := 0; i+7 <= len(vals); i += 7 {
		if r, ok := detBox(vals[i:i+7], w, h); ok {
			dets = append(dets, det{r, vals[i+2]})
		}
	}
	sort.Slice(dets, func(i, j int) bool { return dets[i].conf > dets[j].conf })
	var boxes []image.Rectangle
	for _, d := range dets {
		overlaps := false
		for _, b := range boxes {
			if rectIoU(b, d.r) > 0.3 {
				overlaps = true
			}
		}
		if !overlaps {
			boxes = append(boxes, d.r)
		}
		if len(boxes) == 2 {
			break
		}
	}
	sort.Slice(boxes, func(i, j int) bool { return boxes[i].Min.X < boxes[j].Min.X })
	return boxes, nil
}

// detBox turns one SSD row (image id, class, score, x1, y1, x2, y2
// normalised) into a hand box in a w×h image. Rows for another image of the
// batch, of another class, below the confidence threshold, with non-finite
// numbers or with x2 <= x1 or y2 <= y1 are not hands. The order is checked
// here because image.Rect would silently swap the corners of an inverted box.
// Corners are rounded to the nearest pixel: truncation turns 0.1666666 × 300
// (float32 for 50) into 49.
func detBox(v []float32, w, h int) (image.Rectangle, bool) {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return image.Rectangle{}, false
		}
	}
	if v[0] != 0 || v[1] != detHandClass || v[2] < detMinConf {
		return image.Rectangle{}, false
	}
	clamp := func(x float32) float64 { return math.Min(math.Max(float64(x), 0), 1) }
	x1, y1, x2, y2 := clamp(v[3]), clamp(v[4]), clamp(v[5]), clamp(v[6])
	if x2 <= x1 || y2 <= y1 {
		return image.Rectangle{}, false
	}
	r := image.Rectangle{
		Min: image.Pt(int(math.Round(x1*float64(w))), int(math.Round(y1*float64(h)))),
		Max: image.Pt(int(math.Round(x2*float64(w))), int(math.Round(y2*float64(h)))),
	}
	return r, !r.Empty()
}

// rectIoU is the intersection over union of two boxes.
func rectIoU(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	return ia / (float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia)
}
