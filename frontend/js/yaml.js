// A line-by-line YAML highlighter for specs: keys, strings, numbers,
// booleans/null, comments and flow punctuation get a class each. It does
// not parse YAML (the server does); it only colours what it sees, and
// escapes everything. Pure functions: tested under node.

import { escapeHTML } from './md.js';

const span = (cls, s) => `<span class="y-${cls}">${escapeHTML(s)}</span>`;

// scalar colours one plain or flow value fragment.
function value(s) {
  let out = '';
  const re = /("(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?)|(#.*$)|([[\]{},])|([^\s[\]{},"'#]+(?:\s+[^\s[\]{},"'#:]+)*)|(\s+)/g;
  for (const m of s.matchAll(re)) {
    if (m[1] !== undefined) out += span('s', m[1]);
    else if (m[2] !== undefined) out += span('c', m[2]);
    else if (m[3] !== undefined) out += span('p', m[3]);
    else if (m[4] !== undefined) {
      const w = m[4];
      if (/^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(w)) out += span('n', w);
      else if (/^(true|false|yes|no|on|off|null|~)$/i.test(w)) out += span('b', w);
      else if (/^[\w.-]+:$/.test(w)) out += span('k', w.slice(0, -1)) + span('p', ':');
      else if (/^[\w.-]+:/.test(w)) { // "key: value" inside a flow mapping
        const k = w.indexOf(':');
        out += span('k', w.slice(0, k)) + span('p', ':') + value(w.slice(k + 1));
      } else out += escapeHTML(w);
    } else out += m[5];
  }
  return out;
}

// highlightLine returns the HTML of one line.
export function highlightLine(line) {
  const comment = /^(\s*)(#.*)$/.exec(line);
  if (comment) return comment[1] + span('c', comment[2]);
  // indentation, optional list dashes, optional key, then the value
  const m = /^(\s*)((?:-\s+)*)((?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},:][^#:]*?)\s*:(?=\s|$))?(.*)$/.exec(line);
  if (!m) return escapeHTML(line);
  let out = m[1];
  if (m[2]) out += span('p', m[2]);
  if (m[3]) {
    const key = m[3].replace(/\s*:$/, '');
    out += span('k', key) + span('p', m[3].slice(key.length));
  }
  return out + value(m[4]);
}

// highlight returns one HTML string per line of text.
export function highlight(text) {
  return String(text).replace(/\r\n?/g, '\n').split('\n').map(highlightLine);
}
