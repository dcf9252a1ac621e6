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
probe.late = []; // when frames over 50 ms came (ms after time origin) and how long
probe.drawFrames = 0; // frames in which some panel drew
let drawsBefore = 0;
const frame = (ts) => {
  if (probe.on && rec.n !== drawsBefore) probe.drawFrames++;
  drawsBefore = rec.n;
  if (probe.on && probe.prev && ts - probe.prev > 50 && probe.late.length < 1000) probe.late.push([Math.round(probe.prev), Math.round(ts - probe.prev)]);
  if (probe.on && probe.prev && probe.n < probe.intervals.length) probe.intervals[probe.n++] = ts - probe.prev;
  probe.prev = ts;
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
probe.loaf = [];
try {
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      if (!probe.on || probe.loaf.length >= 10000) continue;
      // what a long frame was made of: script (by source), style and layout, paint
      const scripts = e.scripts.map((s) => `${s.invoker || s.sourceFunctionName}@${(s.sourceURL || '').split('/').pop()}:${Math.round(s.duration)}`);
      const render = e.renderStart ? Math.round(e.startTime + e.duration - e.renderStart) : 0;
      const layout = e.styleAndLayoutStart ? Math.round(e.startTime + e.duration - e.styleAndLayoutStart) : 0;
      probe.loaf.push({ at: Math.round(e.startTime), ms: Math.round(e.duration), blocking: Math.round(e.blockingDuration), render, layout, scripts });
    }
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
