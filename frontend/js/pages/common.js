// Pieces shared by the experiment, run and compare pages.

import { api, objectURL, download } from '../api.js';
import { h, clear, errorBox, emptyNote, fmtBytes, progress, fmtDuration } from '../dom.js';
import { lineChart } from '../chart.js';
import { highlight } from '../yaml.js';
import { latest, runFraction } from '../live.js';

// runLabel names a run by its grid point: model · preprocessing (+HE) · seed.
export function runLabel(run) {
  const p = run.params || {};
  const parts = [run.model || p.model?.name || 'run'];
  if (p.preprocessing) parts.push(p.preprocessing + (p.histogram_equalization ? ' + HE' : ''));
  parts.push(`seed ${run.seed}`);
  return `#${run.id} ${parts.join(' · ')}`;
}

// flatten turns nested params into dotted keys: {"model.name": "cae", ...}.
export function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out[key] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

// codeBlock shows YAML with line numbers and highlighting.
export function codeBlock(text) {
  const lines = highlight(text);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return h('pre', { class: 'code', tabindex: '0', 'aria-label': 'spec YAML' },
    h('code', { html: lines.map((l, i) => `<span class="ln">${i + 1}</span>${l}`).join('\n') }));
}

// image loads path through api() into a figure; a 404 shows missing
// instead (the artifact or endpoint does not exist yet).
export function image(path, alt, caption, missing) {
  const fig = h('figure', {}, h('p', { class: 'muted small' }, 'Loading…'));
  objectURL(path).then((url) => {
    if (!url) { clear(fig, emptyNote(missing || `Not available: ${alt}.`)); return; }
    clear(fig, h('img', { src: url, alt }), caption ? h('figcaption', {}, caption) : null);
  }).catch((err) => clear(fig, errorBox(err, `Could not load ${alt}`)));
  return fig;
}

// artifactLink downloads through api() (so a token is sent) but is a real
// link to the file, usable without script and by "copy link".
export function artifactLink(a) {
  return h('a', {
    href: a.url,
    download: a.name.split('/').pop(),
    onclick: (e) => { e.preventDefault(); download(a.url, a.name.split('/').pop()).catch((err) => alert(`Download failed: ${err.message}`)); },
  }, a.name);
}

export function artifactsTable(items) {
  if (!items.length) return emptyNote('No artifacts yet.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Kind'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'SHA-256'))),
    h('tbody', {}, items.map((a) => h('tr', {},
      h('td', {}, artifactLink(a)), h('td', {}, a.kind), h('td', { class: 'num' }, fmtBytes(a.size)),
      h('td', { class: 'mono small', title: a.sha256 }, a.sha256.slice(0, 16) + '…'))))));
}

// metricCharts draws one chart per metric key, a line per run:
// seriesByRun is [{name, series: {key: [{step, epoch, value}]}}]. Given
// the element it returned before (prev) for the same keys, it redraws
// those charts in place, so live updates keep the reader's zoom and
// smoothing, and returns prev.
export function metricCharts(seriesByRun, empty, prev) {
  const keys = [...new Set(seriesByRun.flatMap((r) => Object.keys(r.series)))].sort((a, b) => {
    // Training losses first, then validation figures.
    const rank = (k) => (k.startsWith('train/') ? 0 : k.startsWith('val/') ? 1 : 2);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  if (!keys.length) return emptyNote(empty || 'No metrics recorded yet.');
  const seriesOf = (key) => {
    const perEpoch = !key.startsWith('train/');
    return seriesByRun.map((r) => ({
      name: r.name,
      points: (r.series[key] || []).map((p) => ({ x: perEpoch ? p.epoch : p.step, y: p.value })),
    }));
  };
  if (prev?.isConnected && prev.dataset.keys === keys.join('\n') && [...prev.children].every((f) => f.chart)) {
    keys.forEach((key, i) => prev.children[i].chart.update(seriesOf(key)));
    return prev;
  }
  return h('div', { class: 'charts', 'data-keys': keys.join('\n') }, keys.map((key) => {
    const perEpoch = !key.startsWith('train/');
    return lineChart(seriesOf(key), { title: key, xLabel: perEpoch ? 'epoch' : 'step', yLabel: key.split('/').pop(), integerX: true });
  }));
}

// runProgress is a run's bar: live progress with ETA while it runs.
export function runProgress(run) {
  if (run.state === 'succeeded') return progress(1, 'done');
  if (run.state !== 'running') return progress(run.state === 'queued' ? 0 : 1, run.state);
  const ev = latest.get(run.id);
  if (!ev) return progress(0, 'starting…');
  if (!ev.epochs) return progress(0, ev.message || 'working…');
  const f = runFraction(ev);
  const eta = ev.eta_seconds ? ` · ETA ${fmtDuration(ev.eta_seconds)}` : '';
  return progress(f, `epoch ${ev.epoch}/${ev.epochs}${eta}`);
}

// scoreNames lists the scores runs were evaluated with, from their
// "test/<score>/roc_auc" metrics.
export function scoreNames(runs) {
  const names = new Set();
  for (const r of runs) {
    for (const k of Object.keys(r.metrics || {})) {
      const m = /^test\/([^/]+)\/roc_auc$/.exec(k); // image level: study-level keys have more segments
      if (m) names.add(m[1]);
    }
  }
  return [...names].sort();
}

// allRuns reads every run matching query (pages of 1000).
export async function allRuns(query, cap = 5000) {
  const out = [];
  for (let offset = 0; offset < cap; offset += 1000) {
    const page = await api(`/api/runs?${query}&limit=1000&offset=${offset}`);
    out.push(...page.items);
    if (out.length >= page.total || !page.items.length) break;
  }
  return out;
}
