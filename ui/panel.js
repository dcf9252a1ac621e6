// A graph panel: stored history at one point per pixel (with min/max bands when points
// merge), the live tail from the shared stream on the same axis, crosshair, legend, events,
// rollup indicator, drag-zoom and pan while streaming. Data only writes into rings and
// marks the panel dirty; the scheduler calls draw().

import { Ring } from './ring.js';
import { Decimated } from './decimate.js';
import { localOffset, utcOffset } from './ticks.js';
import { fetchEvents, fetchHistory, parseTime, renderQuery, rollup } from './history.js';
import { Scheduler } from './scheduler.js';
import { Stream } from './stream.js';
import * as plot from './plot.js';
import { drawPanel, goLive, listen } from './panel-view.js';

const MAX_EVENTS = 1000;
let ids = 0;
let shared = null;

/** The tab's one stream and scheduler, for panels not given their own. */
export function defaults() {
  shared ??= { stream: new Stream(), scheduler: new Scheduler() };
  return shared;
}

const isNow = (s) => String(s).trim().toLowerCase() === 'now';
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
};

export class Panel {
  constructor(container, opts = {}, { stream, scheduler } = {}) {
    this.opts = { title: '', targets: [], from: '-1h', until: 'now', live: false, height: 220, utc: false, events: true, base: '', ...opts };
    this.id = this.opts.id ?? `panel${++ids}`;
    const d = stream === undefined || scheduler === undefined ? defaults() : null;
    this.stream = stream === undefined ? d.stream : stream;
    this.scheduler = scheduler ?? d.scheduler;
    this.targets = [...this.opts.targets];
    this.from = String(this.opts.from);
    this.until = String(this.opts.until);
    this.live = !!this.opts.live && isNow(this.until);
    this.home = isNow(this.until) ? this.from : null; // the live range to return to
    this.view = null; // { t0, t1 } ms once zoomed or panned
    this.series = [];
    this.events = [];
    this.lineage = [];
    this.onchange = null;
    this.mode = this.stream ? 'connecting' : 'poll';
    this.edge = 0; // end of the newest live slot
    this.error = '';
    this.offset = this.opts.utc ? utcOffset : localOffset;
    this.cross = null;
    this.drag = null;
    this.legendAt = 0;
    this.needPlot = true;
    this.build(container);
    this.theme = plot.readTheme(this.el);
    this.listen();
    this.scheduler.add(this);
    if (this.live) this.subscribe();
    this.load();
  }

  build(container) {
    this.el = el('div', 'tally-panel');
    const head = el('div', 'tp-head');
    this.titleEl = el('span', 'tp-title', this.opts.title || this.targets.join(', '));
    this.rollupEl = el('span', 'tp-rollup');
    this.errorEl = el('span', 'tp-error');
    this.liveEl = el('button', 'tp-live');
    this.liveEl.type = 'button';
    head.append(this.titleEl, this.rollupEl, this.errorEl, this.liveEl);
    this.plotEl = el('div', 'tp-plot');
    Object.assign(this.plotEl.style, { position: 'relative', height: `${this.opts.height}px` });
    this.canvas = el('canvas');
    this.overlay = el('canvas');
    for (const c of [this.canvas, this.overlay]) {
      Object.assign(c.style, { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%' });
    }
    this.overlay.style.cursor = 'crosshair';
    this.overlay.style.touchAction = 'none';
    this.tip = el('div', 'tp-tip');
    Object.assign(this.tip.style, { position: 'absolute', display: 'none', pointerEvents: 'none', whiteSpace: 'pre', zIndex: '1' });
    this.plotEl.append(this.canvas, this.overlay, this.tip);
    this.legendEl = el('div', 'tp-legend');
    this.el.append(head, this.plotEl, this.legendEl);
    container.append(this.el);
    this.ctx = this.canvas.getContext('2d');
    this.octx = this.overlay.getContext('2d');
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.plotEl);
    this.resize();
    this.header();
  }

  resize() {
    const w = this.plotEl.clientWidth;
    const h = this.plotEl.clientHeight;
    const dpr = globalThis.devicePixelRatio || 1;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return;
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
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

  dirty(urgent = false) {
    this.needPlot = true;
    this.scheduler.dirty(this, urgent);
  }

  /** Called by the scheduler: ms between draws that the x scale can show (≤ 1 s). */
  minInterval() {
    if (!this.live) return 0;
    return Math.min(1000, this.span() / this.width());
  }

  span() {
    const now = Date.now();
    const a = parseTime(this.from, now);
    const b = parseTime(this.until, now);
    return b > a ? b - a : 3600e3;
  }

  /** The x range drawn, ms. */
  range() {
    if (this.view) return this.view;
    const now = Date.now();
    if (this.live) {
      const t1 = this.mode === 'stream' && this.edge ? this.edge : now;
      return { t0: t1 - this.span(), t1 };
    }
    let t0 = parseTime(this.from, now);
    let t1 = parseTime(this.until, now);
    if (!(t0 === t0) || !(t1 === t1)) {
      const e = this.extent();
      t0 = t0 === t0 ? t0 : e.t0;
      t1 = t1 === t1 ? t1 : e.t1;
    }
    return { t0, t1 };
  }

  extent() {
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const s of this.series) {
      if (s.hist.length) {
        t0 = Math.min(t0, s.hist.firstTime);
        t1 = Math.max(t1, s.hist.lastTime + s.histStep);
      }
    }
    return t1 > t0 ? { t0, t1 } : { t0: Date.now() - 3600e3, t1: Date.now() };
  }

  /** from/until for requests: the page's strings, or whole seconds around a zoomed view. */
  fetchRange() {
    if (!this.view) return { from: this.from, until: this.until };
    return { from: String(Math.floor(this.view.t0 / 1000)), until: String(Math.ceil(this.view.t1 / 1000)) };
  }

  async load() {
    this.ac?.abort();
    const ac = new AbortController();
    this.ac = ac;
    const { from, until } = this.fetchRange();
    const width = this.width();
    const args = { from, until, signal: ac.signal, base: this.opts.base };
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
      this.error = e.message;
    }
    this.header();
    this.dirty(true);
  }

  /** History as /render answered it (history.js' series), also for tests and benchmarks. */
  applyHistory(list) {
    const keep = new Set();
    for (const h of list) {
      const s = this.entry(h.name, -1, h.name);
      keep.add(s);
      s.hist = new Ring(Math.max(1, h.times.length), { bands: !!h.mins });
      for (let i = 0; i < h.times.length; i++) {
        s.hist.push(h.times[i], h.values[i], h.mins?.[i], h.maxs?.[i]);
      }
      s.histStep = h.step;
      s.meta = h.meta ?? [];
    }
    this.series = this.series.filter((s) => keep.has(s) || s.info);
    this.lineage = this.series.map((s) => ({ name: s.name, meta: s.meta, live: s.info }));
    this.legendRows = null;
  }

  // The series entry of a name (history's `a.b:p99` and the stream's `a.b` + view alike).
  entry(name, target, view) {
    let s = this.series.find((x) => x.name === name || x.name === `${name}:${view}` || `${x.name}:${x.view}` === name);
    if (!s) {
      s = { name, target, view: null, hist: new Ring(1), live: null, histStep: 0, meta: [], info: null, join: NaN, liveAt: NaN, bridge: null, hd: new Decimated(), ld: new Decimated() };
      this.series.push(s);
      this.legendRows = null;
    }
    return s;
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

  unsubscribe() {
    this.unsub?.();
    this.unsub = null;
  }

  setMode(m) {
    this.mode = m;
    clearInterval(this.poll);
    this.poll = 0;
    if (m === 'poll' && this.live) {
      const every = Math.min(60000, Math.max(1000, this.span() / this.width()));
      this.poll = setInterval(() => !document.hidden && this.live && !this.view && this.load(), every);
    }
    this.header();
  }

  onSeries(list) {
    const step = this.stream.step || 100;
    const cap = Math.min(20000, Math.max(600, Math.ceil((2 * this.span()) / step)));
    for (const info of list) {
      const s = this.entry(info.name, info.target, info.view);
      s.info = info;
      s.view = info.view;
      s.live ??= new Ring(cap);
      if (info.join != null) {
        s.join = info.join;
        s.liveAt = info.live;
        s.bridge = info.bridge ?? null;
        if (!s.live.length && s.bridge != null) s.live.push(s.join, s.bridge);
      }
    }
    this.lineage = this.series.map((s) => ({ name: s.name, meta: s.meta, live: s.info }));
    this.dirty();
  }

  onData(m, reset) {
    const end = m.t + m.n * m.step;
    for (const [info, values] of m.series) {
      const s = this.entry(info.name, info.target, info.view);
      s.live ??= new Ring(Math.max(600, Math.ceil((2 * this.span()) / m.step)));
      if (reset) {
        s.live.clear();
        if (s.bridge != null && m.t <= s.liveAt) s.live.push(s.join, s.bridge);
      }
      for (let i = 0; i < values.length; i++) s.live.push(m.t + i * m.step, values[i]);
    }
    if (end > this.edge) this.edge = end;
    if (reset) this.checkGap();
    if (this.live || (this.view && m.t < this.view.t1 && end > this.view.t0)) this.dirty();
  }

  // After a reset (a long hidden tab), history may end before the live ring starts: refetch.
  checkGap() {
    for (const s of this.series) {
      const histEnd = s.hist.length ? s.hist.lastTime + s.histStep : -Infinity;
      if (s.live?.length && s.live.firstTime - histEnd > 2 * Math.max(s.histStep, this.stream.step)) {
        return this.load();
      }
    }
  }

  onEvent(e) {
    this.events.push({ id: e.id, when: e.when, what: String(e.what ?? ''), tags: e.tags ?? [], data: e.data ?? '' });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.dirty();
  }

  header() {
    this.liveEl.textContent = this.live ? (this.mode === 'poll' ? 'LIVE · polling' : 'LIVE') : 'Live';
    this.liveEl.classList.toggle('on', this.live);
    this.liveEl.title = this.live ? 'Streaming; click to pause' : 'Return to live (or double-click the graph)';
    const r = this.series.map((s) => rollup(s.meta)).find(Boolean);
    this.rollupEl.hidden = !r;
    if (r) {
      this.rollupEl.textContent = `${r.interval}s tier · ${r.merged}× ${r.consolidation}`;
      this.rollupEl.title = `Not raw: tier ${r.tier} (${r.interval}s buckets) read, ${r.merged} points merged per point by ${r.consolidation}; view ${r.view}`;
    }
    this.errorEl.textContent = this.error;
    this.errorEl.hidden = !this.error;
  }
}

Object.assign(Panel.prototype, {
  /** Sets the time range (graphite formats); until other than `now` leaves live. */
  setRange({ from, until }) {
    this.from = String(from);
    this.until = String(until ?? 'now');
    this.view = null;
    if (isNow(this.until)) this.home = this.from;
    else this.live = false;
    this.header();
    this.load();
  },

  setTargets(targets) {
    this.targets = [...targets];
    this.series = [];
    this.legendRows = null;
    if (this.unsub) {
      this.unsubscribe();
      this.subscribe();
    }
    this.titleEl.textContent = this.opts.title || this.targets.join(', ');
    this.load();
  },

  setLive(on) {
    this.goLive(on, false);
  },

  /** The same graph on /render, for embedding. */
  links() {
    const { from, until } = this.fetchRange();
    const extra = { width: Math.round(this.cssW || 800), height: this.opts.height };
    if (this.opts.title) extra.title = this.opts.title;
    const url = (format) => `${this.opts.base}/render?${renderQuery(this.targets, { from, until, format, extra })}`;
    return { png: url('png'), svg: url('svg') };
  },

  destroy() {
    this.unsubscribe();
    clearInterval(this.poll);
    this.ac?.abort();
    this.scheduler.remove(this);
    this.ro.disconnect();
    this.el.remove();
  },
});

Object.assign(Panel.prototype, { draw: drawPanel, listen, goLive });
