//go:build ignore

// make_fixture writes mura-fixture/: a tiny hand-made folder in MURA-v1.1's
// exact layout (both parts, both CSVs, one other body part, grey, RGB,
// RGBA, 16-bit and paletted PNGs). Run from preprocess/testdata:
//
//	go run make_fixture.go
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

type study struct {
	part, body, patient string
	k                   int
	positive            bool
	images              []string // per image its PNG kind
}

var studies = []study{
	{"train", "XR_HAND", "00001", 1, true, []string{"gray", "gray"}},
	{"train", "XR_HAND", "00001", 2, false, []string{"gray"}},
	{"train", "XR_HAND", "00002", 1, false, []string{"gray", "rgb", "gray16"}},
	{"train", "XR_HAND", "00003", 1, true, []string{"gray"}},
	{"train", "XR_HAND", "00004", 1, false, []string{"gray"}},
	{"train", "XR_HAND", "00005", 1, false, []string{"gray", "paletted"}},
	{"train", "XR_HAND", "00006", 1, true, []string{"gray", "rgb", "rgba"}},
	{"train", "XR_HAND", "00007", 1, false, []string{"gray"}},
	{"train", "XR_HAND", "00007", 2, false, []string{"gray", "gray"}},
	{"train", "XR_HAND", "00008", 1, false, []string{"gray"}},
	{"train", "XR_HAND", "00009", 1, true, []string{"rgb"}},
	{"train", "XR_HAND", "00009", 2, false, []string{"gray", "gray"}},
	{"train", "XR_HAND", "00010", 1, false, []string{"gray", "gray"}},
	{"train", "XR_HAND", "00011", 1, false, []string{"gray"}},
	{"train", "XR_WRIST", "00001", 1, false, []string{"gray"}},
	{"valid", "XR_HAND", "11185", 1, true, []string{"gray", "rgb"}},
	{"valid", "XR_HAND", "11186", 1, false, []string{"gray"}},
}

// pixel is a small ramp so each file has content: grey (x*9 + y*5) % 256.
func pixel(x, y int) uint8 { return uint8((x*9 + y*5) % 256) }

func makeImage(kind string, w, h int) image.Image {
	r := image.Rect(0, 0, w, h)
	switch kind {
	case "gray":
		m := image.NewGray(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetGray(x, y, color.Gray{pixel(x, y)})
			}
		}
		return m
	case "gray16":
		m := image.NewGray16(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := uint16(pixel(x, y))
				m.SetGray16(x, y, color.Gray16{v<<8 | v})
			}
		}
		return m
	case "rgb", "rgba":
		m := image.NewNRGBA(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := pixel(x, y)
				a := uint8(255)
				if kind == "rgba" && x == 0 {
					a = 254 // keeps the alpha channel in the file
				}
				m.SetNRGBA(x, y, color.NRGBA{v, v, v, a})
			}
		}
		return m
	case "paletted":
		pal := make(color.Palette, 256)
		for i := range pal {
			pal[i] = color.Gray{uint8(i)}
		}
		m := image.NewPaletted(r, pal)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetColorIndex(x, y, pixel(x, y))
			}
		}
		return m
	}
	panic(kind)
}

func main() {
	root := filepath.Join("mura-fixture", "MURA-v1.1")
	if err := os.RemoveAll("mura-fixture"); err != nil {
		panic(err)
	}
	paths := map[string]*strings.Builder{}
	labels := map[string]*strings.Builder{}
	for _, p := range []string{"train", "valid"} {
		paths[p], labels[p] = &strings.Builder{}, &strings.Builder{}
	}
	for si, s := range studies {
		suffix := "negative"
		label := 0
		if s.positive {
			suffix, label = "positive", 1
		}
		dir := fmt.Sprintf("%s/%s/patient%s/study%d_%s", s.part, s.body, s.patient, s.k, suffix)
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			panic(err)
		}
		fmt.Fprintf(labels[s.part], "MURA-v1.1/%s/,%d\n", dir, label)
		for i, kind := range s.images {
			rel := fmt.Sprintf("%s/image%d.png", dir, i+1)
			f, err := os.Create(filepath.Join(root, rel))
			if err != nil {
				panic(err)
			}
			if err := png.Encode(f, makeImage(kind, 12+si, 16+i)); err != nil {
				panic(err)
			}
			f.Close()
			fmt.Fprintf(paths[s.part], "MURA-v1.1/%s\n", rel)
		}
	}
	for _, p := range []string{"train", "valid"} {
		os.WriteFile(filepath.Join(root, p+"_image_paths.csv"), []byte(paths[p].String()), 0o644)
		os.WriteFile(filepath.Join(root, p+"_labeled_studies.csv"), []byte(labels[p].String()), 0o644)
	}
}
