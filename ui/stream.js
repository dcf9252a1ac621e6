// The client of /stream (README, "Live stream"): one EventSource per tab carries the union
// of every panel's targets. (Un)subscribing reopens it once per task, however many panels
// change, continuing from the last id; a hidden tab closes it and a visible one resumes
// with backfill. Without /stream (404, or closed before `hello`) the mode is 'poll': panels
// poll /render, and the stream is tried again after retryMs.

export class Stream {
  constructor({ base = '', EventSource = globalThis.EventSource, doc = globalThis.document, retryMs = 60000 } = {}) {
    Object.assign(this, { base, ES: EventSource, doc, retryMs });
    this.subs = new Set();
    // the union, in first-subscribed order
    this.targets = [];
    this.es = null;
    this.lastId = '';
    this.step = 0;
    // this connection's series id → info
    this.series = new Map();
    this.mode = EventSource ? 'connecting' : 'poll';
    this.onvis = () => (doc.hidden ? this.close() : this.reopen());
    doc?.addEventListener('visibilitychange', this.onvis);
  }

  /**
   * Watches `targets`; handlers { mode(m), series(list), data(msg), reset(msg), event(e),
   * error(e) } get `target` as an index into `targets`. Returns unsubscribe.
   */
  subscribe(targets, handlers) {
    // `infos`: this connection's series as this subscriber sees them (its target index), by id.
    const sub = { targets: [...targets], handlers, infos: new Map() };
    this.subs.add(sub);
    queueMicrotask(() => handlers.mode?.(this.mode));
    this.schedule();
    return () => this.subs.delete(sub) && this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      const union = [...new Set([...this.subs].flatMap((s) => s.targets))];
      if (`${union}` === `${this.targets}` && (this.es || this.mode === 'poll')) return;
      this.targets = union;
      for (const sub of this.subs) sub.infos.clear();
      this.reopen();
    });
  }

  url() {
    const q = new URLSearchParams(this.targets.map((t) => ['target', t]));
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
    const es = (this.es = new this.ES(this.url()));
    let hello = false;
    const on = (name, fn) =>
      es.addEventListener(name, (e) => {
        if (this.es !== es || e.data === undefined) return;
        if (e.lastEventId) this.lastId = e.lastEventId;
        try {
          fn(JSON.parse(e.data));
        } catch {
          // a message that is not JSON is skipped
        }
      });
    on('hello', (h) => {
      hello = true;
      this.step = h.step;
      this.series.clear();
      for (const sub of this.subs) sub.infos.clear();
      this.setMode('stream');
    });
    on('series', (m) => this.onSeries(m.series ?? []));
    on('data', (m) => this.onData('data', m));
    on('reset', (m) => this.onData('reset', m));
    on('event', (ev) => this.emit('event', () => ev));
    // `error` is both the server's message (with data) and the connection's (without)
    on('error', (m) => this.emit('error', (sub) => this.mine(sub, m.target, () => ({ target: this.local(sub, m.target), message: m.message }))));
    es.addEventListener('error', (e) => {
      // 0: the browser retries
      if (this.es !== es || e.data !== undefined || es.readyState !== 2) return;
      this.close();
      if (!hello) return this.fallback();
      this.retry = setTimeout(() => this.reopen(), 2000);
    });
  }

  fallback() {
    this.setMode('poll');
    this.retry = setTimeout(() => {
      this.mode = 'connecting';
      this.reopen();
    }, this.retryMs);
  }

  setMode(m) {
    if (this.mode !== m) {
      this.mode = m;
      this.emit('mode', () => m);
    }
  }

  // Calls handler `name` of every subscriber with make(sub), unless that gives null.
  emit(name, make) {
    for (const sub of this.subs) {
      const arg = sub.handlers[name] && make(sub);
      if (arg != null) sub.handlers[name](arg);
    }
  }

  local(sub, target) {
    return sub.targets.indexOf(this.targets[target]);
  }

  mine(sub, target, make) {
    return this.local(sub, target) >= 0 ? make() : null;
  }

  // Series `id` as `sub` sees it (`target` an index into its targets), or null when not its;
  // made once per series and subscriber, not per message.
  infoFor(sub, id) {
    let info = sub.infos.get(id);
    if (info === undefined) {
      const s = this.series.get(id);
      const target = s ? this.local(sub, s.target) : -1;
      info = target >= 0 ? { ...s, target } : null;
      sub.infos.set(id, info);
    }
    return info;
  }

  onSeries(list) {
    for (const s of list) this.series.set(s.id, s);
    for (const sub of this.subs) for (const s of list) sub.infos.delete(s.id);
    this.emit('series', (sub) => {
      const mine = list.map((s) => this.infoFor(sub, s.id)).filter((s) => s);
      return mine.length ? mine : null;
    });
  }

  // data/reset → per subscriber { t, n, step, series: [[info, values]…] } of its series.
  // The values are converted once (null → NaN) and shared: subscribers only read them.
  onData(kind, m) {
    const entries = unpack(m)
      .filter(([id]) => this.series.has(id))
      .map(([id, values]) => [id, values.map((v) => v ?? NaN)]);
    this.emit(kind, (sub) => {
      const series = [];
      for (const [id, values] of entries) {
        const info = this.infoFor(sub, id);
        if (info) series.push([info, values]);
      }
      return series.length || kind === 'reset' ? { t: m.t, n: m.n, step: this.step, series } : null;
    });
  }

  destroy() {
    this.subs.clear();
    this.close();
    clearTimeout(this.retry);
    this.doc?.removeEventListener('visibilitychange', this.onvis);
  }
}

/**
 * The series of a data/reset message as [[id, values]…]: `s` gives the ids present as runs,
 * alternately how many ids to skip and how many follow (from id 0); `v` holds `n` values of
 * each, series after series (README, "Live stream").
 */
export function unpack({ n = 0, s = [], v = [] }) {
  const out = [];
  for (let i = 0, id = 0; i + 1 < s.length; i += 2) {
    id += s[i];
    for (let k = 0; k < s[i + 1]; k++, id++) out.push([id, v.slice(out.length * n, (out.length + 1) * n)]);
  }
  return out;
}
