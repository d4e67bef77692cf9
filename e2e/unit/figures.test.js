// Unit tests of how the dashboard words its figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanStd, galleryFigure } from '../../frontend/js/figures.js';

test('one seed shows no std', () => {
  assert.equal(meanStd({ mean: 0.55, std: 0, n: 1 }), '0.550 ± —');
  assert.equal(meanStd({ mean: 0.6, std: 0.1, n: 3 }), '0.600 ± 0.100');
});

test('the gallery falls back to a run\'s own best score, never -1', () => {
  const m = { 'test/kld/roc_auc': 0.53, 'test/mse/roc_auc': 0.61, 'test/mse/study_max/roc_auc': 0.9, 'val/mse/roc_auc': 0.99 };
  assert.deepEqual(galleryFigure(m, 'kld'), { score: 'kld', auc: 0.53 });
  assert.deepEqual(galleryFigure(m, 'd'), { score: 'mse', auc: 0.61 });
  assert.equal(galleryFigure({ 'val/mse/roc_auc': 0.7 }, 'd'), null);
  assert.equal(galleryFigure(undefined, 'd'), null);
});
