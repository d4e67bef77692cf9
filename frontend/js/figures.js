// Pure helpers for how figures read on the dashboard (unit-tested in
// e2e/unit/figures.test.js).

// meanStd is a Table 1 cell as text, "0.570 ± 0.019"; one seed has no
// spread to show, "0.570 ± —".
export function meanStd(cell) {
  return `${cell.mean.toFixed(3)} ± ${cell.n === 1 ? '—' : (cell.std || 0).toFixed(3)}`;
}

// galleryFigure is the test ROC-AUC a run's heatmaps are ordered and
// captioned by: that of score when the run has it, else the run's own best
// image-level score (a model without that score); null when it has none.
export function galleryFigure(metrics, score) {
  const own = metrics?.[`test/${score}/roc_auc`];
  if (Number.isFinite(own)) return { score, auc: own };
  let best = null;
  for (const [k, v] of Object.entries(metrics || {})) {
    const m = /^test\/([^/]+)\/roc_auc$/.exec(k);
    if (m && Number.isFinite(v) && (!best || v > best.auc)) best = { score: m[1], auc: v };
  }
  return best;
}
