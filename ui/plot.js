// Canvas 2D drawing of a panel's plot: axes and grid, bands, lines, the live region,
// event markers, the crosshair. Takes decimated data and a frame; keeps no state.
// A frame is { area: {x, y, w, h}, t0, t1, ymin, ymax, theme, sx }: decimated x (0 to the
// canvas width) times sx is px from the plot's left edge.

import { formatSI, timeLabel } from './ticks.js';

const FONT = '11px system-ui, sans-serif';
const LIGHT = ['#fff', '#1f2328', '#eceef1', '#1a7f37', 'rgba(26,127,55,.07)', '#9a6700', 'rgba(60,100,220,.15)'];
const DARK = ['#16181d', '#c8ccd4', '#2a2e36', '#3fb950', 'rgba(63,185,80,.09)', '#d29922', 'rgba(120,160,255,.2)'];
const KEYS = ['bg', 'fg', 'grid', 'live', 'live-bg', 'event', 'select'];
// label → px in FONT: labels repeat from draw to draw, measuring shapes text
const widths = new Map();

function textWidth(ctx, s) {
  let w = widths.get(s);
  if (w === undefined) {
    if (widths.size > 1000) widths.clear();
    widths.set(s, (w = ctx.measureText(s).width));
  }
  return w;
}

/**
 * Colours from the CSS custom properties of `el`, read once: --tally-bg, -fg, -grid, -live,
 * -live-bg, -event, -select, -colors (a comma list); --tally-theme: dark picks dark defaults.
 */
export function readTheme(el) {
  const css = getComputedStyle(el);
  const v = (k, d) => css.getPropertyValue(`--tally-${k}`).trim() || d;
  const defaults = v('theme', '') === 'dark' ? DARK : LIGHT;
  const t = Object.fromEntries(KEYS.map((k, i) => [k.replace('-bg', 'Bg'), v(k, defaults[i])]));
  t.colors = v('colors', '#1f77b4,#ff7f0e,#2ca02c,#d62728,#9467bd,#8c564b,#e377c2,#17becf,#bcbd22,#7f7f7f').split(',').map((c) => c.trim());
  return t;
}

/** The plot rectangle in a w×h canvas, leaving room for the y labels and the time axis. */
export function plotArea(ctx, w, h, yticks) {
  ctx.font = FONT;
  let lw = 0;
  for (const t of yticks.ticks) lw = Math.max(lw, textWidth(ctx, formatSI(t, yticks.step)));
  const x = Math.ceil(lw) + 10;
  return { x, y: 6, w: Math.max(1, w - x - 8), h: Math.max(1, h - 26) };
}

export const yOf = (f, v) => f.area.y + f.area.h - ((v - f.ymin) / (f.ymax - f.ymin)) * f.area.h;
export const xOf = (f, t) => f.area.x + ((t - f.t0) / (f.t1 - f.t0)) * f.area.w;
const px = (v) => Math.round(v) + 0.5;

export function drawAxes(ctx, f, yticks, xticks, offset) {
  const { area: a, theme } = f;
  ctx.font = FONT;
  ctx.lineWidth = 1;
  ctx.strokeStyle = theme.grid;
  ctx.fillStyle = theme.fg;
  ctx.beginPath();
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of yticks.ticks) {
    const y = px(yOf(f, v));
    ctx.moveTo(a.x, y);
    ctx.lineTo(a.x + a.w, y);
    ctx.fillText(formatSI(v, yticks.step), a.x - 5, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of xticks.ticks) {
    const x = px(xOf(f, t));
    ctx.moveTo(x, a.y);
    ctx.lineTo(x, a.y + a.h);
    const label = timeLabel(t, xticks.step, offset);
    const half = textWidth(ctx, label) / 2;
    if (x >= half && x + half <= a.x + a.w + 8) ctx.fillText(label, x, a.y + a.h + 5);
  }
  ctx.stroke();
}

/** The live region: shaded from `from` to the right edge, a dashed line where it starts. */
export function drawLiveRegion(ctx, f, from) {
  const { area: a, theme } = f;
  const x = Math.max(a.x, xOf(f, from));
  if (x >= a.x + a.w) return;
  ctx.fillStyle = theme.liveBg;
  ctx.fillRect(x, a.y, a.x + a.w - x, a.h);
  ctx.strokeStyle = theme.live;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(px(x), a.y);
  ctx.lineTo(px(x), a.y + a.h);
  ctx.stroke();
  ctx.setLineDash([]);
}

/** A min/max band of decimated columns, filled translucent; NaN columns split it. */
export function drawBand(ctx, f, d, color) {
  const xAt = (k) => f.area.x + d.bx[k] * f.sx;
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.18;
  ctx.beginPath();
  let start = -1;
  for (let k = 0; k <= d.nb; k++) {
    const gap = k === d.nb || d.blo[k] !== d.blo[k];
    if (gap && start >= 0) {
      for (let b = k - 1; b >= start; b--) ctx.lineTo(xAt(b), yOf(f, d.blo[b]));
      ctx.closePath();
      start = -1;
    } else if (!gap) {
      ctx[start < 0 ? 'moveTo' : 'lineTo'](xAt(k), yOf(f, d.bhi[k]));
      if (start < 0) start = k;
    }
  }
  ctx.fill();
  ctx.globalAlpha = 1;
}

/**
 * A line through decimated vertices; NaN vertices break it. 1 px wide: a hairline at 1 dpr
 * rasterizes ~10x faster in software than 1.25 or 2 px over columns of 200k points.
 */
export function drawLine(ctx, f, d, color) {
  const { x: ax, y, h } = f.area;
  const k = h / (f.ymax - f.ymin);
  const base = y + h + f.ymin * k;
  const { xs, ys, n } = d;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  // vertices since a gap (a lone one draws nothing: a 3 px dash)
  let pen = 0;
  let lx = 0;
  let ly = 0;
  const dash = () => pen === 1 && (ctx.moveTo(lx - 1.5, ly), ctx.lineTo(lx + 1.5, ly));
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    if (x !== x) {
      dash();
      pen = 0;
    } else if (pen++) ctx.lineTo(ax + x * f.sx, base - ys[i] * k);
    else ctx.moveTo((lx = ax + x * f.sx), (ly = base - ys[i] * k));
  }
  dash();
  ctx.stroke();
}

/** Event markers: a faint line and a small triangle on top. */
export function drawEvents(ctx, f, events) {
  const { area: a, theme } = f;
  const xs = events.filter((e) => e.when >= f.t0 && e.when <= f.t1).map((e) => px(xOf(f, e.when)));
  if (!xs.length) return;
  ctx.strokeStyle = ctx.fillStyle = theme.event;
  ctx.globalAlpha = 0.6;
  ctx.beginPath();
  for (const x of xs) {
    ctx.moveTo(x, a.y);
    ctx.lineTo(x, a.y + a.h);
  }
  ctx.stroke();
  ctx.globalAlpha = 1;
  ctx.beginPath();
  for (const x of xs) {
    ctx.moveTo(x - 4, a.y);
    ctx.lineTo(x + 4, a.y);
    ctx.lineTo(x, a.y + 6);
  }
  ctx.fill();
}

/** A message in the middle of the plot (no data, an error). */
export function drawMessage(ctx, f, text) {
  const a = f.area;
  ctx.font = FONT;
  ctx.fillStyle = f.theme.fg;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, a.x + a.w / 2, a.y + a.h / 2, a.w - 10);
}

/** Overlay: a zoom selection, and the crosshair at x with a dot per series value. */
export function drawOverlay(ctx, f, x, dots, select) {
  const a = f.area;
  if (select) {
    ctx.fillStyle = f.theme.select;
    ctx.fillRect(Math.min(...select), a.y, Math.abs(select[1] - select[0]), a.h);
  }
  if (x == null) return;
  ctx.strokeStyle = f.theme.fg;
  ctx.globalAlpha = 0.5;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(px(x), a.y);
  ctx.lineTo(px(x), a.y + a.h);
  ctx.stroke();
  ctx.globalAlpha = 1;
  for (const [dx, v, color] of dots) {
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(dx, yOf(f, v), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}
