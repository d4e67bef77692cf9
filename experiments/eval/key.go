package eval

import (
	"fmt"
	"strings"
)

// Splits a metric key can name.
const (
	SplitTrain = "train" // training losses, per step
	SplitVal   = "val"
	SplitTest  = "test"
)

// Aggregation levels of a score's figure (Key.Aggregate, and a table's).
const (
	AggImage     = "image"
	AggStudyMean = "study_mean"
	AggStudyMax  = "study_max"
)

// Metric names in keys.
const (
	MetricROCAUC      = "roc_auc"
	MetricAP          = "ap"
	MetricStd         = "std" // a score's spread over the split's images
	MetricImages      = "images"
	MetricPixelROCAUC = "pixel_roc_auc"
	MetricPixelAUPRO  = "pixel_aupro"
	MetricPixelImages = "pixel_images"
)

// Key names one stored figure of a run: a final metric or a metric series.
// Its text (String) is what the registry stores and the API shows:
//
//	<split>/<score>/<metric>              a score's image-level figure: test/mse/roc_auc, val/mse/std
//	<split>/<score>/<aggregate>/<metric>  a score's study-level figure: test/mse/study_mean/roc_auc
//	<split>/<map>/<metric>                a per-map pixel figure (metric pixel_*): test/<map>/pixel_roc_auc
//	<split>/<metric>                      a run-wide figure: test/pixel_aupro, test/images, train/loss
//
// Score and map names hold no "/" (topk_frac_0.01 is a score name); a
// 3-segment key is a map's when its metric starts with "pixel_".
type Key struct {
	Split     string
	Score     string // "" for run-wide and map figures
	Aggregate string // of a score's figure: AggImage ("" reads the same), AggStudyMean, AggStudyMax
	Map       string // of a per-map pixel figure
	Metric    string
}

// ScoreKey is the key of a score's figure on a split at an aggregation
// level ("" or AggImage for image level).
func ScoreKey(split, score, aggregate, metric string) Key {
	return Key{Split: split, Score: score, Aggregate: aggregate, Metric: metric}
}

// RunKey is the key of a run-wide figure (pixel metrics of all maps, image
// counts, training losses): "<split>/<metric>".
func RunKey(split, metric string) Key { return Key{Split: split, Metric: metric} }

// String is the key's stored text.
func (k Key) String() string {
	switch {
	case k.Map != "":
		return k.Split + "/" + k.Map + "/" + k.Metric
	case k.Score == "":
		return k.Split + "/" + k.Metric
	case k.Aggregate == "" || k.Aggregate == AggImage:
		return k.Split + "/" + k.Score + "/" + k.Metric
	}
	return k.Split + "/" + k.Score + "/" + k.Aggregate + "/" + k.Metric
}

// Image reports whether k is a score's image-level figure.
func (k Key) Image() bool {
	return k.Score != "" && (k.Aggregate == "" || k.Aggregate == AggImage)
}

// Parse reads a key's text; Parse(s).String() == s for every key it
// accepts. A score key's Aggregate comes back as AggImage at image level.
func Parse(s string) (Key, error) {
	p := strings.Split(s, "/")
	for _, seg := range p {
		if seg == "" {
			return Key{}, fmt.Errorf("metric key %q: empty segment", s)
		}
	}
	switch len(p) {
	case 2:
		return Key{Split: p[0], Metric: p[1]}, nil
	case 3:
		if strings.HasPrefix(p[2], "pixel_") {
			return Key{Split: p[0], Map: p[1], Metric: p[2]}, nil
		}
		return Key{Split: p[0], Score: p[1], Aggregate: AggImage, Metric: p[2]}, nil
	case 4:
		if p[2] == AggImage {
			return Key{}, fmt.Errorf("metric key %q: image level has no aggregate segment", s)
		}
		return Key{Split: p[0], Score: p[1], Aggregate: p[2], Metric: p[3]}, nil
	}
	return Key{}, fmt.Errorf("metric key %q: want 2 to 4 segments", s)
}
