// The floor pages of scripts/bench-ui-variants.sh (BENCHMARKS.md, issue 14, sixth round): what
// 16 canvases of 600×150 px cost Chromium's renderer when each changes 10 times a second, drawn
// in the simplest way. `what` is how much of a plot is drawn: 'fill' (the background only),
// 'lines' (+ 4 series of 400 points), 'plot' (+ grid and 8 labels), 'pixels' (the 4 series
// rasterised in script, one vertical span per column, and put with putImageData).
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const PIXELS = [0xffb4771f, 0xff0e7fff, 0xff2ca02c, 0xff2827d6]; // the same, as ABGR
const buffers = new WeakMap();

const y = (h, s, i, t) => h / 2 + Math.sin((i + t / 100) * 0.05 * (s + 1)) * (h / 3);
const x = (w, i) => 40 + (i * (w - 40)) / 400;

export function draw(ctx, w, h, t, what) {
  if (what === 'pixels') return pixels(ctx, w, h, t);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  if (what === 'fill') return;
  if (what === 'plot') grid(ctx, w, h);
  for (let s = 0; s < 4; s++) {
    ctx.strokeStyle = COLOURS[s];
    ctx.beginPath();
    for (let i = 0; i < 400; i++) ctx[i ? 'lineTo' : 'moveTo'](x(w, i), y(h, s, i, t));
    ctx.stroke();
  }
  if (what === 'plot') labels(ctx, t);
}

function grid(ctx, w, h) {
  ctx.strokeStyle = '#ddd';
  ctx.beginPath();
  for (let gx = 40; gx < w; gx += 80) {
    ctx.moveTo(gx + 0.5, 0);
    ctx.lineTo(gx + 0.5, h);
  }
  ctx.stroke();
}

function labels(ctx, t) {
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  for (let i = 0; i < 8; i++) ctx.fillText(String((t / 1000 + i) | 0), 2 + (i % 2) * 300, 12 + i * 17);
}

function pixels(ctx, w, h, t) {
  let b = buffers.get(ctx);
  if (!b) {
    const image = ctx.createImageData(w, h);
    b = { image, px: new Uint32Array(image.data.buffer) };
    buffers.set(ctx, b);
  }
  b.px.fill(0xffffffff);
  for (let s = 0; s < 4; s++) {
    let x0 = 0;
    let y0 = 0;
    for (let i = 0; i < 400; i++) {
      const x1 = x(w, i) | 0;
      const y1 = y(h, s, i, t) | 0;
      for (let c = i ? x0 : x1; c <= x1; c++) {
        for (let r = Math.min(y0, y1); r <= Math.max(y0, y1); r++) b.px[r * w + c] = PIXELS[s];
      }
      x0 = x1;
      y0 = y1;
    }
  }
  ctx.putImageData(b.image, 0, 0);
}

// The page: 16 panels (a title, the canvas, a legend line) and what variants.mjs waits for.
export function panels(count = 16) {
  window.__tally = { draws: [] };
  const list = [];
  for (let i = 0; i < count; i++) {
    const box = document.createElement('div');
    box.style.cssText = 'display:inline-block;margin:4px;border:1px solid #ccc';
    const canvas = document.createElement('canvas');
    canvas.width = 600;
    canvas.height = 150;
    box.append(`panel ${i}`, canvas, document.createElement('br'), 'legend');
    document.body.append(box);
    list.push({ canvas, panel: { mode: 'stream' } });
  }
  window.tally = { panels: list };
  return list;
}

// Every 100 ms: one animation frame that draws every canvas.
export function every100ms(drawAll, requestFrame = requestAnimationFrame) {
  let pending = false;
  setInterval(() => {
    if (pending) return;
    pending = true;
    requestFrame((ts) => {
      pending = false;
      drawAll(ts);
    });
  }, 100);
}
