// Bench page: the same 2 series × N points drawn by tally's Panel and by uPlot, each timed
// over `runs` alternating redraws (JS only, and with a 1-pixel readback that forces the
// raster). tally twice: a redraw of unchanged data (decimated columns cached) and a draw
// after the data changed (decimated again), as uPlot's setData always does.
// Query: ?points=200000&runs=30. Results in window.__result.
import { Panel } from '/ui/panel.js';

const q = new URLSearchParams(location.search);
const N = Number(q.get('points') ?? 200000);
const RUNS = Number(q.get('runs') ?? 30);
const W = 1200;
const H = 300;

const t0 = 1.7e12;
const times = new Float64Array(N);
const a = new Float64Array(N);
const b = new Float64Array(N);
for (let i = 0; i < N; i++) {
  times[i] = t0 + i * 1000;
  a[i] = 50 + 30 * Math.sin(i / 5000) + 10 * Math.sin(i * 1.7) * Math.random();
  b[i] = 20 + 10 * Math.cos(i / 3000) + 5 * Math.random();
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

// Times draw(): the first (cold) call, then `runs` more for the JS alone and with a
// 1-pixel readback that makes the canvas rasterize what was drawn.
function timer(draw, canvas) {
  const ctx = canvas.getContext('2d');
  const r = { js: [], flushed: [] };
  let t = performance.now();
  draw();
  ctx.getImageData(0, 0, 1, 1);
  r.cold = performance.now() - t;
  r.once = () => {
    t = performance.now();
    draw();
    r.js.push(performance.now() - t);
    ctx.getImageData(0, 0, 1, 1);
    r.flushed.push(performance.now() - t);
  };
  r.summary = () => ({ cold: r.cold, js: median(r.js), flushed: median(r.flushed), min: Math.min(...r.flushed), max: Math.max(...r.flushed) });
  return r;
}

// tally: a Panel given the history directly (no server), drawn by hand.
const manual = { add() {}, remove() {}, dirty() {} };
const from = String(t0 / 1000);
const until = String((t0 + (N - 1) * 1000) / 1000);
const panel = new Panel(document.getElementById('ours'), { title: 'tally', targets: [], from, until, height: H, events: false }, { stream: null, scheduler: manual });
panel.applyHistory([
  { name: 'a', times, values: a, step: 1000, meta: [] },
  { name: 'b', times, values: b, step: 1000, meta: [] },
]);
const ours = timer(() => {
  panel.needPlot = true;
  panel.draw(performance.now());
}, panel.canvas);
// the same with the data marked changed before each draw, so it is decimated again
const fresh = timer(() => {
  for (const s of panel.series) s.hist.version++;
  panel.needPlot = true;
  panel.draw(performance.now());
}, panel.canvas);

// uPlot on the same data (its x in seconds, as it expects).
const xs = Array.from(times, (t) => t / 1000);
const data = [xs, Array.from(a), Array.from(b)];
const u = new uPlot({ width: W, height: H, series: [{}, { stroke: '#1f77b4' }, { stroke: '#ff7f0e' }] }, data, document.getElementById('uplot'));
const theirs = timer(() => {
  u.batch(() => u.setData(data)); // immediate mode: setData redraws synchronously
}, u.ctx.canvas);

// alternate the two so a busy machine slows both alike
for (let r = 0; r < RUNS; r++) {
  ours.once();
  fresh.once();
  theirs.once();
}
const [a1, f1, b1] = [ours.summary(), fresh.summary(), theirs.summary()];
window.__result = {
  points: N, runs: RUNS, ours: a1, oursDecimating: f1, uplot: b1,
  ratio: a1.flushed / b1.flushed, ratioMin: a1.min / b1.min,
  ratioDecimating: f1.flushed / b1.flushed, ratioDecimatingMin: f1.min / b1.min,
};
