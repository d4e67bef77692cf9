// xraylab score: score new images with a run's checkpoint.

package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"xraylab/experiments/local"
	"xraylab/plots"
)

func cmdScore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	checkpoint := fs.String("checkpoint", "", "a run's checkpoint.bin (var/artifacts/<run>/checkpoint.bin)")
	out := fs.String("out", "", "folder for heatmap PNGs (\"\" = none)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *checkpoint == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: xraylab score --checkpoint FILE [--out DIR] IMAGE...")
		return errUsage
	}
	h, scores, err := local.ScoreFiles(context.Background(), *checkpoint, fs.Args())
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "scored with %s of run %d (epoch %d, %s)\n", h.Model, h.RunID, h.Epoch, h.Spec.Label())
	names := local.ScoreNames(scores)
	w := csv.NewWriter(stdout)
	w.Write(append([]string{"path", "half"}, append(names, "skipped")...))
	for _, f := range scores {
		row := []string{f.Path, strconv.Itoa(f.Half)}
		for _, n := range names {
			v, ok := f.Scores[n]
			if !ok {
				row = append(row, "")
				continue
			}
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.Write(append(row, f.Skipped))
		if (f.Heatmap == nil && len(f.Heatmaps) == 0) || *out == "" {
			continue
		}
		// Name heatmaps after the file and its two parent folders, since
		// MURA names every study's images image1.png, image2.png, ...
		parts := strings.Split(filepath.ToSlash(filepath.Clean(f.Path)), "/")
		name := strings.TrimSuffix(strings.Join(parts[max(0, len(parts)-3):], "_"), filepath.Ext(f.Path))
		if f.Half > 0 {
			name += fmt.Sprintf("-hand%d", f.Half)
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		// the anomaly map as NAME-heatmap.png, a GAN's saliency maps as
		// NAME-d_grad-heatmap.png and NAME-d_gradx-heatmap.png
		files := map[string]image.Image{}
		if f.Heatmap != nil {
			files[name+"-heatmap.png"] = f.Heatmap
		}
		for m, img := range f.Heatmaps {
			files[name+"-"+m+"-heatmap.png"] = img
		}
		for file, img := range files {
			b, err := plots.EncodePNG(img)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(*out, file), b, 0o644); err != nil {
				return err
			}
		}
	}
	w.Flush()
	return w.Error()
}
