// The metric tree over `/metrics/find`: branches open on click (children fetched then, never
// before), leaves are picked. `open` is a path whose ancestors start opened (from the URL).

import * as api from './api.js';
import { h } from './dom.js';

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
