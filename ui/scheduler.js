// One requestAnimationFrame loop for every panel of the page. Data only marks a panel
// dirty; a frame draws the dirty panels that are on screen in a visible tab, each at most
// once, none more often than its own minInterval() (ms per pixel of its x scale), and stops
// within a time budget (the rest are drawn next frame, round robin). When frames come late
// the loop draws on every 2nd, 4th, 8th frame (data merges into the rings meanwhile) and
// steps back after a run of frames on time. Nothing runs while nothing is dirty.

const LEVELS = 3; // at most every 8th frame
const RECOVER = 30; // frames on time before stepping back one level

export class Scheduler {
  /** @param {{win?: any, budgetMs?: number}} opts */
  constructor({ win = globalThis, budgetMs = 8 } = {}) {
    this.win = win;
    this.budgetMs = budgetMs;
    this.entries = new Map(); // panel → { visible, dirty, urgent, last }
    this.order = []; // round robin
    this.next = 0;
    this.raf = 0;
    this.timer = 0;
    this.prev = 0; // time of the previous frame when the loop ran on
    this.asked = 0; // when the pending frame was asked for
    this.frameMs = 1000 / 60;
    this.level = 0;
    this.onTime = 0;
    this.frame = 0;
    this.stats = { frames: 0, draws: 0, skipped: 0, late: 0 };
    this.tick = (ts) => this.onFrame(ts);
    const IO = win.IntersectionObserver;
    this.io = IO ? new IO((list) => this.onIntersect(list)) : null;
    this.doc = win.document;
    this.onvis = () => this.request();
    this.doc?.addEventListener?.('visibilitychange', this.onvis);
  }

  /** Registers a panel: { el, draw(ts), minInterval() }. */
  add(panel) {
    if (this.entries.has(panel)) return;
    this.entries.set(panel, { visible: !this.io, dirty: true, urgent: true, last: -Infinity });
    this.order.push(panel);
    this.io?.observe(panel.el);
    this.request();
  }

  remove(panel) {
    if (!this.entries.delete(panel)) return;
    this.order.splice(this.order.indexOf(panel), 1);
    this.io?.unobserve(panel.el);
  }

  /** Marks a panel for drawing; `urgent` (user input) skips its minimum interval. */
  dirty(panel, urgent = false) {
    const e = this.entries.get(panel);
    if (!e) return;
    e.dirty = true;
    e.urgent ||= urgent;
    this.request();
  }

  onIntersect(list) {
    for (const it of list) {
      for (const [panel, e] of this.entries) {
        if (panel.el === it.target) e.visible = it.isIntersecting;
      }
    }
    this.request();
  }

  request() {
    if (this.raf || this.doc?.hidden) return;
    this.win.clearTimeout(this.timer);
    this.timer = 0;
    this.asked = this.win.performance.now();
    this.raf = this.win.requestAnimationFrame(this.tick);
  }

  onFrame(ts) {
    this.raf = 0;
    this.stats.frames++;
    this.pace(ts);
    if (this.frame++ % (1 << this.level)) {
      this.stats.skipped++;
      this.prev = ts;
      this.raf = this.win.requestAnimationFrame(this.tick);
      return;
    }
    const t0 = this.win.performance.now();
    let wait = Infinity;
    let more = false;
    const n = this.order.length;
    for (let k = 0; k < n; k++) {
      const panel = this.order[(this.next + k) % n];
      const e = this.entries.get(panel);
      if (!e.dirty || !e.visible) continue;
      const due = e.urgent ? 0 : e.last + panel.minInterval() - ts;
      if (due > 0) {
        wait = Math.min(wait, due);
        continue;
      }
      if (this.win.performance.now() - t0 > this.budgetMs) {
        more = true;
        this.next = (this.next + k) % n;
        break;
      }
      e.dirty = e.urgent = false;
      e.last = ts;
      panel.draw(ts);
      this.stats.draws++;
    }
    if (!more) this.next = 0;
    this.after(ts, more, wait);
  }

  // Frame pacing: a frame that comes over 1.5 frames after the previous one (while the loop
  // runs on), or over 2 frames after it was asked for, is late; late frames raise the
  // level, a run of frames on time lowers it.
  pace(ts) {
    const dt = ts - (this.prev || this.asked);
    if (this.prev && dt < this.frameMs) this.frameMs = Math.max(4, dt);
    if (dt > (this.prev ? 1.5 : 2) * this.frameMs + 2) {
      this.stats.late++;
      this.onTime = 0;
      if (this.level < LEVELS) this.level++;
    } else if (++this.onTime >= RECOVER && this.level > 0) {
      this.level--;
      this.onTime = 0;
    }
  }

  after(ts, more, wait) {
    if (more) {
      this.prev = ts;
      this.raf = this.win.requestAnimationFrame(this.tick);
      return;
    }
    this.prev = 0;
    if (wait < Infinity) {
      this.timer = this.win.setTimeout(() => {
        this.timer = 0;
        this.request();
      }, Math.max(0, wait - this.frameMs));
    }
  }

  destroy() {
    this.io?.disconnect();
    this.win.cancelAnimationFrame?.(this.raf);
    this.win.clearTimeout(this.timer);
    this.doc?.removeEventListener?.('visibilitychange', this.onvis);
    this.entries.clear();
    this.order = [];
  }
}
