// Explore: the metric tree on the left; on the right the targets (each in a target editor with
// a view dropdown for its series' kind), the time range and one panel drawing them. Every
// choice goes into the URL (targets, range, live, the open tree node).

import * as api from './api.js';
import { h, clear } from './dom.js';
import { makePanel, rangeValue } from './panels.js';
import { tree } from './tree.js';
import { targetEditor } from './editor.js';
import { splitView, withView, viewSelect } from './views.js';

/** The kind of the series a target names, when it is a path (a glob: its first match). */
async function kindOf(target) {
  const [path] = splitView(target);
  if (/[(),'"]/.test(path)) return null;
  const r = await api.series(path).catch(() => ({ series: [] }));
  return r.series[0]?.kind ?? null;
}

/** `#/explore`. */
export async function show(main, nav) {
  const range = nav.range();
  const targets = [...nav.state.params.target];
  const setTargets = (list) => nav.go({ target: list });
  clear(main);
  const side = main.appendChild(h('aside.side'));
  const body = main.appendChild(h('div.explore'));
  side.append(h('h2', {}, 'Metrics'));
  tree(side, {
    open: nav.state.params.node || '',
    onpick: (path) => setTargets([...targets, path]),
    onopen: (path) => nav.go({ node: path }, { replace: true, quiet: true }),
  });
  body.append(h('h1', {}, 'Explore'));
  nav.rangeBar(body, range);
  const rows = body.appendChild(h('div.targets'));
  targets.forEach((t, i) => {
    const row = rows.appendChild(h('div.target-row', { dataset: { index: i } }));
    const replace = (v) => setTargets(targets.map((x, j) => (j === i ? v : x)));
    row.append(targetEditor(t, replace));
    kindOf(t).then((kind) => {
      if (kind) row.insertBefore(viewSelect(t, kind, (v) => replace(withView(t, v, kind))), row.children[1] || null);
    });
    row.append(h('button.remove', { type: 'button', title: 'remove', onclick: () => setTargets(targets.filter((_, j) => j !== i)) }, '×'));
  });
  rows.append(h('div.target-row.new', {}, targetEditor('', (v) => setTargets([...targets, v]), { placeholder: 'add a target…' })));
  let made = null;
  if (targets.length) {
    made = makePanel(body, { title: targets.join(', '), targets, height: 360, ...range }, (state) => {
      nav.go({ from: rangeValue(state.from), until: rangeValue(state.until), live: !!state.live }, { replace: true, quiet: true });
    });
  } else body.append(h('p.note', {}, 'Pick a series in the tree or type a target.'));
  return {
    destroy: () => made && made.destroy(),
    toDashboard: () => ({ title: 'Explore', ...range, panels: targets.length ? [{ title: targets.join(', '), targets, height: 360 }] : [] }),
  };
}
