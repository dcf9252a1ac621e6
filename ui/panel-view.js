// Panel methods that draw (plot, overlay, legend, tooltip) and that handle the pointer
// (crosshair, drag-zoom, shift-drag/wheel pan, double-click to live). Mixed into Panel.

import { m4 } from './decimate.js';
import { formatValue, timeStamp, timeTicks, valueTicks } from './ticks.js';
import * as plot from './plot.js';

const LEGEND_MS = 500;

/** Draws the panel (scheduler frame `ts`); reports to the page's draw hook. */
export function drawPanel(ts) {
  if (!this.cssW || !this.cssH) return;
  if (this.needPlot) {
    this.needPlot = false;
    drawPlot.call(this, ts);
  }
  drawCross.call(this);
  const hook = globalThis.__tally;
  if (hook) {
    const rec = { panel: this.id, newest: this.newest, t: performance.now() };
    hook.onDraw?.(rec);
    if (Array.isArray(hook.draws) && hook.draws.length < 100000) hook.draws.push(rec);
  }
}

function drawPlot(ts) {
  const { t0, t1 } = this.range();
  const W = this.cssW;
  let lo = Infinity;
  let hi = -Infinity;
  let newest = NaN;
  for (const s of this.series) {
    const liveFrom = s.live?.length ? s.live.firstTime : Infinity;
    m4(s.hist, t0, t1, W, s.hd, liveFrom - s.histStep + 1);
    if (s.live) {
      m4(s.live, t0, t1, W, s.ld);
      joinLive(s.hd, s.live, t0, W / (t1 - t0), s.histStep);
    }
    for (const d of s.live ? [s.hd, s.ld] : [s.hd]) {
      if (d.stats.count) {
        lo = Math.min(lo, d.stats.min);
        hi = Math.max(hi, d.stats.max);
        if (!(d.stats.lastTime <= newest)) newest = d.stats.lastTime;
      }
      for (let k = 0; k < d.nb; k++) {
        if (d.blo[k] < lo) lo = d.blo[k];
        if (d.bhi[k] > hi) hi = d.bhi[k];
      }
    }
  }
  this.newest = newest;
  const empty = !(hi >= lo);
  const yt = valueTicks(empty ? 0 : lo, empty ? 1 : hi, Math.max(2, Math.floor(this.cssH / 45)));
  const ctx = this.ctx;
  ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
  const area = plot.plotArea(ctx, W, this.cssH, yt);
  const f = { area, t0, t1, ymin: yt.min, ymax: yt.max, theme: this.theme, sx: area.w / W };
  this.frame = f;
  ctx.fillStyle = this.theme.bg;
  ctx.fillRect(0, 0, W, this.cssH);
  const liveFrom = Math.min(...this.series.map((s) => (s.live?.length ? s.liveAt || s.live.firstTime : Infinity)));
  if (liveFrom < t1) plot.drawLiveRegion(ctx, f, liveFrom);
  plot.drawAxes(ctx, f, yt, timeTicks(t0, t1, area.w, { offset: this.offset }), this.offset);
  ctx.save();
  ctx.beginPath();
  ctx.rect(area.x, area.y, area.w, area.h);
  ctx.clip();
  this.series.forEach((s, i) => {
    const color = this.theme.colors[i % this.theme.colors.length];
    plot.drawBand(ctx, f, s.hd, color);
    plot.drawLine(ctx, f, s.hd, color, 1);
    if (s.live) plot.drawLine(ctx, f, s.ld, color, 1);
  });
  ctx.restore();
  plot.drawEvents(ctx, f, this.events);
  if (this.error) plot.drawMessage(ctx, f, this.error);
  else if (empty) plot.drawMessage(ctx, f, this.ac && !this.fetchedWidth ? 'Loading…' : 'No data');
  if (!this.live || ts - this.legendAt >= LEGEND_MS) {
    this.legendAt = ts;
    legend.call(this);
  }
}

// Continues the history line to the first live point (the two are separate paths).
function joinLive(d, live, t0, scale, step) {
  if (!d.n || !live.length || d.xs[d.n - 1] !== d.xs[d.n - 1]) return;
  const x = (live.firstTime - t0) * scale;
  if (x <= d.xs[d.n - 1] || x - d.xs[d.n - 1] > 2 * step * scale + 1) return;
  d.xs[d.n] = x;
  d.ys[d.n++] = live.value(0);
}

// Legend rows: colour, name, last/min/max/avg over the points in view.
function legend() {
  if (!this.legendRows) {
    this.legendEl.textContent = '';
    this.legendRows = this.series.map((s, i) => {
      const row = document.createElement('div');
      row.className = 'tp-legend-row';
      const sw = document.createElement('span');
      sw.className = 'tp-swatch';
      Object.assign(sw.style, { display: 'inline-block', width: '10px', height: '3px', verticalAlign: 'middle', marginRight: '6px' });
      sw.style.background = this.theme.colors[i % this.theme.colors.length];
      const name = document.createElement('span');
      name.className = 'tp-name';
      name.textContent = s.name;
      const vals = document.createElement('span');
      vals.className = 'tp-values';
      row.append(sw, name, ' ', vals);
      this.legendEl.append(row);
      return vals;
    });
  }
  this.series.forEach((s, i) => {
    const a = s.hd.stats;
    const b = s.live ? s.ld.stats : { count: 0 };
    const n = a.count + b.count;
    const min = Math.min(a.count ? a.min : Infinity, b.count ? b.min : Infinity);
    const max = Math.max(a.count ? a.max : -Infinity, b.count ? b.max : -Infinity);
    const last = b.count ? b.last : a.last;
    const text = n
      ? `last ${formatValue(last)}  min ${formatValue(min)}  max ${formatValue(max)}  avg ${formatValue((a.sum + (b.sum || 0)) / n)}`
      : 'no data';
    if (this.legendRows[i] && this.legendRows[i].textContent !== text) this.legendRows[i].textContent = text;
  });
}

// The overlay: crosshair with every series' value at the cursor, the zoom selection, and
// the tooltip (values, or the text of events under the cursor).
function drawCross() {
  const f = this.frame;
  const c = this.octx;
  const sel = this.drag?.kind === 'zoom' ? [this.drag.x0, this.drag.x] : null;
  const used = this.cross != null || sel;
  if (!f || (!used && !this.overlayUsed)) return; // a clean overlay costs nothing to keep
  this.overlayUsed = used;
  c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
  c.clearRect(0, 0, this.cssW, this.cssH);
  if (this.cross == null) {
    plot.drawOverlay(c, f, null, [], sel);
    this.tip.style.display = 'none';
    return;
  }
  const x = this.cross;
  const t = f.t0 + ((x - f.area.x) / f.area.w) * (f.t1 - f.t0);
  const dots = [];
  const lines = [timeStamp(t, this.offset, f.t1 - f.t0 < 120e3)];
  this.series.forEach((s, i) => {
    const ring = s.live?.length && t >= s.live.firstTime ? s.live : s.hist;
    const k = ring.nearest(t);
    if (k < 0) return;
    const v = ring.value(k);
    const color = this.theme.colors[i % this.theme.colors.length];
    if (v === v) dots.push([plot.xOf(f, ring.time(k)), v, color]);
    lines.push(`${s.name}: ${formatValue(v)}`);
  });
  const px = (f.t1 - f.t0) / f.area.w;
  for (const e of this.events) {
    if (Math.abs(e.when - t) <= 4 * px) lines.push(`⚑ ${e.what}${e.data ? ` — ${e.data}` : ''}${e.tags.length ? ` [${e.tags.join(', ')}]` : ''}`);
  }
  plot.drawOverlay(c, f, x, dots, sel);
  this.tip.textContent = lines.join('\n');
  const s = this.tip.style;
  s.display = 'block';
  s.background = this.theme.bg;
  s.color = this.theme.fg;
  s.top = `${f.area.y + 4}px`;
  const left = x + 12;
  s.left = left + 200 > this.cssW ? '' : `${left}px`;
  s.right = left + 200 > this.cssW ? `${this.cssW - x + 12}px` : '';
}

/** Leaves or returns to live; `user` actions tell the page through onchange. */
export function goLive(on, user) {
  if (on) {
    const span = this.view ? this.view.t1 - this.view.t0 : this.span();
    const zoomed = this.view || !/^now$/i.test(this.until);
    this.view = null;
    if (zoomed) {
      // back to the live range the page set, else one as wide as the view
      this.from = this.home ?? `-${Math.max(1, Math.round(span / 1000))}s`;
      this.until = 'now';
    }
    this.live = true;
    this.subscribe();
    this.setMode(this.mode);
    if (zoomed || this.mode === 'poll') this.load();
  } else {
    if (this.live && !this.view) this.view = this.range();
    this.live = false;
    this.setMode(this.mode);
  }
  this.header();
  this.dirty(true);
  if (user) changed.call(this);
}

function changed() {
  const { from, until } = this.fetchRange();
  this.onchange?.({ from, until, live: this.live, targets: [...this.targets] });
}

/** Pointer handling on the overlay canvas. */
export function listen() {
  const o = this.overlay;
  const xAt = (e) => e.clientX - o.getBoundingClientRect().left;
  o.addEventListener('pointermove', (e) => {
    this.cross = xAt(e);
    if (this.drag) dragMove.call(this, this.cross);
    this.scheduler.dirty(this, true);
  });
  o.addEventListener('pointerleave', () => {
    this.cross = null;
    this.scheduler.dirty(this, true);
  });
  o.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !this.frame) return;
    o.setPointerCapture(e.pointerId);
    const x = xAt(e);
    this.drag = { kind: e.shiftKey ? 'pan' : 'zoom', x0: x, x, last: x, view: null };
  });
  o.addEventListener('pointerup', () => dragEnd.call(this));
  o.addEventListener('pointercancel', () => {
    this.drag = null;
    this.scheduler.dirty(this, true);
  });
  o.addEventListener('dblclick', () => this.goLive(true, true));
  o.addEventListener('wheel', (e) => {
    if (!this.frame || (!e.shiftKey && Math.abs(e.deltaX) <= Math.abs(e.deltaY))) return;
    e.preventDefault();
    pan.call(this, Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.deltaY);
    clearTimeout(this.wheelEnd);
    this.wheelEnd = setTimeout(() => {
      this.load();
      changed.call(this);
    }, 300);
  }, { passive: false });
  this.liveEl.addEventListener('click', () => this.goLive(!this.live, true));
}

// Moves the view by dx css px (positive: later); leaves live.
function pan(dx) {
  const f = this.frame;
  const r = this.view ?? this.range();
  const dt = (dx / f.area.w) * (r.t1 - r.t0);
  if (this.live) this.goLive(false, false);
  this.view = { t0: r.t0 + dt, t1: r.t1 + dt };
  this.dirty(true);
}

function dragMove(x) {
  const d = this.drag;
  d.x = x;
  if (d.kind === 'pan' && Math.abs(x - d.x0) > 2) {
    pan.call(this, d.last - x);
    d.last = x;
  }
}

function dragEnd() {
  const d = this.drag;
  this.drag = null;
  if (!d) return;
  const f = this.frame;
  if (d.kind === 'zoom' && Math.abs(d.x - d.x0) > 4) {
    const at = (x) => f.t0 + ((Math.min(Math.max(x, f.area.x), f.area.x + f.area.w) - f.area.x) / f.area.w) * (f.t1 - f.t0);
    this.goLive(false, false);
    this.view = { t0: at(Math.min(d.x, d.x0)), t1: at(Math.max(d.x, d.x0)) };
    this.load();
    changed.call(this);
  } else if (d.kind === 'pan' && d.last !== d.x0) {
    this.load();
    changed.call(this);
  }
  this.dirty(true);
}
