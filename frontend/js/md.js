// A small, safe Markdown renderer for notes: paragraphs, headings,
// emphasis, inline and fenced code, flat lists, block quotes, rules and
// links. Every piece of the source is HTML-escaped before it is wrapped in
// the few tags generated here, and a link keeps its target only when it is
// http(s), mailto or relative, so a note cannot run script or load
// anything from elsewhere. Pure functions: tested under node.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

// safeURL returns the URL when its scheme is allowed, else null. Browsers
// ignore control characters and spaces inside a scheme ("java\tscript:"),
// so those are removed before the check.
export function safeURL(url) {
  const u = String(url).replace(/[\u0000-\u0020\u007f]/g, '');
  if (u === '') return null;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u);
  if (scheme && !['http', 'https', 'mailto'].includes(scheme[1].toLowerCase())) return null;
  return u;
}

// emphasis works on already escaped text, in which * and _ survive as is.
function emphasis(s) {
  return s
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/__(?=\S)([\s\S]*?\S)__/g, '<strong>$1</strong>')
    .replace(/\*(?=\S)([^*]*?\S)\*/g, '<em>$1</em>')
    .replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, '$1<em>$2</em>');
}

// inline renders one block's text: code spans first (nothing inside them
// is interpreted), then links, then emphasis.
export function inline(text, links = true) {
  const re = links ? /`([^`]+)`|\[([^\]]+)\]\(\s*([^()\s]+)\s*\)/g : /`([^`]+)`/g;
  let out = '';
  let last = 0;
  for (const m of text.matchAll(re)) {
    out += emphasis(escapeHTML(text.slice(last, m.index)));
    if (m[1] !== undefined) {
      out += `<code>${escapeHTML(m[1])}</code>`;
    } else {
      const label = inline(m[2], false);
      const url = safeURL(m[3]);
      out += url === null ? label : `<a href="${escapeHTML(url)}" rel="noopener noreferrer">${label}</a>`;
    }
    last = m.index + m[0].length;
  }
  return out + emphasis(escapeHTML(text.slice(last)));
}

const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const ORDERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || ORDERED.test(line) || QUOTE.test(line) || RULE.test(line);
}

// renderMarkdown returns HTML for src. headingShift moves headings down
// (1 makes "#" an <h2>) so a note's titles sit below the page's own.
export function renderMarkdown(src, headingShift = 0) {
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }
    let m;
    if ((m = FENCE.exec(line))) {
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(m[1]) && lines[i].trim().replace(/[`~]/g, '') === '')) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      const cls = m[2] ? ` class="language-${escapeHTML(m[2])}"` : '';
      out.push(`<pre><code${cls}>${escapeHTML(body.join('\n'))}</code></pre>`);
      continue;
    }
    if (RULE.test(line)) { out.push('<hr>'); i++; continue; }
    if ((m = HEADING.exec(line))) {
      const n = Math.min(6, m[1].length + headingShift);
      out.push(`<h${n}>${inline(m[2])}</h${n}>`);
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { body.push(m[1]); i++; }
      out.push(`<blockquote>${renderMarkdown(body.join('\n'), headingShift)}</blockquote>`);
      continue;
    }
    const ordered = ORDERED.test(line);
    if (ordered || BULLET.test(line)) {
      const re = ordered ? ORDERED : BULLET;
      const items = [];
      const start = ordered ? Number(ORDERED.exec(line)[1]) : 1;
      while (i < lines.length) {
        const l = lines[i];
        if ((m = re.exec(l))) { items.push([ordered ? m[2] : m[1]]); i++; continue; }
        // An indented line continues the item; a blank line or any other
        // block ends the list.
        if (l.trim() !== '' && /^\s+/.test(l) && !startsBlock(l)) { items[items.length - 1].push(l.trim()); i++; continue; }
        break;
      }
      const lis = items.map((it) => `<li>${inline(it.join('\n'))}</li>`).join('');
      out.push(ordered ? `<ol${start !== 1 ? ` start="${start}"` : ''}>${lis}</ol>` : `<ul>${lis}</ul>`);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() !== '' && !(para.length && startsBlock(lines[i]))) para.push(lines[i++].trim());
    out.push(`<p>${inline(para.join('\n'))}</p>`);
  }
  return out.join('\n');
}
