package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"xraylab/experiments"
)

// artifactKindsExported are the artifacts copied into a bundle; checkpoints
// are large and not needed to check a figure.
var artifactKindsExported = map[string]bool{"scores": true, "plot": true, "example": true, "ensemble": true}

// Export writes experiment id as a bundle into dir, which must not exist or
// be empty. artifactsDir is where runs keep their files (<dir>/<run id>/).
func Export(ctx context.Context, store experiments.Store, artifactsDir string, id int64, dir string) (*experiments.Bundle, error) {
	e, err := store.GetExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, experiments.Errorf(experiments.CodeConflict, "bundle folder %s is not empty", dir)
	}
	runs, _, err := store.ListRuns(ctx, experiments.RunFilter{ExperimentID: id})
	if err != nil {
		return nil, err
	}
	b := &experiments.Bundle{Format: experiments.BundleFormat, Exported: time.Now().UTC(), ExportedBy: experiments.BinaryVersion(), Experiment: e}
	for _, r := range runs {
		spec, err := experiments.DecodeRunSpec(r.Params)
		if err != nil {
			return nil, err
		}
		br := &experiments.BundleRun{Run: r, Spec: spec}
		points, err := store.Metrics(ctx, r.ID, "")
		if err != nil {
			return nil, err
		}
		if len(points) > 0 {
			br.Series = map[string][]experiments.MetricPoint{}
			for _, p := range points {
				br.Series[p.Key] = append(br.Series[p.Key], p)
			}
		}
		arts, err := store.Artifacts(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range arts {
			if !artifactKindsExported[a.Kind] {
				continue
			}
			rel := filepath.Join("runs", strconv.FormatInt(r.ID, 10), a.Name)
			src := filepath.Join(artifactsDir, strconv.FormatInt(r.ID, 10), a.Name)
			if err := copyFile(src, filepath.Join(dir, rel)); err != nil {
				return nil, fmt.Errorf("export artifact %s of run %d: %w", a.Name, r.ID, err)
			}
			br.Files = append(br.Files, filepath.ToSlash(rel))
		}
		b.Runs = append(b.Runs, br)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(e.SpecText), 0o644); err != nil {
		return nil, err
	}
	html, err := NewReports(store, artifactsDir).HTML(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), html, 0o644); err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.json"), raw, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// LoadBundle reads a bundle folder written by Export.
func LoadBundle(dir string) (*experiments.Bundle, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "bundle.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, experiments.Errorf(experiments.CodeInvalid, "%s is not an xraylab bundle: it has no bundle.json", dir)
	}
	if err != nil {
		return nil, err
	}
	var b experiments.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, experiments.Errorf(experiments.CodeInvalid, "%s: bundle.json is not valid JSON: %v", dir, err)
	}
	if b.Format != experiments.BundleFormat {
		return nil, experiments.Errorf(experiments.CodeInvalid, "%s: bundle format %q; this binary reads %q", dir, b.Format, experiments.BundleFormat)
	}
	if b.Experiment == nil || len(b.Runs) == 0 {
		return nil, experiments.Errorf(experiments.CodeInvalid, "%s: bundle.json holds no experiment or no runs", dir)
	}
	return &b, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
