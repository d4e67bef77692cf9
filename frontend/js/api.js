// Every request the dashboard makes goes through api(), so access control
// needs one change: a bearer token kept in localStorage is sent with each
// call. Images and downloads are fetched the same way (blob URLs), because
// an <img src> or a plain link could not carry the header.

const TOKEN_KEY = 'xraylab.token';

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives for this page only */ }
}

// ApiError carries the server's {"error": {code, message, details}}.
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// api sends one request. opts: method, json (a value sent as JSON), body
// and type (a raw body and its Content-Type), as: 'json' | 'blob' | 'text'.
// It resolves to the decoded answer (null for 204) and rejects with an
// ApiError; a network failure becomes status 0, code "offline".
export async function api(path, opts = {}) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  } else if (opts.type) {
    headers['Content-Type'] = opts.type;
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || 'GET', headers, body, signal: opts.signal });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'offline', 'cannot reach the server', null);
  }
  if (res.status === 401 && !opts.retried && askToken()) {
    // The server wants its token: ask once, keep it, and try again.
    return api(path, { ...opts, retried: true });
  }
  if (!res.ok) {
    let code = 'http_' + res.status;
    let message = `${res.status} ${res.statusText}`;
    let details = null;
    try {
      const e = (await res.json()).error;
      if (e) ({ code, message, details = null } = e);
    } catch { /* not our JSON: keep the status line */ }
    throw new ApiError(res.status, code, message, details);
  }
  if (res.status === 204) return null;
  switch (opts.as || 'json') {
    case 'blob': return res.blob();
    case 'text': return res.text();
    default: return res.json();
  }
}

// objectURL fetches path as a blob and returns a URL for <img> or <a>, or
// null when the server answers 404 (the resource does not exist yet).
export async function objectURL(path) {
  try {
    return URL.createObjectURL(await api(path, { as: 'blob' }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

// download saves path as a file through api(), so it carries the token.
export async function download(path, name) {
  const url = URL.createObjectURL(await api(path, { as: 'blob' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// eventsURL is the SSE stream. EventSource cannot send headers, so a token
// travels as ?token= (the server accepts it there and nowhere else).
export function eventsURL() {
  const t = token();
  return t ? `/api/events?token=${encodeURIComponent(t)}` : '/api/events';
}

// askToken asks for the server's access token (xraylab serve prints where
// it is kept) and stores it in this browser; false when none is given.
function askToken() {
  if (typeof window === 'undefined' || !window.prompt) return false;
  const t = window.prompt('This xraylab server needs its access token for that.\n'
    + 'It is in the token file that "xraylab serve" printed (var/token by default).');
  if (!t || !t.trim()) return false;
  setToken(t.trim());
  return true;
}
