// Screen state <-> location hash, so a link reproduces the screen:
//   #/explore?target=a.b:p99&target=sumSeries(c.*)&from=-6h&until=now&live=0&node=servers.h
// Pure: no DOM.

const LISTS = new Set(['target']);

/** "#/route/name?k=v…" → { route, name, params } (params: strings; `target` an array). */
export function parseHash(hash) {
  const text = (hash || '').replace(/^#/, '');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = { target: [] };
  for (const [k, v] of new URLSearchParams(q < 0 ? '' : text.slice(q + 1))) {
    if (LISTS.has(k)) params[k].push(v);
    else params[k] = v;
  }
  return { route: parts[0] || 'overview', name: parts.slice(1).join('/'), params };
}

/** The inverse of parseHash; empty values and empty lists are left out. */
export function formatHash({ route = 'overview', name = '', params = {} }) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one !== undefined && one !== null && one !== '') search.append(k, String(one));
    }
  }
  const path = name ? `${route}/${name.split('/').map(encodeURIComponent).join('/')}` : route;
  const s = search.toString();
  return `#/${path}${s ? '?' + s : ''}`;
}

/** The time range and live state a screen shows, with the defaults filled in. */
export function rangeOf(params, defaults = { from: '-1h', until: 'now', live: true }) {
  const from = params.from || defaults.from;
  const until = params.until || defaults.until;
  const live = params.live === undefined ? defaults.live && until === 'now' : params.live === '1';
  return { from, until, live };
}
