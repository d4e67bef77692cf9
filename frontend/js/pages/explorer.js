// The explorer: runs across experiments, found with the search language of
// GET /api/runs?filter= (errors shown with their position), sorted by
// clicking a column (order_by), with chosen final-metric columns, archived
// runs on request, pages of 50 and a CSV export of the whole result.

import { api } from '../api.js';
import { h, clear, fmtTime, fmtNum, errorBox, emptyNote, stateBadge } from '../dom.js';
import { runLabel, allRuns } from './common.js';

const PAGE = 50;

// Fixed columns: title, order_by key, cell.
const COLUMNS = [
  ['Run', 'id', (r) => h('a', { href: `#/runs/${r.id}` }, runLabel(r))],
  ['Experiment', 'experiment', (r, names) => h('a', { href: `#/experiments/${r.experiment_id}` }, names.get(r.experiment_id) || `#${r.experiment_id}`)],
  ['Model', 'model', (r) => r.model],
  ['State', 'state', (r) => [stateBadge(r.state), r.archived ? h('span', { class: 'badge archived' }, 'archived') : null]],
  ['Seed', 'seed', (r) => String(r.seed)],
  ['Created', 'created', (r) => fmtTime(r.created)],
];

// metricKey quotes a metric key for the filter language.
export function metricKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `metrics.${k}` : `metrics.\`${k}\``;
}

// csvField quotes one CSV field (RFC 4180).
export function csvField(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// toCSV writes runs as CSV: fixed columns, tags, then the chosen metrics.
export function toCSV(runs, metrics, names) {
  const head = ['run_id', 'experiment_id', 'experiment', 'model', 'state', 'seed', 'created', 'archived', 'tags', ...metrics];
  const lines = [head.map(csvField).join(',')];
  for (const r of runs) {
    const tags = Object.keys(r.tags || {}).sort().map((k) => `${k}=${r.tags[k]}`).join(';');
    lines.push([r.id, r.experiment_id, names.get(r.experiment_id) || '', r.model, r.state, r.seed, r.created, r.archived || '', tags,
      ...metrics.map((k) => (r.metrics && k in r.metrics ? r.metrics[k] : ''))].map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

export function explorerPage(query) {
  const main = document.getElementById('main');
  document.title = 'Explorer · xraylab';
  const state = {
    filter: query.get('filter') || '',
    order: query.get('order_by') || '',
    archived: query.get('archived') || 'false',
    metrics: (query.get('metrics') || '').split(',').filter(Boolean),
    offset: Math.max(0, Number(query.get('offset')) || 0),
  };
  const filterInput = h('input', { type: 'search', id: 'filter', value: state.filter, autocomplete: 'off', spellcheck: false,
    placeholder: "model = 'cae' AND metrics.`test/recon/roc_auc` > 0.6", 'aria-describedby': 'filter-help' });
  const archivedSel = h('select', { id: 'archived', 'aria-label': 'archived runs' },
    [['false', 'hide archived'], ['true', 'include archived'], ['only', 'only archived']].map(([v, t]) => h('option', { value: v, selected: v === state.archived }, t)));
  const metricInput = h('input', { type: 'text', id: 'metric-add', list: 'metric-keys', placeholder: 'add a metric column…', autocomplete: 'off' });
  const keyList = h('datalist', { id: 'metric-keys' });
  const chosen = h('div', { class: 'picked', 'aria-label': 'Metric columns' });
  const body = h('div', { class: 'cell', 'aria-live': 'polite' });
  const exportBtn = h('button', { type: 'button', id: 'export-csv', onclick: exportCSV }, 'Export CSV');
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Explorer'), h('div', { class: 'actions' }, exportBtn)),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); state.filter = filterInput.value.trim(); state.offset = 0; load(); } },
      h('label', { for: 'filter' }, 'Filter'), filterInput, archivedSel, h('button', { type: 'submit', class: 'primary' }, 'Search')),
    h('p', { id: 'filter-help', class: 'muted small' },
      'Keys: params.<name>, metrics.<key> (quote keys with / in backticks), tags.<key>, state, model, experiment, seed, created; ',
      'operators =, !=, <, <=, >, >=, LIKE, IN (…); AND, OR, parentheses. Click a column to sort.'),
    h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); addMetric(metricInput.value.trim()); metricInput.value = ''; } },
      h('label', { for: 'metric-add' }, 'Metric columns'), metricInput, keyList, h('button', { type: 'submit' }, 'Add'), chosen),
    body);
  archivedSel.addEventListener('change', () => { state.archived = archivedSel.value; state.offset = 0; load(); });

  const names = new Map(); // experiment id → name
  function addMetric(k) {
    if (!k || state.metrics.includes(k)) return;
    state.metrics.push(k);
    load();
  }
  function renderChosen() {
    clear(chosen, state.metrics.map((k) => h('span', { class: 'chip', 'data-metric': k }, h('span', { class: 'mono small' }, k),
      h('button', { type: 'button', class: 'link', 'aria-label': `remove column ${k}`, onclick: () => { state.metrics = state.metrics.filter((x) => x !== k); load(); } }, '×'))));
  }

  function params(extra = {}) {
    const q = new URLSearchParams();
    if (state.filter) q.set('filter', state.filter);
    if (state.order) q.set('order_by', state.order);
    if (state.archived !== 'false') q.set('archived', state.archived);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q;
  }

  async function experimentNames(runs) {
    const missing = [...new Set(runs.map((r) => r.experiment_id))].filter((id) => !names.has(id));
    await Promise.all(missing.map((id) => api(`/api/experiments/${id}`).then((e) => names.set(id, e.name)).catch(() => {})));
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    const shown = params();
    if (state.metrics.length) shown.set('metrics', state.metrics.join(','));
    if (state.offset) shown.set('offset', state.offset);
    history.replaceState(null, '', `#/explorer${shown.toString() ? '?' + shown : ''}`);
    renderChosen();
    let page;
    try {
      page = await api(`/api/runs?${params({ limit: PAGE, offset: state.offset })}`);
      await experimentNames(page.items);
    } catch (err) {
      if (mine === seq) clear(body, errorBox(err, 'Search failed'));
      return;
    }
    if (mine !== seq) return;
    const keys = new Set();
    for (const r of page.items) for (const k of Object.keys(r.metrics || {})) keys.add(k);
    clear(keyList, [...keys].sort().map((k) => h('option', { value: k })));
    render(page);
  }

  // sortBy cycles a column: ascending, descending.
  function sortBy(key) {
    const [cur, dir] = state.order.split(/\s+/);
    state.order = cur === key && (dir || 'ASC').toUpperCase() === 'ASC' ? `${key} DESC` : `${key} ASC`;
    state.offset = 0;
    load();
  }
  function sortMark(key) {
    const [cur, dir] = state.order.split(/\s+/);
    if (cur !== key) return 'none';
    return (dir || 'ASC').toUpperCase() === 'DESC' ? 'descending' : 'ascending';
  }

  function render(page) {
    if (!page.items.length) {
      clear(body, emptyNote(state.filter ? 'No run matches this filter.' : 'No runs yet.'));
      return;
    }
    const header = (title, key) => h('th', { scope: 'col', 'aria-sort': sortMark(key), class: key.startsWith('metrics.') ? 'num' : null },
      h('button', { type: 'button', class: 'link sort', 'data-sort': key, onclick: () => sortBy(key) }, title,
        { ascending: ' ▲', descending: ' ▼', none: '' }[sortMark(key)]));
    const last = Math.min(page.offset + page.items.length, page.total);
    clear(body,
      h('p', { class: 'muted small', id: 'result-count' }, `${page.total} run${page.total === 1 ? '' : 's'}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list explorer' },
        h('thead', {}, h('tr', {}, COLUMNS.map(([t, k]) => header(t, k)), state.metrics.map((m) => header(m, metricKey(m))), h('th', { scope: 'col' }, 'Tags'))),
        h('tbody', {}, page.items.map((r) => h('tr', { 'data-run': r.id },
          COLUMNS.map(([, , cell]) => h('td', {}, cell(r, names))),
          state.metrics.map((m) => h('td', { class: 'num' }, fmtNum(r.metrics?.[m], 4))),
          h('td', {}, Object.keys(r.tags || {}).sort().map((k) => h('span', { class: 'chip tag small' }, `${k}=${r.tags[k]}`)))))))),
      h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('button', { type: 'button', disabled: page.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); } }, '← Previous'),
        h('span', {}, `${page.offset + 1}–${last} of ${page.total}`),
        h('button', { type: 'button', disabled: last >= page.total, onclick: () => { state.offset += PAGE; load(); } }, 'Next →')));
  }

  async function exportCSV() {
    exportBtn.disabled = true;
    try {
      const runs = await allRuns(params().toString() || 'order_by=id', 100000);
      await experimentNames(runs);
      const url = URL.createObjectURL(new Blob([toCSV(runs, state.metrics, names)], { type: 'text/csv' }));
      const a = h('a', { href: url, download: 'runs.csv' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      clear(body, errorBox(err, 'Export failed'));
    } finally {
      exportBtn.disabled = false;
    }
  }

  load();
  return null;
}
