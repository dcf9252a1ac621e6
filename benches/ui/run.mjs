// Runs the UI benchmarks in headless Chromium against the fake server (server.mjs):
//   live: 16 panels × 4 series at a 100 ms step for 60 s: frame intervals, frames over
//         50 ms, main-thread busy share, heap, draws, slot-end-to-pixel latency;
//   draw: 2 series × 200,000 points in view, tally's Panel and uPlot on the same data.
// Usage: node benches/ui/run.mjs [live|draw|all|trace] [--seconds 60] [--panels 16] [--series 4]
//        [--query 'cols=2&height=150&from=-40s'] [--window 1280,2000]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, metrics, sleep, traceEvents, waitFor } from './cdp.mjs';

const args = process.argv.slice(2);
const which = args[0] && !args[0].startsWith('--') ? args[0] : 'all';
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};

async function startServer() {
  const proc = spawn(process.execPath, [fileURLToPath(new URL('server.mjs', import.meta.url)), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((ok, fail) => {
    proc.stdout.on('data', (d) => {
      const m = /listening (\d+)/.exec(String(d));
      if (m) ok(Number(m[1]));
    });
    proc.on('exit', (c) => fail(new Error(`server exited ${c}`)));
  });
  return { port, stop: () => proc.kill('SIGTERM') };
}

// The live page's query: the defaults, then --query's values over them.
function query(base) {
  const q = new URLSearchParams({ ...base, height: 110, cols: 4, from: '-1min' });
  if (args.includes('--query')) for (const [k, v] of new URLSearchParams(args[args.indexOf('--query') + 1])) q.set(k, v);
  return q;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const HZ = 100; // USER_HZ of /proc/PID/stat on Linux
// CPU ticks of this browser's renderer processes (its user-data-dir is on their command lines).
function rendererTicks(dir) {
  let sum = 0;
  for (const p of readdirSync('/proc')) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!cmd.includes(dir) || !cmd.includes('--type=renderer')) continue;
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      sum += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return sum;
}

async function live(browser, port) {
  const seconds = opt('seconds', 60);
  const panels = opt('panels', 16);
  const series = opt('series', 4);
  const page = await browser.page(`http://127.0.0.1:${port}/bench/live.html?${query({ panels, series })}`);
  await page.send('Performance.enable', { timeDomain: 'timeTicks' });
  await waitFor(page, 'window.__draws && (__panels.length === 0 || __draws.n > 0) && __panels.every((p) => p.mode === "stream")');
  await sleep(3000); // history loaded, first draws done
  const visible = await page.eval('__panels.filter((p) => { const r = p.el.getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0; }).length');
  await page.send('HeapProfiler.collectGarbage');
  const m0 = await metrics(page);
  await page.eval('__draws.n = 0; __probe.on = true; __probe.n = 0; 1');
  const c0 = rendererTicks(browser.dir);
  const w0 = Date.now();
  const heapByMinute = []; // after a GC, MB
  for (let left = seconds * 1000; left > 0; left -= 60000) {
    await sleep(Math.min(left, 60000));
    if (left > 60000) {
      await page.send('HeapProfiler.collectGarbage');
      heapByMinute.push((await metrics(page)).JSHeapUsedSize / 2 ** 20);
    }
  }
  await page.eval('__probe.on = false; 1');
  const wall = (Date.now() - w0) / 1000;
  const rendererCpu = (rendererTicks(browser.dir) - c0) / HZ / wall;
  const m1 = await metrics(page);
  await page.send('HeapProfiler.collectGarbage');
  const m2 = await metrics(page);
  const r = JSON.parse(await page.eval(`JSON.stringify({
    intervals: Array.from(__probe.intervals.subarray(0, __probe.n)),
    loaf: __probe.loaf,
    late: __probe.late,
    drawFrames: __probe.drawFrames,
    origin: performance.timeOrigin,
    draws: Array.from(__draws.t.subarray(0, __draws.n), (t, i) => [__draws.newest[i], t]),
    errors: __errors,
  })`));
  const iv = r.intervals; // the probe keeps the first 100,000 frame intervals
  // slot end → the draw that showed it (the fake server sends each 100 ms slot at its end)
  const lat = r.draws.filter(([n]) => n === n && n != null).map(([n, t]) => r.origin + t - (n + 100));
  return {
    panels, series, visible, seconds: wall,
    frames: iv.length,
    framesOver50ms: iv.filter((x) => x > 50).length,
    shareLe25ms: iv.filter((x) => x <= 25).length / iv.length,
    p50FrameMs: pct(iv, 50), p99FrameMs: pct(iv, 99), maxFrameMs: Math.max(...iv),
    longAnimationFrames: r.loaf.length,
    framesOver50msAt: r.late, // [start ms, interval ms]
    longAnimationFrameDetail: r.loaf.slice(0, 50),
    busy: (m1.TaskDuration - m0.TaskDuration) / wall,
    rendererCpu, // utime + stime of the renderer processes, share of one core
    script: (m1.ScriptDuration - m0.ScriptDuration) / wall,
    heapStartMB: m0.JSHeapUsedSize / 2 ** 20, heapEndMB: m2.JSHeapUsedSize / 2 ** 20, heapByMinute,
    drawsPerSecond: r.draws.length / wall,
    framesWithDrawsPerSecond: r.drawFrames / wall,
    slotEndToDrawMs: { p50: pct(lat, 50), p95: pct(lat, 95) },
    errors: r.errors,
  };
}

// A Chrome trace of SECONDS of the live page: main-thread time by event, and the longest
// events with their children's names (what a long frame is made of).
async function trace(browser, port) {
  const page = await browser.page(`http://127.0.0.1:${port}/bench/live.html?${query({ panels: 16, series: 4 })}`);
  await waitFor(page, 'window.__draws && __draws.n > 0 && __panels.every((p) => p.mode === "stream")');
  await sleep(3000);
  const events = await traceEvents(browser, page, opt('seconds', 10) * 1000,
    'devtools.timeline,disabled-by-default-devtools.timeline,v8,blink,cc,gpu,viz,toplevel');
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const tids = new Map(events.filter((e) => e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
  const byThread = {};
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue;
    const th = tids.get(`${e.pid}:${e.tid}`) ?? String(e.tid);
    const k = `${th} ${e.name}`;
    byThread[k] = (byThread[k] ?? 0) + e.dur / 1000;
  }
  const pidOf = main?.pid;
  const renderer = {}; // the renderer process's threads: ms of top-level tasks
  for (const e of events) {
    if (e.ph !== 'X' || e.pid !== pidOf || !['ThreadControllerImpl::RunTask', 'ThreadPool_RunTask'].includes(e.name)) continue;
    const th = (tids.get(`${e.pid}:${e.tid}`) ?? '?').replace(/\d+$/, '');
    renderer[th] = (renderer[th] ?? 0) + e.dur / 1000;
  }
  const top = Object.entries(byThread).sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, v]) => `${v.toFixed(1)} ms ${k}`);
  const mainLong = events.filter((e) => e.ph === 'X' && e.pid === main?.pid && e.tid === main?.tid && e.dur > 20000 && e.name === 'RunTask')
    .map((e) => ({ ms: e.dur / 1000, inside: events.filter((c) => c.ph === 'X' && c.pid === e.pid && c.tid === e.tid && c.ts >= e.ts && c.ts < e.ts + e.dur && c.dur > 2000 && c !== e).map((c) => `${c.name} ${(c.dur / 1000).toFixed(1)}`) }));
  return { seconds: opt('seconds', 10), renderer, top, mainLong };
}

// A V8 CPU profile of SECONDS of the live page: self time by function.
async function profile(browser, port) {
  const page = await browser.page(`http://127.0.0.1:${port}/bench/live.html?${query({ panels: 16, series: 4 })}`);
  await waitFor(page, 'window.__draws && __draws.n > 0 && __panels.every((p) => p.mode === "stream")');
  await sleep(3000);
  await page.send('Profiler.enable');
  await page.send('Profiler.setSamplingInterval', { interval: 200 });
  await page.send('Profiler.start');
  await sleep(opt('seconds', 10) * 1000);
  const { profile: p } = await page.send('Profiler.stop');
  const self = {};
  const dt = (p.endTime - p.startTime) / 1000 / p.samples.length; // ms a sample
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const id of p.samples) {
    const n = byId.get(id).callFrame;
    const k = `${n.functionName || '(anon)'} ${n.url.split('/').pop()}:${n.lineNumber + 1}`;
    self[k] = (self[k] ?? 0) + dt;
  }
  return Object.entries(self).sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, v]) => `${v.toFixed(1)} ms ${k}`);
}

async function draw(browser, port) {
  const page = await browser.page(`http://127.0.0.1:${port}/bench/draw.html?points=${opt('points', 200000)}&runs=${opt('runs', 30)}`);
  await waitFor(page, 'window.__result', 120000);
  return JSON.parse(await page.eval('JSON.stringify(__result)'));
}

const server = await startServer();
// --window 1280,2000: a taller window (every panel of a 2-column grid on screen)
const browser = await launch(undefined, args.includes('--window') ? [`--window-size=${args[args.indexOf('--window') + 1]}`] : []);
try {
  const version = (await browser.send('Browser.getVersion')).product;
  const out = { date: new Date().toISOString(), browser: version };
  if (which === 'live' || which === 'all') out.live = await live(browser, server.port);
  if (which === 'draw' || which === 'all') out.draw = await draw(browser, server.port);
  if (which === 'trace') out.trace = await trace(browser, server.port);
  if (which === 'profile') out.profile = await profile(browser, server.port);
  console.log(JSON.stringify(out, null, 2));
} finally {
  browser.close();
  server.stop();
}
