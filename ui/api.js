// The server's API as the pages use it: graphite-web's endpoints (find, expand, functions,
// events, render) and tally's own (`/api/inputs`, `/api/series`, `/api/dashboards`). Every
// failure is an ApiError with the server's reason (and, for a bad target, its position).

export class ApiError extends Error {
  constructor(status, message, position) {
    super(message.trim());
    this.status = status;
    // 0-based character in the target, or null
    this.position = position;
  }
}

async function get(url) {
  const r = await fetch(url, { headers: { accept: 'application/json' } });
  if (!r.ok) {
    const pos = r.headers.get('tally-error-position');
    throw new ApiError(r.status, await r.text(), pos === null ? null : Number(pos));
  }
  return r.json();
}

const q = (params) => new URLSearchParams(params.filter(([, v]) => v !== undefined && v !== null)).toString();
const once = (f) => { let p; return () => (p ??= f().catch((e) => { p = undefined; throw e; })); };

/** Children of `query` (a path or glob), graphite's treejson: [{text, id, leaf, expandable}]. */
export const find = (query) => get(`/metrics/find?${q([['query', query]])}`);
export const expand = (query) => get(`/metrics/expand?${q([['query', query], ['leavesOnly', 1]])}`).then((r) => r.results);
/** `/functions`: name → {params, description, group}, fetched once a page. */
export const functions = once(() => get('/functions'));
export const inputs = once(() => get('/api/inputs'));
/** Series with their kind: [{path, kind}]; all of them without a query. */
export const series = (query) => get(`/api/series${query ? `?${q([['query', query]])}` : ''}`);
export const dashboards = () => get('/api/dashboards').then((r) => r.dashboards);
export const dashboard = (name) => get(`/api/dashboards/${encodeURIComponent(name)}`);
export const events = (from, until) => get(`/events/get_data?${q([['from', from], ['until', until]])}`);

/** `/render` as JSON with the lineage envelope (`meta=true`). */
export function render(targets, { from = '-1h', until = 'now', maxDataPoints } = {}) {
  const params = targets.map((t) => ['target', t]);
  params.push(['from', from], ['until', until], ['format', 'json'], ['meta', 'true'], ['maxDataPoints', maxDataPoints]);
  return get(`/render?${q(params)}`);
}

/** Asks the server whether `target` is valid: null, or the ApiError (with `position`). */
export async function check(target) {
  try {
    await get(`/render?${q([['target', target], ['from', '-1min'], ['format', 'json'], ['maxDataPoints', 1]])}`);
    return null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      if (e.position === null) {
        // Unknown functions carry no position: point at the name.
        const m = /unknown function: (\S+)/.exec(e.message);
        const at = m ? target.indexOf(`${m[1]}(`) : -1;
        if (at >= 0) e.position = at;
      }
      return e;
    }
    throw e;
  }
}
