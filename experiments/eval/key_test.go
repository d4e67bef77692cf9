package eval

import "testing"

// Every key format stored today (and the per-map pixel and topk_frac
// forms other issues add) reads back to the same fields and text.
func TestKeyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		text string
		key  Key
	}{
		{"test/mse/roc_auc", Key{Split: "test", Score: "mse", Aggregate: AggImage, Metric: MetricROCAUC}},
		{"val/mse/roc_auc", Key{Split: "val", Score: "mse", Aggregate: AggImage, Metric: MetricROCAUC}},
		{"test/mse_top10/ap", Key{Split: "test", Score: "mse_top10", Aggregate: AggImage, Metric: MetricAP}},
		{"val/c_d/std", Key{Split: "val", Score: "c_d", Aggregate: AggImage, Metric: MetricStd}},
		{"test/topk_frac_0.01/roc_auc", Key{Split: "test", Score: "topk_frac_0.01", Aggregate: AggImage, Metric: MetricROCAUC}},
		{"test/mse/study_mean/roc_auc", Key{Split: "test", Score: "mse", Aggregate: AggStudyMean, Metric: MetricROCAUC}},
		{"val/mse/study_max/ap", Key{Split: "val", Score: "mse", Aggregate: AggStudyMax, Metric: MetricAP}},
		{"test/topk_frac_0.01/study_max/roc_auc", Key{Split: "test", Score: "topk_frac_0.01", Aggregate: AggStudyMax, Metric: MetricROCAUC}},
		{"test/pixel_roc_auc", Key{Split: "test", Metric: MetricPixelROCAUC}},
		{"val/pixel_aupro", Key{Split: "val", Metric: MetricPixelAUPRO}},
		{"test/pixel_images", Key{Split: "test", Metric: MetricPixelImages}},
		{"val/images", Key{Split: "val", Metric: MetricImages}},
		{"train/loss", Key{Split: "train", Metric: "loss"}},
		{"train/d_loss", Key{Split: "train", Metric: "d_loss"}},
		{"test/residual/pixel_roc_auc", Key{Split: "test", Map: "residual", Metric: MetricPixelROCAUC}},
		{"val/residual/pixel_aupro", Key{Split: "val", Map: "residual", Metric: MetricPixelAUPRO}},
	} {
		k, err := Parse(c.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.text, err)
			continue
		}
		if k != c.key {
			t.Errorf("Parse(%q) = %+v, want %+v", c.text, k, c.key)
		}
		if got := k.String(); got != c.text {
			t.Errorf("Parse(%q).String() = %q", c.text, got)
		}
		if got := c.key.String(); got != c.text {
			t.Errorf("%+v.String() = %q, want %q", c.key, got, c.text)
		}
	}
}

// The constructors give the texts the code has always written; image
// level reads the same with Aggregate "" or AggImage.
func TestKeyConstructors(t *testing.T) {
	for _, c := range []struct {
		key  Key
		want string
	}{
		{ScoreKey("test", "mse", AggImage, MetricROCAUC), "test/mse/roc_auc"},
		{ScoreKey("test", "mse", "", MetricROCAUC), "test/mse/roc_auc"},
		{ScoreKey("val", "mse", AggStudyMean, MetricROCAUC), "val/mse/study_mean/roc_auc"},
		{ScoreKey("test", "c", AggStudyMax, MetricAP), "test/c/study_max/ap"},
		{RunKey("test", MetricPixelROCAUC), "test/pixel_roc_auc"},
		{RunKey("val", MetricPixelAUPRO), "val/pixel_aupro"},
		{RunKey("train", "loss"), "train/loss"},
		// The cases of the former experiments.MetricKey test.
		{ScoreKey("test", "mse", AggImage, MetricROCAUC), "test/mse/roc_auc"},
		{ScoreKey("val", "mse_top200", "", MetricAP), "val/mse_top200/ap"},
		{ScoreKey("test", "kld", AggStudyMean, MetricROCAUC), "test/kld/study_mean/roc_auc"},
		{ScoreKey("val", "d", AggStudyMax, MetricAP), "val/d/study_max/ap"},
		{RunKey("test", MetricPixelAUPRO), "test/pixel_aupro"},
		{RunKey("val", MetricPixelROCAUC), "val/pixel_roc_auc"},
	} {
		if got := c.key.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.key, got, c.want)
		}
	}
	if !ScoreKey("test", "mse", "", MetricAP).Image() || !ScoreKey("test", "mse", AggImage, MetricAP).Image() {
		t.Error("image-level score keys do not read as image level")
	}
	if ScoreKey("test", "mse", AggStudyMax, MetricAP).Image() || RunKey("test", MetricPixelAUPRO).Image() {
		t.Error("study-level or run-wide keys read as image level")
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, s := range []string{"", "test", "test/", "/mse/roc_auc", "test//roc_auc", "test/mse/", "test/mse/image/roc_auc", "a/b/c/d/e"} {
		if k, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", s, k)
		}
	}
}
