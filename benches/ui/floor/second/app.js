// A floor page (see ../draw.js): the whole plot drawn once a second; in the 9 frames between,
// only each series' newest segment is stroked at the right edge (what ui/ does since round 7).
import { draw, every100ms, panels } from './draw.js';
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const ctxs = panels().map((p) => p.canvas.getContext('2d', { alpha: false }));
const W = 600, H = 150;
let n = 0;
const yv = (s, i, t) => H / 2 + Math.sin((i + t / 100) * 0.05 * (s + 1)) * (H / 3);
every100ms((ts) => {
  const t = Date.now();
  const k = n++ % 10;
  for (const ctx of ctxs) {
    if (k === 0) { draw(ctx, W, H, t, 'plot'); continue; }
    const x0 = W - 15 + (k - 1) * 1.4, x1 = x0 + 1.4;
    for (let s = 0; s < 4; s++) {
      ctx.strokeStyle = COLOURS[s];
      ctx.beginPath();
      ctx.moveTo(x0, yv(s, k - 1, t));
      ctx.lineTo(x1, yv(s, k, t));
      ctx.stroke();
    }
  }
  __tally.draws.push(ts);
  if (__tally.draws.length > 1000) __tally.draws.splice(0, 500);
});
