// Variants of the UI's files side by side on the real page (scripts/bench-ui-variants.sh):
// for each directory given, a small proxy serves /ui/* from it and everything else (the page,
// /render, /stream) from a running tally fed like bench-ui-netdata.sh; a fresh headless
// Chromium (the same flags and 1280×2600 window) opens the bench dashboard; after SETTLE s the
// renderer's and gpu process's CPU (% of a core, /proc) over SECONDS. Rounds alternate the dirs.
// Usage: node benches/ui/variants.mjs --tally http://127.0.0.1:PORT [--seconds 20]
//        [--rounds 3] [--settle 8] DIR...   (so a variant needs no release rebuild; the pages of
//        benches/ui/floor/*/ are the floor: 16 canvases drawn in the simplest way, no tally UI)
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launch, sleep, traceEvents, waitFor } from './cdp.mjs';

const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : d;
};
const tally = new URL(opt('tally'));
const seconds = Number(opt('seconds', 20));
const rounds = Number(opt('rounds', 3));
const settle = Number(opt('settle', 8));
const paired = args.includes('--paired') && args.splice(args.indexOf('--paired'), 1);
const tracing = args.includes('--trace') && args.splice(args.indexOf('--trace'), 1);
// --eval EXPR: after each measurement, EXPR's value in each page (e.g. the scheduler's stats)
const probe = opt('eval');
const dirs = args;
const TYPES = { js: 'text/javascript', css: 'text/css', html: 'text/html' };

function proxy(dir) {
  const server = createServer(async (req, res) => {
    if (req.url.startsWith('/ui/')) {
      const name = req.url.slice(4).split('?')[0];
      try {
        // a file the dir lacks comes from its parent (benches/ui/floor/*/ share ../draw.js)
        const body = await readFile(join(dir, name)).catch(() => readFile(join(dir, '..', name)));
        res.writeHead(200, { 'content-type': TYPES[name.split('.').pop()] ?? 'application/octet-stream', 'cache-control': 'no-store' });
        return res.end(body);
      } catch {
        res.writeHead(404);
        return res.end();
      }
    }
    const up = request({ host: tally.hostname, port: tally.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const ticks = async (dir) => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const by = {};
  for (const p of readdirSync('/proc')) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!/^\d+$/.test(p) || !cmd.includes(dir)) continue;
      const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      by[`${type}:${p}`] = Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return by;
};

// Opens DIR's page in its own browser; { browser, page, server } once it draws live.
async function open1(dir) {
  const server = await proxy(dir);
  const browser = await launch(undefined, ['--window-size=1280,2600']);
  const page = await browser.page(`http://127.0.0.1:${server.address().port}/?bench=1#/dashboard/bench`);
  await waitFor(page, 'window.__tally && tally.panels?.length >= 16 && tally.panels.every((e) => e.panel.mode === "stream") && __tally.draws.length > 0', 60000);
  return { browser, page, server };
}

const close = (o) => {
  o.browser.close();
  o.server.close();
};

// Measures the open pages over the same SECONDS (so they share the machine's state).
async function measure(open) {
  return probed(open, await measure1(open));
}

async function measure1(open) {
  const d0 = await Promise.all(open.map((o) => o.page.eval('__tally.draws.length')));
  const a = await Promise.all(open.map((o) => ticks(o.browser.dir)));
  const w0 = Date.now();
  await sleep(seconds * 1000);
  const b = await Promise.all(open.map((o) => ticks(o.browser.dir)));
  const wall = (Date.now() - w0) / 1000;
  const d1 = await Promise.all(open.map((o) => o.page.eval('__tally.draws.length')));
  return open.map((o, i) => {
    const cpu = {};
    for (const [k, v] of Object.entries(b[i])) {
      const type = k.split(':')[0];
      cpu[type] = (cpu[type] ?? 0) + ((v - (a[i][k] ?? 0)) / 100 / wall) * 100;
    }
    return { renderer: cpu.renderer, gpu: cpu['gpu-process'], draws: (d1[i] - d0[i]) / wall };
  });
}

async function probed(open, ms) {
  if (probe) for (const [i, o] of open.entries()) ms[i].probe = await o.page.eval(probe).catch((e) => String(e));
  return ms;
}

async function run(dir) {
  const o = await open1(dir);
  try {
    await sleep(settle * 1000);
    if (tracing) return await trace(o.browser, o.page);
    return (await measure([o]))[0];
  } finally {
    close(o);
  }
}

// --trace: a Chrome trace of SECONDS instead; the renderer's threads' time by event, self time
// (an event's duration less its children's), so where a frame's cost goes adds up, and how
// often each ran (/s). TOP=n: the n costliest events (45). DUMP=name: a few events of that
// name with the events they ran (and their source location: what scheduled a frame).
async function trace(browser, page) {
  const events = await traceEvents(browser, page, seconds * 1000,
    'devtools.timeline,disabled-by-default-devtools.timeline,v8,blink,cc,gpu,viz,skia,toplevel,benchmark');
  const pid = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')?.pid;
  const names = new Map(events.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.args.name.replace(/\d+$/, '')]));
  const byTid = new Map();
  for (const e of events) if (e.pid === pid && e.ph === 'X' && e.dur) (byTid.get(e.tid) ?? byTid.set(e.tid, []).get(e.tid)).push(e);
  const self = {};
  const count = {};
  const total = {};
  for (const [tid, list] of byTid) {
    list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const stack = [];
    const th = names.get(tid) ?? tid;
    for (const e of list) {
      while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
      const up = stack.at(-1);
      if (up) up.kids = (up.kids ?? 0) + e.dur;
      else total[th] = (total[th] ?? 0) + e.dur / 1000;
      stack.push(e);
    }
    for (const e of list) {
      const k = `${th} ${e.name}`;
      self[k] = (self[k] ?? 0) + (e.dur - (e.kids ?? 0)) / 1000;
      count[k] = (count[k] ?? 0) + 1;
    }
  }
  if (process.env.DUMP) dump(events.filter((x) => x.pid === pid && x.name === process.env.DUMP).slice(0, 4), events);
  const pct = (ms) => `${((ms / 1000 / seconds) * 100).toFixed(2)} %`;
  return {
    threads: Object.fromEntries(Object.entries(total).map(([k, v]) => [k, pct(v)])),
    self: Object.entries(self).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 45)).map(([k, v]) => `${pct(v)} ${k} (${(count[k] / seconds).toFixed(1)}/s)`),
  };
}

function dump(found, events) {
  for (const e of found) {
    console.log(JSON.stringify(e));
    for (const k of events) {
      if (k.tid === e.tid && k.ts >= e.ts && k.ts < e.ts + e.dur && k !== e) console.log('   ', k.name, k.dur, JSON.stringify(k.args.location ?? k.args).slice(0, 600));
    }
  }
}

const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
const line = (dir, m, l0, l1) => console.log(`${new Date().toISOString().slice(11, 19)} ${dir.padEnd(24)} renderer ${m.renderer.toFixed(1)} % gpu ${m.gpu?.toFixed(1)} % draws/s ${m.draws.toFixed(1)} load ${l0} → ${l1}${m.probe === undefined ? '' : ` ${JSON.stringify(m.probe)}`}`);
for (let r = 0; r < rounds; r++) {
  if (paired) {
    // --paired: every dir's page open at once, measured over the same seconds; the order of
    // opening turns each round
    const order = dirs.map((_, i) => dirs[(i + r) % dirs.length]);
    const open = [];
    try {
      for (const dir of order) open.push(await open1(dir));
      await sleep(settle * 1000);
      const l0 = await load();
      const ms = await measure(open);
      const l1 = await load();
      order.forEach((dir, i) => line(dir, ms[i], l0, l1));
    } finally {
      open.forEach(close);
    }
    continue;
  }
  for (const dir of dirs) {
    const l0 = await load();
    const m = await run(dir);
    if (tracing) {
      console.log(dir, JSON.stringify(m, null, 1));
      continue;
    }
    line(dir, m, l0, await load());
  }
}
