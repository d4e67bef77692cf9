// xraylab preprocess: run the preprocessing pipeline over a MURA folder.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"xraylab/preprocess"
)

func cmdPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preprocess", flag.ContinueOnError)
	data := fs.String("data", "", "MURA-v1.1 folder to preprocess (required)")
	bodyPart := fs.String("body-part", "XR_HAND", "MURA body part folder")
	parts := fs.String("parts", "train", "comma-separated MURA folders: train, valid")
	variant := fs.String("variant", "full", "offline steps: raw, crop or full")
	he := fs.Bool("he", false, "histogram equalisation in the final inputs")
	clahe := fs.Bool("clahe", false, "with --he: CLAHE instead of global equalisation")
	size := fs.Int("size", 128, "side of the final model inputs in pixels")
	cache := fs.String("cache", filepath.Join("var", "cache"), "offline cache folder (\"\" = none)")
	sheet := fs.String("sheet", "contact.png", "contact sheet to write (\"\" = none)")
	rows := fs.Int("rows", 8, "images on the contact sheet")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab preprocess --data MURA_ROOT [--variant raw|crop|full] [--he] [--size PX] [--sheet FILE]")
		return errUsage
	}
	if *rows < 1 || *rows > 200 {
		return fmt.Errorf("--rows must be between 1 and 200, got %d", *rows)
	}
	if *size < 16 || *size > 1024 {
		return fmt.Errorf("--size must be between 16 and 1024 pixels (as a spec's image_size), got %d", *size)
	}
	pipe, err := preprocess.NewPipeline(preprocess.PipelineOptions{
		Variant: preprocess.Variant(*variant), HistEq: *he, CLAHE: *clahe, Size: *size, CacheDir: *cache,
	})
	if err != nil {
		return err
	}
	defer pipe.Close()
	ds, err := preprocess.LoadMURA(*data, preprocess.LoadOptions{BodyPart: *bodyPart, Parts: strings.Split(*parts, ",")})
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
	if *sheet != "" && len(items) > 0 {
		if err := preprocess.WriteContactSheet(*sheet, pipe, items[:min(*rows, len(items))], preprocess.ContactOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "contact sheet: %s\n", *sheet)
	}
	return nil
}
