// xraylab preprocess: run the preprocessing pipeline over a MURA folder.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"xraylab/preprocess"
)

func cmdPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preprocess", flag.ContinueOnError)
	data := fs.String("data", "", "MURA-v1.1 folder to preprocess (required)")
	bodyPart := fs.String("body-part", "XR_HAND", "MURA body part folders, comma-separated, or all")
	parts := fs.String("parts", "train", "comma-separated MURA folders: train, valid")
	variant := fs.String("variant", "full", "offline steps: raw, crop or full")
	he := fs.Bool("he", false, "histogram equalisation in the final inputs")
	clahe := fs.Bool("clahe", false, "with --he: CLAHE instead of global equalisation")
	size := fs.Int("size", 128, "side of the final model inputs in pixels")
	cache := fs.String("cache", filepath.Join("var", "cache"), "offline cache folder (\"\" = none)")
	sheet := fs.String("sheet", "contact.png", "contact sheet to write (\"\" = none)")
	rows := fs.Int("rows", 8, "images on the contact sheet")
	out := fs.String("out", "", "write per image its mask (source pixels), JSON record and model inputs under DIR")
	truth := fs.String("truth", "", "compare the masks with reference masks *_hand.png under DIR (same layout) or beside the images")
	truthJSON := fs.String("truth-json", "", "with --truth: write the comparison here (default DIR/truth.json with --out, else truth.json)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab preprocess --data MURA_ROOT [--body-part XR_HAND,XR_FINGER|all] [--variant raw|crop|full] [--he] [--size PX] [--sheet FILE] [--out DIR] [--truth DIR]")
		return errUsage
	}
	if *rows < 1 || *rows > 200 {
		return fmt.Errorf("--rows must be between 1 and 200, got %d", *rows)
	}
	if *size < 16 || *size > 1024 {
		return fmt.Errorf("--size must be between 16 and 1024 pixels (as a spec's image_size), got %d", *size)
	}
	bodyParts, err := parseBodyParts(*bodyPart)
	if err != nil {
		return err
	}
	if *out != "" {
		if st, err := os.Stat(*out); err == nil && !st.IsDir() {
			return fmt.Errorf("--out %s: not a folder", *out)
		}
	}
	if *truth != "" {
		if preprocess.Variant(*variant) != preprocess.VariantFull {
			return fmt.Errorf("--truth compares foreground masks: it needs --variant full, got %q", *variant)
		}
		if st, err := os.Stat(*truth); err != nil || !st.IsDir() {
			return fmt.Errorf("--truth %s: no such folder", *truth)
		}
	} else if *truthJSON != "" {
		return errors.New("--truth-json needs --truth DIR")
	}
	pipe, err := preprocess.NewPipeline(preprocess.PipelineOptions{
		Variant: preprocess.Variant(*variant), HistEq: *he, CLAHE: *clahe, Size: *size, CacheDir: *cache,
	})
	if err != nil {
		return err
	}
	defer pipe.Close()
	ds, err := preprocess.LoadMURABodyParts(*data, bodyParts, preprocess.LoadOptions{Parts: strings.Split(*parts, ",")})
	if err != nil {
		return err
	}
	start := time.Now()
	items, rep, err := pipe.Prepare(context.Background(), ds.Records, progressBar(stderr, "preprocess"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d images -> %d items in %s: %d skipped, %d carrier crops fell back, %d two-hand splits, cache %d hits / %d misses\n",
		rep.Images, rep.Items, time.Since(start).Round(time.Millisecond), rep.Skipped, rep.FellBack, rep.TwoHandSplits, rep.CacheHits, rep.CacheMisses)
	for _, s := range append(ds.Skipped, rep.Skips...) {
		fmt.Fprintf(stdout, "  skipped %s: %s\n", s.Path, s.Reason)
	}
	if *out != "" || *truth != "" {
		if err := writeImageResults(stdout, pipe, ds, items, rep, *out, *truth, *truthJSON); err != nil {
			return err
		}
	}
	if *sheet != "" && len(items) > 0 {
		if err := preprocess.WriteContactSheet(*sheet, pipe, items[:min(*rows, len(items))], preprocess.ContactOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "contact sheet: %s\n", *sheet)
	}
	return nil
}

// parseBodyParts reads --body-part: "all" (nil: every body part present) or
// a comma-separated list of MURA's body parts.
func parseBodyParts(v string) ([]string, error) {
	if v == "all" {
		return nil, nil
	}
	var out []string
	for _, bp := range strings.Split(v, ",") {
		bp = strings.TrimSpace(bp)
		known := false
		for _, k := range preprocess.BodyParts {
			known = known || bp == k
		}
		if !known {
			return nil, fmt.Errorf("--body-part %q: want all or a comma-separated list of %s", bp, strings.Join(preprocess.BodyParts, ","))
		}
		for _, seen := range out {
			if seen == bp {
				return nil, fmt.Errorf("--body-part lists %s twice", bp)
			}
		}
		out = append(out, bp)
	}
	return out, nil
}

// imageRecord is the JSON written beside each mask under --out.
type imageRecord struct {
	preprocess.ImageResult
	MaskFile string   `json:"mask_file,omitempty"` // relative to the --out folder
	Inputs   []string `json:"inputs"`              // model inputs (Size×Size PNGs), one per hand
	IoU      *float64 `json:"iou,omitempty"`       // with --truth
	Dice     *float64 `json:"dice,omitempty"`
}

// writeImageResults writes, per source image, its mask, JSON record and
// model inputs under out (when set) and compares the masks with reference
// masks (when truth is set), printing the table and writing it as JSON.
func writeImageResults(stdout io.Writer, pipe *preprocess.Pipeline, ds *preprocess.Dataset, items []preprocess.Item, rep *preprocess.PrepareReport, out, truth, truthJSON string) error {
	byPath := map[string][]preprocess.Item{}
	for _, it := range items {
		byPath[it.Record.Path] = append(byPath[it.Record.Path], it)
	}
	var tr preprocess.TruthReport
	err := pipe.ForEachImage(ds.Records, items, rep, func(rec preprocess.Record, res preprocess.ImageResult, mask *image.Gray) error {
		r := imageRecord{ImageResult: res, Inputs: []string{}}
		if truth != "" {
			n := len(tr.Images)
			if err := tr.Add(res, mask, preprocess.ReferencePath(rec, truth)); err != nil {
				return fmt.Errorf("%s: %w", rec.RelPath, err)
			}
			if len(tr.Images) > n {
				s := tr.Images[n]
				r.IoU, r.Dice = &s.IoU, &s.Dice
			}
		}
		if out == "" {
			return nil
		}
		base := strings.TrimSuffix(filepath.FromSlash(rec.RelPath), ".png")
		if err := os.MkdirAll(filepath.Join(out, filepath.Dir(base)), 0o755); err != nil {
			return err
		}
		if mask != nil {
			r.MaskFile = base + "_hand.png"
			if err := writePNG(filepath.Join(out, r.MaskFile), mask); err != nil {
				return err
			}
		}
		for _, it := range byPath[rec.Path] {
			s, err := pipe.Load(it, preprocess.AugmentNone, 0)
			if err != nil {
				return err
			}
			name := base + "_input.png"
			if it.Record.Half > 0 {
				name = fmt.Sprintf("%s_input%d.png", base, it.Record.Half)
			}
			side := int(math.Sqrt(float64(len(s.Image))))
			g := image.NewGray(image.Rect(0, 0, side, side))
			for i, v := range s.Image {
				g.Pix[i] = uint8(math.Round(float64(v) * 255))
			}
			if err := writePNG(filepath.Join(out, name), g); err != nil {
				return err
			}
			r.Inputs = append(r.Inputs, filepath.ToSlash(name))
		}
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, base+".json"), append(b, '\n'), 0o644)
	})
	if err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(stdout, "masks, records and inputs: %s\n", out)
	}
	if truth == "" {
		return nil
	}
	if len(tr.Images) == 0 {
		return fmt.Errorf("--truth: no reference masks (*_hand.png) found under %s or beside the images", truth)
	}
	fmt.Fprintf(stdout, "%-60s %6s %6s\n", "image", "IoU", "Dice")
	for _, s := range tr.Images {
		note := ""
		if s.Skip != "" {
			note = "  skipped: " + s.Skip
		}
		fmt.Fprintf(stdout, "%-60s %6.3f %6.3f%s\n", s.RelPath, s.IoU, s.Dice, note)
	}
	fmt.Fprintf(stdout, "%-60s %6.3f %6.3f\n", fmt.Sprintf("mean (%d images)", len(tr.Images)), tr.MeanIoU, tr.MeanDice)
	fmt.Fprintf(stdout, "%-60s %6.3f %6.3f\n", "min", tr.MinIoU, tr.MinDice)
	if len(tr.NoReference) > 0 {
		fmt.Fprintf(stdout, "%d images have no reference mask and are left out\n", len(tr.NoReference))
	}
	if truthJSON == "" {
		truthJSON = "truth.json"
		if out != "" {
			truthJSON = filepath.Join(out, "truth.json")
		}
	}
	b, err := json.MarshalIndent(tr, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(truthJSON, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "comparison: %s\n", truthJSON)
	return nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
