package preprocess

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"
)

// offlineVersion names the offline algorithms; bump it when their output
// changes so old cache entries are not reused.
const offlineVersion = "offline-v2" // v2: background-relative hand mask (issue 14)

// cacheMeta is the JSON stored beside an entry's PNGs.
type cacheMeta struct {
	Settings string      `json:"settings"`
	Skip     string      `json:"skip,omitempty"`
	FellBack string      `json:"fell_back,omitempty"`
	Items    []cacheItem `json:"items,omitempty"`
}

type cacheItem struct {
	Half       int          `json:"half"`
	Width      int          `json:"width"`
	Height     int          `json:"height"`
	HasMask    bool         `json:"has_mask"`
	HasAnomaly bool         `json:"has_anomaly"`
	Carrier    [][2]float64 `json:"carrier,omitempty"`
	FellBack   string       `json:"fell_back,omitempty"`
	Hands      int          `json:"hands"`
	Transform  [9]float64   `json:"transform"`
}

// cacheKey hashes the input bytes (image and anomaly mask) with the offline
// settings: the same file processed the same way anywhere hits the same
// entry, and any change to the file or the settings misses.
func (p *Pipeline) cacheKey(data, anomaly []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", p.settings, len(data))
	h.Write(data)
	fmt.Fprintf(h, "\x00%d\x00", len(anomaly))
	h.Write(anomaly)
	return hex.EncodeToString(h.Sum(nil))
}

func (p *Pipeline) cacheEntry(key string) string {
	return filepath.Join(p.opt.CacheDir, key[:2], key)
}

func entryFile(dir, kind string, k int) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.png", kind, k))
}

// cacheLoad returns the cached result for key, with items bound to rec. A
// missing, unreadable or inconsistent entry is a miss.
func (p *Pipeline) cacheLoad(key string, rec Record) (*offlineResult, bool) {
	dir := p.cacheEntry(key)
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, false
	}
	var m cacheMeta
	if json.Unmarshal(b, &m) != nil || m.Settings != p.settings {
		return nil, false
	}
	out := &offlineResult{Skip: m.Skip, FellBack: m.FellBack}
	for k, ci := range m.Items {
		it := Item{Record: rec, Width: ci.Width, Height: ci.Height, Carrier: ci.Carrier,
			FellBack: ci.FellBack, Hands: ci.Hands, Transform: ci.Transform}
		it.Record.Half = ci.Half
		it.ImagePath = entryFile(dir, "image", k)
		if ci.HasMask {
			it.MaskPath = entryFile(dir, "mask", k)
		}
		if ci.HasAnomaly {
			it.AnomalyPath = entryFile(dir, "anomaly", k)
		}
		for _, f := range []string{it.ImagePath, it.MaskPath, it.AnomalyPath} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, false
			}
		}
		out.Items = append(out.Items, it)
	}
	return out, true
}

// cacheStore writes out under key (into a temporary folder renamed into
// place, so readers never see half an entry) and rebinds out's items to the
// written files, dropping their in-memory pixels.
func (p *Pipeline) cacheStore(key string, rec Record, out *offlineResult) error {
	dir := p.cacheEntry(key)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("preprocess: cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
	if err != nil {
		return fmt.Errorf("preprocess: cache: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	m := cacheMeta{Settings: p.settings, Skip: out.Skip, FellBack: out.FellBack}
	for k := range out.Items {
		it := &out.Items[k]
		ci := cacheItem{Half: it.Record.Half, Width: it.Width, Height: it.Height, HasMask: it.mask != nil,
			HasAnomaly: it.anomaly != nil, Carrier: it.Carrier, FellBack: it.FellBack, Hands: it.Hands, Transform: it.Transform}
		m.Items = append(m.Items, ci)
		for _, f := range []struct {
			kind string
			px   []byte
		}{{"image", it.img}, {"mask", it.mask}, {"anomaly", it.anomaly}} {
			if f.px == nil {
				continue
			}
			if err := writeGreyPNG(entryFile(tmp, f.kind, k), it.Width, it.Height, f.px); err != nil {
				return fmt.Errorf("preprocess: cache %s: %w", rec.Path, err)
			}
		}
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("preprocess: cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o644); err != nil {
		return fmt.Errorf("preprocess: cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Either another worker stored the same input first (its entry is
		// equal: keep it) or a damaged entry is in the way (replace it).
		if _, ok := p.cacheLoad(key, rec); !ok {
			os.RemoveAll(dir)
			if err := os.Rename(tmp, dir); err != nil {
				return fmt.Errorf("preprocess: cache: %w", err)
			}
		}
	}
	for k := range out.Items {
		it := &out.Items[k]
		it.ImagePath = entryFile(dir, "image", k)
		if it.mask != nil {
			it.MaskPath = entryFile(dir, "mask", k)
		}
		if it.anomaly != nil {
			it.AnomalyPath = entryFile(dir, "anomaly", k)
		}
		it.img, it.mask, it.anomaly = nil, nil, nil
	}
	return nil
}

// writeGreyPNG writes 8-bit grey pixels as a PNG with fast compression
// (cache files are written once per dataset and read every epoch).
func writeGreyPNG(path string, w, h int, px []byte) error {
	m, err := matFromBytes(w, h, px)
	if err != nil {
		return err
	}
	defer m.Close()
	if !gocv.IMWriteWithParams(path, m, []int{gocv.IMWritePngCompression, 1}) {
		return errors.New("cannot write " + path)
	}
	return nil
}
