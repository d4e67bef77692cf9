// Line charts drawn as inline SVG: training curves, validation AUC per
// epoch, overlaid runs, ROC curves. Each series gets a colour and a dash
// pattern, so lines stay apart for readers who cannot tell the colours.

import { h, svg } from './dom.js';

export const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

// niceTicks returns about n round tick values from at or below lo to at
// or above hi, so an axis drawn over them ends on a labelled tick.
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  for (let k = first; k <= last; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

function fmtTick(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

// lineChart draws series [{name, points: [{x, y}]}] and returns a figure.
// opts: title, xLabel, yLabel, yMin/yMax/xMin/xMax (fixed ranges), square,
// diagonal (draw y = x, for ROC), step (draw as steps), integerX (whole
// x ticks only).
export function lineChart(series, opts = {}) {
  const W = opts.square ? 360 : 560;
  const H = opts.square ? 340 : 260;
  const m = { l: 56, r: 12, t: 12, b: 40 };
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const fig = h('figure', { class: 'chart' });
  if (opts.title) fig.append(h('figcaption', {}, opts.title));
  if (!pts.length) {
    fig.append(h('p', { class: 'muted' }, opts.empty || 'No points yet.'));
    return fig;
  }
  let x0 = opts.xMin ?? Math.min(...pts.map((p) => p.x));
  let x1 = opts.xMax ?? Math.max(...pts.map((p) => p.x));
  let y0 = opts.yMin ?? Math.min(...pts.map((p) => p.y));
  let y1 = opts.yMax ?? Math.max(...pts.map((p) => p.y));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 0.5; y0 -= d; y1 += d; }
  let xt = niceTicks(x0, x1, opts.square ? 5 : 6);
  // Epochs and steps are whole numbers: no tick at epoch 1.5.
  if (opts.integerX) {
    xt = xt.filter(Number.isInteger);
    if (xt.length < 2) xt = [Math.floor(x0), Math.ceil(x1)];
  }
  const yt = niceTicks(y0, y1, 5);
  if (opts.xMin === undefined) x0 = Math.min(x0, xt[0]);
  if (opts.xMax === undefined) x1 = Math.max(x1, xt[xt.length - 1]);
  if (opts.yMin === undefined) y0 = Math.min(y0, yt[0]);
  if (opts.yMax === undefined) y1 = Math.max(y1, yt[yt.length - 1]);
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);

  const names = series.map((s) => s.name).join(', ');
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${opts.title || 'chart'}: ${names}`, class: opts.square ? 'square' : '' });
  const grid = svg('g', { class: 'grid' });
  for (const v of yt) {
    grid.append(svg('line', { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }));
    root.append(svg('text', { x: m.l - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, fmtTick(v)));
  }
  for (const v of xt) {
    grid.append(svg('line', { x1: X(v), x2: X(v), y1: m.t, y2: H - m.b }));
    root.append(svg('text', { x: X(v), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, fmtTick(v)));
  }
  root.prepend(grid);
  root.append(svg('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: 'frame' }));
  if (opts.diagonal) root.append(svg('line', { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), class: 'diagonal' }));
  if (opts.xLabel) root.append(svg('text', { x: (m.l + W - m.r) / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis-label' }, opts.xLabel));
  if (opts.yLabel) root.append(svg('text', { x: 14, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})` }, opts.yLabel));

  series.forEach((s, i) => {
    const p = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    if (!p.length) return;
    const color = s.color || COLORS[i % COLORS.length];
    let d = `M${X(p[0].x).toFixed(1)},${Y(p[0].y).toFixed(1)}`;
    for (let k = 1; k < p.length; k++) {
      if (opts.step) d += `H${X(p[k].x).toFixed(1)}`;
      d += `${opts.step ? 'V' + Y(p[k].y).toFixed(1) : `L${X(p[k].x).toFixed(1)},${Y(p[k].y).toFixed(1)}`}`;
    }
    const dash = DASHES[i % DASHES.length];
    root.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash || undefined },
      svg('title', {}, s.name)));
    if (p.length === 1) root.append(svg('circle', { cx: X(p[0].x), cy: Y(p[0].y), r: 3.5, fill: color }));
  });
  fig.append(root);
  if (series.length > 1 || opts.legend) {
    fig.append(h('ul', { class: 'legend' }, series.map((s, i) => {
      const color = s.color || COLORS[i % COLORS.length];
      const dash = DASHES[i % DASHES.length];
      return h('li', {}, svg('svg', { width: 24, height: 10, 'aria-hidden': 'true' },
        svg('line', { x1: 0, x2: 24, y1: 5, y2: 5, stroke: color, 'stroke-width': 2.5, 'stroke-dasharray': dash || undefined })), ' ', s.name);
    })));
  }
  return fig;
}
