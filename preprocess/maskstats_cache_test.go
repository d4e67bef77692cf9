package preprocess

import (
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// MeasureMasks gives ForEachImage's statistics and masks; with a cache
// dir a rerun reads every image's statistics from its cache entry (it
// still works with the masks deleted), and a stale entry is measured
// again and rewritten.
func TestMeasureMasksCachesStatistics(t *testing.T) {
	recs := synthRecords(t, 4, 128, "medium", 3)
	dir := t.TempDir()
	p := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 32, CacheDir: dir})
	items, rep, err := p.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		res  ImageResult
		mask *image.Gray
	}
	var ref []want
	withMask := 0
	if err := p.ForEachImage(recs, items, rep, func(_ Record, res ImageResult, m *image.Gray) error {
		ref = append(ref, want{res, m})
		if res.Mask != nil {
			withMask++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if withMask == 0 || withMask != len(recs)-rep.Skipped {
		t.Fatalf("%d of %d images have mask statistics (%d skipped)", withMask, len(recs), rep.Skipped)
	}
	// readMasks: also map each mask back (the rerun without masks does not).
	measure := func(p *Pipeline, items []Item, rep *PrepareReport, readMasks bool) int {
		t.Helper()
		k := 0
		hits, err := p.MeasureMasks(recs, items, rep, func(rec Record, res ImageResult, mask func() (*image.Gray, error)) error {
			r := ref[k]
			k++
			if !reflect.DeepEqual(res, r.res) {
				t.Errorf("%s: %+v, ForEachImage %+v", rec.RelPath, res, r.res)
			}
			if (mask == nil) != (r.mask == nil) {
				t.Fatalf("%s: mask function %v, ForEachImage's mask %v", rec.RelPath, mask != nil, r.mask != nil)
			}
			if mask == nil || !readMasks {
				return nil
			}
			if m, err := mask(); err != nil {
				t.Fatalf("%s: %v", rec.RelPath, err)
			} else if !reflect.DeepEqual(m.Pix, r.mask.Pix) {
				t.Errorf("%s: the mask differs from ForEachImage's", rec.RelPath)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if k != len(recs) {
			t.Fatalf("fn called %d times for %d records", k, len(recs))
		}
		return hits
	}
	if hits := measure(p, items, rep, true); hits != 0 {
		t.Fatalf("first pass: %d cache hits, want 0", hits)
	}
	statsFiles, _ := filepath.Glob(filepath.Join(dir, "*", "*", maskStatsFile))
	if len(statsFiles) != withMask {
		t.Fatalf("%d statistics files for %d measured images", len(statsFiles), withMask)
	}

	// A stale file (another MeasureMask) is measured again and rewritten.
	b, _ := os.ReadFile(statsFiles[0])
	var c cachedMaskStats
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c.Version, c.Mask.Share = "mask-stats-v0", 0.5
	b, _ = json.Marshal(c)
	if err := os.WriteFile(statsFiles[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	p2 := newTestPipeline(t, PipelineOptions{Variant: VariantFull, Size: 32, CacheDir: dir})
	items2, rep2, err := p2.Prepare(context.Background(), recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.CacheHits != len(recs) {
		t.Fatalf("rerun: %d offline cache hits of %d", rep2.CacheHits, len(recs))
	}
	if hits := measure(p2, items2, rep2, true); hits != withMask-1 {
		t.Fatalf("with one stale file: %d cache hits, want %d", hits, withMask-1)
	}

	// The rerun reads the statistics, not the masks: they may be gone.
	masks, _ := filepath.Glob(filepath.Join(dir, "*", "*", "mask-*.png"))
	if len(masks) == 0 {
		t.Fatal("no cached masks")
	}
	for _, m := range masks {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	if hits := measure(p2, items2, rep2, false); hits != withMask {
		t.Fatalf("rerun: %d cache hits, want %d", hits, withMask)
	}
}
