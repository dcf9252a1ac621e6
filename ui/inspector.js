// A panel's dialogs: the lineage inspector (the whole `meta` envelope of its series: which tier
// was read, how many points each drawn point merges, which consolidation, as /render?meta=true
// gives it) and embedding (the same graph as PNG and SVG: the links and an <img> tag to copy).

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

function open(heading, ...content) {
  dialog ??= document.body.appendChild(h('dialog.inspector', {}));
  clear(dialog).append(h('h2', {}, heading), ...content, h('form', { method: 'dialog' }, h('button', {}, 'Close')));
  dialog.showModal();
}

/** Opens the inspector for a panel: `lineage` is the panel's latest envelope per series. */
export function showLineage(title, lineage) {
  const meta = lineage instanceof Map ? Object.fromEntries(lineage) : lineage || {};
  open(`Lineage: ${title || 'panel'}`, summary(meta), h('pre.envelope', {}, JSON.stringify(meta, null, 2)));
}

/**
 * Opens the embedding dialog: `links` is { png, svg } (panel.links()). The links live here, not
 * on every panel: Chromium watches each link on a page with an intersection observer of its
 * own (100 ms delay), which on a live page at 10 frames a second often asks for a frame more
 * after each (BENCHMARKS.md, issue 14, eighth round).
 */
export function showEmbed(title, links) {
  open(`Embed: ${title || 'panel'}`, ...['png', 'svg'].map((kind) => {
    const href = new URL(links[kind], location.href).href;
    return h('p.embed', {}, h('a', { href, target: '_blank', rel: 'noopener' }, kind.toUpperCase()),
      h('pre', {}, `<img src="${href.replaceAll('&', '&amp;')}">`));
  }));
}
