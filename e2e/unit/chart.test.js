// Unit tests of the chart helpers that compute: TensorBoard's smoothing,
// the alignment of series onto one x axis, colours for many runs. (ROC
// curves are the server's, /api/runs/:id/roc: see server/scores_test.go.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ema, align, seriesColor, COLORS } from '../../frontend/js/chart.js';

// The debiased EMA is the average of the values so far weighted by
// w^(age): computed here that way, not by the recurrence chart.js uses.
function weighted(values, w) {
  return values.map((_, n) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i <= n; i++) { num += values[i] * w ** (n - i); den += w ** (n - i); }
    return num / den;
  });
}

test('smoothing is the debiased EMA of TensorBoard', () => {
  const close = (a, b) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-12, `${i}: ${v} vs ${b[i]}`));
  // By hand, w = 0.5: 1; (2 + 0.5)/1.5; (3 + 1 + 0.25)/1.75.
  close(ema([1, 2, 3], 0.5), [1, 2.5 / 1.5, 4.25 / 1.75]);
  const vals = [0.9, 0.7, 0.75, 0.4, 0.45, 0.3, 0.32, 0.2];
  for (const w of [0.1, 0.6, 0.95]) close(ema(vals, w), weighted(vals, w));
  assert.deepEqual(ema(vals, 0), vals);
  // Gaps pass through and do not enter the average.
  const gap = ema([1, undefined, 3], 0.5);
  assert.equal(gap[1], undefined);
  close([gap[0], gap[2]], weighted([1, 3], 0.5));
});

test('series with their own x values share one axis', () => {
  const [xs, a, b] = align([
    { points: [{ x: 0, y: 0 }, { x: 0, y: 0.5 }, { x: 0.5, y: 1 }, { x: 1, y: 1 }] }, // a ROC curve: two points at x = 0
    { points: [{ x: 0, y: 0 }, { x: 0.25, y: 0.75 }, { x: 1, y: 1 }, { x: 2, y: NaN }] },
  ]);
  assert.deepEqual(xs, [0, 0, 0.25, 0.5, 1]);
  assert.deepEqual(a, [0, 0.5, undefined, 1, 1]);
  assert.deepEqual(b, [0, undefined, 0.75, undefined, 1]);
});

test('more runs than the palette get distinct colours', () => {
  const cs = Array.from({ length: 40 }, (_, i) => seriesColor(i));
  assert.deepEqual(cs.slice(0, COLORS.length), COLORS);
  assert.equal(new Set(cs).size, 40);
});
