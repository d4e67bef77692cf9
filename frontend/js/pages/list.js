// The experiments list: search by name, pages of 25 (limit/offset, so it
// stays fast with thousands of runs), state counts, best figure and a
// progress bar that follows the live stream.

import { api } from '../api.js';
import { h, clear, fmtTime, fmtNum, progress, errorBox, emptyNote } from '../dom.js';
import { on, latest, runFraction } from '../live.js';

const PAGE = 25;
const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

// expProgress is the share of an experiment's runs that are done, running
// runs counted by their latest progress.
function expProgress(e) {
  if (!e.runs) return 0;
  const done = e.counts.succeeded + e.counts.failed + e.counts.cancelled;
  let partial = 0;
  for (const ev of latest.values()) if (ev.experiment_id === e.id) partial += runFraction(ev);
  return Math.min(1, (done + partial) / e.runs);
}

export function counts(c) {
  return h('span', { class: 'counts' }, STATES.filter((s) => c[s]).map((s) =>
    h('span', { class: `badge state-${s}`, title: s }, `${c[s]} ${s}`)));
}

export function listPage(query) {
  const main = document.getElementById('main');
  let search = query.get('search') || '';
  let offset = Math.max(0, Number(query.get('offset')) || 0);
  const input = h('input', { type: 'search', id: 'search', value: search, placeholder: 'experiment name contains…', autocomplete: 'off' });
  let archived = query.get('archived') === 'true';
  const showArchived = h('input', { type: 'checkbox', id: 'show-archived', checked: archived,
    onchange: () => { archived = showArchived.checked; offset = 0; load(); } });
  const body = h('div', { class: 'cell', 'aria-live': 'polite' });
  main.append(
    h('div', { class: 'page-head' },
      h('h1', {}, 'Experiments'),
      h('a', { class: 'button primary', href: '#/submit' }, 'New experiment')),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); search = input.value.trim(); offset = 0; load(); } },
      h('label', { for: 'search' }, 'Search'), input, h('button', { type: 'submit' }, 'Search'),
      h('label', { class: 'field' }, showArchived, 'Show archived')),
    body);

  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { search = input.value.trim(); offset = 0; load(); }, 300);
  });

  let items = [];
  let seq = 0;
  async function load() {
    const mine = ++seq;
    const q = new URLSearchParams({ limit: PAGE, offset });
    if (search) q.set('search', search);
    if (archived) q.set('archived', 'true');
    // Keep the address shareable without a re-render.
    const shown = new URLSearchParams();
    if (search) shown.set('search', search);
    if (offset) shown.set('offset', offset);
    if (archived) shown.set('archived', 'true');
    history.replaceState(null, '', `#/${shown.toString() ? '?' + shown : ''}`);
    let page;
    try {
      page = await api(`/api/experiments?${q}`);
    } catch (err) {
      if (mine === seq) clear(body, errorBox(err, 'Could not load experiments'));
      return;
    }
    if (mine !== seq) return;
    items = page.items;
    render(page);
  }

  function render(page) {
    if (!page.items.length) {
      clear(body, emptyNote(search ? `No experiment name contains “${search}”.` : 'No experiments yet. Submit a spec to start one.'));
      return;
    }
    const rows = page.items.map((e) => h('tr', { 'data-experiment': e.id },
      h('td', {}, h('a', { href: `#/experiments/${e.id}` }, e.name), e.archived ? [' ', h('span', { class: 'badge archived' }, 'archived')] : null, h('div', { class: 'muted small' }, `#${e.id} · ${e.runs} run${e.runs === 1 ? '' : 's'}`)),
      h('td', {}, fmtTime(e.created)),
      h('td', {}, counts(e.counts)),
      h('td', {}, e.best
        ? [h('a', { href: `#/runs/${e.best.run_id}`, class: 'figure' }, Number.isFinite(e.best.value) ? e.best.value.toFixed(3) : '—'), h('div', { class: 'muted small' }, e.best.key)]
        : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'progress-cell' }, progress(expProgress(e), `${Math.round(expProgress(e) * 100)}%`))));
    const last = Math.min(page.offset + page.items.length, page.total);
    clear(body,
      h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, 'Runs by state'),
          h('th', { scope: 'col' }, 'Best test ROC-AUC'), h('th', { scope: 'col' }, 'Progress'))),
        h('tbody', {}, rows))),
      h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('button', { type: 'button', disabled: page.offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, '← Newer'),
        h('span', {}, `${page.offset + 1}–${last} of ${page.total}`),
        h('button', { type: 'button', disabled: last >= page.total, onclick: () => { offset += PAGE; load(); } }, 'Older →')));
  }

  // State changes alter counts: reload (at most every 500 ms); progress
  // only moves bars.
  let pending = null;
  const off = on((ev) => {
    if (ev.type === 'state') {
      if (!pending) pending = setTimeout(() => { pending = null; load(); }, 500);
      return;
    }
    const row = body.querySelector(`tr[data-experiment="${ev.experiment_id}"] .progress-cell`);
    const e = items.find((x) => x.id === ev.experiment_id);
    if (row && e) clear(row, progress(expProgress(e), `${Math.round(expProgress(e) * 100)}%`));
  });
  const again = () => load();
  document.addEventListener('xraylab:reconnected', again);
  load();
  return () => { off(); clearTimeout(timer); clearTimeout(pending); document.removeEventListener('xraylab:reconnected', again); };
}
