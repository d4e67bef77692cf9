package preprocess

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// tinyPNG is a valid 4×4 grey PNG.
func tinyPNG(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 16)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustWrite(t testing.TB, p string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoadMURACSV loads a fixed three-image tree with arbitrary
// train_image_paths.csv and train_labeled_studies.csv (empty = absent).
// LoadMURA must not panic; an error must name the CSV it comes from; a
// success must return the folder's records with the folder's labels.
func FuzzLoadMURACSV(f *testing.F) {
	root := filepath.Join(f.TempDir(), "MURA-v1.1")
	pngData := tinyPNG(f)
	for _, rel := range []string{
		"train/XR_HAND/patient00001/study1_positive/image1.png",
		"train/XR_HAND/patient00002/study1_negative/image1.png",
		"train/XR_WRIST/patient00003/study1_negative/image1.png",
	} {
		mustWrite(f, filepath.Join(root, rel), pngData)
	}
	f.Add([]byte("MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image1.png\nMURA-v1.1/train/XR_HAND/patient00002/study1_negative/image1.png\nMURA-v1.1/train/XR_WRIST/patient00003/study1_negative/image1.png\n"),
		[]byte("MURA-v1.1/train/XR_HAND/patient00001/study1_positive/,1\nMURA-v1.1/train/XR_HAND/patient00002/study1_negative/,0\n"))
	f.Fuzz(func(t *testing.T, images, studies []byte) {
		for name, data := range map[string][]byte{"train_image_paths.csv": images, "train_labeled_studies.csv": studies} {
			p := filepath.Join(root, name)
			os.Remove(p)
			if len(data) > 0 {
				mustWrite(t, p, data)
			}
		}
		ds, err := LoadMURA(root, LoadOptions{})
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "_image_paths.csv") && !strings.Contains(msg, "_labeled_studies.csv") {
				t.Fatalf("error does not name the CSV: %v", err)
			}
			return
		}
		if len(ds.Records) != 2 || ds.Records[0].Label != 1 || ds.Records[1].Label != 0 ||
			ds.Records[0].Patient != "00001" || ds.Records[1].Patient != "00002" {
			t.Fatalf("records %+v", ds.Records)
		}
	})
}

// FuzzLoadMURAPaths loads a tree holding one image under arbitrary
// patient, study and image names. LoadMURA must not panic; an error must
// name the path; a record must carry what its path says.
func FuzzLoadMURAPaths(f *testing.F) {
	base := f.TempDir()
	pngData := tinyPNG(f)
	var n atomic.Int64
	f.Add("patient00001", "study1_positive", "image1.png")
	f.Add("patient0001", "study1_positive", "image1.png")
	f.Add("patient00001", "study1", "image1.png")
	f.Add("patient00001", "study2_negative", "image12.PNG")
	f.Fuzz(func(t *testing.T, patient, study, img string) {
		for _, name := range []string{patient, study, img} {
			if name == "" || name == "." || name == ".." || len(name) > 200 || strings.ContainsAny(name, "/\x00") {
				t.Skip("not a file name")
			}
		}
		root := filepath.Join(base, fmt.Sprint(n.Add(1)), "MURA-v1.1")
		defer os.RemoveAll(filepath.Dir(root))
		mustWrite(t, filepath.Join(root, "train", "XR_HAND", patient, study, img), pngData)
		ds, err := LoadMURA(root, LoadOptions{})
		if err != nil {
			if !strings.Contains(err.Error(), root) {
				t.Fatalf("error does not name the path: %v", err)
			}
			return
		}
		if len(ds.Records) != 1 {
			t.Fatalf("%d records for one image", len(ds.Records))
		}
		r := ds.Records[0]
		wantLabel := 0
		if strings.HasSuffix(study, "_positive") {
			wantLabel = 1
		}
		view, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(img, "image"), ".png"))
		if r.RelPath != "train/XR_HAND/"+patient+"/"+study+"/"+img || "patient"+r.Patient != patient || r.Label != wantLabel ||
			err != nil || r.View != view {
			t.Fatalf("record %+v from %s/%s/%s", r, patient, study, img)
		}
	})
}

// TestWritePreprocessFuzzCorpus regenerates the seed corpora under
// testdata/fuzz when XRAYLAB_WRITE_CORPUS=1.
func TestWritePreprocessFuzzCorpus(t *testing.T) {
	if os.Getenv("XRAYLAB_WRITE_CORPUS") != "1" {
		t.Skip("set XRAYLAB_WRITE_CORPUS=1 to rewrite the seed corpora")
	}
	write := func(fuzz, name string, values ...any) {
		text := "go test fuzz v1\n"
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				text += "[]byte(" + strconv.Quote(string(v)) + ")\n"
			case string:
				text += "string(" + strconv.Quote(v) + ")\n"
			}
		}
		mustWrite(t, filepath.Join("testdata", "fuzz", fuzz, name), []byte(text))
	}
	const (
		h1 = "MURA-v1.1/train/XR_HAND/patient00001/study1_positive/image1.png"
		h2 = "MURA-v1.1/train/XR_HAND/patient00002/study1_negative/image1.png"
		w3 = "MURA-v1.1/train/XR_WRIST/patient00003/study1_negative/image1.png"
		s1 = "MURA-v1.1/train/XR_HAND/patient00001/study1_positive/,1"
		s2 = "MURA-v1.1/train/XR_HAND/patient00002/study1_negative/,0"
	)
	csvs := map[string][2]string{
		"valid":             {h1 + "\n" + h2 + "\n" + w3 + "\n", s1 + "\n" + s2 + "\n"},
		"crlf-blank-lines":  {"\r\n" + h1 + "\r\n\r\n" + h2 + "\r\n", s1 + "\r\n" + s2},
		"renamed-root":      {strings.ReplaceAll(h1+"\n"+h2, "MURA-v1.1", "x"), ""},
		"missing-image":     {h1 + "\n", ""},
		"extra-image":       {h1 + "\n" + h2 + "\n" + strings.Replace(h2, "image1", "image2", 1), ""},
		"valid-part":        {strings.Replace(h1, "train", "valid", 1), ""},
		"no-slash":          {"image1.png", ""},
		"bad-label":         {"", s1 + "\n" + strings.Replace(s2, ",0", ",2", 1)},
		"label-disagrees":   {"", strings.Replace(s1, ",1", ",0", 1) + "\n" + s2},
		"no-comma":          {"", strings.Replace(s1, ",", ";", 1)},
		"unlisted-study":    {"", s1},
		"bom-and-spaces":    {"\ufeff" + h1 + "\n" + h2, "  " + s1 + " \n\t" + s2 + "\t"},
		"dotdot":            {"MURA-v1.1/train/XR_HAND/../XR_HAND/patient00001/study1_positive/image1.png\n" + h2, ""},
		"long-line":         {strings.Repeat("a", 70000), ""},
		"label-with-spaces": {"", "MURA-v1.1/train/XR_HAND/patient00001/study1_positive/ , 1 \n" + s2},
	}
	for name, c := range csvs {
		write("FuzzLoadMURACSV", name, []byte(c[0]), []byte(c[1]))
	}
	paths := map[string][3]string{
		"valid":          {"patient00001", "study1_positive", "image1.png"},
		"negative":       {"patient99999", "study12_negative", "image3.png"},
		"four-digits":    {"patient0001", "study1_positive", "image1.png"},
		"six-digits":     {"patient000001", "study1_positive", "image1.png"},
		"no-label":       {"patient00001", "study1", "image1.png"},
		"other-label":    {"patient00001", "study1_unknown", "image1.png"},
		"hidden-image":   {"patient00001", "study1_positive", ".image1.png"},
		"hidden-patient": {".patient00001", "study1_positive", "image1.png"},
		"upper-case":     {"patient00001", "study1_positive", "IMAGE1.PNG"},
		"leading-zeros":  {"patient00001", "study001_negative", "image007.png"},
		"backup-file":    {"patient00001", "study1_positive", "image1.png.bak"},
		"unicode":        {"patient\u0661\u0662\u0663\u0664\u0665", "study1_positive", "image1.png"},
		"trailing-space": {"patient00001 ", "study1_positive", "image1.png"},
		"huge-view":      {"patient00001", "study1_positive", "image99999999999999999999.png"},
		"newline":        {"patient00001\n", "study1_positive", "image1.png"},
	}
	for name, p := range paths {
		write("FuzzLoadMURAPaths", name, p[0], p[1], p[2])
	}
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	grey := tinyGradient(16, 12)
	g16 := image.NewGray16(image.Rect(0, 0, 12, 12))
	for i := range g16.Pix {
		g16.Pix[i] = byte(i * 13)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 10, 9))
	for i := range rgba.Pix {
		rgba.Pix[i] = byte(i * 5)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 9), color.Palette{color.Gray{0}, color.Gray{128}, color.Gray{255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, grey, nil); err != nil {
		t.Fatal(err)
	}
	good := enc(grey)
	// A valid IHDR (with its CRC) declaring 65535×65535 pixels: a few
	// bytes that would make a decoder allocate gigabytes.
	huge := append([]byte{}, good[:33]...)
	binary.BigEndian.PutUint32(huge[16:], 65535)
	binary.BigEndian.PutUint32(huge[20:], 65535)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	huge = append(huge, good[33:]...)
	images := map[string][]byte{
		"grey8":     good,
		"grey16":    enc(g16),
		"rgba":      enc(rgba),
		"paletted":  enc(pal),
		"jpeg":      jpg.Bytes(),
		"truncated": good[:len(good)-12],
		"blank":     enc(image.NewGray(image.Rect(0, 0, 16, 16))),
		"tiny":      enc(tinyGradient(2, 2)),
		"bmp-head":  []byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x10\x00\x00\x00\x10\x00\x00\x00\x01\x00\x08\x00"),
		"pnm":       []byte("P5\n8 8\n255\n" + strings.Repeat("\x10\x80", 32)),
		"garbage":   []byte("not an image at all"),
		"empty":     nil,
		"huge-ihdr": huge,
	}
	for name, data := range images {
		write("FuzzDecodeImage", name, data)
	}
}
