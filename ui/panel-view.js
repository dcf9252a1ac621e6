// Panel methods that draw (plot, overlay, legend, tooltip) and that handle the pointer
// (crosshair, drag-zoom, shift-drag or wheel pan, double-click back to live).

import { m4 } from './decimate.js';
import { formatValue, shortNames, timeStamp, timeTicks, valueTicks } from './ticks.js';
import * as plot from './plot.js';

// legend text at most once a second while live (text shaping, layout)
const LEGEND_MS = 1000;
const colorOf = (p, i) => p.theme.colors[i % p.theme.colors.length];

/** Draws the panel at scheduler frame `ts` and reports to the page's draw hook. */
export function drawPanel(ts) {
  if (!this.cssW || !this.cssH) return;
  let plotted = null;
  if (this.needPlot) {
    this.needPlot = false;
    plotted = 'append';
    if (this.needFull || !appendLive.call(this)) {
      this.needFull = false;
      plotted = 'full';
      drawPlot.call(this, ts);
    }
  }
  drawCross.call(this);
  // window.__tally = { draws: [] } (or { onDraw(rec) }) records every draw: the panel, the
  // newest data time drawn, its value, performance.now() and how the plot was drawn ('full',
  // 'append' or null: the overlay only), for latency and frame benches and the browser tests.
  const hook = globalThis.__tally;
  if (hook) {
    const rec = { panel: this.id, newest: this.newest, value: this.newestValue, t: performance.now(), plot: plotted };
    hook.onDraw?.(rec);
    if (hook.draws?.length < 100000) hook.draws.push(rec);
  }
}

function drawPlot(ts) {
  const { t0, t1 } = this.range();
  const W = this.cssW;
  let lo = Infinity;
  let hi = -Infinity;
  let newest = NaN;
  let liveFrom = Infinity;
  for (const s of this.series) {
    const ring = s.live;
    const start = ring?.length ? Math.max(ring.firstTime, s.info?.live ?? -Infinity) : Infinity;
    liveFrom = Math.min(liveFrom, start);
    // history up to where the live ring starts (a point covers [t, t + step))
    m4(s.hist, t0, t1, W, s.hd, ring?.length ? ring.firstTime - s.histStep + 1 : Infinity);
    if (ring) {
      m4(ring, t0, t1, W, s.ld);
      joinLive(s.hd, ring, t0, W / (t1 - t0), s.histStep);
    }
    for (let h = ring ? 1 : 0; h >= 0; h--) {
      const d = h ? s.ld : s.hd;
      const st = d.stats;
      if (st.count) {
        lo = Math.min(lo, st.min);
        hi = Math.max(hi, st.max);
        if (!(st.lastTime <= newest)) {
          newest = st.lastTime;
          this.newestValue = st.last;
        }
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
  const f = (this.frame = { area, t0, t1, ymin: yt.min, ymax: yt.max, theme: this.theme, sx: area.w / W });
  ctx.fillStyle = this.theme.bg;
  ctx.fillRect(0, 0, W, this.cssH);
  if (liveFrom < t1) plot.drawLiveRegion(ctx, f, liveFrom);
  plot.drawAxes(ctx, f, yt, timeTicks(t0, t1, area.w, { offset: this.offset }), this.offset);
  ctx.save();
  ctx.beginPath();
  ctx.rect(area.x, area.y, area.w, area.h);
  ctx.clip();
  this.series.forEach((s, i) => {
    plot.drawBand(ctx, f, s.hd, colorOf(this, i));
    plot.drawLine(ctx, f, s.hd, colorOf(this, i));
    if (s.live) plot.drawLine(ctx, f, s.ld, colorOf(this, i));
  });
  ctx.restore();
  plot.drawEvents(ctx, f, this.events);
  for (const s of this.series) drawn(s);
  if (this.error || empty) plot.drawMessage(ctx, f, this.error || (this.fetchedWidth ? 'No data' : 'Loading…'));
  // Every live panel's legend in the same frame, once a second (the frames carry every dirty
  // panel): one style/layout/paint of legend text a second, not one in most frames.
  if (!this.live || Math.floor(ts / LEGEND_MS) !== Math.floor(this.legendAt / LEGEND_MS)) {
    this.legendAt = ts;
    legend.call(this);
  }
}

// What the picture holds of a series' live ring: the time and value of its last point.
function drawn(s) {
  const r = s.live;
  s.drawnT = r?.length ? r.lastTime : NaN;
  s.drawnV = r?.length ? r.value(r.length - 1) : NaN;
  if (r) r.rewritten = Infinity;
}

// A live panel between two whole seconds (its x range stays, range() in panel.js): strokes
// only the slots that came since the last draw, from the last point drawn, as drawPlot would
// add them; the whole plot once a second. Returns false (draw it all) when the range moved, a
// drawn slot changed, a value leaves the y scale or is a gap, the last point drawn began its
// run, or slots share pixel columns (bands).
function appendLive() {
  const f = this.frame;
  if (!f || !this.live || this.view || this.mode !== 'stream' || this.error) return false;
  const { t0, t1 } = this.range();
  if (t0 !== f.t0 || t1 !== f.t1 || ((this.stream.step || 100) * this.cssW) / (t1 - t0) < 1) return false;
  // [series, its colour's index, the logical index of its last point drawn]
  const from = [];
  for (const [n, s] of this.series.entries()) {
    const r = s.live;
    if (!r?.length) continue;
    const i = r.lowerBound(s.drawnT);
    if (i === r.length || r.time(i) !== s.drawnT || r.rewritten <= s.drawnT) return false;
    // a point that begins its run was drawn alone, as a dash (plot.drawLine), which a line
    // from it must replace; a gap among the new slots may leave such a point too
    if (i < r.length - 1 && (i === 0 || r.value(i - 1) !== r.value(i - 1))) return false;
    for (let k = i + 1; k < r.length; k++) {
      const v = r.value(k);
      if (!(v >= f.ymin && v <= f.ymax)) return false;
    }
    if (i < r.length - 1) from.push([s, n, i]);
  }
  const ctx = this.ctx;
  ctx.lineWidth = 1;
  ctx.lineJoin = 'round';
  for (const [s, n, i] of from) {
    const r = s.live;
    ctx.strokeStyle = colorOf(this, n);
    ctx.beginPath();
    for (let j = i, pen = false; j < r.length; j++) {
      const v = r.value(j);
      if (v === v) ctx[pen ? 'lineTo' : 'moveTo'](plot.xOf(f, r.time(j)), plot.yOf(f, v));
      pen = v === v;
    }
    ctx.stroke();
    drawn(s);
    if (!(s.drawnT <= this.newest)) [this.newest, this.newestValue] = [s.drawnT, s.drawnV];
  }
  return true;
}

// Continues the history line to the first live point (they are separate paths).
function joinLive(d, live, t0, scale, step) {
  const last = d.xs[d.n - 1];
  const x = (live.firstTime - t0) * scale;
  if (!d.n || !(x > last) || x - last > 2 * step * scale + 1) return;
  d.xs[d.n] = x;
  d.ys[d.n++] = live.value(0);
}

// Legend rows: colour, name, last/min/max/avg of the points in view (history and live).
function legend() {
  if (!this.legendRows) {
    this.names = shortNames(this.series.map((s) => s.name));
    this.legendRows = this.series.map((s, i) => {
      const row = document.createElement('div');
      row.className = 'tp-legend-row';
      row.innerHTML = '<span class="tp-swatch"></span><span class="tp-name"></span> <span class="tp-values"></span>';
      Object.assign(row.firstChild.style, { display: 'inline-block', width: '10px', height: '3px', margin: '0 6px 2px 0', background: colorOf(this, i) });
      row.children[1].textContent = this.names[i];
      row.title = s.name;
      return row;
    });
    this.legendEl.replaceChildren(...this.legendRows);
  }
  this.series.forEach((s, i) => {
    const all = [s.hd.stats, s.live && s.ld.stats].filter((x) => x?.count);
    const sum = (k) => all.reduce((a, x) => a + x[k], 0);
    const v = (k, f) => formatValue(f(...all.map((x) => x[k])));
    const text = all.length ? `last ${v('last', (...l) => l.at(-1))}  min ${v('min', Math.min)}  max ${v('max', Math.max)}  avg ${formatValue(sum('sum') / sum('count'))}` : 'no data';
    // the text node's data, not the element's textContent: no node replaced, less to lay out
    const el = this.legendRows[i].lastChild;
    const node = el.firstChild ?? el.appendChild(document.createTextNode(''));
    if (node.data !== text) node.data = text;
  });
}

// The overlay: crosshair with every series' value at the cursor, the zoom selection, the
// tooltip (values, and the text of events under the cursor).
function drawCross() {
  const f = this.frame;
  const sel = this.drag?.kind === 'zoom' ? [this.drag.x0, this.drag.x] : null;
  const used = this.cross != null || !!sel;
  // a clean overlay costs nothing to keep
  if (!f || (!used && !this.overlayUsed)) return;
  this.overlayUsed = used;
  const c = (this.octx ??= this.overlay.getContext('2d'));
  c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
  c.clearRect(0, 0, this.cssW, this.cssH);
  const x = this.cross;
  const tip = this.tip.style;
  tip.display = x == null ? 'none' : 'block';
  if (x == null) return plot.drawOverlay(c, f, null, [], sel);
  const t = f.t0 + ((x - f.area.x) / f.area.w) * (f.t1 - f.t0);
  const dots = [];
  const lines = [timeStamp(t, this.offset, f.t1 - f.t0 < 120e3)];
  this.series.forEach((s, i) => {
    const ring = s.live?.length && t >= s.live.firstTime ? s.live : s.hist;
    const k = ring.nearest(t);
    if (k < 0) return;
    const v = ring.value(k);
    if (v === v) dots.push([plot.xOf(f, ring.time(k)), v, colorOf(this, i)]);
    lines.push(`${this.names?.[i] ?? s.name}: ${formatValue(v)}`);
  });
  const near = (4 * (f.t1 - f.t0)) / f.area.w;
  for (const e of this.events) {
    if (Math.abs(e.when - t) <= near) lines.push(`⚑ ${e.what}${e.data ? ` — ${e.data}` : ''}${e.tags.length ? ` [${e.tags.join(', ')}]` : ''}`);
  }
  plot.drawOverlay(c, f, x, dots, sel);
  this.tip.textContent = lines.join('\n');
  const flip = x + 212 > this.cssW;
  Object.assign(tip, { background: this.theme.bg, color: this.theme.fg, top: `${f.area.y + 4}px` });
  tip.left = flip ? '' : `${x + 12}px`;
  tip.right = flip ? `${this.cssW - x + 12}px` : '';
}

/** Leaves or returns to live; `user` actions tell the page through onchange. */
export function goLive(on, user) {
  if (on) {
    const zoomed = this.view || !/^now$/i.test(this.until);
    if (zoomed) {
      // back to the live range the page set, else one as wide as the view
      const span = this.view ? this.view.t1 - this.view.t0 : this.span();
      [this.from, this.until] = [this.home ?? `-${Math.max(1, Math.round(span / 1000))}s`, 'now'];
    }
    this.view = null;
    this.live = true;
    this.subscribe();
    if (zoomed || this.mode === 'poll') this.load();
  } else {
    if (this.live && !this.view) this.view = this.range();
    this.live = false;
  }
  this.setMode(this.mode);
  this.dirty(true);
  if (user) changed.call(this);
}

function changed() {
  this.onchange?.({ ...this.fetchRange(), live: this.live, targets: [...this.targets] });
}

/** Pointer handling on the overlay canvas. */
export function listen() {
  const o = this.overlay;
  const on = (name, fn, opts) => o.addEventListener(name, fn, opts);
  const xAt = (e) => e.clientX - o.getBoundingClientRect().left;
  const redraw = () => this.scheduler.dirty(this, true);
  on('pointermove', (e) => {
    this.cross = xAt(e);
    if (this.drag) dragMove.call(this, this.cross);
    redraw();
  });
  on('pointerleave', () => {
    this.cross = null;
    redraw();
  });
  on('pointerdown', (e) => {
    if (e.button || !this.frame) return;
    o.setPointerCapture(e.pointerId);
    const x = xAt(e);
    this.drag = { kind: e.shiftKey ? 'pan' : 'zoom', x0: x, x, last: x };
  });
  on('pointerup', () => dragEnd.call(this));
  on('pointercancel', () => {
    this.drag = null;
    redraw();
  });
  on('dblclick', () => this.goLive(true, true));
  on('wheel', (e) => {
    const sideways = Math.abs(e.deltaX) > Math.abs(e.deltaY);
    // a plain wheel scrolls the page
    if (!this.frame || !(e.shiftKey || sideways)) return;
    e.preventDefault();
    pan.call(this, sideways ? e.deltaX : e.deltaY);
    clearTimeout(this.wheelEnd);
    this.wheelEnd = setTimeout(() => moved.call(this), 300);
  }, { passive: false });
  this.liveEl.addEventListener('click', () => this.goLive(!this.live, true));
}

function moved() {
  this.load();
  changed.call(this);
}

// Moves the view by dx css px (positive: later); leaves live, the stream keeps buffering.
function pan(dx) {
  const r = this.view ?? this.range();
  const dt = (dx / this.frame.area.w) * (r.t1 - r.t0);
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
  const { area: a, t0, t1 } = this.frame;
  const at = (x) => t0 + ((Math.min(Math.max(x, a.x), a.x + a.w) - a.x) / a.w) * (t1 - t0);
  if (d.kind === 'zoom' && Math.abs(d.x - d.x0) > 4) {
    this.goLive(false, false);
    this.view = { t0: at(Math.min(d.x, d.x0)), t1: at(Math.max(d.x, d.x0)) };
    moved.call(this);
  } else if (d.kind === 'pan' && d.last !== d.x0) moved.call(this);
  this.dirty(true);
}
