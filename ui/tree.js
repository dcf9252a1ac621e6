// The metric tree over `/metrics/find`: branches open on click (children fetched then, never
// before), leaves are picked. `open` is a path whose ancestors start opened (from the URL).

import * as api from './api.js';
import { h } from './dom.js';

/**
 * `/metrics/find`'s answer for `prefix.*` computed from a list of series names (pure): the
 * overview asks the server only when `/api/series` was truncated.
 */
export function children(paths, prefix) {
  const nodes = new Map();
  const start = prefix ? prefix + '.' : '';
  for (const p of paths) {
    if (!p.startsWith(start) || p.includes(';')) continue;
    const rest = p.slice(start.length);
    const dot = rest.indexOf('.');
    const text = dot < 0 ? rest : rest.slice(0, dot);
    const n = nodes.get(text) || { text, id: start + text, leaf: false, expandable: false };
    if (dot < 0) n.leaf = true; else n.expandable = true;
    nodes.set(text, n);
  }
  // as /metrics/find's treejson
  for (const n of nodes.values()) n.leaf = n.leaf && !n.expandable;
  return [...nodes.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** Builds the tree in `parent`; `onpick(path)` for a leaf, `onopen(path)` for a branch. */
export function tree(parent, { open = '', onpick, onopen }) {
  const root = parent.appendChild(h('ul.tree', { role: 'tree' }));
  const want = open ? open.split('.') : [];
  const fill = async (ul, prefix, depth) => {
    let nodes;
    try {
      nodes = await api.find(prefix ? `${prefix}.*` : '*');
    } catch (e) {
      ul.append(h('li.error', {}, e.message));
      return;
    }
    for (const n of nodes) {
      if (n.text === '*') continue;
      const li = ul.appendChild(h('li', { role: 'treeitem', dataset: { path: n.id } }));
      if (!n.expandable) {
        li.append(h('button.leaf', { type: 'button', onclick: () => onpick(n.id) }, n.text));
        continue;
      }
      const sub = h('ul', { role: 'group' });
      const toggle = h('button.branch', { type: 'button', 'aria-expanded': 'false' }, n.text);
      toggle.onclick = async () => {
        const opening = toggle.getAttribute('aria-expanded') === 'false';
        toggle.setAttribute('aria-expanded', String(opening));
        if (opening && !sub.childElementCount) await fill(sub, n.id, depth + 1);
        sub.hidden = !opening;
        if (opening && onopen) onopen(n.id);
      };
      li.append(toggle, sub);
      if (want[depth] === n.text) toggle.click();
    }
  };
  fill(root, '', 0);
  return root;
}
