// One EventSource for the whole page. Pages subscribe with on() and get
// every state and progress event; the latest progress of each run is kept
// so a page opened mid-run shows its bar at once. When the stream drops
// (server restart), a banner says so until it is back; EventSource retries
// by itself, and when it gives up (an error status) we start a new one.

import { eventsURL } from './api.js';

const handlers = new Set();
const statusHandlers = new Set();
export const latest = new Map(); // run id → last progress event
let source = null;
let retryTimer = null;
let status = 'connecting'; // then 'open' or 'down'
let wasDown = false;

export function on(fn) {
  handlers.add(fn);
  return () => handlers.delete(fn);
}

// onStatus(fn) calls fn(status) now and on every change of the
// connection: 'connecting', 'open' or 'down'.
export function onStatus(fn) {
  statusHandlers.add(fn);
  fn(status);
  return () => statusHandlers.delete(fn);
}

function setStatus(v) {
  if (status === v) return;
  status = v;
  for (const fn of statusHandlers) fn(v);
  // Events sent while we were away are lost: tell pages to reload.
  if (v === 'down') wasDown = true;
  if (v === 'open' && wasDown) {
    wasDown = false;
    document.dispatchEvent(new CustomEvent('xraylab:reconnected'));
  }
}

function dispatch(msg) {
  let ev;
  try { ev = JSON.parse(msg.data); } catch { return; }
  if (ev.type === 'progress') latest.set(ev.run_id, ev);
  if (ev.type === 'state' && ev.state !== 'running') latest.delete(ev.run_id);
  for (const fn of handlers) {
    try { fn(ev); } catch (err) { console.error('event handler', err); }
  }
}

export function connect() {
  if (source) source.close();
  clearTimeout(retryTimer);
  source = new EventSource(eventsURL());
  source.onopen = () => setStatus('open');
  source.addEventListener('state', dispatch);
  source.addEventListener('progress', dispatch);
  source.onerror = () => {
    setStatus('down');
    if (source.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 3000);
  };
}

// runFraction is how far a run is, from its latest progress event.
export function runFraction(ev) {
  if (!ev || !ev.epochs) return 0;
  const within = ev.batches ? (ev.batch || 0) / ev.batches : 0;
  return Math.min(1, ((ev.epoch || 1) - 1 + within) / ev.epochs);
}
