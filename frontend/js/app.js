// The dashboard's entry: a hash router over the pages, the live event
// stream and its "reconnecting" banner. Each page is a function that
// renders into <main> and returns a cleanup function for when the route
// changes (unsubscribing from events, stopping timers).

import { connect, onStatus } from './live.js';
import { errorBox, clear } from './dom.js';
import { listPage } from './pages/list.js';
import { experimentPage } from './pages/experiment.js';
import { runPage } from './pages/run.js';
import { comparePage } from './pages/compare.js';
import { submitPage } from './pages/submit.js';
import { queuePage, refreshPaused } from './pages/queue.js';
import { explorerPage } from './pages/explorer.js';

const routes = [
  [/^\/?$/, 'list', (m, q) => listPage(q)],
  [/^\/experiments\/(\d+)$/, 'list', (m) => experimentPage(Number(m[1]))],
  [/^\/runs\/(\d+)$/, 'list', (m) => runPage(Number(m[1]))],
  [/^\/compare$/, 'compare', (m, q) => comparePage(q)],
  [/^\/submit$/, 'submit', () => submitPage()],
  [/^\/queue$/, 'queue', () => queuePage()],
  [/^\/explorer$/, 'explorer', (m, q) => explorerPage(q)],
];

let cleanup = null;

// parseHash splits "#/path?query" into a path and URLSearchParams.
export function parseHash() {
  const raw = decodeURI(location.hash.replace(/^#/, '')) || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

async function route() {
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  refreshPaused();
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not block the next */ } cleanup = null; }
  for (const [re, nav, page] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    clear(main);
    try {
      cleanup = (await page(m, query)) || null;
    } catch (err) {
      clear(main, errorBox(err, 'This page failed to load'));
    }
    return;
  }
  clear(main, errorBox(new Error(`no page at ${path}`), 'Not found'));
}

function start() {
  const banner = document.getElementById('banner');
  const conn = document.getElementById('conn');
  onStatus((st) => {
    banner.hidden = st !== 'down';
    conn.textContent = { open: '● live', down: '● offline', connecting: '' }[st];
    conn.className = `conn ${st}`;
  });
  connect();
  window.addEventListener('hashchange', route);
  route();
}

start();
