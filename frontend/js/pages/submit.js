// Submit: a YAML editor with line numbers. The server validates; each
// problem it reports is marked in the gutter at its line and listed below
// with its path, and choosing one puts the cursor on that line.

import { api, ApiError } from '../api.js';
import { h, clear, errorBox } from '../dom.js';

const DRAFT_KEY = 'xraylab.draft';

export const TEMPLATE = `# One experiment: a grid of models × preprocessing × equalisation × seeds.
experiments:
  my-experiment:
    description: a quick look at synthetic hands
    dataset:
      synthetic: {patients: 40, size: 96, seed: 1, difficulty: easy}
    image_size: 32
    epochs: 2
    batch_size: 16
    models:
      - name: pixelgauss
        scores: [mean, mean_topk]
        topk: [10]
    preprocessing: [raw]
    histogram_equalization: [false, true]
    seeds: [42]
`;

export function submitPage() {
  const main = document.getElementById('main');
  let draft = '';
  try { draft = localStorage.getItem(DRAFT_KEY) || ''; } catch { /* no storage */ }
  const area = h('textarea', { id: 'spec', spellcheck: 'false', wrap: 'off', autocapitalize: 'off', autocomplete: 'off', 'aria-describedby': 'spec-help problems' });
  area.value = draft || TEMPLATE;
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const only = h('input', { type: 'text', id: 'only', placeholder: 'all', style: 'width:12rem' });
  const result = h('div', { id: 'problems', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'submit' }, 'Submit');
  let bad = new Map(); // line → messages

  function renderGutter() {
    const n = area.value.split('\n').length;
    clear(gutter, Array.from({ length: n }, (_, i) => {
      const msgs = bad.get(i + 1);
      return h('div', { class: msgs ? 'bad' : '', title: msgs ? msgs.join('\n') : null, 'data-line': i + 1 }, String(i + 1));
    }));
    gutter.scrollTop = area.scrollTop;
  }
  area.addEventListener('input', () => {
    try { localStorage.setItem(DRAFT_KEY, area.value); } catch { /* no storage */ }
    renderGutter();
  });
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });
  // Tab indents (two spaces) instead of leaving the editor; Escape then
  // Tab leaves it, so keyboard users are never trapped.
  let escaped = false;
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { escaped = true; return; }
    if (e.key === 'Tab' && !e.shiftKey && !escaped) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t } = area;
      area.setRangeText('  ', s, t, 'end');
      area.dispatchEvent(new Event('input'));
    }
    escaped = false;
  });

  function goToLine(line, column) {
    const lines = area.value.split('\n');
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    const end = pos + (lines[line - 1] || '').length;
    area.focus();
    area.setSelectionRange(column ? Math.min(pos + column - 1, end) : pos, end);
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 4) * lh);
  }

  function showProblems(err) {
    const problems = Array.isArray(err.details) ? err.details.filter((p) => p && p.message) : [];
    bad = new Map();
    for (const p of problems) if (p.line) bad.set(p.line, [...(bad.get(p.line) || []), `${p.path}: ${p.message}`]);
    renderGutter();
    if (!problems.length) { clear(result, errorBox(err, 'Not submitted')); return; }
    clear(result,
      h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'Not submitted: '), err.message),
      h('ul', { class: 'problems' }, problems.map((p) => h('li', { 'data-line': p.line || '' },
        p.line ? h('button', { type: 'button', class: 'link where', onclick: () => goToLine(p.line, p.column) }, `line ${p.line}${p.column ? `:${p.column}` : ''}`)
          : h('span', { class: 'where' }, 'file'),
        h('span', {}, h('code', {}, p.path), ' ', p.message)))));
  }

  async function submit(e) {
    e.preventDefault();
    button.disabled = true;
    clear(result, h('p', { class: 'muted' }, 'Submitting…'));
    try {
      const q = only.value.trim() ? `?experiment=${encodeURIComponent(only.value.trim())}` : '';
      const res = await api(`/api/experiments${q}`, { method: 'POST', body: area.value, type: 'application/yaml' });
      bad = new Map();
      renderGutter();
      try { localStorage.removeItem(DRAFT_KEY); } catch { /* no storage */ }
      const exps = res.experiments;
      if (exps.length === 1) { location.hash = `#/experiments/${exps[0].id}`; return; }
      clear(result, h('div', { class: 'notice', role: 'status' }, `Queued ${exps.length} experiments: `,
        exps.map((x, i) => [i ? ', ' : '', h('a', { href: `#/experiments/${x.id}` }, x.name), ` (${x.run_ids.length} runs)`])));
    } catch (err) {
      if (err instanceof ApiError) showProblems(err); else clear(result, errorBox(err, 'Not submitted'));
    } finally {
      button.disabled = false;
    }
  }

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Submit an experiment')),
    h('form', { class: 'cell', onsubmit: submit },
      h('p', { id: 'spec-help', class: 'muted small', style: 'margin-top:0' },
        'The spec is YAML: a mapping of experiment names under "experiments". The server checks it and reports every problem at its line. Tab indents; press Escape then Tab to leave the editor.'),
      h('label', { for: 'spec' }, 'Spec (YAML)'),
      h('div', { class: 'editor' }, gutter, area),
      h('div', { class: 'toolbar', style: 'margin-top:.75rem' },
        button,
        h('label', { for: 'only' }, 'Only experiment'), only,
        h('button', { type: 'button', onclick: () => { area.value = TEMPLATE; area.dispatchEvent(new Event('input')); } }, 'Reset to template')),
      result));
  renderGutter();
  return null;
}
