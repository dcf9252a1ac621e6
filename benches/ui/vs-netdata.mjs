// tally's web UI beside Netdata's dashboard (scripts/bench-ui-netdata.sh): the same number of
// live charts in the same headless Chromium settings, one browser after the other, and the CPU
// time of each browser's renderer processes (utime + stime from /proc) over SECONDS.
//   tally:   a dashboard of 16 live panels × 4 StatsD gauges the script feeds every 100 ms
//            (`/?bench=1`: the page counts its draws), drawn at the 100 ms step;
//   netdata: a page of 16 charts through Netdata's own dashboard.js (the v1 dashboard the
//            Debian package ships), each updated every 1 s, its default.
// Usage: node benches/ui/vs-netdata.mjs --tally URL --netdata URL [--seconds 60]
import { readdirSync, readFileSync } from 'node:fs';
import { launch, sleep, waitFor } from './cdp.mjs';

const args = process.argv.slice(2);
const opt = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : d;
};
const seconds = Number(opt('seconds', 60));
const HZ = Number(opt('hz', 100)); // getconf CLK_TCK
// Tall enough for all 16 of tally's panels (with their legends, 8 rows of ~290 px); at 2000
// px only 12 were on screen, and tally draws only panels on screen (panelsOnScreen).
const WINDOW = ['--window-size=1280,2600'];

// Every process of this browser (its user-data-dir is on each command line): pid → type.
function processes(dir) {
  const out = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!cmd.includes(dir)) continue;
      out.set(p, /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser');
    } catch {}
  }
  return out;
}
const ticks = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
function sample(dir) {
  const by = {};
  for (const [pid, type] of processes(dir)) by[`${type}:${pid}`] = ticks(pid);
  return by;
}

// Netdata's access log: its chart data requests (/api/v1/data) so far.
const dataRequests = () => readFileSync(opt('netdata-log'), 'utf8').split('\n').filter((l) => l.includes('/api/v1/data')).length;

// tally's page: the stream's `data` messages it got (how often new data came to draw).
const COUNT_MESSAGES = `window.__msgs = 0;
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, o) {
    return add.call(this, type, type === 'data' ? (e) => (window.__msgs++, fn(e)) : fn, o);
  };`;

async function measure(url, ready, counter, init) {
  const browser = await launch(undefined, WINDOW);
  try {
    const page = await browser.page(url, init);
    await waitFor(page, ready, 60000);
    await sleep(10000); // loaded, first draws done
    const c0 = typeof counter === 'string' ? await page.eval(counter) : counter();
    const m0 = init ? await page.eval('__msgs') : 0;
    const a = sample(browser.dir);
    const w0 = Date.now();
    await sleep(seconds * 1000);
    const b = sample(browser.dir);
    const wall = (Date.now() - w0) / 1000;
    const c1 = typeof counter === 'string' ? await page.eval(counter) : counter();
    const messages = init ? ((await page.eval('__msgs')) - m0) / wall : undefined;
    // tally's panels wholly in the window (only panels on screen are drawn)
    const onScreen = init ? await page.eval(`tally.panels.filter((e) => {
      const r = e.panel.el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }).length`) : undefined;
    const cpu = {}; // % of one core, by process type
    for (const [k, v] of Object.entries(b)) {
      const type = k.split(':')[0];
      cpu[type] = (cpu[type] ?? 0) + ((v - (a[k] ?? 0)) / HZ / wall) * 100;
    }
    return { url, wall, cpu, updatesPerSecond: (c1 - c0) / wall, streamMessagesPerSecond: messages, panelsOnScreen: onScreen };
  } finally {
    browser.close();
  }
}

// netdata: its chart updates are its data requests (one per chart per second)
const netdata = await measure(opt('netdata'), 'document.querySelectorAll("[data-netdata] canvas").length >= 16', dataRequests);
const tally = await measure(opt('tally'),
  'window.__tally && tally.panels?.length >= 16 && tally.panels.every((e) => e.panel.mode === "stream") && __tally.draws.length > 0',
  '__tally.draws.length', COUNT_MESSAGES);
console.log(JSON.stringify({
  date: new Date().toISOString(), seconds, tally, netdata,
  rendererRatio: tally.cpu.renderer / netdata.cpu.renderer,
}, null, 2));
