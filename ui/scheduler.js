// One requestAnimationFrame loop for every panel of a page. Data only marks a panel dirty;
// a frame draws the dirty panels on screen in a visible tab, each at most once and none
// more often than its minInterval() (ms per pixel of its moving x scale), within a time
// budget (the rest next frame, round robin). When frames come late it draws on every 2nd,
// 4th, 8th frame (data merges in the rings meanwhile) and steps back after a run of frames
// on time. Nothing runs while nothing is dirty.

// at most every 8th frame
const LEVELS = 3;
// frames on time before stepping back a level
const RECOVER = 30;
// the loop's frame intervals the frame time is the median of
const SAMPLES = 9;

export class Scheduler {
  constructor({ win = globalThis, budgetMs = 8 } = {}) {
    this.win = win;
    this.budgetMs = budgetMs;
    // { panel, visible, dirty, urgent, last }, round robin from `next`
    this.list = [];
    this.next = this.raf = this.timer = 0;
    // the previous frame's time while the loop runs on
    this.prev = 0;
    // when the pending frame was asked for
    this.asked = 0;
    this.frameMs = 1000 / 60;
    // the loop's latest frame intervals (ms)
    this.dts = [];
    this.level = this.onTime = this.frame = 0;
    this.stats = { frames: 0, draws: 0, skipped: 0, late: 0 };
    this.tick = (ts) => this.onFrame(ts);
    const IO = win.IntersectionObserver;
    this.io = IO && new IO((list) => this.onIntersect(list));
    this.doc = win.document;
    this.onvis = () => this.request();
    this.doc?.addEventListener('visibilitychange', this.onvis);
  }

  find(panel) {
    return this.list.find((e) => e.panel === panel);
  }

  /** Registers a panel: { el, draw(ts), minInterval() }. */
  add(panel) {
    if (this.find(panel)) return;
    this.list.push({ panel, visible: !this.io, dirty: true, urgent: true, last: -Infinity });
    this.io?.observe(panel.el);
    this.request();
  }

  remove(panel) {
    this.list = this.list.filter((e) => e.panel !== panel);
    this.io?.unobserve(panel.el);
  }

  /** Marks a panel for drawing; `urgent` (user input) skips its minimum interval. */
  dirty(panel, urgent = false) {
    const e = this.find(panel);
    if (!e) return;
    e.dirty = true;
    e.urgent ||= urgent;
    this.request();
  }

  onIntersect(list) {
    for (const it of list) {
      for (const e of this.list) if (e.panel.el === it.target) e.visible = it.isIntersecting;
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
      return this.again(ts);
    }
    const start = this.win.performance.now();
    const n = this.list.length;
    let wait = Infinity;
    for (let k = 0; k < n; k++) {
      const e = this.list[(this.next + k) % n];
      if (!e.dirty || !e.visible) continue;
      const due = e.urgent ? 0 : e.last + e.panel.minInterval() - ts;
      if (due > 0) {
        wait = Math.min(wait, due);
      } else if (this.win.performance.now() - start > this.budgetMs) {
        this.next = (this.next + k) % n;
        return this.again(ts);
      } else {
        e.dirty = e.urgent = false;
        e.last = ts;
        e.panel.draw(ts);
        this.stats.draws++;
      }
    }
    this.next = this.prev = 0;
    if (wait < Infinity) this.timer = this.win.setTimeout(() => this.request(), Math.max(0, wait - this.frameMs));
  }

  again(ts) {
    this.prev = ts;
    this.raf = this.win.requestAnimationFrame(this.tick);
  }

  // A frame over 1.5 frames after the previous one (while the loop runs on), or over 2
  // after it was asked for, is late: late frames raise the level, frames on time lower it.
  // The frame time is the median of the loop's latest intervals, so a frame that comes at
  // once after a long one (the browser catching up) does not make every later frame late.
  pace(ts) {
    const dt = ts - (this.prev || this.asked);
    if (this.prev) {
      this.dts.push(dt);
      if (this.dts.length > SAMPLES) this.dts.shift();
      if (this.dts.length >= 3) this.frameMs = Math.max(4, [...this.dts].sort((a, b) => a - b)[this.dts.length >> 1]);
    }
    if (dt > (this.prev ? 1.5 : 2) * this.frameMs + 2) {
      this.stats.late++;
      this.onTime = 0;
      this.level = Math.min(LEVELS, this.level + 1);
    } else if (++this.onTime >= RECOVER && this.level) {
      this.level--;
      this.onTime = 0;
    }
  }

  destroy() {
    this.io?.disconnect();
    this.win.cancelAnimationFrame(this.raf);
    this.win.clearTimeout(this.timer);
    this.doc?.removeEventListener('visibilitychange', this.onvis);
    this.list = [];
  }
}
