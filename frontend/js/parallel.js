// Parallel coordinates: one vertical axis per grid parameter and one for
// a metric, one polyline per run, and brushes (drag along an axis) that
// select the runs passing through every brushed range.
//
// Drawn here in SVG rather than with a library: the maintained ones
// (d3-parcoords and its forks) need d3 and a bundler, and the view is a
// few axes, lines and rectangles; uPlot, which draws the line charts, has
// no parallel-coordinates mode.

import { h, svg } from './dom.js';
import { seriesColor } from './chart.js';

// axisOf builds one axis over values (one per run, undefined = missing):
// numeric when every present value is a number and there are more than
// two of them or numeric is asked for (a metric), else categories, evenly
// spaced, in sorted order.
export function axisOf(key, label, values, numericAxis = false) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== '');
  const distinct = [...new Set(present.map((v) => (typeof v === 'number' ? v : String(v))))];
  const numeric = present.length > 0 && present.every((v) => typeof v === 'number' && Number.isFinite(v)) && (distinct.length > 2 || numericAxis);
  if (numeric) {
    let lo = Math.min(...present);
    let hi = Math.max(...present);
    if (hi === lo) { const d = Math.abs(lo) * 0.05 || 0.5; lo -= d; hi += d; }
    return { key, label, numeric, lo, hi, pos: (v) => (typeof v === 'number' && Number.isFinite(v) ? (v - lo) / (hi - lo) : null), ticks: [lo, (lo + hi) / 2, hi] };
  }
  const cats = distinct.map(String).sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
  });
  const at = (c) => (cats.length === 1 ? 0.5 : cats.indexOf(c) / (cats.length - 1));
  return { key, label, numeric, cats, pos: (v) => (v === undefined || v === null || v === '' ? null : at(String(v))), ticks: cats };
}

function fmt(v) {
  return typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
}

// clip shortens a label to n characters; the full text goes in a title.
function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// parallelCoordinates draws rows [{id, label, values: {key: value}}] over
// axes [{key, label, numeric}] (the last is usually the metric) and calls
// onSelect(ids) whenever the brushes change (all ids when none is set).
// The returned element's .brush(key, lo, hi) sets a brush in axis units
// of [0, 1] from the bottom (for keyboards and tests; null clears it).
export function parallelCoordinates(rows, axesSpec, onSelect) {
  // At least 110 units between axes, so labels stay apart (the figure
  // scrolls sideways when that is wider than the page).
  const m = { l: 40, r: 90, t: 48, b: 26 };
  const W = Math.max(940, m.l + m.r + (axesSpec.length - 1) * 110);
  const H = 314;
  const axes = axesSpec.map((a) => axisOf(a.key, a.label, rows.map((r) => r.values[a.key]), a.numeric));
  const X = (i) => m.l + (axes.length === 1 ? 0 : (i * (W - m.l - m.r)) / (axes.length - 1));
  const Y = (p) => H - m.b - p * (H - m.t - m.b);
  const brushes = new Map(); // axis key -> [lo, hi] in [0, 1]

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'parcoords', style: W > 940 ? `min-width:${Math.round(W * 0.85)}px` : undefined, role: 'img', 'aria-label': `parallel coordinates of ${rows.length} runs over ${axes.map((a) => a.label).join(', ')}` });
  const lines = svg('g', { class: 'lines' });
  root.append(lines);
  const paths = rows.map((r, i) => {
    let d = '';
    axes.forEach((a, k) => {
      const p = a.pos(r.values[a.key]);
      if (p === null) return;
      d += `${d ? 'L' : 'M'}${X(k).toFixed(1)},${Y(p).toFixed(1)}`;
    });
    const el = svg('path', { d, 'data-run': r.id, class: 'run-line', stroke: seriesColor(i) }, svg('title', {}, r.label));
    lines.append(el);
    return el;
  });

  const passes = (r) => [...brushes.entries()].every(([key, [lo, hi]]) => {
    const a = axes.find((x) => x.key === key);
    const p = a.pos(r.values[key]);
    return p !== null && p >= lo - 1e-9 && p <= hi + 1e-9;
  });
  const update = () => {
    const ids = [];
    rows.forEach((r, i) => {
      const ok = passes(r);
      paths[i].classList.toggle('dim', !ok);
      paths[i].classList.toggle('selected', ok && brushes.size > 0);
      if (ok) ids.push(r.id);
    });
    for (const [key, rect] of brushRects) {
      const b = brushes.get(key);
      rect.setAttribute('visibility', b ? 'visible' : 'hidden');
      if (b) { rect.setAttribute('y', Y(b[1])); rect.setAttribute('height', Math.max(2, Y(b[0]) - Y(b[1]))); }
    }
    onSelect(ids);
  };

  const brushRects = new Map();
  axes.forEach((a, k) => {
    const g = svg('g', { class: 'axis', 'data-axis': a.key });
    g.append(svg('line', { x1: X(k), x2: X(k), y1: Y(0), y2: Y(1), class: 'axis-line' }));
    // Labels alternate between two rows, so long names do not collide.
    g.append(svg('text', { x: X(k), y: m.t - (k % 2 ? 12 : 28), 'text-anchor': 'middle', class: 'axis-label' }, clip(a.label, 26), svg('title', {}, a.label)));
    for (const t of a.ticks) g.append(svg('text', { x: X(k) + 6, y: Y(a.pos(t)) + 4, class: 'tick' }, clip(fmt(t), 14), svg('title', {}, fmt(t))));
    const rect = svg('rect', { x: X(k) - 9, width: 18, y: 0, height: 0, class: 'brush', visibility: 'hidden' });
    brushRects.set(a.key, rect);
    g.append(rect);
    // The hit area: a band around the axis where a vertical drag brushes.
    const hit = svg('rect', { x: X(k) - 16, width: 32, y: Y(1) - 6, height: Y(0) - Y(1) + 12, class: 'brush-area', 'data-axis': a.key });
    g.append(hit);
    hit.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      const toUnit = (ev) => {
        const pt = root.createSVGPoint();
        pt.x = ev.clientX; pt.y = ev.clientY;
        const local = pt.matrixTransform(root.getScreenCTM().inverse());
        return Math.min(1, Math.max(0, (H - m.b - local.y) / (H - m.t - m.b)));
      };
      const start = toUnit(e);
      let moved = false;
      hit.setPointerCapture?.(e.pointerId);
      const move = (ev) => {
        const now = toUnit(ev);
        if (Math.abs(now - start) < 0.01 && !moved) return;
        moved = true;
        brushes.set(a.key, [Math.min(start, now), Math.max(start, now)]);
        update();
      };
      const up = () => {
        hit.removeEventListener('pointermove', move);
        hit.removeEventListener('pointerup', up);
        // A click without a drag clears this axis' brush.
        if (!moved && brushes.delete(a.key)) update();
      };
      hit.addEventListener('pointermove', move);
      hit.addEventListener('pointerup', up);
    });
    root.append(g);
  });

  const wrap = h('div', { class: 'parcoords-wrap' }, root);
  wrap.axes = axes;
  wrap.brush = (key, lo, hi) => {
    if (lo === null || lo === undefined) brushes.delete(key); else brushes.set(key, [Math.min(lo, hi), Math.max(lo, hi)]);
    update();
  };
  wrap.clear = () => { brushes.clear(); update(); };
  update();
  return wrap;
}
