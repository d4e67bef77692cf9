package preprocess

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"image/png"
	"testing"

	"gocv.io/x/gocv"
)

// maxFuzzPixels bounds what the fuzzer lets the decoders allocate: a few
// bytes of header can declare a gigapixel image (see the report of issue 8;
// the decoders do not check sizes before allocating).
const maxFuzzPixels = 4096 * 4096

// FuzzDecodeImage feeds arbitrary bytes to both image decoder paths: the
// pipeline's OpenCV one (decodeGrey) and the standard library's
// (decodeGray, behind ReadGray). Neither may panic or crash; what decodes
// must be 8-bit grey of a sane size.
func FuzzDecodeImage(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, tinyGradient(16, 12))
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width*cfg.Height > maxFuzzPixels {
			t.Skipf("declares %dx%d pixels", cfg.Width, cfg.Height)
		}
		if len(data) > 1<<20 {
			t.Skip("larger than 1 MiB") // the seeds are small; keep mutations so
		}
		m, err := decodeGrey(data, 8)
		if err == nil {
			if m.Type() != gocv.MatTypeCV8U || m.Channels() != 1 || m.Rows() < 8 || m.Cols() < 8 {
				t.Fatalf("decoded %v with %d channels, %dx%d", m.Type(), m.Channels(), m.Cols(), m.Rows())
			}
			m.Close()
		} else if err.Error() == "" || !m.Empty() {
			t.Fatalf("error %q with a non-empty Mat", err)
		}
		g, err := decodeGray(bytes.NewReader(data), "fuzz.png")
		if err == nil {
			cfg, cerr := png.DecodeConfig(bytes.NewReader(data))
			if cerr != nil || g.Rect.Dx() != cfg.Width || g.Rect.Dy() != cfg.Height {
				t.Fatalf("decoded %v, header says %+v (%v)", g.Rect, cfg, cerr)
			}
		}
	})
}

func tinyGradient(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	return img
}
