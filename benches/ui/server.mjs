// A static server for ui/ and the bench pages, with a fake tally API that follows the
// README contracts: /render (json, meta=true, maxDataPoints; consolidateBy(T,'min'|'max')
// for bands), /events/get_data, and /stream (SSE: hello, series, data every step).
// Usage: node benches/ui/server.mjs [--port 0] [--step 100] [--no-stream] [--proxy URL]
// --proxy sends /render, /events/ and /stream to a real tally instead (the pages are still
// served from the worktree).
// Prints "listening <port>" on stdout.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : d;
};
const STEP = Number(opt('step', 100));
const NO_STREAM = args.includes('--no-stream');
const MOUNTS = {
  '/ui/': join(root, 'ui'),
  '/bench/': join(root, 'benches/ui'),
  '/peers/uplot/': join(root, 'target/peers/uplot/node_modules/uplot/dist'),
};
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.json': 'application/json' };

/** The fake series: a slow wave, a faster one and deterministic noise, per name. */
export function value(name, t) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) | 0;
  const phase = (h & 0xffff) / 0xffff;
  const noise = Math.sin(t * 12.9898 + h) * 43758.5453;
  return 50 + 30 * Math.sin(t / 20000 + phase * 6) + 8 * Math.sin(t / 1500 + phase) + 4 * (noise - Math.floor(noise));
}

function parseT(s, now) {
  if (!s || s === 'now') return now;
  const m = /^-(\d+)(s|min|h|d)$/.exec(s);
  if (m) return now - Number(m[1]) * { s: 1, min: 60, h: 3600, d: 86400 }[m[2]] * 1000;
  return Number(s) * 1000;
}

function render(q, res) {
  const now = Date.now();
  const from = parseT(q.get('from') ?? '-1h', now);
  const until = parseT(q.get('until') ?? 'now', now);
  const points = Number(q.get('maxDataPoints') ?? 1000);
  const step = Math.max(1000, Math.ceil((until - from) / points / 1000) * 1000);
  const series = q.getAll('target').map((target) => {
    const m = /^consolidateBy\((.*),'(min|max)'\)$/.exec(target);
    const name = m ? m[1] : target;
    const dp = [];
    for (let t = Math.ceil(from / step) * step; t < until; t += step) {
      const v = value(name, t) + (m ? (m[2] === 'min' ? -6 : 6) : 0);
      dp.push([v, t / 1000]);
    }
    const merged = step / 1000;
    return {
      target, tags: { name }, datapoints: dp,
      meta: [{
        'schema-name': 'default', 'schema-retentions': '1s:1d,1m:90d', 'archive-read': merged >= 60 ? 1 : 0,
        'archive-interval': merged >= 60 ? 60 : 1, 'aggnum-norm': 1, 'consolidator-normfetch': 'AverageConsolidator',
        'aggnum-rc': merged >= 60 ? merged / 60 : merged, 'consolidator-rc': m ? (m[2] === 'min' ? 'MinimumConsolidator' : 'MaximumConsolidator') : 'AverageConsolidator',
        count: 1, view: m ? m[2] : 'avg',
      }],
    };
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ version: 'v0.1', meta: { stats: {} }, series }));
}

function events(q, res) {
  const now = Date.now();
  const from = parseT(q.get('from') ?? '-1h', now);
  const list = [{ id: 1, when: (from + (now - from) / 2) / 1000, what: 'deploy web 1.2.3', tags: ['deploy'], data: 'by bench' }];
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(list));
}

function stream(q, req, res) {
  if (NO_STREAM) {
    res.writeHead(404).end();
    return;
  }
  const targets = q.getAll('target');
  // README's data message: every series (ids 0…) present, as one run; values flat
  const slots = (names, t, n) => ({ t, n, s: [0, names.length], v: names.flatMap((name) => Array.from({ length: n }, (_, i) => value(name, t + i * STEP))) });
  const now = Date.now();
  let next = Math.floor(now / STEP) * STEP;
  const last = Number(q.get('last_event_id') ?? req.headers['last-event-id'] ?? NaN);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const send = (event, data, id) => res.write(`event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  send('hello', { step: STEP, window: 60000, now, targets });
  const join = Math.floor(now / 1000) * 1000;
  send('series', {
    series: targets.map((name, id) => ({ id, target: id, name, kind: 'gauge', view: 'avg', join, live: next, bridge: value(name, join) })),
  });
  if (last >= next - 60000 && last < next) {
    send('data', slots(targets, last, (next - last) / STEP), next);
  }
  const timer = setInterval(() => {
    const end = Math.floor(Date.now() / STEP) * STEP;
    if (end <= next) return;
    send('data', slots(targets, next, (end - next) / STEP), end);
    next = end;
  }, STEP);
  req.on('close', () => clearInterval(timer));
}

const PROXY = opt('proxy', '');

async function proxy(req, res) {
  const up = await fetch(PROXY + req.url, { headers: { 'last-event-id': req.headers['last-event-id'] ?? '' } });
  res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
  if (!up.body) return res.end();
  for await (const chunk of up.body) res.write(chunk);
  res.end();
}

async function serve(req, res) {
  const url = new URL(req.url, 'http://x');
  const q = url.searchParams;
  if (PROXY && /^\/(render|events|stream)/.test(url.pathname)) return proxy(req, res);
  if (url.pathname === '/render') return render(q, res);
  if (url.pathname === '/events/get_data') return events(q, res);
  if (url.pathname === '/stream') return stream(q, req, res);
  for (const [prefix, dir] of Object.entries(MOUNTS)) {
    if (!url.pathname.startsWith(prefix)) continue;
    const path = normalize(join(dir, url.pathname.slice(prefix.length)));
    if (!path.startsWith(dir)) break;
    try {
      const body = await readFile(path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      return res.end(body);
    } catch {
      break;
    }
  }
  res.writeHead(404).end('not found');
}

const server = createServer((req, res) => serve(req, res).catch(() => res.writeHead(500).end()));
server.listen(Number(opt('port', 0)), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
