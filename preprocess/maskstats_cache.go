package preprocess

import (
	"encoding/json"
	"image"
	"os"
	"path/filepath"
)

// maskStatsVersion names MeasureMask's output; bump it when that changes,
// so cached statistics are not reused.
const maskStatsVersion = "mask-stats-v1"

// maskStatsFile is the cached statistics of an image's mask, kept in its
// offline cache entry (keyed by the image's bytes and the offline
// settings, as the masks themselves).
const maskStatsFile = "maskstats.json"

type cachedMaskStats struct {
	Version string    `json:"version"`
	Width   int       `json:"width"`
	Height  int       `json:"height"`
	Hands   int       `json:"hands"`
	Mask    MaskStats `json:"mask"`
}

// MeasureMasks is ForEachImage for the mask statistics: fn gets each
// image's result with res.Mask set (full variant, images with items) and
// a function that maps its mask back to the source grid when fn needs
// the pixels (a flagged image's thumbnail), nil where there is no mask.
// With a cache dir, each image's statistics are stored in its offline
// cache entry, so a rerun on the same data and settings reads them back
// instead of reading and warping every mask again; hits says how many
// came from the cache.
func (p *Pipeline) MeasureMasks(recs []Record, items []Item, rep *PrepareReport, fn func(Record, ImageResult, func() (*image.Gray, error)) error) (hits int, err error) {
	err = p.eachImage(recs, items, rep, func(rec Record, res ImageResult, its []Item) error {
		if p.opt.Variant != VariantFull || len(its) == 0 || res.Width == 0 {
			return fn(rec, res, nil)
		}
		var mask *image.Gray
		load := func() (*image.Gray, error) {
			if mask != nil {
				return mask, nil
			}
			m, err := p.SourceMask(its, res.Width, res.Height)
			mask = m
			return m, err
		}
		path := maskStatsPath(its)
		if st, ok := readMaskStats(path, res.Width, res.Height, len(its)); ok {
			hits++
			res.Mask = &st
			return fn(rec, res, load)
		}
		m, err := load()
		if err != nil {
			return err
		}
		st := MeasureMask(m, len(its))
		res.Mask = &st
		if path != "" {
			if err := writeMaskStats(path, cachedMaskStats{maskStatsVersion, res.Width, res.Height, len(its), st}); err != nil {
				return err
			}
		}
		return fn(rec, res, load)
	})
	return hits, err
}

// maskStatsPath is where the statistics of the image with items its are
// cached: its offline cache entry ("" without a cache, or when the items
// do not share one entry).
func maskStatsPath(its []Item) string {
	dir := ""
	for _, it := range its {
		if it.MaskPath == "" {
			return ""
		}
		d := filepath.Dir(it.MaskPath)
		if dir != "" && d != dir {
			return ""
		}
		dir = d
	}
	return filepath.Join(dir, maskStatsFile)
}

// readMaskStats returns the cached statistics at path when they are of
// this MeasureMask and of an image of that size with that many hands; an
// unreadable or stale file is a miss.
func readMaskStats(path string, w, h, hands int) (MaskStats, bool) {
	if path == "" {
		return MaskStats{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return MaskStats{}, false
	}
	var c cachedMaskStats
	if json.Unmarshal(b, &c) != nil || c.Version != maskStatsVersion || c.Width != w || c.Height != h || c.Hands != hands {
		return MaskStats{}, false
	}
	return c.Mask, true
}

// writeMaskStats writes c to path through a temporary file renamed into
// place, so a concurrent run never reads half a file.
func writeMaskStats(path string, c cachedMaskStats) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".maskstats-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
