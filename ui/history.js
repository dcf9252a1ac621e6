// Stored history from the Graphite API: /render (json, meta=true, one point per pixel) and
// /events/get_data. The parse and URL functions are pure; fetchers take `fetch` as an argument.

const UNITS = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
  mon: 2592000, month: 2592000, months: 2592000,
  y: 31536000, year: 31536000, years: 31536000,
};

/**
 * A graphite time (`now`, `-1h`, `-30min`, Unix seconds, `YYYYMMDD`, `HH:MM_YYYYMMDD`) as Unix
 * ms, reading wall-clock forms in UTC. Returns NaN for forms only the server reads (`midnight`,
 * `monday`…): the panel then takes the range the server answered.
 */
export function parseTime(s, now) {
  s = String(s ?? 'now').trim().toLowerCase();
  if (s === '' || s === 'now') return now;
  let m = /^(now)?([+-])(\d+)([a-z]+)$/.exec(s);
  if (m && UNITS[m[4]]) return now + (m[2] === '-' ? -1 : 1) * Number(m[3]) * UNITS[m[4]] * 1000;
  if (/^\d{9,11}(\.\d+)?$/.test(s)) return Number(s) * 1000;
  m = /^(?:(\d\d):(\d\d)_)?(\d{4})(\d\d)(\d\d)$/.exec(s);
  if (m) return Date.UTC(+m[3], +m[4] - 1, +m[5], +(m[1] ?? 0), +(m[2] ?? 0));
  return NaN;
}

/** Query string of a /render request. */
export function renderQuery(targets, { from, until, width, format = 'json', extra = {} }) {
  const q = new URLSearchParams();
  for (const t of targets) q.append('target', t);
  q.set('from', String(from));
  q.set('until', String(until));
  q.set('format', format);
  if (format === 'json') {
    q.set('meta', 'true');
    q.set('maxDataPoints', String(Math.max(1, Math.round(width))));
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  return q.toString();
}

/**
 * Parses a `/render?format=json&meta=true` answer into series with Float64Array times (ms,
 * slot starts) and values (NaN for null), the step (ms) and the lineage sections.
 */
export function parseRender(body) {
  const list = Array.isArray(body) ? body : body.series ?? [];
  return list.map((s) => {
    const dp = s.datapoints ?? [];
    const times = new Float64Array(dp.length);
    const values = new Float64Array(dp.length);
    for (let i = 0; i < dp.length; i++) {
      times[i] = dp[i][1] * 1000;
      values[i] = dp[i][0] ?? NaN;
    }
    const step = dp.length > 1 ? times[1] - times[0] : (s.meta?.[0]?.['archive-interval'] ?? 1) * 1000;
    return { name: s.target, tags: s.tags ?? {}, times, values, step, meta: s.meta ?? [] };
  });
}

/** Whether a series' lineage says its points are not raw (a coarser tier or points merged). */
export function rollup(meta) {
  const merged = Math.max(1, ...meta.map((l) => (l['aggnum-rc'] || 1) * (l['aggnum-norm'] || 1)));
  const tier = Math.max(0, ...meta.map((l) => l['archive-read'] || 0));
  if (!meta.length || (merged <= 1 && tier === 0)) return null;
  const l = meta[0];
  return {
    tier, merged, interval: l['archive-interval'],
    consolidation: (l['consolidator-rc'] || l['consolidator-normfetch'] || '').replace(/Consolidator$/, '').toLowerCase(),
    view: l.view,
  };
}

/**
 * The targets of a band request, or null when no band would mean anything. A band is the
 * bucket min and max of the points a pixel merges: `consolidateBy(T,'min'|'max')` reads
 * those bucket fields at the tier read (exact at any zoom; one more request for all series).
 * Only the avg view (gauges, timers) has bands in its own units; a sum or rate, a
 * percentile or a min/max view has none. Order: every min, then every max.
 */
export function bandTargets(targets, series) {
  if (!series.some(wantsBand)) return null;
  return ['min', 'max'].flatMap((f) => targets.map((t) => `consolidateBy(${t},'${f}')`));
}

const wantsBand = (s) =>
  s.meta.length > 0 && s.meta.every((l) => l.view === 'avg') && rollup(s.meta)?.merged > 1;

/**
 * Gives each series its band: targets expand to the same series in the same order in both
 * requests, so the i-th min and i-th max series belong to the i-th series. A series whose
 * band does not line up (a glob that changed in between) gets none.
 */
export function attachBands(series, bands) {
  const n = series.length;
  if (bands.length !== 2 * n) return;
  for (let i = 0; i < n; i++) {
    const s = series[i];
    const lo = bands[i];
    const hi = bands[n + i];
    if (wantsBand(s) && lo.times.length === s.times.length && hi.times.length === s.times.length) {
      s.mins = lo.values;
      s.maxs = hi.values;
    }
  }
}

/** Reads a failed answer's text (the server's reason) into an Error. */
async function failure(res) {
  const text = (await res.text().catch(() => '')).trim().slice(0, 500);
  const err = new Error(text || `HTTP ${res.status}`);
  err.status = res.status;
  return err;
}

/**
 * Fetches history for `targets` over [from, until] at `width` points, then the bands when
 * the lineage says points were merged. Series come back in request order; `bands` pairs
 * each series with its min/max arrays when the band answer has the same shape.
 */
export async function fetchHistory(targets, { from, until, width, signal, fetch = globalThis.fetch, base = '' }) {
  const res = await fetch(`${base}/render?${renderQuery(targets, { from, until, width })}`, { signal });
  if (!res.ok) throw await failure(res);
  const series = parseRender(await res.json());
  const bt = bandTargets(targets, series);
  if (bt) {
    const b = await fetch(`${base}/render?${renderQuery(bt, { from, until, width })}`, { signal });
    if (b.ok) attachBands(series, parseRender(await b.json()));
  }
  return series;
}

/** Events in [from, until] (graphite's /events/get_data) with `when` in ms. */
export async function fetchEvents({ from, until, tags = '', signal, fetch = globalThis.fetch, base = '' }) {
  const q = new URLSearchParams({ from: String(from), until: String(until) });
  if (tags) q.set('tags', tags);
  const res = await fetch(`${base}/events/get_data?${q}`, { signal });
  if (!res.ok) throw await failure(res);
  return parseEvents(await res.json());
}

export function parseEvents(list) {
  return (Array.isArray(list) ? list : []).map((e) => ({
    id: e.id, when: e.when * 1000, what: String(e.what ?? ''), tags: e.tags ?? [], data: e.data ?? '',
  }));
}
