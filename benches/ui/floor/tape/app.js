// A floor page (see ../draw.js): a tape of two canvases per panel that leapfrog, moved with CSS
// transforms; every 100 ms a 2 px strip is filled and 4 short segments drawn where it is written.
import { every100ms } from './draw.js';
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const W = 600, H = 150;
window.__tally = { draws: [] };
const list = [];
const tapes = [];
for (let i = 0; i < 16; i++) {
  const box = document.createElement('div');
  box.style.cssText = 'display:inline-block;margin:4px;border:1px solid #ccc';
  const view = document.createElement('div');
  view.style.cssText = `position:relative;overflow:hidden;width:${W}px;height:${H}px`;
  const cs = [0, 1].map(() => {
    const c = document.createElement('canvas');
    c.width = W; c.height = H;
    c.style.cssText = 'position:absolute;left:0;top:0';
    view.append(c);
    const ctx = c.getContext('2d', { alpha: false });
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
    return ctx;
  });
  box.append(`panel ${i}`, view, document.createElement('br'), 'legend');
  document.body.append(box);
  list.push({ canvas: cs[0].canvas, panel: { mode: 'stream' } });
  tapes.push({ cs, x: 0, last: [H / 2, H / 2, H / 2, H / 2] });
}
window.tally = { panels: list };
const DX = 2;
every100ms((ts) => {
  const t = Date.now();
  for (const tape of tapes) {
    const x0 = tape.x, x1 = x0 + DX;
    const k = Math.floor(x0 / W) % 2; // canvas holding the write position
    const ctx = tape.cs[k];
    const off = Math.floor(x0 / W) * W;
    if (x0 % W === 0) { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H); }
    ctx.fillStyle = '#fff';
    ctx.fillRect(x0 - off, 0, DX, H);
    for (let s = 0; s < 4; s++) {
      const y = H / 2 + Math.sin((x1 + t / 100) * 0.05 * (s + 1)) * (H / 3);
      ctx.strokeStyle = COLOURS[s];
      ctx.beginPath();
      ctx.moveTo(x0 - off, tape.last[s]);
      ctx.lineTo(x1 - off, y);
      ctx.stroke();
      tape.last[s] = y;
    }
    // the view shows [x1 - W, x1): canvas j holds [j*W + base, ...)
    const base = Math.floor(x0 / W) * W;
    ctx.canvas.style.transform = `translateX(${base - x1 + W}px)`;
    tape.cs[1 - k].canvas.style.transform = `translateX(${base - W - x1 + W}px)`;
    tape.x = x1;
  }
  __tally.draws.push(ts);
  if (__tally.draws.length > 1000) __tally.draws.splice(0, 500);
});
