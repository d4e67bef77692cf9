package synth

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// contactTile describes one tile of the contact sheet.
type contactTile struct {
	caption string
	job     imageJob
}

func contactTiles() []contactTile {
	d := difficulties["medium"]
	spec := func(kind, sub, site string, t float64) *anomalySpec {
		return &anomalySpec{Kind: kind, Sub: sub, Site: site, T: t, Side: 1, Diff: d}
	}
	fr := spec(KindFracture, "", "ring-metacarpal", 0.55)
	fr.Angle = 0.3
	frd := spec(KindFracture, "", "index-proximal", 0.5)
	frd.Angle = -0.2
	frd.Displace = 0.45
	frr := spec(KindFracture, "", "radius", 0.4)
	frr.Angle = 0.2
	var tiles []contactTile
	job := func(seed int64, a *anomalySpec) imageJob {
		j := imageJob{Seed: mix64(seed, 7), PatientSeed: mix64(seed, 9), Size: 512, Anomaly: a}
		if a != nil {
			j.Label = 1
		}
		return j
	}
	for i, s := range []int64{1, 2, 3, 4, 5} {
		tiles = append(tiles, contactTile{"NORMAL", job(s*101+int64(i), nil)})
	}
	tiles = append(tiles,
		contactTile{"PIN", job(11, spec(KindHardware, "pin", "middle-proximal", 0.5))},
		contactTile{"SCREW", job(12, spec(KindHardware, "screw", "index-metacarpal", 0.5))},
		contactTile{"PLATE", job(13, spec(KindHardware, "plate", "ring-metacarpal", 0.5))},
		contactTile{"FRACTURE", job(14, fr)},
		contactTile{"FRACTURE", job(15, frd)},
		contactTile{"FRACTURE", job(16, frr)},
		contactTile{"LESION", job(17, spec(KindLesion, "lucent", "middle-proximal", 0.5))},
		contactTile{"LESION", job(18, spec(KindLesion, "sclerotic", "ring-metacarpal", 0.45))},
		contactTile{"SWELLING", job(19, spec(KindSwelling, "", "middle-proximal-joint", 0.5))},
		contactTile{"SWELLING", job(20, spec(KindSwelling, "", "wrist-ulnar", 0.5))},
	)
	return tiles
}

// TestWriteContactSheet regenerates docs/synthetic-examples.png:
//
//	XRAYLAB_CONTACT_SHEET=1 go test ./preprocess/synth/ -run TestWriteContactSheet
func TestWriteContactSheet(t *testing.T) {
	if os.Getenv("XRAYLAB_CONTACT_SHEET") == "" {
		t.Skip("set XRAYLAB_CONTACT_SHEET=1 to regenerate docs/synthetic-examples.png")
	}
	const tileH, cols, pad = 300, 5, 6
	tiles := contactTiles()
	rows := (len(tiles) + cols - 1) / cols
	tileW := tileH
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(tileW+pad)+pad, rows*(tileH+pad)+pad))
	for i := range sheet.Pix {
		sheet.Pix[i] = 255
	}
	sc := &synthScratch{}
	for n, tl := range tiles {
		out := sc.render(tl.job)
		ox, oy := pad+(n%cols)*(tileW+pad), pad+(n/cols)*(tileH+pad)
		// Fit the image into the tile (box average), keeping its aspect.
		scale := float64(max(out.W, out.H)) / float64(tileH)
		tw, th := int(float64(out.W)/scale), int(float64(out.H)/scale)
		x0, y0 := ox+(tileW-tw)/2, oy+(tileH-th)/2
		for y := oy; y < oy+tileH; y++ {
			for x := ox; x < ox+tileW; x++ {
				sheet.Set(x, y, color.RGBA{0, 0, 0, 255})
			}
		}
		small := make([]uint8, tw*th)
		mask := make([]bool, tw*th)
		for y := 0; y < th; y++ {
			for x := 0; x < tw; x++ {
				sx0, sy0 := int(float64(x)*scale), int(float64(y)*scale)
				sx1, sy1 := max(int(float64(x+1)*scale), sx0+1), max(int(float64(y+1)*scale), sy0+1)
				sum, cnt := 0, 0
				for sy := sy0; sy < min(sy1, out.H); sy++ {
					for sx := sx0; sx < min(sx1, out.W); sx++ {
						sum += int(out.Gray[sy*out.W+sx])
						cnt++
						if out.Anom[sy*out.W+sx] != 0 {
							mask[y*tw+x] = true
						}
					}
				}
				small[y*tw+x] = uint8(sum / max(cnt, 1))
			}
		}
		for y := 0; y < th; y++ {
			for x := 0; x < tw; x++ {
				v := small[y*tw+x]
				c := color.RGBA{v, v, v, 255}
				if mask[y*tw+x] && (x == 0 || y == 0 || x == tw-1 || y == th-1 ||
					!mask[y*tw+x-1] || !mask[y*tw+x+1] || !mask[(y-1)*tw+x] || !mask[(y+1)*tw+x]) {
					c = color.RGBA{255, 0, 0, 255}
				}
				sheet.Set(x0+x, y0+y, c)
			}
		}
		drawCaption(sheet, ox+4, oy+4, tl.caption, 2, color.RGBA{255, 220, 0, 255})
	}
	path := filepath.Join("..", "..", "docs", "synthetic-examples.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, sheet); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func drawCaption(img *image.RGBA, x, y int, s string, cell int, c color.RGBA) {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' {
			ch -= 32
		}
		for row := 0; row < 7; row++ {
			for col := 0; col < 5; col++ {
				if !glyphSet(ch, col, row) && !captionGlyph(ch, col, row) {
					continue
				}
				for dy := 0; dy < cell; dy++ {
					for dx := 0; dx < cell; dx++ {
						img.Set(x+i*6*cell+col*cell+dx, y+row*cell+dy, c)
					}
				}
			}
		}
	}
}

// captionGlyph adds the letters captions need beyond the marker font.
func captionGlyph(ch byte, col, row int) bool {
	extra := map[byte][7]string{
		'M': {"#...#", "##.##", "#.#.#", "#...#", "#...#", "#...#", "#...#"},
		'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
		'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
		'C': {".####", "#....", "#....", "#....", "#....", "#....", ".####"},
		'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "##.##", "#...#"},
		'G': {".####", "#....", "#....", "#.###", "#...#", "#...#", ".###."},
		'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
		'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	}
	g, ok := extra[ch]
	return ok && g[row][col] == '#'
}
