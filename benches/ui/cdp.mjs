// A tiny Chrome DevTools Protocol client: launches headless Chromium on a free debugging
// port, opens a page and evaluates expressions in it. `ws` comes from target/peers/ws.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WebSocket = createRequire(join(root, 'target/peers/ws/'))('ws');

export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding', '--window-size=1280,900', '--force-device-scale-factor=1',
];

/** Starts chromium; `extra` flags come after FLAGS (a later --window-size wins). */
export async function launch(bin = process.env.CHROMIUM ?? '/usr/bin/chromium', extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tally-ui-bench-'));
  const proc = spawn(bin, [...FLAGS, ...extra, `--user-data-dir=${dir}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const wsUrl = await new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 30000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err.slice(-500)}`)));
  });
  const browser = await connect(wsUrl);
  browser.dir = dir; // in every process's command line: how to find this browser's renderers
  browser.close = () => {
    browser.ws.close();
    proc.kill('SIGTERM');
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  };
  return browser;
}

async function connect(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 << 20 });
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  let id = 0;
  const waiting = new Map();
  ws.on('message', (raw) => {
    const m = JSON.parse(raw);
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    m.error ? w.fail(new Error(JSON.stringify(m.error))) : w.ok(m.result);
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((ok, fail) => {
      const mid = ++id;
      waiting.set(mid, { ok, fail });
      ws.send(JSON.stringify({ id: mid, method, params, sessionId }));
    });
  return {
    ws,
    send,
    /** Opens `url` in a new page (`init`: a script run before the page's own); returns { send, eval } bound to its session. */
    async page(url, init) {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      const s = (method, params) => send(method, params, sessionId);
      await s('Page.enable');
      await s('Runtime.enable');
      if (init) await s('Page.addScriptToEvaluateOnNewDocument', { source: init });
      await s('Page.navigate', { url });
      const evaluate = async (expression) => {
        const r = await s('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
        if (r.exceptionDetails) throw new Error(JSON.stringify(r.exceptionDetails).slice(0, 1000));
        return r.result.value;
      };
      return { send: s, eval: evaluate, targetId };
    },
  };
}

/** Performance.getMetrics as an object. */
export async function metrics(page) {
  const { metrics: list } = await page.send('Performance.getMetrics');
  return Object.fromEntries(list.map((m) => [m.name, m.value]));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(page, expr, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await page.eval(expr).catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${expr}`);
}

/** The trace events of `ms` milliseconds of `page` (Chrome's `Tracing` domain) in `categories`. */
export async function traceEvents(browser, page, ms, categories) {
  const events = [];
  const done = new Promise((ok) => {
    browser.ws.on('message', (raw) => {
      const m = JSON.parse(raw);
      if (m.method === 'Tracing.dataCollected') events.push(...m.params.value);
      if (m.method === 'Tracing.tracingComplete') ok();
    });
  });
  await page.send('Tracing.start', { categories, transferMode: 'ReportEvents' });
  await sleep(ms);
  await page.send('Tracing.end');
  await done;
  return events;
}
