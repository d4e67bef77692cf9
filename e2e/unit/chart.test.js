// Unit tests of the chart helpers that compute: ticks. (ROC curves are the
// server's, /api/runs/:id/roc: their tests moved to server/scores_test.go.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks } from '../../frontend/js/chart.js';

test('nice ticks', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.42, 0.71, 5), [0.4, 0.5, 0.6, 0.7, 0.8]);
  assert.deepEqual(niceTicks(1, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(-0.3, 0.3, 5), [-0.4, -0.2, 0, 0.2, 0.4]);
});
