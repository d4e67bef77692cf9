package preprocess

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// pngWriter writes 8-bit grey or RGB PNGs with the Sub filter on every
// row. image/png tries all five filters per row, which made PNG encoding
// the largest cost of the generator; one cheap filter suits these smooth,
// noisy images nearly as well. Files are standard PNGs that image/png and
// OpenCV read.
type pngWriter struct {
	zbuf chunkBuffer
	zw   *zlib.Writer
	row  []byte
	prev []byte
}

type chunkBuffer struct{ b []byte }

func (c *chunkBuffer) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }

var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// encodeMask writes a 0/255 mask as a 1-bit greyscale PNG, which decoders
// return as grey 0 and 255; filtering is pointless for 1-bit rows.
func (p *pngWriter) encodeMask(out io.Writer, pix []uint8, w, h int) error {
	bw := bufio.NewWriterSize(out, 1<<14)
	bw.Write(pngSignature)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 1 // bit depth
	writeChunk(bw, "IHDR", ihdr[:])
	p.resetZ()
	stride := (w + 7) / 8
	row := make([]byte, stride+1)
	for y := 0; y < h; y++ {
		clear(row)
		for x, v := range pix[y*w : (y+1)*w] {
			if v != 0 {
				row[1+x>>3] |= 0x80 >> (x & 7)
			}
		}
		if _, err := p.zw.Write(row); err != nil {
			return err
		}
	}
	if err := p.zw.Close(); err != nil {
		return err
	}
	writeChunk(bw, "IDAT", p.zbuf.b)
	writeChunk(bw, "IEND", nil)
	return bw.Flush()
}

func (p *pngWriter) resetZ() {
	p.zbuf.b = p.zbuf.b[:0]
	if p.zw == nil {
		p.zw, _ = zlib.NewWriterLevel(&p.zbuf, zlib.BestSpeed)
	} else {
		p.zw.Reset(&p.zbuf)
	}
}

// encode writes pix (w×h grey bytes) as a PNG with channels 1 (grey) or 3
// (RGB, every channel equal to the grey value).
func (p *pngWriter) encode(out io.Writer, pix []uint8, w, h, channels int) error {
	bw := bufio.NewWriterSize(out, 1<<16)
	bw.Write(pngSignature)
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 8 // bit depth
	ihdr[9] = 0 // grey
	if channels == 3 {
		ihdr[9] = 2 // truecolour
	}
	writeChunk(bw, "IHDR", ihdr[:])

	p.resetZ()
	stride := w * channels
	if cap(p.row) < stride+1 {
		p.row = make([]byte, stride+1)
		p.prev = make([]byte, stride)
	}
	row, line := p.row[:stride+1], p.prev[:stride]
	row[0] = 1 // Sub: each byte minus the byte one pixel to the left
	for y := 0; y < h; y++ {
		src := pix[y*w : (y+1)*w]
		if channels == 1 {
			copy(line, src)
		} else {
			for x, v := range src {
				line[3*x], line[3*x+1], line[3*x+2] = v, v, v
			}
		}
		for i := 0; i < channels; i++ {
			row[1+i] = line[i]
		}
		for i := channels; i < stride; i++ {
			row[1+i] = line[i] - line[i-channels]
		}
		if _, err := p.zw.Write(row); err != nil {
			return err
		}
	}
	if err := p.zw.Close(); err != nil {
		return err
	}
	writeChunk(bw, "IDAT", p.zbuf.b)
	writeChunk(bw, "IEND", nil)
	return bw.Flush()
}

func writeChunk(w io.Writer, name string, data []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], name)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	w.Write(hdr[:])
	w.Write(data)
	w.Write(tail[:])
}
