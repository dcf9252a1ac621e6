// Fixed-capacity rings of (time ms, value) with optional min/max bands.
// Pure: no DOM, no clock. Appending never allocates; the oldest point is overwritten.
// NaN is a gap (a slot without data).

export class Ring {
  /** @param {number} capacity points kept; @param {{bands?: boolean}} opts */
  constructor(capacity, { bands = false } = {}) {
    if (!(capacity >= 1)) throw new RangeError(`ring capacity ${capacity}`);
    this.capacity = capacity | 0;
    this.times = new Float64Array(this.capacity);
    this.values = new Float64Array(this.capacity);
    this.mins = bands ? new Float64Array(this.capacity) : null;
    this.maxs = bands ? new Float64Array(this.capacity) : null;
    // physical index of the oldest point
    this.start = 0;
    this.length = 0;
    // changes with every write (decimate.js caches on it)
    this.version = 0;
    // earliest time whose value a write changed (reset by readers)
    this.rewritten = Infinity;
  }

  clear() {
    this.start = 0;
    this.length = 0;
    this.version++;
    this.rewritten = Infinity;
  }

  /** Physical index of logical index i (0 = oldest). */
  index(i) {
    const j = this.start + i;
    return j >= this.capacity ? j - this.capacity : j;
  }

  time(i) {
    return this.times[this.index(i)];
  }

  value(i) {
    return this.values[this.index(i)];
  }

  get firstTime() {
    return this.length ? this.times[this.start] : NaN;
  }

  get lastTime() {
    return this.length ? this.time(this.length - 1) : NaN;
  }

  /**
   * Appends a point. A time equal to the newest replaces it (a slot updated again);
   * an older time is dropped and false returned (rings only grow forward).
   */
  push(t, v, min = v, max = v) {
    let j;
    this.version++;
    if (this.length && t <= this.lastTime) {
      if (t < this.lastTime) return false;
      j = this.index(this.length - 1);
      if (this.values[j] !== v) this.rewritten = Math.min(this.rewritten, t);
    } else if (this.length < this.capacity) {
      j = this.index(this.length++);
    } else {
      j = this.start;
      this.start = j + 1 === this.capacity ? 0 : j + 1;
    }
    this.times[j] = t;
    this.values[j] = v;
    if (this.mins) {
      this.mins[j] = min;
      this.maxs[j] = max;
    }
    return true;
  }

  /**
   * Writes a point: appended when newer than the last, or replacing the value of a slot already
   * held (the stream re-sends a slot a late observation changed); false if there is none.
   */
  set(t, v) {
    if (!this.length || t >= this.lastTime) return this.push(t, v);
    const i = this.lowerBound(t);
    if (i === this.length || this.time(i) !== t) return false;
    if (this.values[this.index(i)] !== v) this.rewritten = Math.min(this.rewritten, t);
    this.values[this.index(i)] = v;
    this.version++;
    return true;
  }

  /** Logical index of the first point with time >= t (length if none). */
  lowerBound(t) {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[this.index(mid)] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Logical index of the point nearest to t (-1 when empty). */
  nearest(t) {
    if (!this.length) return -1;
    const k = this.lowerBound(t);
    if (k === 0) return 0;
    if (k === this.length) return k - 1;
    return t - this.time(k - 1) <= this.time(k) - t ? k - 1 : k;
  }
}
