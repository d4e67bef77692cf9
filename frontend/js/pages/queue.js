// The queue: queued runs in the order workers lease them (highest priority,
// then oldest), with the controls that change it — pause and resume, move
// to top, a run's priority, cancel, cancel an experiment's queued runs —
// and the failed and cancelled runs, which can be retried. Every action is
// a write, so api() asks for the token when the server wants it.

import { api } from '../api.js';
import { h, clear, fmtTime, errorBox, emptyNote, stateBadge } from '../dom.js';
import { on } from '../live.js';
import { runLabel } from './common.js';

const PAGE = 100;

// showPaused marks the "Queue" link in the header while the queue is paused.
export function showPaused(paused) {
  const link = document.querySelector('[data-nav="queue"]');
  if (!link) return;
  link.querySelector('.paused-mark')?.remove();
  if (paused) link.append(h('span', { class: 'badge state-cancelled paused-mark', title: 'no run starts until the queue is resumed' }, 'paused'));
}

// refreshPaused reads the pause state for the header mark; a failure
// leaves the mark as it is.
export async function refreshPaused() {
  try {
    showPaused((await api('/api/queue?limit=1')).paused);
  } catch { /* the header mark is a hint only */ }
}

export function queuePage() {
  const main = document.getElementById('main');
  const status = h('div', { id: 'queue-status', class: 'cell', 'aria-live': 'polite' });
  const queued = h('div', { id: 'queue-runs', class: 'cell', 'aria-live': 'polite' });
  const ended = h('div', { id: 'queue-ended', class: 'cell' });
  const message = h('div', { id: 'queue-message', role: 'status' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Queue')), message, status,
    h('h2', {}, 'Queued runs, in the order they start'), queued,
    h('h2', {}, 'Failed and cancelled runs'), ended);

  // act runs one mutation, shows its error if any, then reloads.
  async function act(what, fn) {
    clear(message);
    try {
      await fn();
    } catch (err) {
      clear(message, errorBox(err, what));
    }
    await load();
  }
  const post = (path, json) => api(path, { method: 'POST', json });

  let seq = 0;
  async function load() {
    const mine = ++seq;
    let q, failed, cancelled;
    try {
      [q, failed, cancelled] = await Promise.all([
        api(`/api/queue?limit=${PAGE}`),
        api('/api/runs?state=failed&limit=50'),
        api('/api/runs?state=cancelled&limit=50'),
      ]);
    } catch (err) {
      if (mine === seq) clear(queued, errorBox(err, 'Could not load the queue'));
      return;
    }
    if (mine !== seq) return;
    showPaused(q.paused);
    renderStatus(q);
    renderQueued(q);
    renderEnded([...failed.items, ...cancelled.items].sort((a, b) => b.id - a.id));
  }

  function renderStatus(q) {
    clear(status,
      h('p', { class: q.paused ? 'notice' : '' }, q.paused
        ? 'The queue is paused: no queued run starts; running runs finish.'
        : 'The queue is running: idle workers take the first queued run.',
      ` ${q.total} run${q.total === 1 ? '' : 's'} queued.`),
      h('div', { class: 'actions' },
        q.paused
          ? h('button', { type: 'button', id: 'queue-resume', class: 'primary', onclick: () => act('Could not resume', () => post('/api/queue/resume')) }, 'Resume queue')
          : h('button', { type: 'button', id: 'queue-pause', onclick: () => act('Could not pause', () => post('/api/queue/pause')) }, 'Pause queue')));
  }

  function renderQueued(q) {
    if (!q.items.length) {
      clear(queued, emptyNote('No run is queued.'));
      return;
    }
    // One bulk-cancel button per experiment that has queued runs here.
    const exps = [...new Set(q.items.map((r) => r.experiment_id))];
    const rows = q.items.map((r, i) => {
      const input = h('input', { type: 'number', min: '-1000', max: '1000', step: '1', value: String(r.priority || 0),
        class: 'priority-input', 'aria-label': `priority of run ${r.id}` });
      return h('tr', { 'data-run': r.id },
        h('td', { class: 'num' }, String(i + 1 + q.offset)),
        h('td', {}, h('a', { href: `#/runs/${r.id}` }, runLabel(r))),
        h('td', {}, h('a', { href: `#/experiments/${r.experiment_id}` }, `#${r.experiment_id}`, r.params?.experiment ? ` ${r.params.experiment}` : '')),
        h('td', { class: 'num' }, String(r.priority || 0), r.priority_override !== undefined ? h('span', { class: 'muted small', title: 'set on this run' }, ' (run)') : null),
        h('td', {}, fmtTime(r.created)),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'move-top', disabled: i === 0 && q.offset === 0,
            onclick: () => act(`Could not move run ${r.id}`, () => post(`/api/runs/${r.id}/top`)) }, 'Move to top'),
          // novalidate: the server checks the range and says so.
          h('form', { class: 'field', novalidate: true, onsubmit: (e) => {
            e.preventDefault();
            const v = input.value.trim();
            act(`Could not set the priority of run ${r.id}`, () => post(`/api/runs/${r.id}/priority`, { priority: v === '' ? null : Number(v) }));
          } }, input, h('button', { type: 'submit', class: 'set-priority' }, 'Set')),
          h('button', { type: 'button', class: 'cancel', onclick: () => act(`Could not cancel run ${r.id}`, () => post(`/api/runs/${r.id}/cancel`)) }, 'Cancel'))));
    });
    clear(queued,
      h('div', { class: 'actions' }, exps.map((id) => h('button', { type: 'button', class: 'cancel-queued', 'data-experiment': id,
        onclick: () => {
          if (!confirm(`Cancel every queued run of experiment #${id}? Running runs go on.`)) return;
          act(`Could not cancel experiment ${id}'s runs`, () => post(`/api/experiments/${id}/cancel-queued`));
        } }, `Cancel queued runs of #${id}`))),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list queue' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Order'), h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col' }, 'Experiment'),
          h('th', { scope: 'col', class: 'num' }, 'Priority'), h('th', { scope: 'col' }, 'Queued'), h('th', { scope: 'col' }, 'Actions'))),
        h('tbody', {}, rows))),
      q.total > q.items.length ? h('p', { class: 'muted small' }, `… and ${q.total - q.items.length} more.`) : null);
  }

  function renderEnded(runs) {
    if (!runs.length) {
      clear(ended, emptyNote('No failed or cancelled run.'));
      return;
    }
    clear(ended, h('div', { class: 'table-wrap' }, h('table', { class: 'list ended' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'num' }, 'Attempts'),
        h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col' }, ''))),
      h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.id },
        h('td', {}, h('a', { href: `#/runs/${r.id}` }, runLabel(r))),
        h('td', {}, stateBadge(r.state)),
        h('td', { class: 'num' }, String(r.attempts)),
        h('td', { class: 'small' }, r.error || '—'),
        h('td', {}, h('button', { type: 'button', class: 'retry',
          onclick: () => act(`Could not retry run ${r.id}`, () => post(`/api/runs/${r.id}/retry`)) }, 'Retry'))))))));
  }

  // Runs start, finish and get queued as events arrive: reload (at most
  // every 500 ms).
  let pending = null;
  const off = on((ev) => {
    if (ev.type === 'state' && !pending) pending = setTimeout(() => { pending = null; load(); }, 500);
  });
  const again = () => load();
  document.addEventListener('xraylab:reconnected', again);
  load();
  return () => { off(); clearTimeout(pending); document.removeEventListener('xraylab:reconnected', again); };
}
