// Curation controls shared by the experiment and run pages: tags (shown
// as chips, each removable, and a key=value box to add one), archive and
// restore, purge (after a confirmation naming what goes) and, for an
// experiment, rename. Each control calls the API and then onChange with
// the answer, so the page re-renders from what the server holds.

import { api } from '../api.js';
import { h, clear, errorBox } from '../dom.js';

// base is the API path of the thing: /api/runs/7 or /api/experiments/3.
function base(kind, id) {
  return kind === 'run' ? `/api/runs/${id}` : `/api/experiments/${id}`;
}

// tagEditor shows obj.tags and edits them.
export function tagEditor(kind, obj, onChange) {
  const msg = h('span', { 'aria-live': 'polite' });
  const input = h('input', { type: 'text', class: 'tag-input', placeholder: 'key=value', 'aria-label': `add a tag to this ${kind}`, autocomplete: 'off' });
  const tags = obj.tags || {};
  const chips = Object.keys(tags).sort().map((k) => h('span', { class: 'chip tag', 'data-tag': k },
    h('span', {}, `${k}=${tags[k]}`),
    h('button', { type: 'button', class: 'link', 'aria-label': `remove tag ${k}`, onclick: async () => {
      try {
        onChange(await api(`${base(kind, obj.id)}/tags?key=${encodeURIComponent(k)}`, { method: 'DELETE' }));
      } catch (err) { clear(msg, errorBox(err, 'Could not remove the tag')); }
    } }, '×')));
  const form = h('form', { class: 'tag-form', onsubmit: async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    const eq = text.indexOf('=');
    if (eq < 1) { clear(msg, errorBox(new Error('write key=value'), 'Tag')); return; }
    try {
      onChange(await api(`${base(kind, obj.id)}/tags`, { method: 'POST', json: { tags: { [text.slice(0, eq).trim()]: text.slice(eq + 1).trim() } } }));
    } catch (err) { clear(msg, errorBox(err, 'Could not add the tag')); }
  } }, input, h('button', { type: 'submit' }, 'Add tag'));
  return h('div', { class: 'tags', 'aria-label': 'Tags' }, h('span', { class: 'muted small' }, 'Tags'), chips, form, msg);
}

// curationActions are the archive/restore, rename and purge buttons.
// onPurged runs after a purge (the page it was on no longer exists).
export function curationActions(kind, obj, onChange, onPurged) {
  const msg = h('span', { 'aria-live': 'polite' });
  const what = kind === 'run' ? `run ${obj.id}` : `experiment ${obj.name} (#${obj.id})`;
  const act = (fn, failed) => async (e) => {
    e.target.disabled = true;
    try {
      if ((await fn()) === false) e.target.disabled = false; // the user said no
    } catch (err) { e.target.disabled = false; clear(msg, errorBox(err, failed)); }
  };
  return h('div', { class: 'actions curation' },
    obj.archived
      ? h('button', { type: 'button', id: 'restore', onclick: act(async () => onChange(await api(`${base(kind, obj.id)}/restore`, { method: 'POST' })), 'Restore failed') }, 'Restore')
      : h('button', { type: 'button', id: 'archive', onclick: act(async () => onChange(await api(`${base(kind, obj.id)}/archive`, { method: 'POST' })), 'Archive failed') }, 'Archive'),
    kind === 'experiment' ? h('button', { type: 'button', id: 'rename', onclick: act(async () => {
      const name = prompt(`New name for ${what}:`, obj.name);
      if (!name || name === obj.name) return false;
      onChange(await api(base(kind, obj.id), { method: 'PATCH', json: { name } }));
    }, 'Rename') }, 'Rename') : null,
    h('button', { type: 'button', class: 'danger', id: 'purge', onclick: act(async () => {
      const files = kind === 'run' ? 'its metrics and artifact files' : 'all its runs, their metrics and artifact files, and its notes';
      if (!confirm(`Purge ${what}? This deletes ${files} for good; it cannot be undone.`)) return false;
      await api(base(kind, obj.id), { method: 'DELETE' });
      onPurged();
    }, 'Purge failed') }, 'Purge…'),
    msg);
}

// archivedNote marks an archived thing at the top of its page.
export function archivedNote(kind, obj) {
  if (!obj.archived) return null;
  return h('div', { class: 'notice archived-note', role: 'status' },
    `This ${kind} is archived: it is hidden from lists, tables and reports`, kind === 'run' ? ' and is not leased' : ' and its runs are not leased', '. Restore it to bring it back.');
}
