// Compare: pick runs from any experiments (by hand, or by brushing the
// parallel coordinates of an experiment's grid against a metric), then see
// their parameters side by side (rows that differ highlighted), their
// final metrics, their curves overlaid (zoom, hover values, smoothing, log
// scale), their test ROC curves overlaid (computed by the server from each
// run's per-image scores, /api/runs/:id/roc), and one test image's
// heatmap from every run that has that image in its test split, rendered
// by the server from the run's checkpoint (/api/runs/:id/heatmap).

import { api, ApiError, objectURL } from '../api.js';
import { h, clear, fmtNum, errorBox, emptyNote, stateBadge } from '../dom.js';
import { lineChart } from '../chart.js';
import { parallelCoordinates } from '../parallel.js';
import { runLabel, flatten, metricCharts, allRuns, scoreNames } from './common.js';

const MAX_RUNS = 24;
// The grid's own dimensions come first on the parallel coordinates, in
// this order; any other parameter that varies across the runs follows.
const GRID_KEYS = ['model.name', 'preprocessing', 'histogram_equalization', 'seed'];

export async function comparePage(query) {
  const main = document.getElementById('main');
  let ids = (query.get('runs') || '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  ids = [...new Set(ids)].slice(0, MAX_RUNS);
  let onlyDiff = false;
  let rocScore = '';

  const picked = h('div', { class: 'picked', 'aria-live': 'polite' });
  const expSelect = h('select', { id: 'pick-experiment' });
  const runsList = h('div', { class: 'runs-list', role: 'group', 'aria-label': 'Runs of the experiment' }, emptyNote('Pick an experiment.'));
  const idInput = h('input', { type: 'number', id: 'pick-run', min: 1, placeholder: 'run id', style: 'width:7rem' });
  const out = h('div', {});
  const pcCell = h('section', { class: 'cell', id: 'cell-parcoords', 'aria-labelledby': 'h-parcoords' });
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Compare runs')),
    h('section', { class: 'cell', 'aria-labelledby': 'h-pick' },
      h('h2', { id: 'h-pick' }, 'Runs', h('span', { class: 'hint' }, `up to ${MAX_RUNS}, from any experiments`)),
      picked,
      h('div', { class: 'picker' },
        h('div', {},
          h('label', { for: 'pick-experiment' }, 'Experiment'), h('br'), expSelect,
          h('form', { class: 'toolbar', style: 'margin-top:1rem', onsubmit: (e) => { e.preventDefault(); add(Number(idInput.value)); idInput.value = ''; } },
            h('label', { for: 'pick-run' }, 'Run id'), idInput, h('button', { type: 'submit' }, 'Add'))),
        runsList)),
    pcCell,
    out);

  const runCache = new Map();
  async function getRun(id) {
    if (!runCache.has(id)) runCache.set(id, await api(`/api/runs/${id}`));
    return runCache.get(id);
  }

  function setIds(next) {
    ids = [...new Set(next)].slice(0, MAX_RUNS);
    history.replaceState(null, '', `#/compare${ids.length ? `?runs=${ids.join(',')}` : ''}`);
    renderPicked();
    renderRunsList();
    renderComparison();
  }
  const add = (id) => { if (Number.isInteger(id) && id > 0 && !ids.includes(id)) setIds([...ids, id]); };
  const remove = (id) => setIds(ids.filter((x) => x !== id));

  async function renderPicked() {
    if (!ids.length) { clear(picked, emptyNote('No runs picked yet.')); return; }
    const runs = await Promise.all(ids.map((id) => getRun(id).catch(() => null)));
    clear(picked, ids.map((id, i) => h('span', { class: 'chip' }, runs[i] ? runLabel(runs[i]) : `#${id} (not found)`,
      h('button', { type: 'button', 'aria-label': `Remove run ${id}`, onclick: () => remove(id) }, '×'))));
  }

  let expRuns = [];
  async function loadExperiments() {
    try {
      const page = await api('/api/experiments?limit=200');
      clear(expSelect, h('option', { value: '' }, '— choose —'), page.items.map((e) => h('option', { value: e.id }, `${e.name} (#${e.id}, ${e.runs} runs)`)));
      // ?experiment=ID opens that experiment's runs and grid view.
      const asked = Number(query.get('experiment')) || 0;
      const first = asked || (ids.length ? (await getRun(ids[0]).catch(() => null))?.experiment_id : page.items[0]?.id);
      if (first) { expSelect.value = String(first); await loadExpRuns(); }
    } catch (err) {
      clear(runsList, errorBox(err, 'Could not load experiments'));
    }
  }
  // expSeq drops the answer of an earlier choice that arrives after a
  // later one's (the first experiment loads while the user picks another).
  let expSeq = 0;
  // wantedExp is the experiment shown or loading: choosing it again (a
  // select fires change even for the same value) must not redraw the grid
  // and drop its brushes.
  let wantedExp = 0;
  async function loadExpRuns() {
    const mine = ++expSeq;
    const e = Number(expSelect.value);
    wantedExp = e;
    if (!e) { expRuns = []; renderRunsList(); renderParcoords(0); return; }
    try {
      const got = await allRuns(`experiment=${e}`, 1000);
      if (mine !== expSeq) return;
      expRuns = got;
      for (const r of expRuns) runCache.set(r.id, r);
      renderRunsList();
      renderParcoords(e);
    } catch (err) {
      if (mine === expSeq) { wantedExp = 0; clear(runsList, errorBox(err, 'Could not load runs')); }
    }
  }
  expSelect.addEventListener('change', () => { if (Number(expSelect.value) !== wantedExp) loadExpRuns(); });

  function renderRunsList() {
    if (!expRuns.length) { clear(runsList, emptyNote('No runs in this experiment.')); return; }
    clear(runsList, expRuns.map((r) => {
      const box = h('input', { type: 'checkbox', value: r.id, checked: ids.includes(r.id), disabled: !ids.includes(r.id) && ids.length >= MAX_RUNS,
        onchange: () => (box.checked ? add(r.id) : remove(r.id)) });
      return h('label', { 'data-run': r.id }, box, runLabel(r), ' ', stateBadge(r.state));
    }));
  }

  // Parallel coordinates of the chosen experiment's runs: grid parameters
  // against a metric; brushing an axis selects the runs through it.
  let pcMetric = '';
  let pcSelected = [];
  function renderParcoords(expId) {
    pcCell.dataset.experiment = String(expId || '');
    const title = h('h2', { id: 'h-parcoords' }, 'Grid against a metric', h('span', { class: 'hint' }, 'drag along an axis to select runs; click an axis to clear it'));
    if (expRuns.length < 2) { clear(pcCell, title, emptyNote('Pick an experiment with at least two runs.')); return; }
    const flat = expRuns.map((r) => ({ ...flatten(r.params), seed: r.seed }));
    const varies = (k) => new Set(flat.map((f) => JSON.stringify(f[k] ?? null))).size > 1;
    const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))];
    const dims = [...GRID_KEYS.filter((k) => keys.includes(k)), ...keys.filter((k) => !GRID_KEYS.includes(k) && varies(k)).sort()];
    const metrics = [...new Set(expRuns.flatMap((r) => Object.keys(r.metrics || {})))].filter((k) => /^(test|val)\//.test(k)).sort();
    // Default: the test ROC-AUC that the most runs have.
    const have = (k) => expRuns.filter((r) => Number.isFinite(r.metrics?.[k])).length;
    const aucs = metrics.filter((k) => /^test\/[^/]+\/roc_auc$/.test(k)).sort((a, b) => have(b) - have(a));
    if (!metrics.includes(pcMetric)) pcMetric = aucs[0] || metrics[0] || '';
    const metricSel = h('select', { id: 'pc-metric', onchange: () => { pcMetric = metricSel.value; renderParcoords(expId); } },
      metrics.map((k) => h('option', { value: k, selected: k === pcMetric }, k)));
    const count = h('span', { class: 'pc-count', 'aria-live': 'polite' });
    const compareBtn = h('button', { type: 'button', id: 'pc-compare', onclick: () => setIds(pcSelected) }, 'Compare selected');
    const rows = expRuns.map((r, i) => ({ id: r.id, label: runLabel(r), values: { ...flat[i], __metric: r.metrics?.[pcMetric] } }));
    const axes = [...dims.map((k) => ({ key: k, label: k.replace(/^model\.name$/, 'model').replace(/^histogram_equalization$/, 'HE') })),
      ...(pcMetric ? [{ key: '__metric', label: pcMetric, numeric: true }] : [])];
    let chart = null; // set once drawn; the first call comes while drawing
    chart = parallelCoordinates(rows, axes, (ids) => {
      pcSelected = ids.slice(0, MAX_RUNS);
      count.textContent = `${ids.length} of ${rows.length} runs selected`;
      compareBtn.disabled = ids.length < 1;
      compareBtn.textContent = `Compare selected (${Math.min(ids.length, MAX_RUNS)})`;
      if (chart) chart.dataset.selected = ids.join(',');
    });
    chart.dataset.selected = pcSelected.join(',');
    clear(pcCell, title,
      h('div', { class: 'cell-tools' }, h('label', { for: 'pc-metric' }, 'Metric'), metricSel, count, compareBtn),
      h('div', { class: 'table-wrap' }, chart));
  }

  let seq = 0;
  async function renderComparison() {
    const mine = ++seq;
    if (ids.length < 2) { clear(out, h('section', { class: 'cell' }, emptyNote('Pick at least two runs to compare.'))); return; }
    let runs;
    try {
      runs = await Promise.all(ids.map((id) => api(`/api/runs/${id}`)));
    } catch (err) {
      clear(out, errorBox(err, 'Could not load the runs'));
      return;
    }
    if (mine !== seq) return;
    for (const r of runs) runCache.set(r.id, r);
    const paramsCell = h('section', { class: 'cell', 'aria-labelledby': 'h-cparams' });
    const metricsCell = h('section', { class: 'cell', 'aria-labelledby': 'h-cmetrics' });
    const curvesCell = h('section', { class: 'cell', 'aria-labelledby': 'h-ccurves' }, h('h2', { id: 'h-ccurves' }, 'Curves, overlaid'), emptyNote('Loading…'));
    const rocCell = h('section', { class: 'cell', 'aria-labelledby': 'h-croc' }, h('h2', { id: 'h-croc' }, 'Test ROC curves, overlaid'), emptyNote('Loading…'));
    const heatCell = h('section', { class: 'cell', id: 'cell-cheat', 'aria-labelledby': 'h-cheat' }, h('h2', { id: 'h-cheat' }, 'Heatmaps, side by side'), emptyNote('Loading…'));
    clear(out, paramsCell, metricsCell, curvesCell, rocCell, heatCell);

    const renderParams = () => {
      const flat = runs.map((r) => ({ ...flatten(r.params), state: r.state, attempts: r.attempts, experiment_id: r.experiment_id }));
      const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
      const differs = (k) => new Set(flat.map((f) => JSON.stringify(f[k] ?? null))).size > 1;
      const shown = keys.filter((k) => !onlyDiff || differs(k));
      const box = h('input', { type: 'checkbox', id: 'only-diff', checked: onlyDiff, onchange: () => { onlyDiff = box.checked; renderParams(); } });
      clear(paramsCell, h('h2', { id: 'h-cparams' }, 'Parameters', h('span', { class: 'hint' }, 'rows that differ are highlighted')),
        h('div', { class: 'cell-tools' }, h('span', { class: 'field' }, box, h('label', { for: 'only-diff' }, 'Only differences'))),
        h('div', { class: 'table-wrap' }, h('table', { class: 'params-compare' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Parameter'), runs.map((r) => h('th', {}, h('a', { href: `#/runs/${r.id}` }, `#${r.id}`))))),
          h('tbody', {}, shown.map((k) => h('tr', { class: differs(k) ? 'diff' : '', 'data-param': k },
            h('th', { scope: 'row', class: 'mono' }, k), flat.map((f) => h('td', {}, f[k] === undefined || f[k] === '' ? '—' : String(f[k])))))))));
    };
    renderParams();

    const mkeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics || {})))].filter((k) => /roc_auc|\/ap$/.test(k)).sort();
    clear(metricsCell, h('h2', { id: 'h-cmetrics' }, 'Final metrics', h('span', { class: 'hint' }, 'best per row in bold')), mkeys.length
      ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Metric'), runs.map((r) => h('th', { class: 'num' }, `#${r.id}`)))),
        h('tbody', {}, mkeys.map((k) => {
          const vals = runs.map((r) => r.metrics?.[k]);
          const best = Math.max(...vals.filter(Number.isFinite));
          return h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k),
            vals.map((v) => h('td', { class: 'num' }, v === best ? h('strong', {}, fmtNum(v)) : fmtNum(v))));
        }))))
      : emptyNote('None of these runs has been evaluated yet.'));

    try {
      const series = await Promise.all(runs.map((r) => api(`/api/runs/${r.id}/metrics`).then((m) => ({ name: runLabel(r), series: m.series }))));
      if (mine === seq) clear(curvesCell, h('h2', { id: 'h-ccurves' }, 'Curves, overlaid'), metricCharts(series));
    } catch (err) {
      clear(curvesCell, h('h2', { id: 'h-ccurves' }, 'Curves, overlaid'), errorBox(err, 'Could not load metrics'));
    }
    await Promise.all([renderROC(runs, rocCell, mine), renderHeatmaps(runs, heatCell, mine)]);
  }

  async function renderROC(runs, rocCell, mine) {
    const title = h('h2', { id: 'h-croc' }, 'Test ROC curves, overlaid');
    const names = scoreNames(runs);
    if (!names.length) {
      clear(rocCell, title, emptyNote('None of these runs has test scores yet.'));
      return;
    }
    if (!names.includes(rocScore)) rocScore = names.includes('mean') ? 'mean' : names[0];
    const score = rocScore;
    const curves = await Promise.all(runs.map((r) => api(`/api/runs/${r.id}/roc?score=${encodeURIComponent(score)}&split=test`).catch((err) => err)));
    if (mine !== seq || score !== rocScore) return;
    const select = h('select', { id: 'roc-score-compare', onchange: () => { rocScore = select.value; renderROC(runs, rocCell, mine); } },
      names.map((n) => h('option', { value: n, selected: n === score }, n)));
    // No scores yet (404) or none of this name (400 on the score
    // parameter) is a missing curve; anything else, such as scores the
    // server refuses to rank, is shown as an error.
    const absent = (c) => c instanceof ApiError && (c.status === 404 || (c.status === 400 && c.details?.parameter === 'score'));
    const series = curves.map((c, i) => [runs[i], c]).filter(([, c]) => !(c instanceof Error))
      .map(([r, c]) => ({ name: `${runLabel(r)} (AUC ${fmtNum(c.auc)})`, points: c.points.map((p) => ({ x: p.fpr, y: p.tpr })) }));
    const missing = runs.filter((r, i) => absent(curves[i]));
    const failed = curves.map((c, i) => [runs[i], c]).filter(([, c]) => c instanceof Error && !absent(c));
    clear(rocCell, title,
      h('div', { class: 'cell-tools' }, h('label', { for: 'roc-score-compare' }, 'Score'), select),
      series.length ? lineChart(series, { title: `ROC, score ${score}, test images`, xLabel: 'false positive rate', yLabel: 'true positive rate',
        xMin: 0, xMax: 1, yMin: 0, yMax: 1, square: true, diagonal: true }) : null,
      missing.length ? h('p', { class: 'muted small' }, `No ${score} test scores for: ${missing.map((r) => `#${r.id}`).join(', ')}.`) : null,
      failed.map(([r, e]) => errorBox(e, `ROC of run ${r.id}`)));
  }

  // Heatmaps: one test image of a reference run, and its map from every
  // picked run whose test split holds the same image (same path and hand
  // in its scores); the others are listed with the reason, never asked.
  const scoresCache = new Map();
  const scoresOf = (id) => {
    if (!scoresCache.has(id)) scoresCache.set(id, api(`/api/runs/${id}/scores`).catch((err) => err));
    return scoresCache.get(id);
  };
  let heatRef = 0;
  let heatImage = '';
  let heatAbnormal = true;
  // '' = each run's first map (recon for a reconstruction, d_grad for a DCGAN)
  let heatMap = '';
  async function renderHeatmaps(runs, cell, mine) {
    const title = h('h2', { id: 'h-cheat' }, 'Heatmaps, side by side', h('span', { class: 'hint' }, 'one test image, its map from each run that shares it'));
    const tables = await Promise.all(runs.map((r) => scoresOf(r.id)));
    if (mine !== seq) return;
    const rowsOf = new Map(runs.map((r, i) => [r.id, tables[i] instanceof Error ? null : tables[i].rows]));
    const refs = runs.filter((r) => rowsOf.get(r.id)?.some((row) => row.part === 'test'));
    if (!refs.length) { clear(cell, title, emptyNote('None of these runs has test scores yet.')); return; }
    if (!refs.some((r) => r.id === heatRef)) heatRef = refs[0].id;
    const key = (row) => `${row.path}|${row.half}`;
    const refRows = rowsOf.get(heatRef).filter((row) => row.part === 'test' && (!heatAbnormal || row.label === 1));
    refRows.sort((a, b) => b.label - a.label || a.path.localeCompare(b.path) || a.half - b.half);
    if (!refRows.some((row) => key(row) === heatImage)) heatImage = refRows[0] ? key(refRows[0]) : '';
    const refSel = h('select', { id: 'heat-ref', onchange: () => { heatRef = Number(refSel.value); renderHeatmaps(runs, cell, mine); } },
      refs.map((r) => h('option', { value: r.id, selected: r.id === heatRef }, runLabel(r))));
    const imgSel = h('select', { id: 'heat-image', onchange: () => { heatImage = imgSel.value; renderHeatmaps(runs, cell, mine); } },
      refRows.map((row) => h('option', { value: key(row), selected: key(row) === heatImage },
        `${row.path}${row.half ? ` (hand ${row.half})` : ''} · ${row.label ? 'abnormal' : 'normal'}`)));
    const abBox = h('input', { type: 'checkbox', id: 'heat-abnormal', checked: heatAbnormal, onchange: () => { heatAbnormal = abBox.checked; renderHeatmaps(runs, cell, mine); } });
    const mapSel = h('select', { id: 'heat-map', onchange: () => { heatMap = mapSel.value; renderHeatmaps(runs, cell, mine); } },
      [['', "each run's first"], ['recon', 'recon (reconstruction)'], ['d_grad', 'd_grad (discriminator)'], ['d_gradx', 'd_gradx (discriminator × input)']]
        .map(([v, text]) => h('option', { value: v, selected: v === heatMap }, text)));
    const tools = h('div', { class: 'cell-tools' },
      h('label', { for: 'heat-ref' }, 'Images of'), refSel,
      h('label', { for: 'heat-image' }, 'Image'), imgSel,
      h('label', { for: 'heat-map' }, 'Map'), mapSel,
      h('span', { class: 'field' }, abBox, h('label', { for: 'heat-abnormal' }, 'abnormal only')));
    if (!heatImage) { clear(cell, title, tools, emptyNote('No test image to show.')); return; }
    const [path, halfText] = [heatImage.slice(0, heatImage.lastIndexOf('|')), heatImage.slice(heatImage.lastIndexOf('|') + 1)];
    const half = Number(halfText);
    const tiles = [];
    const refused = [];
    for (const r of runs) {
      const rows = rowsOf.get(r.id);
      const row = rows?.find((x) => x.part === 'test' && x.path === path && x.half === half);
      if (!row) {
        const other = rows?.find((x) => x.path === path);
        const why = !rows ? 'has no test scores yet' : other ? `has this image in its ${other.part} split, not its test split` : 'does not have this image among its test images (another split or data set)';
        refused.push(h('li', { 'data-run': r.id }, `${runLabel(r)} ${why}.`));
        continue;
      }
      const scoreText = Object.entries(row.scores).slice(0, 3).map(([k, v]) => `${k} ${fmtNum(v)}`).join(' · ');
      const fig = h('figure', { class: 'heat-tile', 'data-run': r.id, 'data-image': heatImage }, h('p', { class: 'muted small' }, 'Rendering…'));
      const alt = `heatmap of ${path} by run ${r.id}`;
      objectURL(`/api/runs/${r.id}/heatmap?image=${encodeURIComponent(path)}&half=${half}${heatMap ? `&map=${heatMap}` : ''}`).then((url) => {
        clear(fig, url ? h('img', { src: url, alt }) : emptyNote(`Run ${r.id} has no heatmap of this image.`),
          h('figcaption', {}, h('a', { href: `#/runs/${r.id}` }, runLabel(r)), h('br'), scoreText));
      }).catch((err) => clear(fig, errorBox(err, `Heatmap of run ${r.id}`), h('figcaption', {}, runLabel(r))));
      tiles.push(fig);
    }
    clear(cell, title, tools,
      h('p', { class: 'muted small' }, 'Each map on its own colour scale (its 99th percentile inside the mask); the true anomaly is outlined where the data has one.'),
      tiles.length ? h('div', { class: 'heat-grid' }, tiles) : null,
      refused.length ? h('div', { class: 'refused' }, h('h3', {}, 'Not shown'), h('ul', {}, refused)) : null);
  }

  renderPicked();
  await loadExperiments();
  await renderComparison();
  return null;
}
