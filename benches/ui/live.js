// Bench page: N live panels × S series from the fake server, a frame-interval probe and a
// draw hook. Query: ?panels=16&series=4&from=-1min&height=160&cols=4&live=1
import { Panel } from '/ui/panel.js';

window.__errors = [];
addEventListener('error', (e) => window.__errors.push(String(e.message)));
addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason?.stack ?? e.reason)));

const q = new URLSearchParams(location.search);
const panels = Number(q.get('panels') ?? 16);
const series = Number(q.get('series') ?? 4);
const grid = document.getElementById('grid');
grid.style.setProperty('--cols', q.get('cols') ?? '4');

const probe = { intervals: new Float64Array(100000), n: 0, prev: 0, on: false };
window.__probe = probe;
// The draw hook, into preallocated arrays so the bench's own records do not grow the heap.
const rec = { n: 0, newest: new Float64Array(200000), t: new Float64Array(200000) };
window.__draws = rec;
window.__perPanel = {};
window.__tally = {
  onDraw(d) {
    window.__perPanel[d.panel] = (window.__perPanel[d.panel] ?? 0) + 1;
    if (rec.n < rec.t.length) [rec.newest[rec.n], rec.t[rec.n++]] = [d.newest, d.t];
  },
};
const frame = (ts) => {
  if (probe.on && probe.prev && probe.n < probe.intervals.length) probe.intervals[probe.n++] = ts - probe.prev;
  probe.prev = ts;
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
probe.loaf = [];
try {
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) if (probe.on && probe.loaf.length < 10000) probe.loaf.push(e.duration);
  }).observe({ type: 'long-animation-frame', buffered: false });
} catch {}

window.__panels = [];
for (let p = 0; p < panels; p++) {
  const targets = Array.from({ length: series }, (_, s) => `bench.p${p}.s${s}`);
  window.__panels.push(new Panel(grid, {
    title: `panel ${p}`, targets, from: q.get('from') ?? '-1min', until: 'now',
    live: q.get('live') !== '0', height: Number(q.get('height') ?? 160),
  }));
}
