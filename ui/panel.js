// A graph panel: stored history at one point per pixel (bands where points merge) and the
// live tail from the tab's stream on one axis. Data only writes into rings and marks the
// panel dirty; the scheduler calls draw() (panel-view.js, with the pointer handling).

import { Ring } from './ring.js';
import { Decimated } from './decimate.js';
import { localOffset, utcOffset } from './ticks.js';
import { fetchEvents, fetchHistory, parseTime, renderQuery, rollup } from './history.js';
import { Scheduler } from './scheduler.js';
import { Stream } from './stream.js';
import { readTheme } from './plot.js';
import { drawPanel, goLive, listen } from './panel-view.js';

const MAX_EVENTS = 1000;
// A live range ends on a multiple of this: the picture moves on this often (appended between).
const LIVE_MOVE_MS = 1000;
let ids = 0;
let shared = null;

/** The tab's one stream and scheduler, for panels not given their own. */
export function defaults() {
  return (shared ??= { stream: new Stream(), scheduler: new Scheduler() });
}

const isNow = (s) => /^\s*now\s*$/i.test(s);
const el = (tag, cls, kids = [], style = {}) => {
  const e = document.createElement(tag);
  e.className = cls;
  e.append(...kids);
  Object.assign(e.style, style);
  return e;
};
const fill = { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%' };

export class Panel {
  constructor(container, opts = {}, { stream, scheduler } = {}) {
    const o = (this.opts = { title: '', targets: [], from: '-1h', until: 'now', live: false, height: 220, utc: false, events: true, base: '', ...opts });
    Object.assign(this, {
      id: o.id ?? `panel${++ids}`,
      // null: poll /render
      stream: stream === undefined ? defaults().stream : stream,
      scheduler: scheduler ?? defaults().scheduler,
      targets: [...o.targets], from: String(o.from), until: String(o.until),
      // { t0, t1 } ms once zoomed or panned
      view: null,
      series: [], events: [], lineage: [], onchange: null, error: '', cross: null, drag: null,
      // the end of the newest live slot
      edge: 0,
      legendAt: -Infinity,
      offset: o.utc ? utcOffset : localOffset,
    });
    this.live = !!o.live && isNow(this.until);
    // the live range to return to
    this.home = isNow(this.until) ? this.from : null;
    this.mode = this.stream ? 'connecting' : 'poll';
    this.build(container);
    this.theme = readTheme(this.el);
    this.listen();
    this.scheduler.add(this);
    if (this.live) this.subscribe();
    this.setMode(this.mode);
    this.load();
  }

  build(container) {
    // .tally-panel > .tp-head (.tp-title .tp-rollup .tp-error button.tp-live), .tp-plot
    // (canvas.tp-canvas, canvas.tp-overlay, .tp-tip), .tp-legend (.tp-legend-row…)
    const head = el('div', 'tp-head', [
      (this.titleEl = el('span', 'tp-title')), (this.rollupEl = el('span', 'tp-rollup')),
      (this.errorEl = el('span', 'tp-error')), (this.liveEl = el('button', 'tp-live')),
    ]);
    this.liveEl.type = 'button';
    this.titleEl.textContent = this.opts.title || this.targets.join(', ');
    this.plotEl = el('div', 'tp-plot', [
      (this.canvas = el('canvas', 'tp-canvas', [], fill)),
      (this.overlay = el('canvas', 'tp-overlay', [], { ...fill, cursor: 'crosshair', touchAction: 'none' })),
      (this.tip = el('div', 'tp-tip', [], { position: 'absolute', display: 'none', pointerEvents: 'none', whiteSpace: 'pre', zIndex: 1 })),
    ], { position: 'relative', height: `${this.opts.height}px` });
    this.legendEl = el('div', 'tp-legend');
    container.append((this.el = el('div', 'tally-panel', [head, this.plotEl, this.legendEl])));
    // opaque: no blending when composited; the overlay gets a context when first used
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.plotEl);
    this.resize();
  }

  resize() {
    const w = this.plotEl.clientWidth;
    const h = this.plotEl.clientHeight;
    const dpr = globalThis.devicePixelRatio || 1;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return;
    [this.cssW, this.cssH, this.dpr] = [w, h, dpr];
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.max(1, Math.round(w * dpr));
      c.height = Math.max(1, Math.round(h * dpr));
    }
    if (this.fetchedWidth && Math.abs(this.width() - this.fetchedWidth) > 0.1 * this.fetchedWidth) this.load();
    this.dirty(true);
  }

  /** Points per request: one per pixel of the plot (the axis labels take ~50 px). */
  width() {
    return Math.max(50, Math.round((this.cssW || 800) - 50));
  }

  /** `data`: only new live slots, which the next draw may append (panel-view.js). */
  dirty(urgent = false, data = false) {
    this.needPlot = true;
    this.needFull ||= !data;
    this.scheduler.dirty(this, urgent);
  }

  /** For the scheduler: ms per pixel of the moving x scale (at most 1 s); 0 when still. */
  minInterval() {
    return this.live ? Math.min(1000, this.span() / this.width()) : 0;
  }

  span() {
    const now = Date.now();
    const d = parseTime(this.until, now) - parseTime(this.from, now);
    return d > 0 ? d : 3600e3;
  }

  /**
   * The x range drawn, ms: live, it ends at the whole second after the newest slot (now while
   * polling), so within a second new slots are appended to the picture and it moves once.
   */
  range() {
    if (this.view) return this.view;
    const now = Date.now();
    if (this.live) {
      const t1 = this.mode === 'stream' && this.edge ? Math.ceil(this.edge / LIVE_MOVE_MS) * LIVE_MOVE_MS : now;
      return { t0: t1 - this.span(), t1 };
    }
    const t0 = parseTime(this.from, now);
    const t1 = parseTime(this.until, now);
    if (t0 === t0 && t1 === t1) return { t0, t1 };
    // forms only the server reads (midnight, monday…): the range of the data it answered
    let a = Infinity;
    let b = -Infinity;
    for (const s of this.series) {
      if (s.hist.length) [a, b] = [Math.min(a, s.hist.firstTime), Math.max(b, s.hist.lastTime + s.histStep)];
    }
    return b > a ? { t0: a, t1: b } : { t0: now - 3600e3, t1: now };
  }

  /** from/until for requests: the page's strings, or whole seconds around a zoomed view. */
  fetchRange() {
    const v = this.view;
    return v ? { from: String(Math.floor(v.t0 / 1000)), until: String(Math.ceil(v.t1 / 1000)) } : { from: this.from, until: this.until };
  }

  async load() {
    this.ac?.abort();
    const ac = (this.ac = new AbortController());
    const width = this.width();
    const args = { ...this.fetchRange(), signal: ac.signal, base: this.opts.base };
    try {
      const [series, events] = await Promise.all([
        this.targets.length ? fetchHistory(this.targets, { ...args, width }) : [],
        this.opts.events ? fetchEvents(args).catch(() => []) : [],
      ]);
      if (ac !== this.ac) return;
      this.fetchedWidth = width;
      this.applyHistory(series);
      this.events = events.slice(-MAX_EVENTS);
      this.error = '';
    } catch (e) {
      if (e.name === 'AbortError') return;
      // the server's reason (a bad target says where)
      this.error = e.message;
    }
    this.header();
    this.dirty(true);
  }

  /** History as history.js parses /render (also the way tests and benches feed data). */
  applyHistory(list) {
    const keep = new Set();
    for (const h of list) {
      const s = this.entry(h.name);
      keep.add(s);
      s.hist = new Ring(Math.max(1, h.times.length), { bands: !!h.mins });
      for (let i = 0; i < h.times.length; i++) s.hist.push(h.times[i], h.values[i], h.mins?.[i], h.maxs?.[i]);
      s.histStep = h.step;
      s.meta = h.meta ?? [];
    }
    this.series = this.series.filter((s) => keep.has(s) || s.info);
    this.histSeries = [...keep];
    this.lineaged();
  }

  /** The history held as /render's JSON answered it; null before. */
  get data() {
    if (!this.histSeries) return null;
    return this.histSeries.map(({ name, hist }) => ({
      target: name,
      datapoints: Array.from({ length: hist.length }, (_, i) => [hist.value(i) === hist.value(i) ? hist.value(i) : null, hist.time(i) / 1000]),
    }));
  }

  lineaged() {
    this.lineage = this.series.map((s) => ({ name: s.name, meta: s.meta, live: s.info }));
    this.legendRows = null;
  }

  // The series entry of a name: history's `a.b:p99` is the stream's `a.b` with view p99.
  entry(name, view) {
    const same = (x) => x.name === name || x.name === `${name}:${view}` || (x.info && `${x.name}:${x.info.view}` === name);
    let s = this.series.find(same);
    if (!s) {
      s = { name, hist: new Ring(1), histStep: 0, meta: [], live: null, info: null, hd: new Decimated(), ld: new Decimated() };
      this.series.push(s);
      this.legendRows = null;
    }
    return s;
  }

  // A live ring holds twice the range (capped): zoomed out of live, the panel keeps buffering.
  liveRing(step) {
    return new Ring(Math.min(20000, Math.max(600, Math.ceil((2 * this.span()) / step))));
  }

  subscribe() {
    if (this.unsub || !this.stream || !this.targets.length) return;
    this.unsub = this.stream.subscribe(this.targets, {
      mode: (m) => this.setMode(m),
      series: (list) => this.onSeries(list),
      data: (m) => this.onData(m, false),
      reset: (m) => this.onData(m, true),
      event: (e) => this.onEvent(e),
      error: (e) => {
        this.error = `${this.targets[e.target]}: ${e.message}`;
        this.header();
      },
    });
  }

  setMode(m) {
    this.mode = m;
    clearInterval(this.poll);
    if (m === 'poll' && this.live) {
      const every = Math.min(60000, Math.max(1000, this.span() / this.width()));
      this.poll = setInterval(() => !document.hidden && this.live && this.load(), every);
    }
    this.header();
  }

  // Series of the stream: `join`, `live` and `bridge` join history to the live ring
  // (README, "Live stream"): history is drawn up to the ring's start, the bridge over
  // [join, live) as the ring's first point, the slots from live on.
  onSeries(list) {
    for (const info of list) {
      const s = this.entry(info.name, info.view);
      s.info = info;
      s.live ??= this.liveRing(this.stream.step || 100);
      if (info.bridge != null && !s.live.length) s.live.push(info.join, info.bridge);
    }
    this.lineaged();
    this.dirty();
  }

  onData(m, reset) {
    const end = m.t + m.n * m.step;
    let full = false;
    for (const [info, values] of m.series) {
      const s = this.entry(info.name, info.view);
      s.live ??= this.liveRing(m.step);
      if (reset) {
        s.live.clear();
        if (s.info?.bridge != null && m.t <= s.info.live) s.live.push(s.info.join, s.info.bridge);
      }
      for (let i = 0; i < values.length; i++) {
        const t = m.t + i * m.step, v = values[i];
        if (v !== v) continue;
        // Silences under 2 s are drawn across (1 s samples make a line); longer ones are gaps.
        if (t - s.live.lastTime > 2e3) s.live.push(t - m.step, NaN);
        s.live.set(t, v);
      }
      full ||= s.live.length === s.live.capacity;
    }
    if (end > this.edge) this.edge = end;
    if (reset || (full && Date.now() - (this.gapAt ?? 0) > 10000)) this.checkGap();
    if (this.live || (this.view && m.t < this.view.t1 && end > this.view.t0)) this.dirty(false, !reset);
  }

  // After a reset (a tab hidden past the ring), or once a full ring moved on past the
  // history (checked every 10 s), history ends before the ring starts: fetch it again.
  checkGap() {
    this.gapAt = Date.now();
    const gap = (s) => s.live?.length && s.live.firstTime - (s.hist.lastTime + s.histStep || -Infinity) > 2 * Math.max(s.histStep, this.stream.step);
    if (this.series.some(gap)) this.load();
  }

  onEvent(e) {
    this.events.push({ id: e.id, when: e.when, what: String(e.what ?? ''), tags: e.tags ?? [], data: e.data ?? '' });
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.dirty();
  }

  header() {
    const live = this.live;
    this.liveEl.textContent = live ? (this.mode === 'poll' ? 'LIVE · polling' : 'LIVE') : 'Live';
    this.liveEl.classList.toggle('on', live);
    this.liveEl.title = live ? 'Click to pause' : 'Back to live (or double-click)';
    const r = this.series.map((s) => rollup(s.meta)).find(Boolean);
    this.rollupEl.hidden = !r;
    if (r) {
      this.rollupEl.textContent = `${r.interval}s tier · ${r.merged}× ${r.consolidation}`;
      this.rollupEl.title = `Not raw: tier ${r.tier} (${r.interval}s), ${r.merged} points merged per point (${r.consolidation}), view ${r.view}`;
    }
    this.errorEl.textContent = this.error;
    this.errorEl.hidden = !this.error;
  }

  /** Sets the time range (graphite formats); an until other than `now` leaves live. */
  setRange({ from, until = 'now' }) {
    [this.from, this.until, this.view] = [String(from), String(until), null];
    if (isNow(this.until)) this.home = this.from;
    else this.live = false;
    this.setMode(this.mode);
    this.load();
  }

  setTargets(targets) {
    this.targets = [...targets];
    this.series = [];
    this.histSeries = null;
    this.lineaged();
    if (this.unsub) {
      this.unsub();
      this.unsub = null;
      this.subscribe();
    }
    this.titleEl.textContent = this.opts.title || this.targets.join(', ');
    this.load();
  }

  setLive(on) {
    this.goLive(on, false);
  }

  /** The same graph on /render, for embedding. */
  links() {
    const extra = { width: Math.round(this.cssW || 800), height: this.opts.height };
    if (this.opts.title) extra.title = this.opts.title;
    const url = (format) => `${this.opts.base}/render?${renderQuery(this.targets, { ...this.fetchRange(), format, extra })}`;
    return { png: url('png'), svg: url('svg') };
  }

  destroy() {
    this.unsub?.();
    clearInterval(this.poll);
    this.ac?.abort();
    this.scheduler.remove(this);
    this.ro.disconnect();
    this.el.remove();
  }
}

Object.assign(Panel.prototype, { draw: drawPanel, listen, goLive });
