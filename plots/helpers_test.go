package plots

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/")

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	return img
}

func rgb(c color.Color) (r, g, b int) {
	R, G, B, _ := c.RGBA()
	return int(R >> 8), int(G >> 8), int(B >> 8)
}

// near reports whether c is within tol of want in every channel.
func near(c color.Color, want color.Color, tol int) bool {
	r, g, b := rgb(c)
	wr, wg, wb := rgb(want)
	return abs(r-wr) <= tol && abs(g-wg) <= tol && abs(b-wb) <= tol
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// over is colour c laid with opacity a over white, as the renderer blends.
func over(c color.NRGBA, a float64) color.RGBA {
	f := func(v uint8) uint8 { return uint8(math.Round(float64(v)*a + 255*(1-a))) }
	return color.RGBA{f(c.R), f(c.G), f(c.B), 0xFF}
}

// dataToPixel maps a data point of p, rendered as a w×h PNG by Render, to
// its pixel. It lays the plot out exactly as Draw does, so it holds for any
// font metrics.
func dataToPixel(p *plot.Plot, w, h vg.Length) func(x, y float64) image.Point {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	dc := p.DataCanvas(draw.New(c))
	trX, trY := p.Transforms(&dc)
	H := c.Image().Bounds().Dy()
	return func(x, y float64) image.Point {
		return image.Pt(int(trX(x).Dots(DPI)), int(float64(H)-trY(y).Dots(DPI)))
	}
}

// checkGolden compares a rendered PNG with testdata/name tolerantly: the
// same size, and at most maxDiff of the pixels differing by more than 48 in
// some channel, so a new font version moves a few glyph pixels without
// failing while a changed layout, colour or missing element does fail.
// -update rewrites the golden.
func checkGolden(t *testing.T, name string, got []byte, maxDiff float64) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update to create it)", path, err)
	}
	g, w := decodePNG(t, got), decodePNG(t, want)
	if g.Bounds() != w.Bounds() {
		t.Fatalf("golden %s: size %v, want %v", name, g.Bounds().Size(), w.Bounds().Size())
	}
	diff, total := 0, 0
	b := g.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			total++
			if !near(g.At(x, y), w.At(x, y), 48) {
				diff++
			}
		}
	}
	if f := float64(diff) / float64(total); f > maxDiff {
		t.Errorf("golden %s: %.2f%% of pixels differ, allowed %.2f%%", name, 100*f, 100*maxDiff)
	}
}

// nonBlank fails unless img has at least min non-white pixels.
func nonBlank(t *testing.T, img image.Image, min int) {
	t.Helper()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bb := rgb(img.At(x, y)); r < 250 || g < 250 || bb < 250 {
				n++
			}
		}
	}
	if n < min {
		t.Errorf("image has %d non-white pixels, want ≥ %d", n, min)
	}
}

// svgText is one <text> element of an SVG: its style and content.
type svgText struct{ style, text string }

// svgTexts parses b as XML (failing on malformed output) and returns its
// text elements.
func svgTexts(t *testing.T, b []byte) []svgText {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var out []svgText
	var cur *svgText
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if tk.Name.Local == "text" {
				cur = &svgText{}
				for _, a := range tk.Attr {
					if a.Name.Local == "style" {
						cur.style = a.Value
					}
				}
			}
		case xml.CharData:
			if cur != nil {
				cur.text += string(tk)
			}
		case xml.EndElement:
			if tk.Name.Local == "text" && cur != nil {
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	if len(out) == 0 && !strings.Contains(string(b), "<svg") {
		t.Fatal("output is not an SVG")
	}
	return out
}

func hasText(ts []svgText, s string) bool {
	for _, x := range ts {
		if x.text == s {
			return true
		}
	}
	return false
}

// wantErr checks that err is an ErrInvalid with exactly the message want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %q\nwant %q", err.Error(), want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %q does not wrap ErrInvalid", err)
	}
}
