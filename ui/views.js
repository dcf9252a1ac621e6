// Views: the `:suffix` that chooses which number of a bucket a series shows (README,
// "Views"). Which ones make sense depends on the series' kind. Pure except viewSelect.

export const VIEWS = {
  counter: ['sumrate', 'sum', 'sum60', 'obvs', 'obvsrate', 'avg', 'min', 'max', 'last'],
  gauge: ['avg', 'min', 'max', 'last', 'obvs'],
  timer: ['avg', 'p50', 'p90', 'p99', 'p999', 'min', 'max', 'obvs', 'obvsrate', 'sum', 'sumrate', 'last'],
  set: ['distinct', 'obvs', 'obvsrate'],
};

/** The view a path without a suffix gets (as the server does). */
export function defaultView(kind) {
  return (VIEWS[kind] || VIEWS.gauge)[0];
}

/** The views valid for `kind`; an unknown kind gets the gauge's. */
export function viewsFor(kind) {
  return VIEWS[kind] || VIEWS.gauge;
}

/** Is `s` a view suffix the server understands (`p99`, `99pct`, `sum60` …)? */
export function isView(s) {
  if (/^(avg|mean|sum|sumrate|obvs|count|obvsrate|min|max|last|distinct)$/.test(s)) return true;
  if (/^sum[1-9]\d*$/.test(s)) return true;
  const m = /^p([\d.]+)$/.exec(s) || /^([\d.]+)pct$/.exec(s);
  return !!m && Number(m[1]) > 0;
}

/** `path:view` → [path, view]; [target, null] when there is no view suffix. */
export function splitView(target) {
  const i = target.lastIndexOf(':');
  if (i > 0 && isView(target.slice(i + 1))) return [target.slice(0, i), target.slice(i + 1)];
  return [target, null];
}

/** `target` with its view replaced; the kind's default view drops the suffix. */
export function withView(target, view, kind) {
  const [path] = splitView(target);
  return !view || view === defaultView(kind) ? path : `${path}:${view}`;
}

/** A <select> of the views of `kind`; `onpick(view)` on change. */
export function viewSelect(target, kind, onpick) {
  const select = document.createElement('select');
  select.className = 'view';
  select.title = `views of a ${kind || 'series'}`;
  const current = splitView(target)[1] || defaultView(kind);
  for (const v of viewsFor(kind)) {
    const o = document.createElement('option');
    o.value = o.textContent = v;
    o.selected = v === current;
    select.append(o);
  }
  select.onchange = () => onpick(select.value);
  return select;
}
