package preprocess

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hugePNG is a valid 1×1 PNG whose header is rewritten to declare w×h.
func hugePNG(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	// Signature (8), IHDR length (4), "IHDR" (4), then width and height.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// A header that declares a gigantic image is refused before decoding.
func TestDeclaredSizeIsCapped(t *testing.T) {
	data := hugePNG(t, 65535, 65535)
	want := "image declares 65535×65535 pixels; at most 100000000 are allowed"
	if _, err := decodeGrey(data, 8); err == nil || err.Error() != want {
		t.Errorf("decodeGrey: %v, want %q", err, want)
	}
	p := filepath.Join(t.TempDir(), "huge.png")
	os.WriteFile(p, data, 0o644)
	if _, err := ReadGray(p); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("ReadGray: %v, want ...%q", err, want)
	}
	// Within the cap the header check lets the decoder speak.
	small := hugePNG(t, 2000, 2000)
	if _, err := decodeGrey(small, 8); err == nil || strings.Contains(err.Error(), "declares") {
		t.Errorf("a 2000×2000 header with 1 pixel of data: %v", err)
	}
}
