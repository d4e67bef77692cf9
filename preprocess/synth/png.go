package synth

import (
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// pngWriter writes 8-bit grey or RGB PNGs with the Sub filter on every
// row. image/png tries all five filters per row, which made PNG encoding
// the largest cost of the generator; one cheap filter suits these smooth,
// noisy images nearly as well. Files are standard PNGs that image/png and
// OpenCV read. A writer is reused between images so that encoding
// allocates nothing once its buffers have grown.
type pngWriter struct {
	out appendBuffer // the PNG being built; zlib writes straight into it
	zw  *zlib.Writer
	row []byte
}

type appendBuffer struct{ b []byte }

func (c *appendBuffer) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }

var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// start begins a PNG of w×h pixels with the given bit depth and colour
// type and opens its IDAT chunk; finish closes it.
func (p *pngWriter) start(w, h int, depth, colour byte) {
	p.out.b = append(p.out.b[:0], pngSignature...)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colour
	p.out.b = appendChunk(p.out.b, "IHDR", ihdr[:])
	p.out.b = append(p.out.b, 0, 0, 0, 0, 'I', 'D', 'A', 'T') // length patched by finish
	if p.zw == nil {
		p.zw, _ = zlib.NewWriterLevel(&p.out, zlib.BestSpeed)
	} else {
		p.zw.Reset(&p.out)
	}
}

// finish closes the zlib stream, completes the IDAT chunk and appends
// IEND; it returns the whole file, valid until the next image.
func (p *pngWriter) finish() ([]byte, error) {
	if err := p.zw.Close(); err != nil {
		return nil, err
	}
	idat := len(pngSignature) + 12 + 13 // start of the IDAT chunk
	b := p.out.b
	binary.BigEndian.PutUint32(b[idat:], uint32(len(b)-idat-8))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[idat+4:]))
	p.out.b = appendChunk(b, "IEND", nil)
	return p.out.b, nil
}

// encodeMask returns a 0/255 mask as a 1-bit greyscale PNG, which decoders
// return as grey 0 and 255; filtering is pointless for 1-bit rows.
func (p *pngWriter) encodeMask(pix []uint8, w, h int) ([]byte, error) {
	p.start(w, h, 1, 0)
	stride := (w + 7) / 8
	if cap(p.row) < stride+1 {
		p.row = make([]byte, stride+1)
	}
	row := p.row[:stride+1]
	row[0] = 0 // filter None
	for y := 0; y < h; y++ {
		src := pix[y*w : (y+1)*w]
		// Eight pixels to a byte, most significant bit first.
		x := 0
		for ; x+8 <= w; x += 8 {
			s := src[x : x+8 : x+8]
			var v byte
			for i, c := range s {
				if c != 0 {
					v |= 0x80 >> i
				}
			}
			row[1+x>>3] = v
		}
		if x < w {
			var v byte
			for i, c := range src[x:] {
				if c != 0 {
					v |= 0x80 >> i
				}
			}
			row[1+x>>3] = v
		}
		if _, err := p.zw.Write(row); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// encode returns pix (w×h grey bytes) as a PNG with channels 1 (grey) or 3
// (RGB, every channel equal to the grey value).
func (p *pngWriter) encode(pix []uint8, w, h, channels int) ([]byte, error) {
	colour := byte(0) // grey
	if channels == 3 {
		colour = 2 // truecolour
	}
	p.start(w, h, 8, colour)
	stride := w * channels
	if cap(p.row) < stride+1 {
		p.row = make([]byte, stride+1)
	}
	row := p.row[:stride+1]
	for y := 0; y < h; y++ {
		src := pix[y*w : (y+1)*w]
		row[0] = 1 // Sub: each byte minus the byte one pixel to the left
		if channels == 1 {
			row[1] = src[0]
			f := row[2 : w+1]
			for x := range f {
				f[x] = src[x+1] - src[x]
			}
		} else {
			// Every channel of a pixel is the same grey, so the Sub
			// difference of each channel is the grey difference.
			row[1], row[2], row[3] = src[0], src[0], src[0]
			f := row[4 : stride+1]
			for x := 1; x < w; x++ {
				d := src[x] - src[x-1]
				o := f[3*(x-1) : 3*x : 3*x]
				o[0], o[1], o[2] = d, d, d
			}
		}
		if _, err := p.zw.Write(row); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

func appendChunk(b []byte, name string, data []byte) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, name...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start+4:]))
}
