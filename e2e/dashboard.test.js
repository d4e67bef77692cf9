// End-to-end test of the dashboard in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). It builds xraylab (or
// takes XRAYLAB_BIN), serves it on a free loopback port with a fresh var
// folder, and walks through what a researcher does: a spec with errors,
// the fix, the run going to done over SSE, the experiment notebook, a note
// that survives a reload, a comparison (charts that zoom, hover and smooth,
// parallel coordinates, heatmaps side by side), and a server restart.
//
// XRAYLAB_SCREENSHOTS=DIR also writes a PNG of each page into DIR.
// CHROMIUM overrides the browser path.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const shots = process.env.XRAYLAB_SCREENSHOTS ? path.resolve(here, process.env.XRAYLAB_SCREENSHOTS) : '';
const TIMEOUT = 60_000;

// The spec the researcher means to submit: one pixelgauss model, two seeds.
const GOOD = `experiments:
  e2e-tiny:
    description: dashboard end-to-end test
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
    histogram_equalization: [false]
    seeds: [42, 4242]
`;
// The same with two mistakes, each on its own line.
const BAD = GOOD.replace('image_size: 32', 'image_size: big').replace('- name: pixelgauss', '- name: pixelgaus');
// Runs for the comparison views, on the data of GOOD: a pixelgauss run
// with the spec of GOOD's seed-42 run (so the same split and the same
// model), and a CAE, whose training loss gives a curve with many steps.
const HEAT = `experiments:
  e2e-heat:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 1, difficulty: easy}
    image_size: 32
    epochs: 2
    batch_size: 16
    models:
      - name: pixelgauss
        scores: [mean, mean_topk]
        topk: [10]
      - name: cae
        epochs: 3
        batch_size: 8
    preprocessing: [raw]
    histogram_equalization: [false]
    seeds: [42]
`;
// A long CAE run that holds the single worker, so the test sees the
// submitted runs wait, then start and finish once it is cancelled.
const BLOCKER = `experiments:
  e2e-blocker:
    dataset:
      synthetic: {patients: 40, size: 96, seed: 1, difficulty: easy}
    image_size: 32
    epochs: 200
    batch_size: 8
    models:
      - name: cae
    preprocessing: [raw]
    seeds: [1]
`;

let bin;
let port;
let varDir;
let token; // the server's access token, from <var>/token
let prompts = 0; // times the dashboard asked for the token
let server;
let serverLog = '';
let context;
let base;
let profile;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port: p } = s.address(); s.close(() => resolve(p)); });
  });
}

async function waitFor(what, fn, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}\nserver log:\n${serverLog.slice(-3000)}`);
}

async function startServer() {
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--var', varDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitFor('the server to answer', async () => (await fetch(`${base}/api/health`)).ok);
  token = fs.readFileSync(path.join(varDir, 'token'), 'utf8').trim();
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const done = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await done;
}

async function apiJSON(p, opts = {}) {
  const res = await fetch(base + p, { ...opts, headers: { ...(opts.headers || {}), Authorization: `Bearer ${token}` } });
  const body = await res.json();
  return { status: res.status, body };
}

// blobPNG encodes a w×h 8-bit grey PNG: grey 40 with a bright (180)
// ellipse of a tenth of each side in radius at the centre. Written here
// (zlib and a CRC table) because Node has no image encoder.
function blobPNG(w, h) {
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = (x - Math.floor(w / 2)) / (w / 10), dy = (y - Math.floor(h / 2)) / (h / 10);
      raw[y * (w + 1) + 1 + x] = dx * dx + dy * dy <= 1 ? 180 : 40;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const hdr = Buffer.alloc(13);
  hdr.writeUInt32BE(w, 0);
  hdr.writeUInt32BE(h, 4);
  hdr[8] = 8; // bit depth; colour type 0 (grey), no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', hdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function shot(page, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.waitForTimeout(300); // let images decode and charts settle
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

before(async () => {
  bin = process.env.XRAYLAB_BIN;
  if (!bin) {
    bin = path.join(here, '.bin', 'xraylab');
    execFileSync('go', ['build', '-o', bin, '.'], { cwd: repo, stdio: 'inherit' });
  }
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraylab-e2e-'));
  await startServer();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'xraylab-e2e-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
});

after(async () => {
  if (context) await context.close();
  await stopServer();
  for (const d of [varDir, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

// watch collects page errors: any uncaught error fails the test.
function watch(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The dashboard asks for the token (a prompt) the first time a request
  // needs it; other dialogs (confirmations) are accepted.
  page.on('dialog', (d) => {
    if (d.type() === 'prompt') {
      prompts++;
      return d.accept(token);
    }
    return d.accept();
  });
  return errors;
}

test('dashboard: submit, watch, read, annotate, compare, reconnect', async (t) => {
  const page = await context.newPage();
  const errors = watch(page);

  // The blocker takes the only worker before the researcher submits.
  const blocked = await apiJSON('/api/experiments', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: BLOCKER });
  assert.equal(blocked.status, 201, JSON.stringify(blocked.body));
  const blockerRun = blocked.body.experiments[0].run_ids[0];
  await waitFor('the blocker to run', async () => (await apiJSON(`/api/runs/${blockerRun}`)).body.state === 'running');

  let expId;
  await t.test('a spec with errors shows each problem at its line', async () => {
    await page.goto(`${base}/#/submit`);
    await page.locator('#spec').fill(BAD);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.locator('.problems li').first().waitFor();
    // What the server says about the same text, asked directly.
    const direct = await apiJSON('/api/experiments', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: BAD });
    assert.equal(direct.status, 400);
    const problems = direct.body.error.details;
    const lineOf = (needle) => BAD.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.deepEqual(problems.map((p) => p.line).sort((a, b) => a - b), [lineOf('image_size: big'), lineOf('name: pixelgaus')]);
    for (const p of problems) {
      const item = page.locator(`.problems li[data-line="${p.line}"]`);
      assert.equal(await item.count(), 1, `problem at line ${p.line} listed`);
      const text = await item.textContent();
      assert.ok(text.includes(p.message) && text.includes(p.path) && text.includes(`line ${p.line}:${p.column}`), text);
      const mark = page.locator(`.gutter div.bad[data-line="${p.line}"]`);
      assert.equal(await mark.count(), 1, `gutter marks line ${p.line}`);
      assert.ok((await mark.getAttribute('title')).includes(p.message));
    }
    assert.equal(await page.locator('.gutter div.bad').count(), problems.length, 'only those lines are marked');
    // Choosing a problem puts the cursor on its line.
    await page.locator(`.problems li[data-line="${lineOf('name: pixelgaus')}"] button`).click();
    const selected = await page.locator('#spec').evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
    assert.equal(selected, 'pixelgaus');
    await shot(page, 'submit-errors');
  });

  await t.test('the fixed spec is queued and the page moves to it', async () => {
    await page.locator('#spec').fill(GOOD);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.waitForURL(/#\/experiments\/\d+$/);
    expId = Number(/experiments\/(\d+)$/.exec(page.url())[1]);
    assert.equal(await page.locator('h1').textContent(), 'e2e-tiny');
    assert.equal(await page.locator('.gutter div.bad').count(), 0);
  });

  await t.test('runs wait, then go to done over the live stream', async () => {
    const rows = page.locator('#cell-runs tbody tr');
    await waitFor('two run rows', async () => (await rows.count()) === 2);
    assert.deepEqual(await page.locator('#cell-runs .badge').allTextContents(), ['queued', 'queued']);
    // Marks this document: a reload would lose it.
    await page.evaluate(() => { window.__noReload = true; });
    // Cancel the blocker from its own run page, in a second tab.
    const other = await context.newPage();
    const otherErrors = watch(other);
    await other.goto(`${base}/#/runs/${blockerRun}`);
    await other.locator('#cancel').click();
    await other.locator('.badge.state-cancelled').first().waitFor();
    assert.deepEqual(otherErrors, []);
    await other.close();
    await waitFor('both runs to succeed on the page', async () => {
      const states = await page.locator('#cell-runs .badge').allTextContents();
      return states.length === 2 && states.every((s) => s === 'succeeded');
    });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'updated without a reload');
    await waitFor('the header to count 2 succeeded', async () => (await page.locator('.page-head .badge.state-succeeded').textContent()) === '2 succeeded');
    await waitFor('full progress', async () => (await page.locator('.exp-progress [role=progressbar]').getAttribute('aria-valuenow')) === '100');
  });

  await t.test('the notebook shows spec, data, preprocessing examples and curves', async () => {
    // Spec: the submitted text, line by line.
    const specText = await page.locator('#cell-spec pre').evaluate((el) => [...el.querySelectorAll('.ln')].length);
    assert.equal(specText, GOOD.trimEnd().split('\n').length);
    // Dataset and split: the table matches the API's summary of the first run.
    const runs = (await apiJSON(`/api/runs?experiment=${expId}`)).body.items;
    const ds = (await apiJSON(`/api/runs/${runs[0].id}/dataset`)).body.summary.split;
    await page.locator('#cell-data table').waitFor();
    const testRow = await page.locator('#cell-data tbody tr', { hasText: 'test' }).first().locator('td').allTextContents();
    assert.deepEqual(testRow.map(Number), [ds.test.patients, ds.test.studies, ds.test.images, ds.test.positive_images]);
    // Preprocessing examples: a decoded image.
    const decoded = (loc) => loc.evaluate((img) => img.complete && img.naturalWidth > 0);
    await page.locator('#cell-prep img').waitFor();
    assert.ok(await decoded(page.locator('#cell-prep img')));
    // Curves: a chart per validation score with both runs (the legend's
    // first row is the x axis).
    await page.locator('#cell-curves figure.chart canvas').first().waitFor({ state: 'attached' });
    assert.ok(await page.locator('#cell-curves figure.chart').count() >= 1);
    assert.equal(await page.locator('#cell-curves figure.chart').first().locator('.u-legend tr.u-series').count(), 3);
  });

  // ISSUE-6 ASSERTIONS: these need the lead's endpoints and artifacts
  // (/api/experiments/:id/roc.png, /api/experiments/:id/table?format=json,
  // the heatmaps.png run artifact); they are kept apart so a failure here
  // names what is missing.
  await t.test('the notebook shows the ROC image, Table 1 and heatmaps', async () => {
    const decoded = (loc) => loc.evaluate((img) => img.complete && img.naturalWidth > 0);
    // Fail fast, naming the missing piece, before waiting on the page.
    const runs = (await apiJSON(`/api/runs?experiment=${expId}`)).body.items;
    const score = Object.keys(runs[0].metrics).map((k) => /^test\/([^/]+)\/roc_auc$/.exec(k)?.[1]).filter(Boolean).sort()[0];
    for (const p of [`/api/experiments/${expId}/roc.png?score=${score}`, `/api/experiments/${expId}/table?format=json`]) {
      const res = await fetch(base + p);
      assert.equal(res.status, 200, `GET ${p}: ${res.status} ${await res.text()}`);
    }
    for (const r of runs) {
      const names = (await apiJSON(`/api/runs/${r.id}/artifacts`)).body.items.map((a) => a.name);
      assert.ok(names.includes('heatmaps.png'), `run ${r.id} has no heatmaps.png artifact: ${names.join(', ')}`);
    }
    // ROC: an image from /api/experiments/:id/roc.png.
    await page.locator('#cell-roc img').waitFor();
    await waitFor('the ROC image to decode', () => decoded(page.locator('#cell-roc img')));
    // Table 1: a row per model and score, the best in bold, export links.
    const table = (await apiJSON(`/api/experiments/${expId}/table?format=json`)).body;
    await page.locator('#cell-table table.table1').waitFor();
    assert.equal(await page.locator('#cell-table table.table1 tbody tr').count(), table.rows.length);
    const bestCells = table.rows.flatMap((r) => r.cells.filter((c) => c && c.best)).length;
    assert.ok(bestCells > 0);
    assert.equal(await page.locator('#cell-table td.best strong').count(), bestCells);
    const first = table.rows[0].cells.find((c) => c);
    assert.ok((await page.locator('#cell-table table.table1 tbody').textContent()).includes(`${first.mean.toFixed(3)} ± ${(first.std || 0).toFixed(3)}`));
    assert.deepEqual(await page.locator('#cell-table .exports a').allTextContents(), ['csv', 'markdown', 'latex', 'png']);
    // Heatmaps: one decoded gallery image per run.
    await page.locator('#cell-heat img').first().waitFor();
    assert.equal(await page.locator('#cell-heat img').count(), 2);
    await waitFor('a heatmap gallery to decode', () => decoded(page.locator('#cell-heat img').first()));
  });

  await t.test('a note is rendered safely and survives a reload', async () => {
    const text = '## Findings\n\nSeed **4242** looks better; see `mean_top10`.\n\n- check <script>alert(1)</script>\n- [paper](https://example.org) [bad](javascript:alert)';
    await page.locator('#cell-notes textarea').fill(text);
    await page.getByRole('button', { name: 'Add note' }).click();
    const note = page.locator('#cell-notes article.note');
    await note.first().waitFor();
    const check = async () => {
      assert.equal(await note.count(), 1);
      assert.equal(await note.locator('h4').textContent(), 'Findings');
      assert.equal(await note.locator('strong').textContent(), '4242');
      assert.equal(await note.locator('code').textContent(), 'mean_top10');
      assert.equal(await note.locator('script').count(), 0);
      assert.ok((await note.locator('li').first().textContent()).includes('<script>alert(1)</script>'));
      assert.deepEqual(await note.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ['https://example.org']);
    };
    await check();
    await page.reload();
    await note.first().waitFor();
    await check();
    // Stored as written, with timestamps and no author.
    const stored = (await apiJSON(`/api/experiments/${expId}/notes`)).body.items;
    assert.equal(stored.length, 1);
    assert.equal(stored[0].body, text);
    assert.deepEqual(Object.keys(stored[0]).sort(), ['body', 'created', 'experiment_id', 'id', 'updated']);
    // Edit, then delete a second note.
    await note.getByRole('button', { name: 'Edit' }).click();
    await note.locator('textarea').fill('Edited: *fine*.');
    await note.getByRole('button', { name: 'Save' }).click();
    await waitFor('the edited note', async () => (await note.locator('em').count()) === 1);
    assert.equal(await note.locator('.markdown').textContent(), 'Edited: fine.');
    await page.locator('#cell-notes form.note-form textarea').last().fill('temporary');
    await page.getByRole('button', { name: 'Add note' }).click();
    await waitFor('two notes', async () => (await note.count()) === 2);
    await note.nth(1).getByRole('button', { name: 'Delete' }).click();
    await waitFor('one note again', async () => (await note.count()) === 1);
    await page.reload();
    await note.first().waitFor();
    assert.equal(await note.count(), 1);
    assert.equal(await note.locator('.markdown').textContent(), 'Edited: fine.');
    await page.locator('#cell-prep img').waitFor();
    await shot(page, 'experiment');
  });

  await t.test('the list shows the experiments with counts and best figure', async () => {
    await page.goto(`${base}/#/`);
    const row = page.locator(`tr[data-experiment="${expId}"]`);
    await row.waitFor();
    assert.ok((await row.textContent()).includes('2 succeeded'));
    const best = (await apiJSON(`/api/experiments/${expId}`)).body.best;
    assert.equal(await row.locator('a.figure').textContent(), best.value.toFixed(3));
    await page.locator('#search').fill('blocker');
    await waitFor('the search to filter', async () => (await page.locator('tbody tr').count()) === 1 && (await page.locator(`tr[data-experiment="${expId}"]`).count()) === 0);
    await page.locator('#search').fill('');
    await waitFor('the search to clear', async () => (await page.locator('tbody tr').count()) === 2);
    await shot(page, 'experiments');
  });

  await t.test('two runs compare side by side', async () => {
    const runs = (await apiJSON(`/api/runs?experiment=${expId}`)).body.items;
    await page.goto(`${base}/#/compare`);
    await page.locator('#pick-experiment').selectOption(String(expId));
    for (const r of runs) await page.locator(`.runs-list label[data-run="${r.id}"] input`).check();
    assert.ok(page.url().endsWith(`#/compare?runs=${runs[0].id},${runs[1].id}`), page.url());
    await page.locator('table.params-compare').waitFor();
    const diff = await page.locator('table.params-compare tr.diff').evaluateAll((trs) => trs.map((tr) => tr.dataset.param));
    assert.deepEqual(diff.sort(), ['seed', 'split_seed']);
    assert.deepEqual(await page.locator('tr[data-param="image_size"] td').allTextContents(), ['32', '32']);
    // ROC curves overlaid, read from /api/runs/:id/roc: one line each,
    // labelled with the AUC the run recorded.
    await page.locator('#h-croc ~ figure canvas').first().waitFor({ state: 'attached' });
    const legend = (await page.locator('#h-croc ~ figure .u-legend tr.u-series .u-label').allTextContents()).slice(1);
    assert.equal(legend.length, 2);
    const score = await page.locator('#roc-score-compare').inputValue();
    for (const [i, r] of runs.entries()) {
      assert.ok(legend[i].includes(`AUC ${r.metrics[`test/${score}/roc_auc`].toFixed(3)}`), `${legend[i]} vs ${r.metrics[`test/${score}/roc_auc`]}`);
      const roc = (await apiJSON(`/api/runs/${r.id}/roc?score=${score}&split=test`)).body;
      assert.ok(Math.abs(roc.auc - r.metrics[`test/${score}/roc_auc`]) < 1e-12, `${roc.auc} vs ${r.metrics[`test/${score}/roc_auc`]}`);
    }
    await shot(page, 'compare');
    await page.goto(`${base}/#/runs/${runs[0].id}`);
    await page.locator('#h-files ~ .table-wrap a', { hasText: 'scores.csv' }).waitFor();
    // The run's log, as the run wrote it.
    await page.locator('pre.log').waitFor();
    const log = await page.locator('pre.log').textContent();
    assert.ok(log.includes('attempt 1 of ') && log.includes('test ROC-AUC: ') && log.trim().endsWith('finished'), log);
    await shot(page, 'run');
  });

  // The comparison views need runs that share a split and a curve with
  // many points: the runs of HEAT.
  let heatExp;
  let heatPG;
  let heatCAE;
  await t.test('charts zoom, show values on hover and smooth', async () => {
    const sub = await apiJSON('/api/experiments', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: HEAT });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    heatExp = sub.body.experiments[0].id;
    const ids = sub.body.experiments[0].run_ids;
    const runs = await waitFor('the HEAT runs to succeed', async () => {
      const rs = await Promise.all(ids.map(async (id) => (await apiJSON(`/api/runs/${id}`)).body));
      if (rs.some((r) => r.state === 'failed' || r.state === 'cancelled')) throw new Error(rs.map((r) => `${r.id} ${r.state} ${r.error || ''}`).join('; '));
      return rs.every((r) => r.state === 'succeeded') && rs;
    }, 180_000);
    heatPG = runs.find((r) => r.model === 'pixelgauss').id;
    heatCAE = runs.find((r) => r.model === 'cae').id;

    await page.goto(`${base}/#/runs/${heatCAE}`);
    const fig = page.locator('figure.chart:has(figcaption:text-is("train/mse"))');
    await fig.locator('canvas').first().waitFor();
    const series = (await apiJSON(`/api/runs/${heatCAE}/metrics`)).body.series['train/mse'];
    assert.ok(series.length >= 10, `train/mse has ${series.length} points`);
    await fig.scrollIntoViewIfNeeded(); // mouse positions are in the viewport
    const box = await fig.locator('.u-over').boundingBox();
    const state = () => fig.evaluate((el) => ({ min: el.chart.uplot.scales.x.min, max: el.chart.uplot.scales.x.max }));
    const full = await state();
    assert.deepEqual([full.min, full.max], [series[0].step, series[series.length - 1].step]);

    // Zoom: a drag from 20% to 60% of the plot's width shows that span.
    const [a, b] = await fig.evaluate((el, px) => px.map((p) => el.chart.uplot.posToVal(p, 'x')), [box.width * 0.2, box.width * 0.6]);
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    await page.waitForTimeout(100);
    const zoomed = await state();
    const tol = (full.max - full.min) / box.width * 2; // two pixels
    assert.ok(Math.abs(zoomed.min - a) < tol && Math.abs(zoomed.max - b) < tol, `zoomed to ${zoomed.min}..${zoomed.max}, dragged ${a}..${b}`);
    await fig.locator('button.reset-zoom').click();
    assert.deepEqual(await state(), full);

    // Hover: the legend shows the point under the cursor, as the API has it.
    const fmt = (v) => String(Number(v.toPrecision(4)));
    const hx = box.width * 0.55;
    await page.mouse.move(box.x + hx, box.y + box.height / 2);
    await page.waitForTimeout(100);
    const hov = await fig.evaluate((el) => {
      const u = el.chart.uplot;
      return { idx: u.cursor.idx, x: u.data[0][u.cursor.idx], values: [...el.querySelectorAll('.u-legend .u-value')].map((e) => e.textContent) };
    });
    const want = await fig.evaluate((el, px) => el.chart.uplot.posToIdx(px), hx);
    assert.equal(hov.idx, want);
    const point = series.find((p) => p.step === hov.x);
    assert.ok(point, `no train/mse point at step ${hov.x}`);
    assert.deepEqual(hov.values, [fmt(point.step), fmt(point.value)]);

    // Smoothing: the drawn line is TensorBoard's debiased EMA of the
    // points (computed here as a weighted average), and the canvas changes.
    const pixels = () => fig.locator('canvas').first().evaluate((c) => c.toDataURL());
    const raw = await pixels();
    await fig.locator('input.smoothing').fill('0.9');
    await page.waitForTimeout(100);
    const drawn = await fig.evaluate((el) => el.chart.uplot.data[1]);
    const vals = series.map((p) => p.value);
    vals.forEach((_, n) => {
      let num = 0;
      let den = 0;
      for (let i = 0; i <= n; i++) { num += vals[i] * 0.9 ** (n - i); den += 0.9 ** (n - i); }
      assert.ok(Math.abs(drawn[n] - num / den) < 1e-12, `point ${n}: drawn ${drawn[n]}, EMA ${num / den}`);
    });
    const smooth = await pixels();
    assert.notEqual(smooth, raw, 'smoothing changes the drawn path');
    await fig.locator('input.smoothing').fill('0');
    await page.waitForTimeout(100);
    assert.deepEqual(await fig.evaluate((el) => el.chart.uplot.data[1]), vals);
    // Log scale: the y axis becomes logarithmic.
    await fig.locator('input.log-y').check();
    assert.equal(await fig.evaluate((el) => el.chart.uplot.scales.y.distr), 3);
    await shot(page, 'run-charts');
  });

  await t.test('parallel coordinates: brushing an axis selects runs', async () => {
    await page.goto(`${base}/#/compare`);
    await page.locator('#pick-experiment').selectOption(String(heatExp));
    // The grid of the chosen experiment (not of the one shown first).
    const wrap = page.locator(`#cell-parcoords[data-experiment="${heatExp}"] .parcoords-wrap`);
    await wrap.waitFor();
    await wrap.scrollIntoViewIfNeeded();
    const selected = async () => (await wrap.getAttribute('data-selected')).split(',').filter(Boolean).map(Number).sort((x, y) => x - y);
    assert.deepEqual(await selected(), [heatPG, heatCAE].sort((x, y) => x - y));
    // Categories sort: cae at the bottom of the model axis, pixelgauss at
    // the top. A drag over the top third selects the pixelgauss run.
    const area = await page.locator('#cell-parcoords rect.brush-area[data-axis="model.name"]').boundingBox();
    const drag = async (from, to) => {
      await page.mouse.move(area.x + area.width / 2, area.y + area.height * from);
      await page.mouse.down();
      await page.mouse.move(area.x + area.width / 2, area.y + area.height * to, { steps: 5 });
      await page.mouse.up();
    };
    await drag(0.02, 0.3);
    assert.deepEqual(await selected(), [heatPG]);
    assert.equal(await page.locator(`#cell-parcoords path[data-run="${heatCAE}"]`).getAttribute('class'), 'run-line dim');
    assert.equal(await page.locator(`#cell-parcoords path[data-run="${heatPG}"]`).getAttribute('class'), 'run-line selected');
    assert.equal(await page.locator('#cell-parcoords .pc-count').textContent(), '1 of 2 runs selected');
    // A click on the axis clears its brush.
    await page.mouse.click(area.x + area.width / 2, area.y + area.height / 2);
    assert.deepEqual(await selected(), [heatPG, heatCAE].sort((x, y) => x - y));
    // The selection becomes the comparison.
    await drag(0.98, 0.7);
    assert.deepEqual(await selected(), [heatCAE]);
    await page.locator('#pc-compare').click();
    await waitFor('the selection in the URL', () => page.url().endsWith(`#/compare?runs=${heatCAE}`));
  });

  await t.test('heatmaps side by side, only from runs that share the image', async () => {
    const tiny = (await apiJSON(`/api/runs?experiment=${expId}`)).body.items;
    const same = tiny.find((r) => r.seed === 42).id; // GOOD's seed-42 run: HEAT's pixelgauss spec
    const other = tiny.find((r) => r.seed === 4242).id; // split by seed 4242
    const rowsOf = async (id) => (await apiJSON(`/api/runs/${id}/scores`)).body.rows;
    const [pgRows, otherRows] = [await rowsOf(heatPG), await rowsOf(other)];
    const img = pgRows.find((r) => r.part === 'test' && r.label === 1 && !otherRows.some((o) => o.part === 'test' && o.path === r.path && o.half === r.half));
    assert.ok(img, 'an abnormal test image of the seed-42 split that the seed-4242 split does not test');
    const value = `${img.path}|${img.half}`;
    await page.goto(`${base}/#/compare?runs=${heatPG},${heatCAE},${same},${other}`);
    await page.locator('#heat-image').selectOption(value);
    const tiles = page.locator('#cell-cheat figure.heat-tile');
    await waitFor('three decoded heatmaps', async () => (await tiles.count()) === 3 &&
      (await tiles.locator('img').evaluateAll((ims) => ims.length === 3 && ims.every((im) => im.complete && im.naturalWidth > 0))));
    assert.deepEqual(await tiles.evaluateAll((fs) => fs.map((f) => [Number(f.dataset.run), f.dataset.image])),
      [[heatPG, value], [heatCAE, value], [same, value]]);
    // The run on the other split is not offered, and says why.
    const refused = page.locator(`#cell-cheat .refused li[data-run="${other}"]`);
    assert.equal(await refused.count(), 1);
    const why = otherRows.some((o) => o.path === img.path) ? 'in its val split, not its test split' : 'does not have this image among its test images';
    assert.ok((await refused.textContent()).includes(why), await refused.textContent());
    // The server refuses it as well.
    const q = `image=${encodeURIComponent(img.path)}&half=${img.half}`;
    const direct = await apiJSON(`/api/runs/${other}/heatmap?${q}`);
    assert.ok(direct.status === 400 || direct.status === 404, `${direct.status} ${JSON.stringify(direct.body)}`);
    assert.ok(direct.body.error.message.includes(img.path), direct.body.error.message);
    // Maps were rendered once and cached; the same model on the same split
    // draws the same map, another model another.
    const png = async (id) => {
      const res = await fetch(`${base}/api/runs/${id}/heatmap?${q}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.equal(res.headers.get('x-heatmap-cache'), 'hit');
      return Buffer.from(await res.arrayBuffer());
    };
    const [pg, cae, twin] = [await png(heatPG), await png(heatCAE), await png(same)];
    assert.ok(pg.equals(twin), 'same spec, same split: the same heatmap');
    assert.ok(!pg.equals(cae), 'another model: another heatmap');
    // The map chooser: these models draw no discriminator map, and each
    // tile says which map its model draws; back to the default after.
    await page.locator('#heat-map').selectOption('d_grad');
    await waitFor('three refusals of d_grad', async () => (await tiles.count()) === 3 && (await tiles.locator('img').count()) === 0 &&
      (await tiles.evaluateAll((fs) => fs.every((f) => f.textContent.includes('draws no map "d_grad"; it draws: recon')))));
    await page.locator('#heat-map').selectOption('recon');
    await waitFor('three decoded recon heatmaps', async () => (await tiles.count()) === 3 &&
      (await tiles.locator('img').evaluateAll((ims) => ims.length === 3 && ims.every((im) => im.complete && im.naturalWidth > 0))));
    await page.locator('#heat-map').selectOption('');
    await shot(page, 'compare-heatmaps');
  });

  await t.test("the run's dataset section shows mask statistics and flags a bad mask", async () => {
    // Synthetic data with one negative image replaced by a small blob on a
    // flat background: its mask covers under 5% of the image.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xraylab-e2e-masks-'));
    try {
      execFileSync(bin, ['synth', '--out', dataDir, '--patients', '40', '--size', '96', '--seed', '3', '--difficulty', 'easy'], { stdio: 'ignore' });
      const root = path.join(dataDir, 'MURA-v1.1');
      const bad = 'train/XR_HAND/patient00002/study1_negative/image1.png';
      const file = path.join(root, bad);
      const ihdr = fs.readFileSync(file);
      fs.writeFileSync(file, blobPNG(ihdr.readUInt32BE(16), ihdr.readUInt32BE(20)));
      const spec = `experiments:
  e2e-masks:
    dataset: {mura: {root: '${root}', parts: [train, valid]}}
    image_size: 32
    epochs: 1
    models: [{name: pixelgauss}]
    preprocessing: [full]
    seeds: [1]
`;
      const sub = await apiJSON('/api/experiments', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: spec });
      assert.equal(sub.status, 201, JSON.stringify(sub.body));
      const id = sub.body.experiments[0].run_ids[0];
      await waitFor('the masks run to succeed', async () => {
        const r = (await apiJSON(`/api/runs/${id}`)).body;
        if (r.state === 'failed' || r.state === 'cancelled') throw new Error(`${r.state} ${r.error}`);
        return r.state === 'succeeded';
      }, 120_000);
      const masks = (await apiJSON(`/api/runs/${id}/dataset`)).body.summary.masks;
      const flagged = masks.flagged.find((f) => f.rel_path === bad);
      assert.ok(flagged && flagged.check === 'small', JSON.stringify(masks));

      await page.goto(`${base}/#/runs/${id}`);
      const sec = page.locator('section[aria-labelledby="h-data"]');
      await sec.locator('#mask-suspicious').waitFor();
      assert.equal(await sec.locator('tr:has(th:text-is("Masks measured")) td').textContent(), String(masks.images));
      const pct = (v) => `${(100 * v).toFixed(1)}%`;
      assert.equal(await sec.locator('tr:has(th:text-is("Share of the image")) td').textContent(),
        `min ${pct(masks.share.min)} · mean ${pct(masks.share.mean)} · max ${pct(masks.share.max)}`);
      assert.ok((await sec.locator('#mask-suspicious').textContent()).startsWith(`${masks.suspicious} of ${masks.images} (`));
      // One thumbnail per listed mask, each a decoded image; the bad one
      // captioned with its path and reason, and not among the plots.
      const figs = sec.locator('.mask-flags figure');
      assert.equal(await figs.count(), masks.flagged.length);
      const fig = sec.locator('.mask-flags figure', { hasText: bad });
      await fig.locator('img').waitFor();
      assert.equal(await fig.locator('figcaption').textContent(), `${bad}: ${flagged.reason}`);
      const w = await fig.locator('img').evaluate((img) => img.decode().then(() => img.naturalWidth));
      assert.ok(w > 0 && w <= 160, `thumbnail width ${w}`);
      await page.locator('#h-plots').waitFor();
      assert.equal(await page.locator('section[aria-labelledby="h-plots"] img[alt^="mask-flag"]').count(), 0);
      await shot(page, 'run-masks');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  await t.test('a server restart shows the banner, then live again', async () => {
    await page.goto(`${base}/#/experiments/${expId}`);
    await page.locator('.conn.open').waitFor();
    assert.equal(await page.locator('#banner').isHidden(), true);
    await stopServer();
    await page.locator('#banner').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#banner').textContent(), 'Connection to the server lost — reconnecting…');
    await startServer();
    await page.locator('#banner').waitFor({ state: 'hidden' });
    await page.locator('.conn.open').waitFor();
  });

  // Writes need the token: the dashboard asked for it once and kept it.
  assert.equal(prompts, 1, 'the dashboard asks for the access token exactly once');
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});

// The queue page: runs in lease order, pause and resume, move to top, a
// run's priority, an experiment's bulk cancel and a retry, each checked
// against the API.
test('queue: order, pause, move to top, priority, bulk cancel, retry', async () => {
  const page = await context.newPage();
  const errors = watch(page);
  const grid = GOOD.replace('e2e-tiny', 'e2e-grid').replace('seeds: [42, 4242]', 'seeds: [1, 2, 3]');
  const quick = GOOD.replace('e2e-tiny', 'e2e-quick').replace('seeds: [42, 4242]', 'seeds: [7]');
  await page.goto(`${base}/#/queue`);
  // Paused from the page first, so what is submitted next waits.
  await page.locator('#queue-pause').click();
  await page.locator('#queue-resume').waitFor();
  assert.equal((await apiJSON('/api/queue')).body.paused, true);
  await page.locator('[data-nav="queue"] .paused-mark').waitFor();
  assert.ok((await page.locator('#queue-status').textContent()).includes('The queue is paused'));

  const yaml = { 'Content-Type': 'application/yaml' };
  const g = await apiJSON('/api/experiments', { method: 'POST', headers: yaml, body: grid });
  const q = await apiJSON('/api/experiments?priority=5', { method: 'POST', headers: yaml, body: quick });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  assert.equal(q.status, 201, JSON.stringify(q.body));
  const gridExp = g.body.experiments[0].id;
  const gridRuns = g.body.experiments[0].run_ids;
  const quickRun = q.body.experiments[0].run_ids[0];

  const shown = () => page.locator('#queue-runs tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.run)));
  const leaseOrder = async () => (await apiJSON('/api/queue')).body.items.map((r) => r.id);
  const expectOrder = async (what, want) => {
    await waitFor(what, async () => JSON.stringify(await shown()) === JSON.stringify(want));
    assert.deepEqual(await leaseOrder(), want, `${what}: the API agrees`);
  };
  await expectOrder('the prioritised experiment first', [quickRun, ...gridRuns]);

  await page.locator(`#queue-runs tr[data-run="${gridRuns[2]}"] button.move-top`).click();
  await expectOrder('the moved run on top', [gridRuns[2], quickRun, gridRuns[0], gridRuns[1]]);

  const first = page.locator(`#queue-runs tr[data-run="${gridRuns[0]}"]`);
  await first.locator('input.priority-input').fill('-7');
  await first.locator('button.set-priority').click();
  await expectOrder('the lowered run last', [gridRuns[2], quickRun, gridRuns[1], gridRuns[0]]);
  assert.equal((await apiJSON(`/api/runs/${gridRuns[0]}`)).body.priority_override, -7);

  // Out of range: the server's message, and nothing changes.
  const second = page.locator(`#queue-runs tr[data-run="${gridRuns[1]}"]`);
  await second.locator('input.priority-input').fill('5000');
  await second.locator('button.set-priority').click();
  await page.locator('#queue-message .error').waitFor();
  assert.ok((await page.locator('#queue-message .error').textContent()).includes('priority 5000 is out of range: it must be an integer from -1000 to 1000'));
  assert.deepEqual(await leaseOrder(), [gridRuns[2], quickRun, gridRuns[1], gridRuns[0]]);

  // Bulk cancel of the grid (its confirmation is accepted).
  await page.locator(`#queue-runs button.cancel-queued[data-experiment="${gridExp}"]`).click();
  await expectOrder('only the quick run left', [quickRun]);
  for (const id of gridRuns) assert.equal((await apiJSON(`/api/runs/${id}`)).body.state, 'cancelled');

  // Retry one of them from the list of ended runs.
  await page.locator(`#queue-ended tr[data-run="${gridRuns[1]}"] button.retry`).click();
  await expectOrder('the retried run back in the queue', [quickRun, gridRuns[1]]);
  const hist = (await apiJSON(`/api/runs/${gridRuns[1]}/attempts`)).body.items;
  assert.equal(hist.length, 1);
  assert.equal(hist[0].state, 'cancelled');
  await shot(page, 'queue');

  // Resume: the mark goes and the quick run runs.
  await page.locator('#queue-resume').click();
  await page.locator('#queue-pause').waitFor();
  assert.equal(await page.locator('[data-nav="queue"] .paused-mark').count(), 0);
  await waitFor('the quick run to succeed', async () => (await apiJSON(`/api/runs/${quickRun}`)).body.state === 'succeeded');
  await page.close();
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});

// Curation: the explorer (filter, metric columns, sorting, CSV export),
// tags edited on a run page, an experiment archived and restored, a run
// purged — each checked against the API.
test('curation: explorer, tags, archive and restore, purge', async () => {
  const page = await context.newPage();
  const errors = watch(page);
  const q = (s) => encodeURIComponent(s);
  // The queue is paused so the new runs stay queued while the test works.
  await apiJSON('/api/queue/pause', { method: 'POST' });
  const curate = GOOD.replace('e2e-tiny', 'e2e-curate').replace('seeds: [42, 4242]', 'seeds: [5, 6]');
  const sub = await apiJSON('/api/experiments', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: curate });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  const curateExp = sub.body.experiments[0].id;
  const [runA, runB] = sub.body.experiments[0].run_ids;

  // Explorer: a filter across experiments, a metric column, sorting.
  const filter = "experiment = 'e2e-tiny' AND state = 'succeeded'";
  const key = 'test/mean/roc_auc';
  const want = (await apiJSON(`/api/runs?filter=${q(filter)}&order_by=${q('metrics.`' + key + '` DESC')}`)).body.items;
  assert.equal(want.length, 2, 'the first test left two succeeded runs');
  await page.goto(`${base}/#/explorer`);
  await page.locator('#filter').fill(filter);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const shownIds = () => page.locator('table.explorer tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.run)));
  await waitFor('the filtered runs', async () => (await shownIds()).length === 2);
  assert.deepEqual((await shownIds()).sort(), want.map((r) => r.id).sort());
  await page.locator('#metric-add').fill(key);
  await page.locator('#metric-add').press('Enter');
  await page.locator(`th button[data-sort="metrics.\`${key}\`"]`).waitFor();
  await page.locator(`th button[data-sort="metrics.\`${key}\`"]`).click(); // ascending
  await waitFor('ascending order', async () => JSON.stringify(await shownIds()) === JSON.stringify(want.map((r) => r.id).reverse()));
  await page.locator(`th button[data-sort="metrics.\`${key}\`"]`).click(); // descending
  await waitFor('descending order', async () => JSON.stringify(await shownIds()) === JSON.stringify(want.map((r) => r.id)));
  const cells = await page.locator('table.explorer tbody tr td.num').allTextContents();
  const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(4)); // as dom.js fmtNum shows it
  assert.deepEqual(cells, want.map((r) => fmt(r.metrics[key])));
  await shot(page, 'explorer');

  // CSV export of the result: the same runs, in order, with the metric.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv[0], `run_id,experiment_id,experiment,model,state,seed,created,archived,tags,${key}`);
  assert.deepEqual(csv.slice(1).map((l) => Number(l.split(',')[0])), want.map((r) => r.id));
  assert.deepEqual(csv.slice(1).map((l) => Number(l.split(',').at(-1))), want.map((r) => r.metrics[key]));

  // A bad filter: the server's message, with its position.
  await page.locator('#filter').fill("metrics.x > 'a'");
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('main .error').waitFor();
  assert.ok((await page.locator('main .error').textContent()).includes(`filter: metrics.x is a number; got the string "a" at position 13`));

  // Tags on a run page: add one, find the run by it, remove it.
  await page.goto(`${base}/#/runs/${runA}`);
  await page.locator('.tag-input').fill('stage=final');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.locator('.chip.tag[data-tag="stage"]').waitFor();
  assert.deepEqual((await apiJSON(`/api/runs/${runA}`)).body.tags, { stage: 'final' });
  assert.deepEqual((await apiJSON(`/api/runs?filter=${q("tags.stage = 'final'")}`)).body.items.map((r) => r.id), [runA]);
  await page.locator('.chip.tag[data-tag="stage"] button').click();
  await waitFor('the tag to go', async () => (await page.locator('.chip.tag').count()) === 0);
  assert.equal((await apiJSON(`/api/runs/${runA}`)).body.tags, undefined);

  // Archive the experiment: hidden from the list and the queue; restore it.
  await page.goto(`${base}/#/experiments/${curateExp}`);
  await page.locator('#archive').click();
  await page.locator('.archived-note').waitFor();
  assert.ok((await apiJSON(`/api/experiments/${curateExp}`)).body.archived);
  assert.ok(!(await apiJSON('/api/queue')).body.items.some((r) => r.id === runA), 'archived runs leave the queue');
  await page.goto(`${base}/#/`);
  await page.locator('table.list tbody tr').first().waitFor();
  assert.equal(await page.locator(`tr[data-experiment="${curateExp}"]`).count(), 0, 'hidden from the list');
  await page.locator('#show-archived').check();
  await page.locator(`tr[data-experiment="${curateExp}"] .badge.archived`).waitFor();
  await page.goto(`${base}/#/experiments/${curateExp}`);
  await page.locator('#restore').click();
  await page.locator('#archive').waitFor();
  assert.equal((await apiJSON(`/api/experiments/${curateExp}`)).body.archived, undefined);
  assert.ok((await apiJSON('/api/queue')).body.items.some((r) => r.id === runA), 'restored runs are queued again');

  // Purge a run (the confirmation is accepted): gone, with a 404.
  await page.goto(`${base}/#/runs/${runB}`);
  await page.locator('#purge').click();
  await page.waitForURL(new RegExp(`#/experiments/${curateExp}$`));
  assert.equal((await apiJSON(`/api/runs/${runB}`)).status, 404);
  assert.deepEqual((await apiJSON(`/api/runs?experiment=${curateExp}`)).body.items.map((r) => r.id), [runA]);

  await apiJSON(`/api/experiments/${curateExp}/cancel-queued`, { method: 'POST' });
  await apiJSON('/api/queue/resume', { method: 'POST' });
  await page.close();
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});
