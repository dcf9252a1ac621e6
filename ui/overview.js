// The overview: a dashboard of the host built from what it has, with no configuration. The
// server says which prefix belongs to which input (`/api/inputs`); the series and their
// kinds come from `/api/series` and `/metrics/find`.

import * as api from './api.js';
import { h, clear } from './dom.js';
import { panelGrid } from './panels.js';
import { children } from './tree.js';

const MAX_TARGETS = 8;
const MAX_PANELS = 12;

// Children of a node: computed from /api/series's list, or asked of /metrics/find when that
// list was truncated (sections() decides).
let find = api.find;

/** Panels for a subtree: one per child node (leaves alone → one panel), `branch.*` each. */
async function panelsUnder(prefix, title) {
  const nodes = await find(`${prefix}.*`);
  const leaves = nodes.filter((n) => n.leaf);
  const branches = nodes.filter((n) => n.expandable);
  const out = [];
  if (leaves.length) out.push({ title, targets: [`${prefix}.*`] });
  // `total` first (cpu), then the others.
  branches.sort((a, b) => (b.text === 'total') - (a.text === 'total') || a.text.localeCompare(b.text));
  for (const b of branches.slice(0, 4)) out.push({ title: `${title}: ${b.text}`, targets: [`${b.id}.*`] });
  return out;
}

async function systemSection(sys) {
  const nodes = await find(`${sys.prefix}.*`);
  const per = await Promise.all(nodes.filter((x) => x.expandable).map((n) => panelsUnder(n.id, n.text)));
  return { title: `System (${sys.prefix})`, panels: per.flat() };
}

async function prefixSection(title, prefix) {
  const nodes = await find(`${prefix}.*`);
  const panels = [];
  const leaves = nodes.filter((n) => n.leaf).map((n) => n.id);
  if (leaves.length) panels.push({ title, targets: leaves.slice(0, MAX_TARGETS) });
  for (const n of nodes.filter((x) => x.expandable).slice(0, MAX_PANELS)) panels.push({ title: n.text, targets: [`${n.id}.*`] });
  return { title, panels };
}

/** Series claimed by no input prefix: StatsD keys by kind, carbon paths by top node. */
function otherSections(all, claimed, inputs) {
  const free = all.filter((s) => !claimed.some((p) => s.path === p || s.path.startsWith(p + '.')));
  const sections = [];
  const carbonKind = inputs.carbon?.kind;
  if (inputs.statsd) {
    const panels = [];
    for (const kind of ['counter', 'timer', 'gauge', 'set']) {
      if (kind === carbonKind && inputs.carbon) continue;
      const keys = free.filter((s) => s.kind === kind).map((s) => s.path);
      if (keys.length) panels.push({ title: `${kind}s (${keys.length})`, targets: keys.slice(0, MAX_TARGETS) });
    }
    if (panels.length) sections.push({ title: 'StatsD', panels });
  }
  if (inputs.carbon) {
    const byTop = new Map();
    for (const s of free.filter((x) => !inputs.statsd || x.kind === carbonKind)) {
      const top = s.path.split('.')[0].split(';')[0];
      byTop.set(top, [...(byTop.get(top) || []), s.path]);
    }
    const panels = [...byTop].slice(0, MAX_PANELS).map(([top, paths]) => ({ title: `${top} (${paths.length})`, targets: paths.slice(0, MAX_TARGETS) }));
    if (panels.length) sections.push({ title: inputs.statsd ? 'Carbon (and StatsD gauges)' : 'Carbon', panels });
  }
  return sections;
}

/** Every section of the overview: [{title, panels: [{title, targets}]}]. */
export async function sections() {
  const [inputs, listed] = await Promise.all([api.inputs(), api.series()]);
  const all = listed.series;
  const paths = all.map((s) => s.path);
  find = listed.truncated ? api.find : async (q) => children(paths, q.slice(0, -2));
  // Every section's requests at once: the page waits for the slowest, not for their sum.
  const claimed = [inputs.self.prefix];
  const pending = [];
  if (inputs.system) { pending.push(systemSection(inputs.system)); claimed.push(inputs.system.prefix); }
  for (const t of inputs.tail.filter((x) => x.prefix)) {
    pending.push(prefixSection(`Logs: ${t.parsers.join(', ')} (${t.paths.join(', ')})`, t.prefix));
    claimed.push(t.prefix);
  }
  const own = prefixSection('tally itself', inputs.self.prefix);
  const out = [...await Promise.all(pending), ...otherSections(all, claimed, inputs), await own];
  return out.filter((s) => s.panels.length);
}

/** `#/` and `#/overview`. */
export async function show(main, nav) {
  const range = nav.range();
  const events = api.events(range.from, range.until).catch(() => []);
  const list = await sections();
  clear(main).append(h('h1', {}, 'This host'));
  nav.rangeBar(main, range);
  const grids = [];
  for (const s of list) {
    main.append(h('h2.section', {}, s.title));
    const grid = panelGrid(main, s.panels, range, (r) => {
      for (const g of grids) if (g !== grid) for (const p of g.panels) p.follow(r);
      nav.go(r, { replace: true, quiet: true });
    });
    grids.push(grid);
  }
  if (!list.length) main.append(h('p.note', {}, 'No series yet: enable inputs in tally.yaml.'));
  let alive = true;
  events.then((list) => alive && list.length && main.append(h('h2.section', {}, 'Events'), h('ul.events', {},
    ...list.slice(-50).reverse().map((e) => h('li', {}, h('time', {}, new Date(e.when * 1000).toISOString().slice(0, 19).replace('T', ' ')), ` ${e.what} `, h('span.note', {}, (e.tags || []).join(' ')))))));
  return {
    destroy: () => { alive = false; grids.forEach((g) => g.destroy()); },
    toDashboard: () => ({ title: 'This host', ...range, panels: grids.flatMap((g) => g.defs()) }),
  };
}
