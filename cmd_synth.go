// xraylab synth: write a synthetic data set in MURA's layout.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"xraylab/preprocess/synth"
)

func cmdSynth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	out := fs.String("out", "", "folder to write MURA-v1.1/ and its ground truth into (required)")
	patients := fs.Int("patients", 200, "number of patients")
	size := fs.Int("size", 512, "longer image side in pixels")
	seed := fs.Int64("seed", 1, "random seed: the same seed writes the same files")
	difficulty := fs.String("difficulty", "medium", "anomaly size and contrast: easy, medium or hard")
	workers := fs.Int("workers", 0, "goroutines drawing images (0 = one per core)")
	film := fs.Bool("film", false, "film-like radiographs: graded backgrounds, collimation fields, scan borders, markers, wedges, low contrast; subtler anomalies")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: xraylab synth --out DIR [--patients N] [--size PX] [--seed S] [--difficulty easy|medium|hard] [--film]")
		return errUsage
	}
	if *workers < 0 || *workers > 256 {
		return fmt.Errorf("--workers must be between 0 (one per core) and 256, got %d", *workers)
	}
	start := time.Now()
	rep, err := synth.Generate(context.Background(), synth.Options{
		Out: *out, Patients: *patients, Size: *size, Seed: *seed, Difficulty: *difficulty, Workers: *workers, Film: *film,
	}, progressBar(stderr, "synth"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d images of %d patients to %s in %s\n", rep.Images, *patients,
		filepath.Join(*out, "MURA-v1.1"), time.Since(start).Round(time.Millisecond))
	return nil
}

// progressBar prints "label: done/total" on one line, at most 10 times a second.
func progressBar(w io.Writer, label string) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r%s: %d/%d", label, done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
