// Unit tests of the chart helpers that compute: ROC curves and ticks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rocPoints, niceTicks } from '../../frontend/js/chart.js';

// mannWhitneyAUC is the AUC as the probability that an abnormal image
// outscores a normal one (ties count half): independent of the sweep.
function mannWhitneyAUC(labels, scores) {
  let sum = 0; let pairs = 0;
  labels.forEach((li, i) => labels.forEach((lj, j) => {
    if (li === 1 && lj === 0) { pairs++; sum += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0; }
  }));
  return sum / pairs;
}

test('ROC curve corners and AUC', () => {
  const r = rocPoints([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]);
  assert.deepEqual(r.points, [{ x: 0, y: 0 }, { x: 0, y: 0.5 }, { x: 0.5, y: 0.5 }, { x: 0.5, y: 1 }, { x: 1, y: 1 }]);
  assert.equal(r.auc, 0.75);
  // Tied scores move both rates at once (a diagonal step).
  assert.deepEqual(rocPoints([1, 0], [0.5, 0.5]).points, [{ x: 0, y: 0 }, { x: 1, y: 1 }]);
  assert.ok(Number.isNaN(rocPoints([1, 1], [0.1, 0.2]).auc), 'one class only');
});

test('ROC AUC matches the Mann-Whitney statistic with ties', () => {
  // A fixed pseudo-random sequence (LCG, seed 7) with rounding to make ties.
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const labels = []; const scores = [];
  for (let i = 0; i < 200; i++) { const l = rnd() < 0.4 ? 1 : 0; labels.push(l); scores.push(Math.round((rnd() + 0.3 * l) * 20) / 20); }
  assert.ok(Math.abs(rocPoints(labels, scores).auc - mannWhitneyAUC(labels, scores)) < 1e-12);
});

test('nice ticks', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.42, 0.71, 5), [0.4, 0.5, 0.6, 0.7, 0.8]);
  assert.deepEqual(niceTicks(1, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(-0.3, 0.3, 5), [-0.4, -0.2, 0, 0.2, 0.4]);
});
