// The run page: what the run is (params, seed), how it went (state,
// attempts, error, metrics, curves) and what it wrote (artifacts), with a
// cancel button while it can still be cancelled.

import { api } from '../api.js';
import { h, clear, fmtTime, fmtNum, errorBox, emptyNote, stateBadge } from '../dom.js';
import { on } from '../live.js';
import { runLabel, flatten, metricCharts, runProgress, artifactsTable, image } from './common.js';
import { tagEditor, curationActions, archivedNote } from './curation.js';

export async function runPage(id) {
  const main = document.getElementById('main');
  const head = h('div', { class: 'page-head' });
  const status = h('section', { class: 'cell', 'aria-labelledby': 'h-status' });
  const params = h('section', { class: 'cell', 'aria-labelledby': 'h-params' });
  const metrics = h('section', { class: 'cell', 'aria-labelledby': 'h-metrics' });
  const charts = h('section', { class: 'cell', 'aria-labelledby': 'h-charts' });
  const data = h('section', { class: 'cell', 'aria-labelledby': 'h-data' });
  const plots = h('section', { class: 'cell', 'aria-labelledby': 'h-plots' });
  const files = h('section', { class: 'cell', 'aria-labelledby': 'h-files' });
  const logs = h('section', { class: 'cell', 'aria-labelledby': 'h-logs' });
  main.append(head, status, params, metrics, charts, data, plots, files, logs);
  let run;
  let exp = null;
  let job = null;

  async function load() {
    try {
      run = await api(`/api/runs/${id}`);
    } catch (err) {
      clear(head, errorBox(err, `Run ${id}`));
      return;
    }
    if (!exp || exp.id !== run.experiment_id) exp = await api(`/api/experiments/${run.experiment_id}`).catch(() => null);
    // A server with a cluster backend tells where the run's job is; a local
    // server has no such endpoint (404) and the rows stay out.
    job = await api(`/api/runs/${id}/job`).catch(() => null);
    document.title = `run ${id} · xraylab`;
    renderHead();
    renderStatus();
    clear(params, h('h2', { id: 'h-params' }, 'Parameters'), kvTable(flatten(run.params)));
    const keys = Object.keys(run.metrics || {}).sort();
    clear(metrics, h('h2', { id: 'h-metrics' }, 'Metrics'), keys.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {}, keys.map((k) =>
        h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k), h('td', { class: 'num' }, fmtNum(run.metrics[k], 4)))))))
      : emptyNote('Final metrics appear when the run has been evaluated.'));
    await Promise.all([loadCharts(), loadFiles()]);
  }

  function renderHead() {
    const cancellable = run.state === 'queued' || run.state === 'running';
    const msg = h('span', { 'aria-live': 'polite' });
    clear(head,
      h('div', {}, h('h1', {}, runLabel(run)), h('div', { class: 'muted small meta' },
        'Experiment ', exp ? h('a', { href: `#/experiments/${exp.id}` }, exp.name) : `#${run.experiment_id}`, ` · run ${run.index + 1} of its grid`)),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: `#/compare?runs=${run.id}` }, 'Compare…'),
        cancellable ? h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: async (e) => {
          if (!confirm(`Cancel run ${run.id}?`)) return;
          e.target.disabled = true;
          try {
            run = await api(`/api/runs/${run.id}/cancel`, { method: 'POST' });
            load();
          } catch (err) {
            e.target.disabled = false;
            clear(msg, errorBox(err, 'Cancel failed'));
          }
        } }, 'Cancel run') : null, msg),
      h('div', { class: 'curation-row' }, tagEditor('run', run, () => load()),
        curationActions('run', run, () => load(), () => { location.hash = `#/experiments/${run.experiment_id}`; })),
      archivedNote('run', run));
  }

  function renderStatus() {
    clear(status, h('h2', { id: 'h-status' }, 'Status'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {},
        row('State', stateBadge(run.state)),
        row('Progress', h('div', { class: 'run-progress', style: 'max-width:24rem' }, runProgress(run))),
        row('Seed', String(run.seed)),
        row('Attempts', String(run.attempts)),
        row('Worker', run.worker || '—'),
        ...(job && job.backend && job.backend !== 'local' ? [
          row('Backend', job.backend),
          row('Job', job.job_id ? h('code', {}, job.job_id) : '—'),
          row('Node', job.node || '—'),
          row('Cluster state', job.slurm_state ? h('span', { class: `slurm slurm-${job.slurm_state.toLowerCase()}` }, job.slurm_state) : '—'),
          row('Last heartbeat', fmtTime(job.heartbeat)),
        ] : []),
        row('Created', fmtTime(run.created)),
        row('Started', fmtTime(run.started)),
        row('Finished', fmtTime(run.finished)),
        row('Data fingerprint', run.dataset_fingerprint ? h('code', {}, run.dataset_fingerprint) : '—')))),
      run.error ? h('div', { class: 'error', role: 'alert' }, h('strong', {}, `Run ${run.state}: `), run.error) : null);
  }

  let chartsEl = null; // the charts drawn last, redrawn in place when they can be
  async function loadCharts() {
    try {
      const m = await api(`/api/runs/${id}/metrics`);
      const el = metricCharts([{ name: runLabel(run), series: m.series }], undefined, chartsEl);
      if (el !== chartsEl) clear(charts, h('h2', { id: 'h-charts' }, 'Metric charts'), el);
      chartsEl = el;
    } catch (err) {
      clear(charts, h('h2', { id: 'h-charts' }, 'Metric charts'), errorBox(err, 'Could not load metrics'));
    }
  }

  async function loadFiles() {
    try {
      const a = await api(`/api/runs/${id}/artifacts`);
      // Thumbnails of suspicious masks belong to the dataset section.
      const pngs = a.items.filter((x) => x.name.endsWith('.png') && x.kind !== 'mask');
      await loadData(a.items);
      clear(plots, h('h2', { id: 'h-plots' }, 'Plots'), pngs.length
        ? h('div', { class: 'images' }, pngs.map((x) => image(x.url, x.name, x.name)))
        : emptyNote('No plots yet.'));
      clear(files, h('h2', { id: 'h-files' }, 'Artifacts'), artifactsTable(a.items));
      const logArt = a.items.find((x) => x.name === 'run.log');
      clear(logs, h('h2', { id: 'h-logs' }, 'Log'), logArt
        ? h('pre', { class: 'log', tabindex: '0' }, await api(logArt.url, { as: 'text' }))
        : emptyNote('The run writes its log when an attempt ends.'));
    } catch (err) {
      clear(files, h('h2', { id: 'h-files' }, 'Artifacts'), errorBox(err, 'Could not list artifacts'));
    }
  }

  async function loadData(artifacts) {
    let d;
    try {
      d = await api(`/api/runs/${id}/dataset`);
    } catch (err) {
      clear(data, h('h2', { id: 'h-data' }, 'Dataset'), err.status === 404
        ? emptyNote('The run records its data when it has read and preprocessed it.')
        : errorBox(err, 'Could not load the dataset record'));
      return;
    }
    clear(data, h('h2', { id: 'h-data' }, 'Dataset'), datasetSection(d.summary || {}, artifacts));
  }

  await load();
  let timer = null;
  const off = on((ev) => {
    if (ev.run_id !== id || !run) return;
    if (ev.type === 'progress') {
      if (run.state === 'queued') run.state = 'running';
      const el = status.querySelector('.run-progress');
      if (el) clear(el, runProgress(run));
      if (!timer) timer = setTimeout(() => { timer = null; loadCharts(); }, 1500);
      return;
    }
    load();
  });
  const again = () => load();
  document.addEventListener('xraylab:reconnected', again);
  return () => { off(); clearTimeout(timer); document.removeEventListener('xraylab:reconnected', again); };
}

function row(k, v) {
  return h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
}

export function kvTable(obj) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {},
    Object.entries(obj).map(([k, v]) => h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k), h('td', {}, v === null || v === undefined || v === '' ? '—' : String(v)))))));
}

// datasetSection shows what a run read (images, split, preprocessing) and
// its hand masks' statistics, with a thumbnail of each suspicious mask, so
// that a failed mask is seen before a table built on it is trusted.
function datasetSection(sum, artifacts) {
  const split = sum.split || {};
  const parts = ['train', 'val', 'test'].filter((p) => split[p]);
  const skipped = (sum.preprocess || []).reduce((n, r) => n + (r.Skipped || 0), 0);
  const rows = [
    row('Root', h('code', {}, sum.root || '—')),
    row('Images', `${sum.images ?? '—'} (${skipped} skipped in preprocessing)`),
    row('Split', parts.length ? parts.map((p) => `${p} ${split[p].images}`).join(', ') : '—'),
  ];
  const m = sum.masks;
  if (!m) {
    return h('div', {}, h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {}, rows))),
      emptyNote('No hand-mask statistics: only the full preprocessing variant makes masks.'));
  }
  const pct = (v) => `${(100 * v).toFixed(1)}%`;
  const dist = (d) => `min ${pct(d.min)} · mean ${pct(d.mean)} · max ${pct(d.max)}`;
  const comps = m.components.map((n, k) => n ? `${k === m.components.length - 1 ? `≥${k}` : k}: ${n}` : null).filter(Boolean).join(', ');
  const checks = Object.entries(m.checks || {}).map(([k, n]) => `${k} ${n}`).join(', ');
  rows.push(
    row('Masks measured', String(m.images)),
    row('Share of the image', dist(m.share)),
    row('Border contact', dist(m.border_contact)),
    row('Regions per image', comps || '—'),
    row('Suspicious masks', h('span', { class: m.suspicious ? 'warn' : '', id: 'mask-suspicious' },
      m.suspicious ? `${m.suspicious} of ${m.images} (${checks})` : 'none')));
  const byName = new Map(artifacts.map((a) => [a.name, a]));
  const flagged = m.flagged || [];
  const more = m.suspicious - flagged.length;
  return h('div', {},
    h('div', { class: 'table-wrap' }, h('table', { class: 'kv' }, h('tbody', {}, rows))),
    flagged.length ? h('div', {},
      h('h3', {}, 'Suspicious masks'),
      more > 0 ? h('p', { class: 'muted small' }, `The first ${flagged.length} are shown; ${more} more are counted above.`) : null,
      h('div', { class: 'images mask-flags' }, flagged.map((f) => {
        const caption = `${f.rel_path}: ${f.reason}`;
        const a = byName.get(f.thumbnail);
        return a ? image(a.url, `mask of ${f.rel_path}`, caption) : h('figure', {}, h('figcaption', {}, caption));
      }))) : null);
}
