// The client of /stream (README, "Live stream"): one EventSource per tab carries the union
// of every panel's targets. Subscribing or unsubscribing reopens that one connection (once
// per task, however many panels change), continuing from the last id; a hidden tab closes
// it and a visible one resumes with backfill. When /stream is not there (404, or it never
// says hello) the stream goes to 'poll' mode and panels poll /render; it tries again later.

export class Stream {
  constructor({ base = '', EventSource = globalThis.EventSource, doc = globalThis.document, retryMs = 60000 } = {}) {
    this.base = base;
    this.ES = EventSource;
    this.doc = doc;
    this.retryMs = retryMs;
    this.subs = new Set();
    this.targets = []; // the union, in first-subscribed order
    this.es = null;
    this.lastId = '';
    this.step = 0;
    this.series = new Map(); // connection's series id → info
    this.mode = EventSource ? 'connecting' : 'poll';
    this.pending = false;
    this.retry = null;
    this.onvisibility = () => (this.doc.hidden ? this.close() : this.reopen());
    doc?.addEventListener?.('visibilitychange', this.onvisibility);
  }

  /**
   * Watches `targets`. `handlers`: { mode(m), hello(h), series(list), data(msg), reset(msg),
   * event(e), error(e) }; series and data carry `target` as an index into `targets`.
   * Returns the unsubscribe function.
   */
  subscribe(targets, handlers) {
    const sub = { targets: [...targets], handlers };
    this.subs.add(sub);
    queueMicrotask(() => handlers.mode?.(this.mode));
    this.schedule();
    return () => {
      if (this.subs.delete(sub)) this.schedule();
    };
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      const union = [...new Set([...this.subs].flatMap((s) => s.targets))];
      if (union.join('\n') === this.targets.join('\n') && (this.es || this.mode === 'poll')) return;
      this.targets = union;
      this.reopen();
    }, 0);
  }

  /** The URL of the connection for the current union. */
  url() {
    const q = new URLSearchParams();
    for (const t of this.targets) q.append('target', t);
    if (this.lastId) q.set('last_event_id', this.lastId);
    return `${this.base}/stream?${q}`;
  }

  close() {
    this.es?.close();
    this.es = null;
  }

  reopen() {
    this.close();
    clearTimeout(this.retry);
    if (!this.ES || !this.targets.length || this.doc?.hidden || this.mode === 'poll') return;
    const es = new this.ES(this.url());
    this.es = es;
    let hello = false;
    const on = (name, fn) =>
      es.addEventListener(name, (e) => {
        if (this.es !== es) return;
        if (e.lastEventId) this.lastId = e.lastEventId;
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        fn(data);
      });
    on('hello', (h) => {
      hello = true;
      this.step = h.step;
      this.series.clear();
      this.setMode('stream');
      this.emit('hello', () => h);
    });
    on('series', (m) => this.onSeries(m.series ?? []));
    on('data', (m) => this.onData('data', m));
    on('reset', (m) => this.onData('reset', m));
    on('event', (ev) => this.emit('event', () => ev));
    es.addEventListener('error', (e) => {
      if (this.es !== es) return;
      if (e.data !== undefined) return this.onTargetError(e);
      if (es.readyState !== 2) return; // CONNECTING: the browser retries with Last-Event-ID
      this.close();
      if (!hello) return this.fallback();
      this.retry = setTimeout(() => this.reopen(), 2000);
    });
  }

  /** /stream is missing or refused: panels poll; try the stream again after retryMs. */
  fallback() {
    this.setMode('poll');
    this.retry = setTimeout(() => {
      this.mode = 'connecting';
      this.reopen();
    }, this.retryMs);
  }

  setMode(m) {
    if (this.mode === m) return;
    this.mode = m;
    this.emit('mode', () => m);
  }

  // Calls handler `name` of every subscriber with make(sub) (skipped when it gives null).
  emit(name, make) {
    for (const sub of this.subs) {
      const fn = sub.handlers[name];
      if (!fn) continue;
      const arg = make(sub);
      if (arg !== null) fn(arg);
    }
  }

  // The subscriber's own index of a union target index, or -1.
  local(sub, target) {
    return sub.targets.indexOf(this.targets[target]);
  }

  onSeries(list) {
    for (const s of list) this.series.set(s.id, s);
    this.emit('series', (sub) => {
      const mine = list
        .map((s) => ({ ...s, target: this.local(sub, s.target) }))
        .filter((s) => s.target >= 0);
      return mine.length ? mine : null;
    });
  }

  // data/reset → per subscriber { t, n, step, series: [[info, values]…] } of its series.
  onData(kind, m) {
    const entries = [];
    for (const id of Object.keys(m.v ?? {})) {
      const info = this.series.get(Number(id));
      if (info) entries.push([info, m.v[id]]);
    }
    this.emit(kind, (sub) => {
      const series = [];
      for (const [info, values] of entries) {
        const target = this.local(sub, info.target);
        if (target >= 0) series.push([{ ...info, target }, values.map((v) => v ?? NaN)]);
      }
      return series.length || kind === 'reset' ? { t: m.t, n: m.n, step: this.step, series } : null;
    });
  }

  onTargetError(e) {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    this.emit('error', (sub) => {
      const target = this.local(sub, m.target);
      return target >= 0 ? { target, message: m.message } : null;
    });
  }

  destroy() {
    this.subs.clear();
    this.close();
    clearTimeout(this.retry);
    this.doc?.removeEventListener?.('visibilitychange', this.onvisibility);
  }
}
