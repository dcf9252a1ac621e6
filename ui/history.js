// Stored history from the Graphite API: /render (json, meta=true, one point per pixel) and
// /events/get_data. The parse and URL functions are pure; fetchers take `fetch` as an argument.

// graphite's unit prefixes (s, sec, seconds, min, minutes, h, d, w, mon, y…), seconds
const UNITS = [['s', 1], ['min', 60], ['h', 3600], ['d', 86400], ['w', 604800], ['mon', 2592000], ['y', 31536000]];

/**
 * A graphite time (`now`, `-1h`, `now-30min`, Unix seconds, `YYYYMMDD`, `HH:MM_YYYYMMDD`)
 * as Unix ms, wall-clock forms in UTC. NaN for forms only the server reads (`midnight`,
 * `monday`…): the panel then takes the range the server answered.
 */
export function parseTime(s, now) {
  s = String(s ?? 'now').trim().toLowerCase();
  if (s === '' || s === 'now') return now;
  let m = /^(now)?([+-])(\d+)([a-z]+)$/.exec(s);
  const unit = m && UNITS.find(([u]) => m[4].startsWith(u));
  if (unit) return now + (m[2] === '-' ? -1000 : 1000) * m[3] * unit[1];
  if (/^\d{9,11}(\.\d+)?$/.test(s)) return s * 1000;
  m = /^(?:(\d\d):(\d\d)_)?(\d{4})(\d\d)(\d\d)$/.exec(s);
  return m ? Date.UTC(m[3], m[4] - 1, m[5], m[1] ?? 0, m[2] ?? 0) : NaN;
}

/** Query string of a /render request. */
export function renderQuery(targets, { from, until, width, format = 'json', extra = {} }) {
  const q = new URLSearchParams(targets.map((t) => ['target', t]));
  const json = format === 'json' ? { meta: true, maxDataPoints: Math.max(1, Math.round(width)) } : {};
  for (const [k, v] of Object.entries({ from, until, format, ...json, ...extra })) q.set(k, v);
  return `${q}`;
}

/** A `/render` json answer (meta=true or not): times (ms, slot starts), values (NaN: null). */
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
  const consolidation = (l['consolidator-rc'] || l['consolidator-normfetch'] || '').replace(/Consolidator$/, '').toLowerCase();
  return { tier, merged, interval: l['archive-interval'], consolidation, view: l.view };
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

/** The i-th min and max series are the i-th series' band (same targets, same order). */
export function attachBands(series, bands) {
  const n = series.length;
  if (bands.length !== 2 * n) return;
  series.forEach((s, i) => {
    const [lo, hi] = [bands[i], bands[n + i]];
    if (wantsBand(s) && lo.times.length === s.times.length && hi.times.length === s.times.length) {
      [s.mins, s.maxs] = [lo.values, hi.values];
    }
  });
}

/** GETs JSON; a failed answer throws an Error with the server's reason and `status`. */
async function get(url, { signal, fetch = globalThis.fetch }) {
  const res = await fetch(url, { signal });
  if (res.ok) return res.json();
  const err = new Error((await res.text().catch(() => '')).trim().slice(0, 500) || `HTTP ${res.status}`);
  err.status = res.status;
  throw err;
}

/**
 * History for `targets` over [from, until] at `width` points per series, in request order,
 * then their bands (a second request) when the lineage says points were merged.
 */
export async function fetchHistory(targets, { from, until, width, base = '', ...opts }) {
  const url = (ts) => `${base}/render?${renderQuery(ts, { from, until, width })}`;
  const series = parseRender(await get(url(targets), opts));
  const bt = bandTargets(targets, series);
  if (bt) attachBands(series, parseRender(await get(url(bt), opts).catch(() => [])));
  return series;
}

/** Events in [from, until] (graphite's /events/get_data), `when` in ms. */
export async function fetchEvents({ from, until, tags = '', base = '', ...opts }) {
  const q = new URLSearchParams({ from, until, ...(tags ? { tags } : {}) });
  return parseEvents(await get(`${base}/events/get_data?${q}`, opts));
}

export const parseEvents = (list) =>
  (Array.isArray(list) ? list : []).map((e) => ({ id: e.id, when: e.when * 1000, what: String(e.what ?? ''), tags: e.tags ?? [], data: e.data ?? '' }));
