// The lineage inspector: the whole `meta` envelope of a panel's series (which tier was read,
// how many points each drawn point merges, which consolidation), as /render?meta=true gives it.

import { h, clear } from './dom.js';

let dialog;

function summary(meta) {
  const rows = [];
  for (const [name, list] of Object.entries(meta || {})) {
    for (const m of Array.isArray(list) ? list : [list]) {
      if (!m || typeof m !== 'object') continue;
      rows.push(h('tr', {}, h('td', {}, name), h('td', {}, String(m['archive-interval'] ?? '')),
        h('td', {}, String(m['schema-retentions'] ?? '')),
        h('td', {}, String((m['aggnum-norm'] ?? 1) * (m['aggnum-rc'] ?? 1))),
        h('td', {}, [m['consolidator-normfetch'], m['consolidator-rc']].filter(Boolean).join(' / ')),
        h('td', {}, String(m.view ?? ''))));
    }
  }
  return h('table.lineage', {},
    h('tr', {}, ...['series', 'tier (s)', 'retentions', 'points merged', 'consolidation', 'view'].map((t) => h('th', {}, t))),
    ...rows);
}

/** Opens the inspector for a panel: `lineage` is the panel's latest envelope per series. */
export function showLineage(title, lineage) {
  dialog ??= document.body.appendChild(h('dialog.inspector', {}));
  const meta = lineage instanceof Map ? Object.fromEntries(lineage) : lineage || {};
  clear(dialog).append(
    h('h2', {}, `Lineage: ${title || 'panel'}`),
    summary(meta),
    h('pre.envelope', {}, JSON.stringify(meta, null, 2)),
    h('form', { method: 'dialog' }, h('button', {}, 'Close')));
  dialog.showModal();
}
