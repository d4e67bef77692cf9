package preprocess

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gocv.io/x/gocv"
)

// SourceMask maps the foreground masks of one source image's items back
// into that image's w×h pixel grid and unions them: 255 = hand. Items of
// the raw and crop variants have no mask; their whole region counts.
func (p *Pipeline) SourceMask(items []Item, w, h int) (*image.Gray, error) {
	union := gocv.Zeros(h, w, gocv.MatTypeCV8U)
	defer union.Close()
	for _, it := range items {
		_, mask, anomaly, err := p.itemMats(it)
		if err != nil {
			return nil, fmt.Errorf("preprocess: source mask of %s: %w", it.Record.Path, err)
		}
		anomaly.Close()
		inv, ok := inv3(it.Transform)
		if !ok {
			mask.Close()
			return nil, fmt.Errorf("preprocess: source mask of %s: singular transform", it.Record.Path)
		}
		back := warpHomography(mask, inv, w, h, true)
		gocv.BitwiseOr(union, back, &union)
		back.Close()
		mask.Close()
	}
	px, err := union.DataPtrUint8()
	if err != nil {
		return nil, err
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range px {
		if v != 0 {
			g.Pix[i] = 255
		}
	}
	return g, nil
}

// SourceBox is the bounding box, in source pixels, of an item's region.
func SourceBox(it Item) image.Rectangle {
	inv, _ := inv3(it.Transform)
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{0, 0}, {float64(it.Width), 0}, {float64(it.Width), float64(it.Height)}, {0, float64(it.Height)}} {
		q := applyH(inv, c)
		x0, y0, x1, y1 = math.Min(x0, q[0]), math.Min(y0, q[1]), math.Max(x1, q[0]), math.Max(y1, q[1])
	}
	return image.Rect(int(math.Floor(x0+1e-6)), int(math.Floor(y0+1e-6)), int(math.Ceil(x1-1e-6)), int(math.Ceil(y1-1e-6)))
}

// MaskOverlap returns the IoU and Dice coefficient of two binary masks of
// the same size (non-zero = foreground). Two empty masks agree fully.
func MaskOverlap(got, ref *image.Gray) (iou, dice float64, err error) {
	if got.Bounds().Size() != ref.Bounds().Size() {
		return 0, 0, fmt.Errorf("mask is %v, reference is %v", got.Bounds().Size(), ref.Bounds().Size())
	}
	w, h := got.Bounds().Dx(), got.Bounds().Dy()
	var inter, a, b int
	for y := 0; y < h; y++ {
		gr := got.Pix[y*got.Stride : y*got.Stride+w]
		rr := ref.Pix[y*ref.Stride : y*ref.Stride+w]
		for x := range gr {
			g, r := gr[x] != 0, rr[x] != 0
			if g {
				a++
			}
			if r {
				b++
			}
			if g && r {
				inter++
			}
		}
	}
	if a+b == 0 {
		return 1, 1, nil
	}
	return float64(inter) / float64(a+b-inter), 2 * float64(inter) / float64(a+b), nil
}

// Mask-statistics limits beyond which a mask is flagged as suspicious.
const (
	suspectMinShare  = 0.05 // hands smaller than this are a marker or a fragment
	suspectMaxShare  = 0.85 // larger: the background was swallowed
	suspectMaxBorder = 0.45 // share of the image border the mask touches
)

// MaskStats describes a source-grid foreground mask, so that a researcher
// sees failures before trusting a table.
type MaskStats struct {
	Share      float64 `json:"share"`          // foreground share of the image
	Components int     `json:"components"`     // connected foreground regions
	Border     float64 `json:"border_contact"` // share of the image's border pixels that are foreground
	Suspicious bool    `json:"suspicious"`
	Check      string  `json:"check,omitempty"`  // the check it failed: one of MaskChecks
	Reason     string  `json:"reason,omitempty"` // why it is suspicious, in words
}

// MaskChecks names the checks MeasureMask flags a mask by, in the order it
// applies them (the first failed one is reported).
var MaskChecks = []string{"empty", "small", "large", "regions", "border"}

// MeasureMask computes a mask's statistics; hands is how many hands the
// pipeline found (each may be its own region).
func MeasureMask(m *image.Gray, hands int) MaskStats {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	var s MaskStats
	if w == 0 || h == 0 {
		return MaskStats{Suspicious: true, Check: "empty", Reason: "empty image"}
	}
	on := func(x, y int) bool { return m.Pix[y*m.Stride+x] != 0 }
	fg, border, nb := 0, 0, 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := on(x, y)
			if v {
				fg++
			}
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				nb++
				if v {
					border++
				}
			}
		}
	}
	s.Share = float64(fg) / float64(w*h)
	s.Border = float64(border) / float64(nb)
	s.Components = countRegions(m)
	switch {
	case fg == 0:
		s.Suspicious, s.Check, s.Reason = true, "empty", "empty mask"
	case s.Share < suspectMinShare:
		s.Suspicious, s.Check, s.Reason = true, "small", fmt.Sprintf("mask covers only %.1f%% of the image", 100*s.Share)
	case s.Share > suspectMaxShare:
		s.Suspicious, s.Check, s.Reason = true, "large", fmt.Sprintf("mask covers %.0f%% of the image: background inside?", 100*s.Share)
	case s.Components > max(1, hands):
		s.Suspicious, s.Check, s.Reason = true, "regions", fmt.Sprintf("%d separate regions for %d hand(s)", s.Components, max(1, hands))
	case s.Border > suspectMaxBorder:
		s.Suspicious, s.Check, s.Reason = true, "border", fmt.Sprintf("mask touches %.0f%% of the image border", 100*s.Border)
	}
	return s
}

// countRegions counts 8-connected foreground regions.
func countRegions(m *image.Gray) int {
	mat, err := gocv.ImageGrayToMatGray(m)
	if err != nil {
		return 0
	}
	defer mat.Close()
	labels := gocv.NewMat()
	defer labels.Close()
	return gocv.ConnectedComponents(mat, &labels) - 1
}

// HandRegion is one item of a source image: its box in source pixels and
// the size of the offline image cut from it.
type HandRegion struct {
	Half   int    `json:"half,omitempty"`
	Box    [4]int `json:"box"` // x0, y0, x1, y1 in source pixels, bounding the item's region
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// ImageResult is what the offline steps made of one source image, in the
// source's own pixel grid: the JSON record `xraylab preprocess --out`
// writes beside each mask.
type ImageResult struct {
	Path     string       `json:"path"`
	RelPath  string       `json:"rel_path"`
	Width    int          `json:"width"`
	Height   int          `json:"height"`
	Skip     string       `json:"skip,omitempty"`      // why no item came out of it
	Carrier  [][2]float64 `json:"carrier,omitempty"`   // TL, TR, BR, BL; none when the crop fell back
	FellBack string       `json:"fell_back,omitempty"` // why the carrier crop used the whole image
	Hands    []HandRegion `json:"hands"`
	Mask     *MaskStats   `json:"mask,omitempty"` // full variant only
}

// ForEachImage calls fn once per record, in record order, with the record,
// the image's result and, for the full variant, its foreground mask in source pixels
// (nil for skipped images and other variants). items and rep are Prepare's.
func (p *Pipeline) ForEachImage(recs []Record, items []Item, rep *PrepareReport, fn func(Record, ImageResult, *image.Gray) error) error {
	return p.eachImage(recs, items, rep, func(rec Record, res ImageResult, its []Item) error {
		var mask *image.Gray
		if p.opt.Variant == VariantFull && len(its) > 0 && res.Width > 0 {
			var err error
			if mask, err = p.SourceMask(its, res.Width, res.Height); err != nil {
				return err
			}
			st := MeasureMask(mask, len(its))
			res.Mask = &st
		}
		return fn(rec, res, mask)
	})
}

// eachImage calls fn once per record, in record order, with the image's
// result short of its mask statistics and the record's items.
func (p *Pipeline) eachImage(recs []Record, items []Item, rep *PrepareReport, fn func(Record, ImageResult, []Item) error) error {
	byPath := map[string][]Item{}
	for _, it := range items {
		byPath[it.Record.Path] = append(byPath[it.Record.Path], it)
	}
	skips := map[string]string{}
	for _, s := range rep.Skips {
		skips[s.Path] = s.Reason
	}
	for _, rec := range recs {
		res := ImageResult{Path: rec.Path, RelPath: rec.RelPath, Skip: skips[rec.Path], Hands: []HandRegion{}}
		if w, h, err := p.pngSize(rec.Path); err == nil {
			res.Width, res.Height = w, h
		} else if res.Skip == "" {
			res.Skip = err.Error()
		}
		its := byPath[rec.Path]
		if len(its) > 0 {
			res.Carrier, res.FellBack = its[0].Carrier, its[0].FellBack
			for _, it := range its {
				b := SourceBox(it)
				res.Hands = append(res.Hands, HandRegion{Half: it.Record.Half, Box: [4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y}, Width: it.Width, Height: it.Height})
			}
		}
		if err := fn(rec, res, its); err != nil {
			return err
		}
	}
	return nil
}

func (pl *Pipeline) pngSize(p string) (int, int, error) {
	f, err := pl.opt.Files.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", p, err)
	}
	return cfg.Width, cfg.Height, nil
}

// ReadMask reads a reference mask PNG as a binary mask (non-zero = 255).
func ReadMask(p string) (*image.Gray, error) {
	g, err := ReadGray(p)
	if err != nil {
		return nil, err
	}
	for i, v := range g.Pix {
		if v != 0 {
			g.Pix[i] = 255
		}
	}
	return g, nil
}

// TruthScore is one image's mask compared with its reference mask.
type TruthScore struct {
	RelPath string  `json:"rel_path"`
	IoU     float64 `json:"iou"`
	Dice    float64 `json:"dice"`
	Skip    string  `json:"skip,omitempty"` // skipped images score 0
}

// TruthReport compares masks with reference masks over a dataset.
type TruthReport struct {
	Images      []TruthScore `json:"images"`
	NoReference []string     `json:"no_reference,omitempty"` // images without a reference mask, left out
	MeanIoU     float64      `json:"mean_iou"`
	MinIoU      float64      `json:"min_iou"`
	MeanDice    float64      `json:"mean_dice"`
	MinDice     float64      `json:"min_dice"`

	sumIoU, sumDice float64
}

// ReferencePath is where rec's reference hand mask is: under dir in the
// dataset's layout (<RelPath without .png>_hand.png) when dir holds it,
// else beside the image (Record.HandPath); "" when there is none.
func ReferencePath(rec Record, dir string) string {
	if dir != "" {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rec.RelPath, ".png")+"_hand.png"))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return rec.HandPath
}

// Add scores one image's source-grid mask (nil when it was skipped)
// against the reference mask at refPath ("" = none).
func (r *TruthReport) Add(res ImageResult, mask *image.Gray, refPath string) error {
	if refPath == "" {
		r.NoReference = append(r.NoReference, res.RelPath)
		return nil
	}
	ref, err := ReadMask(refPath)
	if err != nil {
		return fmt.Errorf("reference mask: %w", err)
	}
	if mask == nil {
		mask = image.NewGray(ref.Bounds())
	}
	s := TruthScore{RelPath: res.RelPath, Skip: res.Skip}
	if s.IoU, s.Dice, err = MaskOverlap(mask, ref); err != nil {
		return fmt.Errorf("reference mask %s: %w", refPath, err)
	}
	if res.Skip != "" {
		s.IoU, s.Dice = 0, 0
	}
	if len(r.Images) == 0 {
		r.MinIoU, r.MinDice = 1, 1
	}
	r.Images = append(r.Images, s)
	r.sumIoU += s.IoU
	r.sumDice += s.Dice
	n := float64(len(r.Images))
	r.MeanIoU, r.MeanDice = r.sumIoU/n, r.sumDice/n
	r.MinIoU, r.MinDice = min(r.MinIoU, s.IoU), min(r.MinDice, s.Dice)
	return nil
}
