// Line charts: training curves, validation AUC per epoch, overlaid runs,
// ROC curves. Drawn by uPlot (frontend/vendor/uplot, pinned and unmodified;
// see its README line in frontend/vendor/README.md), which gives drag-to-
// zoom, values on hover and log scales; this module adds what uPlot leaves
// to its users: TensorBoard's smoothing, a log toggle, a zoom reset, and
// series that do not share x values (runs with other step counts, ROC
// curves with vertical segments). Each series gets a colour and a dash
// pattern, so lines stay apart for readers who cannot tell the colours,
// and any number of series gets distinct colours.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

export const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

// seriesColor is the i-th series' colour: the palette, then hues spread by
// the golden angle, so the 9th and later runs neither repeat a colour nor
// sit next to a similar one.
export function seriesColor(i) {
  if (i < COLORS.length) return COLORS[i];
  return `hsl(${Math.round(((i - COLORS.length) * 137.508 + 20) % 360)}, 70%, 38%)`;
}

// ema smooths values as TensorBoard's scalar dashboard does: an
// exponential moving average with weight w in [0, 1), debiased by
// 1 - w^n so the first points are not pulled towards zero. Non-finite
// values pass through and do not enter the average.
export function ema(values, w) {
  if (!(w > 0)) return values.slice();
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - w ** n);
  });
}

// align puts series with their own x values on one x axis for uPlot:
// rows are the distinct (x, k) pairs, k counting repeats of x within one
// series (a ROC curve has several points at one false positive rate), and
// a series has undefined where it has no point, which uPlot's hover skips
// to the nearest point it has and spanGaps draws across.
export function align(series) {
  const rows = new Map();
  const keyed = series.map((s) => {
    const seen = new Map();
    return s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => {
      const k = seen.get(p.x) || 0;
      seen.set(p.x, k + 1);
      const key = `${p.x}|${k}`;
      if (!rows.has(key)) rows.set(key, { x: p.x, k });
      return [key, p.y];
    });
  });
  const order = [...rows.entries()].sort((a, b) => a[1].x - b[1].x || a[1].k - b[1].k);
  const index = new Map(order.map(([key], i) => [key, i]));
  const xs = order.map(([, r]) => r.x);
  const ys = keyed.map((pts) => {
    const col = new Array(xs.length).fill(undefined);
    for (const [key, y] of pts) col[index.get(key)] = y;
    return col;
  });
  return [xs, ...ys];
}

function fmtVal(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

let nextId = 0;

// live holds the controllers of drawn charts. uPlot listens on window
// (resize, scroll) until destroyed, and pages replace their charts by
// clearing DOM, so each new chart first destroys the ones no longer in
// the document.
const live = new Set();
function sweep() {
  for (const ctl of live) if (ctl.attached && !ctl.fig.isConnected) ctl.destroy();
}

// lineChart draws series [{name, points: [{x, y}]}] and returns a figure.
// opts: title, xLabel, yLabel, yMin/yMax/xMin/xMax (fixed ranges), square,
// diagonal (draw y = x, for ROC), integerX (x values are whole numbers),
// smoothing (offer the EMA slider; default on unless square), empty.
// The figure's .chart property is the chart's controller (uplot, raw and
// drawn data, setSmoothing, setLog, resetZoom, update, destroy), which
// the browser tests read; update(series) redraws new points in place,
// keeping zoom, smoothing and hidden series when the series are the same.
export function lineChart(series, opts = {}) {
  sweep();
  const id = `chart-${++nextId}`;
  const fig = h('figure', { class: 'chart', id });
  if (opts.title) fig.append(h('figcaption', {}, opts.title));
  let raw = align(series);
  if (!raw[0].length) {
    fig.append(h('p', { class: 'muted' }, opts.empty || 'No points yet.'));
    return fig;
  }
  const square = !!opts.square;
  const smoothable = opts.smoothing ?? !square;
  const allPositive = () => raw.slice(1).every((col) => col.every((v) => v === undefined || v > 0));
  let positive = allPositive();
  const state = { smoothing: 0, log: false };
  const plotBox = h('div', { class: 'plot' });
  const drawn = () => [raw[0], ...raw.slice(1).map((col) => (state.smoothing > 0 ? ema(col, state.smoothing) : col))];

  const fixed = (lo, hi) => (u, min, max) => {
    const [a, b] = state.log && !square ? uPlot.rangeLog(min, max, 10, true) : uPlot.rangeNum(min, max, 0.1, true);
    return [lo ?? a, hi ?? b];
  };
  let u = null;
  const build = () => {
    const keep = u ? { x: [u.scales.x.min, u.scales.x.max] } : null;
    if (u) u.destroy();
    const width = Math.max(260, Math.min(plotBox.clientWidth || (square ? 380 : 560), square ? 420 : 2000));
    const chartOpts = {
      width,
      height: square ? Math.round(width * 0.92) : 260,
      cursor: { drag: { x: true, y: square, uni: square ? 20 : undefined }, points: { size: 7 } },
      scales: {
        x: { time: false, range: opts.xMin !== undefined || opts.xMax !== undefined ? fixed(opts.xMin, opts.xMax) : undefined },
        y: state.log ? { distr: 3, log: 10 } : { range: opts.yMin !== undefined || opts.yMax !== undefined ? fixed(opts.yMin, opts.yMax) : undefined },
      },
      axes: [
        { label: opts.xLabel, labelSize: 20, size: 36, values: opts.integerX ? (u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : '')) : undefined },
        { label: opts.yLabel, labelSize: 20, size: 56 },
      ],
      legend: { live: true },
      series: [
        { label: opts.xLabel || 'x', value: (u, v) => fmtVal(v) },
        ...series.map((s, i) => ({
          label: s.name,
          stroke: s.color || seriesColor(i),
          width: 2,
          dash: DASHES[i % DASHES.length],
          spanGaps: true,
          points: { show: raw[0].length === 1 || undefined },
          value: (u, v) => fmtVal(v),
        })),
      ],
      hooks: {
        draw: opts.diagonal ? [(u) => {
          const { ctx } = u;
          ctx.save();
          ctx.strokeStyle = '#9ca3af';
          ctx.setLineDash([4, 4]);
          ctx.beginPath();
          ctx.moveTo(u.valToPos(0, 'x', true), u.valToPos(0, 'y', true));
          ctx.lineTo(u.valToPos(1, 'x', true), u.valToPos(1, 'y', true));
          ctx.stroke();
          ctx.restore();
        }] : [],
      },
    };
    u = new uPlot(chartOpts, drawn(), plotBox);
    if (keep && keep.x[0] != null) u.setScale('x', { min: keep.x[0], max: keep.x[1] });
    ctl.uplot = u;
  };

  let observer = null;
  const ctl = {
    fig,
    uplot: null,
    get raw() { return raw; },
    drawn,
    state,
    attached: false,
    update(next) {
      const same = next.length === series.length && next.every((x, i) => x.name === series[i].name);
      const zoomed = u && raw[0].length && (u.scales.x.min > raw[0][0] || u.scales.x.max < raw[0][raw[0].length - 1]);
      const shown = u ? u.series.slice(1).map((x) => x.show) : [];
      series = next;
      raw = align(series);
      positive = allPositive();
      if (!positive) state.log = false;
      if (!same || !raw[0].length) { build(); return; }
      u.setData(drawn(), !zoomed);
      shown.forEach((on, i) => { if (!on) u.setSeries(i + 1, { show: false }); });
    },
    destroy() {
      live.delete(ctl);
      observer?.disconnect();
      u?.destroy();
    },
    setSmoothing(w) {
      state.smoothing = w;
      fig.dataset.smoothing = String(w);
      u.setData(drawn(), false); // keep the zoom
      u.redraw();
    },
    setLog(on) {
      state.log = !!on && positive;
      build();
    },
    resetZoom() { u.setData(drawn(), true); },
  };
  fig.chart = ctl;

  const tools = h('div', { class: 'chart-tools' });
  if (smoothable) {
    const out = h('output', { for: `${id}-smooth` }, '0');
    const slider = h('input', { type: 'range', id: `${id}-smooth`, class: 'smoothing', min: 0, max: 0.99, step: 0.01, value: 0,
      oninput: () => { out.textContent = slider.value; ctl.setSmoothing(Number(slider.value)); } });
    tools.append(h('label', { for: `${id}-smooth` }, 'Smoothing'), slider, out);
  }
  if (!square) {
    const box = h('input', { type: 'checkbox', id: `${id}-log`, class: 'log-y', disabled: !positive, onchange: () => ctl.setLog(box.checked) });
    tools.append(h('span', { class: 'field', title: positive ? 'logarithmic y axis' : 'a log scale needs every value above zero' },
      box, h('label', { for: `${id}-log` }, 'log y')));
  }
  tools.append(h('button', { type: 'button', class: 'reset-zoom', title: 'or double-click the chart', onclick: () => ctl.resetZoom() }, 'Reset zoom'),
    h('span', { class: 'hint muted small' }, 'drag to zoom · click a legend entry to hide it'));
  fig.append(tools, plotBox);
  fig.dataset.smoothing = '0';
  build();
  live.add(ctl);
  // Fit the plot to its column once the figure is laid out, and on resize.
  if (typeof ResizeObserver !== 'undefined') {
    let lastW = 0;
    observer = new ResizeObserver(() => {
      if (fig.isConnected) ctl.attached = true;
      const w = Math.max(260, Math.min(plotBox.clientWidth, square ? 420 : 2000));
      if (!plotBox.clientWidth || Math.abs(w - lastW) < 2) return;
      lastW = w;
      u.setSize({ width: w, height: square ? Math.round(w * 0.92) : 260 });
    });
    observer.observe(plotBox);
  }
  return fig;
}
