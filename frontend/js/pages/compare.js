// Compare: pick runs from any experiments, then see their parameters side
// by side (rows that differ highlighted), their final metrics, their
// curves overlaid, and their test ROC curves overlaid (computed by the
// server from each run's per-image scores, /api/runs/:id/roc).

import { api, ApiError } from '../api.js';
import { h, clear, fmtNum, errorBox, emptyNote, stateBadge } from '../dom.js';
import { lineChart } from '../chart.js';
import { runLabel, flatten, metricCharts, allRuns, scoreNames } from './common.js';

const MAX_RUNS = 8;

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
      const first = ids.length ? (await getRun(ids[0]).catch(() => null))?.experiment_id : page.items[0]?.id;
      if (first) { expSelect.value = String(first); await loadExpRuns(); }
    } catch (err) {
      clear(runsList, errorBox(err, 'Could not load experiments'));
    }
  }
  async function loadExpRuns() {
    const e = Number(expSelect.value);
    if (!e) { expRuns = []; renderRunsList(); return; }
    try {
      expRuns = await allRuns(`experiment=${e}`, 1000);
      for (const r of expRuns) runCache.set(r.id, r);
      renderRunsList();
    } catch (err) {
      clear(runsList, errorBox(err, 'Could not load runs'));
    }
  }
  expSelect.addEventListener('change', loadExpRuns);

  function renderRunsList() {
    if (!expRuns.length) { clear(runsList, emptyNote('No runs in this experiment.')); return; }
    clear(runsList, expRuns.map((r) => {
      const box = h('input', { type: 'checkbox', value: r.id, checked: ids.includes(r.id), disabled: !ids.includes(r.id) && ids.length >= MAX_RUNS,
        onchange: () => (box.checked ? add(r.id) : remove(r.id)) });
      return h('label', { 'data-run': r.id }, box, runLabel(r), ' ', stateBadge(r.state));
    }));
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
    clear(out, paramsCell, metricsCell, curvesCell, rocCell);

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
    await renderROC(runs, rocCell, mine);
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
        xMin: 0, xMax: 1, yMin: 0, yMax: 1, square: true, diagonal: true, legend: true }) : null,
      missing.length ? h('p', { class: 'muted small' }, `No ${score} test scores for: ${missing.map((r) => `#${r.id}`).join(', ')}.`) : null,
      failed.map(([r, e]) => errorBox(e, `ROC of run ${r.id}`)));
  }

  renderPicked();
  await loadExperiments();
  await renderComparison();
  return null;
}
