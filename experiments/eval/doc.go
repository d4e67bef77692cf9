// Package eval computes the figures of a run from its scores: ROC curves,
// ROC-AUC and average precision of image scores, study-level aggregation,
// pixel-level ROC-AUC and AUPRO of anomaly maps, summaries over seeds, and
// the typed metric Key under which every figure is stored. It is a leaf:
// plain Go over slices, no OpenCV (region labelling comes from the caller)
// and nothing of the experiments domain.
package eval
