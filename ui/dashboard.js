// Dashboards from files (`/api/dashboards`): the list, and one dashboard drawn as a grid of
// panels on one time range (the URL's, else the file's).

import * as api from './api.js';
import { h, clear } from './dom.js';
import { panelGrid } from './panels.js';
import { formatHash } from './url.js';

/** `#/dashboards`: every dashboard file the server loaded. */
export async function showList(main) {
  const list = await api.dashboards();
  clear(main).append(h('h1', {}, 'Dashboards'),
    list.length ? h('ul.dashboards', {}, ...list.map((d) => h('li', {},
      h('a', { href: formatHash({ route: 'dashboard', name: d.name }) }, d.title),
      d.description ? h('span.note', {}, ` — ${d.description}`) : null)))
      : h('p.note', {}, 'No dashboards: put YAML files in /etc/tally/dashboards.d/ (see the README) and reload.'));
  return { destroy() {}, toDashboard: null };
}

/** `#/dashboard/<name>`. */
export async function show(main, nav) {
  const d = await api.dashboard(nav.state.name);
  const range = nav.range({ from: d.from, until: d.until, live: d.live });
  // h() leaves out a null child; append() would show it as the text "null".
  clear(main).append(h('h1', {}, d.title));
  if (d.description) main.append(h('p.note', {}, d.description));
  nav.rangeBar(main, range);
  const grid = panelGrid(main, d.panels, range, (r) => nav.go(r, { replace: true, quiet: true }));
  return {
    destroy: () => grid.destroy(),
    toDashboard: () => ({ title: d.title, description: d.description, ...range,
      panels: d.panels.map((p) => ({ title: p.title, targets: p.targets, height: p.height, live: range.live && p.live })) }),
  };
}
