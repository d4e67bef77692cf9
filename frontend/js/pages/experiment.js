// The experiment page, a notebook read top to bottom: spec, runs, data and
// split, preprocessing examples, training curves, ROC curves, Table 1,
// heatmaps and notes. Each cell loads on its own, so one failing endpoint
// shows its error in its cell and the rest of the page still works; the
// live stream refreshes the cells a state change affects.

import { api, ApiError, download } from '../api.js';
import { h, clear, fmtTime, fmtNum, errorBox, emptyNote, stateBadge, progress } from '../dom.js';
import { on, latest, runFraction } from '../live.js';
import { renderMarkdown } from '../md.js';
import { meanStd, galleryFigure } from '../figures.js';
import { counts } from './list.js';
import { runLabel, codeBlock, image, metricCharts, runProgress, scoreNames, allRuns } from './common.js';
import { tagEditor, curationActions, archivedNote } from './curation.js';

const CURVE_RUNS = 8; // at most this many runs' curves in one chart

function cell(id, title, hint) {
  const body = h('div', { class: 'cell-body' }, h('p', { class: 'muted small' }, 'Loading…'));
  const section = h('section', { class: 'cell', id: `cell-${id}`, 'aria-labelledby': `h-${id}` },
    h('h2', { id: `h-${id}`, tabindex: '-1' }, title, hint ? h('span', { class: 'hint' }, hint) : null), body);
  return { section, body };
}

export async function experimentPage(id) {
  const main = document.getElementById('main');
  let exp;
  try {
    exp = await api(`/api/experiments/${id}`);
  } catch (err) {
    main.append(errorBox(err, `Experiment ${id}`));
    return null;
  }
  document.title = `${exp.name} · xraylab`;
  const head = h('div', { class: 'page-head' });
  const cells = {
    spec: cell('spec', 'Spec', `sha256 ${exp.spec_hash.slice(0, 12)}…`),
    runs: cell('runs', 'Runs'),
    data: cell('data', 'Dataset and split'),
    prep: cell('prep', 'Preprocessing examples'),
    curves: cell('curves', 'Training curves'),
    roc: cell('roc', 'ROC curves'),
    table: cell('table', 'Comparison table', 'mean ± std over seeds; best per row in bold'),
    heat: cell('heat', 'Heatmap gallery'),
    notes: cell('notes', 'Notes'),
  };
  const toc = h('nav', { class: 'toc', 'aria-label': 'Cells' }, Object.entries(cells).map(([k, c]) =>
    h('a', { href: `#cell-${k}`, onclick: (e) => { e.preventDefault(); c.section.scrollIntoView(); c.section.querySelector('h2').focus(); } },
      c.section.querySelector('h2').firstChild.textContent)));
  main.append(head, toc, ...Object.values(cells).map((c) => c.section));
  clear(cells.spec.body, codeBlock(exp.spec));

  let runs = [];
  let artifacts = new Map(); // run id → artifact list
  const state = { score: '', split: 'test', aggregate: 'image', heatSort: 'auc' };

  function renderHead() {
    const done = exp.counts.succeeded + exp.counts.failed + exp.counts.cancelled;
    let partial = 0;
    for (const r of runs) if (r.state === 'running') partial += runFraction(latest.get(r.id));
    const f = exp.runs ? (done + partial) / exp.runs : 0;
    clear(head,
      h('div', {}, h('h1', {}, exp.name), h('div', { class: 'muted small meta' },
        `#${exp.id} · created ${fmtTime(exp.created)} · ${exp.runs} run${exp.runs === 1 ? '' : 's'} · binary ${exp.version}`)),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: `#/compare?runs=${runs.slice(0, 6).map((r) => r.id).join(',')}&experiment=${id}` }, 'Compare runs'),
        h('a', {
          class: 'button primary', href: `/api/experiments/${id}/report`,
          onclick: (e) => { e.preventDefault(); download(`/api/experiments/${id}/report`, `${exp.name}-report.html`).catch((err) => alert(`Export failed: ${err.message}`)); },
        }, 'Export HTML report')),
      h('div', { class: 'meta', style: 'display:flex;gap:1rem;align-items:center;flex-wrap:wrap' },
        counts(exp.counts), h('div', { style: 'flex:1;max-width:22rem', class: 'exp-progress' }, progress(f, `${Math.round(f * 100)}% done`))),
      h('div', { class: 'curation-row' }, tagEditor('experiment', exp, () => loadRuns()),
        curationActions('experiment', exp, () => loadRuns(), () => { location.hash = '#/'; })),
      archivedNote('experiment', exp));
  }

  function renderRuns() {
    if (!runs.length) { clear(cells.runs.body, emptyNote('This experiment has no runs.')); return; }
    const scores = scoreNames(runs);
    clear(cells.runs.body, h('div', { class: 'table-wrap' }, h('table', { class: 'runs' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'State'), h('th', {}, 'Progress'),
        scores.map((s) => h('th', { class: 'num' }, `test AUC ${s}`)))),
      h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.id },
        h('td', {}, h('a', { href: `#/runs/${r.id}` }, runLabel(r)), r.error ? h('div', { class: 'error small' }, r.error) : null),
        h('td', {}, stateBadge(r.state)),
        h('td', { class: 'run-progress' }, runProgress(r)),
        scores.map((s) => h('td', { class: 'num' }, fmtNum(r.metrics?.[`test/${s}/roc_auc`])))))))));
  }

  async function loadRuns() {
    try {
      [exp, runs] = await Promise.all([api(`/api/experiments/${id}`), allRuns(`experiment=${id}${exp.archived ? '&archived=true' : ''}`)]); // an archived experiment still shows its runs here
    } catch (err) {
      clear(cells.runs.body, errorBox(err, 'Could not load runs'));
      return;
    }
    renderHead();
    renderRuns();
  }

  // Artifact lists of finished and running runs (capped: the page shows
  // examples, not every file of a thousand-run grid).
  async function loadArtifacts() {
    const want = runs.filter((r) => r.state === 'succeeded' || r.state === 'running').slice(0, 48);
    const lists = await Promise.all(want.map((r) => api(`/api/runs/${r.id}/artifacts`).then((a) => [r.id, a.items]).catch(() => [r.id, []])));
    artifacts = new Map(lists);
  }
  const has = (runId, name) => (artifacts.get(runId) || []).some((a) => a.name === name);

  async function loadData() {
    const candidates = runs.filter((r) => r.dataset_fingerprint || r.state === 'running' || r.state === 'succeeded').slice(0, 5);
    if (!candidates.length) { clear(cells.data.body, emptyNote('No run has loaded its data yet.')); return; }
    for (const r of candidates) {
      try {
        const d = await api(`/api/runs/${r.id}/dataset`);
        renderData(d, r);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) { clear(cells.data.body, errorBox(err, 'Could not load the dataset summary')); return; }
      }
    }
    clear(cells.data.body, emptyNote('No run has recorded its dataset yet.'));
  }

  function renderData(d, run) {
    const s = d.summary || {};
    const split = s.split || {};
    const parts = ['train', 'val', 'test'].filter((p) => split[p]);
    const sum = (k) => parts.reduce((a, p) => a + (split[p][k] || 0), 0);
    const skipped = (s.preprocess || []).reduce((a, p) => a + (p.Skipped || 0), 0);
    clear(cells.data.body,
      h('p', { class: 'small' }, `From ${runLabel(run)}. Fingerprint `, h('code', { title: d.fingerprint }, d.fingerprint.slice(0, 16) + '…'),
        s.root ? [' · ', h('code', {}, s.root)] : null),
      h('div', { class: 'table-wrap' }, h('table', { class: 'split', style: 'width:auto' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Part'), ['Patients', 'Studies', 'Images', 'Abnormal images'].map((t) => h('th', { class: 'num' }, t)))),
        h('tbody', {}, parts.map((p) => h('tr', {}, h('th', { scope: 'row' }, p),
          ['patients', 'studies', 'images', 'positive_images'].map((k) => h('td', { class: 'num' }, fmtNum(split[p][k]))))),
        h('tr', {}, h('th', { scope: 'row' }, 'total'), ['patients', 'studies', 'images', 'positive_images'].map((k) => h('td', { class: 'num' }, fmtNum(sum(k)))))))),
      h('p', { class: 'muted small' }, `${fmtNum(s.images)} images found${skipped ? `; ${skipped} skipped by preprocessing` : ''}.`));
  }

  function renderPrep() {
    const r = runs.find((x) => has(x.id, 'preprocessing.png'));
    if (!r) { clear(cells.prep.body, emptyNote('No run has written preprocessing examples yet.')); return; }
    clear(cells.prep.body, h('div', { class: 'images wide' },
      image(`/api/runs/${r.id}/artifacts/preprocessing.png`, 'preprocessing examples', `What the model saw: ${runLabel(r)}`)));
  }

  // Curves: the running runs live; when none runs, the finished ones.
  let curvesBusy = false;
  let curvesEl = null; // the charts drawn last, redrawn in place when they can be
  async function loadCurves() {
    if (curvesBusy) return;
    curvesBusy = true;
    try {
      let pick = runs.filter((r) => r.state === 'running');
      const live = pick.length > 0;
      if (!live) pick = runs.filter((r) => r.state === 'succeeded' || r.state === 'failed');
      pick = pick.slice(0, CURVE_RUNS);
      if (!pick.length) { clear(cells.curves.body, emptyNote('No run has started yet.')); return; }
      const data = await Promise.all(pick.map((r) => api(`/api/runs/${r.id}/metrics`).then((m) => ({ name: runLabel(r), series: m.series }))));
      const note = live ? `Live: ${pick.length} running run(s), updated as they train.` : `Final curves of ${pick.length} finished run(s).`;
      const el = metricCharts(data, 'No metric has been recorded yet.', curvesEl);
      if (el === curvesEl) {
        cells.curves.body.querySelector('p.curves-note').textContent = note;
      } else {
        clear(cells.curves.body, h('p', { class: 'muted small curves-note' }, note), el);
        curvesEl = el;
      }
    } catch (err) {
      clear(cells.curves.body, errorBox(err, 'Could not load training curves'));
    } finally {
      curvesBusy = false;
    }
  }

  function renderROC() {
    const names = scoreNames(runs);
    if (!names.length) { clear(cells.roc.body, emptyNote('ROC curves appear when a run has been evaluated on the test set.')); return; }
    if (!names.includes(state.score)) state.score = names[0];
    const select = h('select', { id: 'roc-score', onchange: () => { state.score = select.value; renderROC(); } },
      names.map((n) => h('option', { value: n, selected: n === state.score }, n)));
    clear(cells.roc.body,
      h('div', { class: 'cell-tools' }, h('label', { for: 'roc-score' }, 'Score'), select),
      h('div', { class: 'images' }, image(`/api/experiments/${id}/roc.png?score=${encodeURIComponent(state.score)}`,
        `ROC curves of score ${state.score}`, `Test ROC curves of every run for score ${state.score}.`,
        'The server has no ROC plot for this experiment (no /roc.png endpoint or no scored run).')));
  }

  async function loadTable() {
    const q = `split=${state.split}&aggregate=${state.aggregate}`;
    const sel = (name, label, options) => {
      const s = h('select', { id: `table-${name}`, onchange: () => { state[name] = s.value; loadTable(); } },
        options.map((o) => h('option', { value: o, selected: state[name] === o }, o)));
      return [h('label', { for: `table-${name}` }, label), s];
    };
    const tools = h('div', { class: 'cell-tools' }, sel('split', 'Split', ['test', 'val']), sel('aggregate', 'Level', ['image', 'study_mean', 'study_max']));
    let t;
    try {
      t = await api(`/api/experiments/${id}/table?format=json&${q}`);
    } catch (err) {
      clear(cells.table.body, tools, err instanceof ApiError && err.status === 404 && err.message.startsWith('no route')
        ? emptyNote('This server has no comparison-table endpoint.') : errorBox(err, 'Could not load the comparison table'));
      return;
    }
    const exports = h('div', { class: 'exports' }, 'Export:', ['csv', 'markdown', 'latex', 'png'].map((f) => {
      const ext = { csv: 'csv', markdown: 'md', latex: 'tex', png: 'png' }[f];
      const url = `/api/experiments/${id}/table?format=${f}&${q}`;
      return h('a', { href: url, onclick: (e) => { e.preventDefault(); download(url, `${exp.name}-table.${ext}`).catch((err) => alert(`Export failed: ${err.message}`)); } }, f);
    }));
    clear(cells.table.body, tools, table1(t), exports);
  }

  // heatmaps.png is a model's anomaly map, heatmaps-<map>.png a further
  // one (a GAN discriminator's saliency d_grad, d_gradx).
  const heatFiles = (runId) => (artifacts.get(runId) || []).map((a) => a.name).filter((n) => /^heatmaps(-[\w.]+)?\.png$/.test(n)).sort();
  function renderHeat() {
    const with_ = runs.filter((r) => heatFiles(r.id).length > 0);
    if (!with_.length) { clear(cells.heat.body, emptyNote('No run has written heatmaps yet (models with anomaly maps write them after testing).')); return; }
    const key = scoreNames(runs)[0];
    // Runs without the chosen score go by their own best; those with none last.
    const fig = (r) => galleryFigure(r.metrics, key);
    const auc = (r) => fig(r)?.auc ?? -Infinity;
    const caption = (r) => { const f = fig(r); return f ? `AUC ${f.score === key ? '' : `(${f.score}) `}${fmtNum(f.auc)}` : 'no test AUC'; };
    const sorted = [...with_].sort(state.heatSort === 'auc' ? (a, b) => auc(b) - auc(a) || a.id - b.id : (a, b) => a.id - b.id);
    const select = h('select', { id: 'heat-sort', onchange: () => { state.heatSort = select.value; renderHeat(); } },
      h('option', { value: 'auc', selected: state.heatSort === 'auc' }, `best test AUC (${key}) first`),
      h('option', { value: 'id', selected: state.heatSort === 'id' }, 'run order'));
    clear(cells.heat.body,
      h('div', { class: 'cell-tools' }, h('label', { for: 'heat-sort' }, 'Order'), select,
        h('span', { class: 'muted small' }, 'Each image shows normal and abnormal test images with the anomaly map; synthetic data shows the true outline.')),
      h('div', { class: 'images' }, sorted.slice(0, 24).flatMap((r) => heatFiles(r.id).map((f) => {
        const map = f === 'heatmaps.png' ? '' : ` · map ${f.slice('heatmaps-'.length, -'.png'.length)}`;
        return image(`/api/runs/${r.id}/artifacts/${f}`, `heatmaps of run ${r.id}${map}`, `${runLabel(r)} · ${caption(r)}${map}`);
      }))));
  }

  const notes = notesCell(id, cells.notes.body);

  async function loadAll() {
    await loadRuns();
    await loadArtifacts().catch(() => {});
    renderPrep();
    renderROC();
    renderHeat();
    await Promise.all([loadData(), loadCurves(), loadTable()]);
  }
  await loadAll();
  notes.load();

  // Live: bars move on progress; a state change reloads what it affects.
  let stateTimer = null;
  let curveTimer = null;
  const off = on((ev) => {
    if (ev.experiment_id !== id) return;
    if (ev.type === 'progress') {
      const td = cells.runs.body.querySelector(`tr[data-run="${ev.run_id}"] .run-progress`);
      const r = runs.find((x) => x.id === ev.run_id);
      if (td && r) {
        if (r.state !== 'running') r.state = 'running';
        clear(td, runProgress(r));
      }
      const bar = head.querySelector('.exp-progress');
      if (bar) renderHead();
      if (!curveTimer) curveTimer = setTimeout(() => { curveTimer = null; loadCurves(); }, 1500);
      return;
    }
    if (!stateTimer) stateTimer = setTimeout(() => { stateTimer = null; loadAll(); }, 400);
  });
  const again = () => loadAll();
  document.addEventListener('xraylab:reconnected', again);
  return () => { off(); clearTimeout(stateTimer); clearTimeout(curveTimer); document.removeEventListener('xraylab:reconnected', again); };
}

// table1 lays out the comparison as the paper's Table 1: a row per model
// and score, a column per preprocessing × histogram equalisation.
export function table1(t) {
  if (!t.rows || !t.rows.length) return emptyNote('No finished run to tabulate yet.');
  const cols = t.columns || [];
  const groups = [];
  for (const c of cols) {
    const g = groups[groups.length - 1];
    if (g && g.name === c.preprocessing) g.span++; else groups.push({ name: c.preprocessing, span: 1 });
  }
  const modelSpan = new Map();
  t.rows.forEach((r, i) => { if (i === 0 || t.rows[i - 1].model !== r.model) modelSpan.set(i, t.rows.slice(i).findIndex((x) => x.model !== r.model)); });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table1' },
    h('thead', {},
      h('tr', {}, h('th', { rowspan: 2, scope: 'col' }, 'Model'), h('th', { rowspan: 2, scope: 'col' }, 'Score'),
        groups.map((g) => h('th', { colspan: g.span, scope: 'colgroup' }, g.name))),
      h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c.histogram_equalization ? 'HE' : 'no HE')))),
    h('tbody', {}, t.rows.map((r, i) => {
      const span = modelSpan.get(i);
      return h('tr', { class: span !== undefined && i > 0 ? 'group-start' : '' },
        span !== undefined ? h('th', { scope: 'rowgroup', class: 'model', rowspan: span === -1 ? t.rows.length - i : span }, r.model) : null,
        h('td', { class: 'score' }, r.score),
        cols.map((c, j) => {
          const v = r.cells[j];
          const selected = r.selected && r.selected.preprocessing === c.preprocessing && r.selected.histogram_equalization === c.histogram_equalization;
          if (!v) return h('td', { class: 'muted' }, '—');
          const text = meanStd(v);
          return h('td', { class: `${v.best ? 'best' : ''} ${selected ? 'selected' : ''}`, title: `n = ${v.n}${selected ? ', selected configuration' : ''}` },
            v.best ? h('strong', {}, text) : text);
        }));
    }))),
    h('p', { class: 'muted small' }, 'Shaded: the configuration selected for the model (by validation).'));
}

// notesCell keeps an experiment's Markdown notes: list, add, edit, delete.
function notesCell(expId, body) {
  let items = [];
  const list = h('div', { class: 'notes-list' });
  const form = noteForm('', 'Add note', async (text) => {
    await api(`/api/experiments/${expId}/notes`, { method: 'POST', json: { body: text } });
    await load();
    return true;
  });
  clear(body, list, h('h3', {}, 'New note'), form);

  async function load() {
    try {
      items = (await api(`/api/experiments/${expId}/notes`)).items;
    } catch (err) {
      clear(list, err instanceof ApiError && err.status === 404 && err.message.startsWith('no route')
        ? emptyNote('This server does not keep notes.') : errorBox(err, 'Could not load notes'));
      return;
    }
    clear(list, items.length ? items.map(noteView) : emptyNote('No notes yet. Notes are Markdown; they are saved with the experiment.'));
  }

  function noteView(n) {
    const el = h('article', { class: 'note', 'data-note': n.id });
    const show = () => clear(el,
      h('div', { class: 'note-meta' },
        h('span', {}, `Added ${fmtTime(n.created)}`),
        n.updated !== n.created ? h('span', {}, `edited ${fmtTime(n.updated)}`) : null,
        h('span', { class: 'actions' },
          h('button', { type: 'button', class: 'link', onclick: edit }, 'Edit'),
          h('button', { type: 'button', class: 'link danger', onclick: remove }, 'Delete'))),
      h('div', { class: 'markdown', html: renderMarkdown(n.body, 2) }));
    const edit = () => {
      clear(el, noteForm(n.body, 'Save', async (text) => {
        await api(`/api/notes/${n.id}`, { method: 'PUT', json: { body: text } });
        await load();
        return false;
      }, show));
      el.querySelector('textarea').focus();
    };
    const remove = async () => {
      if (!confirm('Delete this note?')) return;
      try {
        await api(`/api/notes/${n.id}`, { method: 'DELETE' });
        await load();
      } catch (err) {
        el.append(errorBox(err, 'Could not delete the note'));
      }
    };
    show();
    return el;
  }
  return { load };
}

let formSeq = 0;
// noteForm is a Markdown textarea with a preview; save(text) resolves to
// whether to clear the form.
function noteForm(text, label, save, cancel) {
  const n = ++formSeq;
  const area = h('textarea', { id: `note-text-${n}`, rows: 6, placeholder: 'Markdown: **bold**, *italic*, `code`, lists, [links](https://…)' });
  area.value = text;
  const preview = h('div', { class: 'markdown notice', hidden: true });
  const msg = h('div', { 'aria-live': 'polite' });
  const toggle = h('button', { type: 'button', onclick: () => {
    preview.hidden = !preview.hidden;
    toggle.textContent = preview.hidden ? 'Preview' : 'Hide preview';
    if (!preview.hidden) preview.innerHTML = renderMarkdown(area.value, 2);
  } }, 'Preview');
  const form = h('form', { class: 'note-form', onsubmit: async (e) => {
    e.preventDefault();
    clear(msg);
    try {
      if (await save(area.value)) { area.value = ''; preview.hidden = true; }
    } catch (err) {
      msg.append(errorBox(err, 'Could not save the note'));
    }
  } },
  h('label', { for: area.id, class: 'visually-hidden' }, label === 'Save' ? 'Edit note' : 'Note text'),
  area, preview, msg,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, label), toggle,
    cancel ? h('button', { type: 'button', onclick: cancel }, 'Cancel') : null));
  return form;
}
