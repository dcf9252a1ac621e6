// Panels on a page: ui-core's Panel (panel.js) with the page's tools around it (lineage
// inspector, PNG and SVG links), kept in `window.tally.panels` for tests and the YAML export.

import { Panel } from './panel.js';
import { h } from './dom.js';
import { showEmbed, showLineage } from './inspector.js';

/** Every panel on the page: {panel, opts, box}. */
export const registry = [];
globalThis.tally = Object.assign(globalThis.tally || {}, { panels: registry });

/** A range from a panel's onchange as URL values (graphite times; numbers are epoch s or ms). */
export function rangeValue(v) {
  if (typeof v !== 'number') return v;
  return String(Math.round(v > 1e11 ? v / 1000 : v));
}

/** Puts a panel in `parent`; `onchange(state)` after zoom, pan and live changes. */
export function makePanel(parent, opts, onchange) {
  const box = parent.appendChild(h('section.panel-box'));
  const host = box.appendChild(h('div.panel-host'));
  // the tab's one stream and scheduler (panel.js defaults())
  const panel = new Panel(host, opts);
  box.append(h('div.panel-tools', {},
    h('button', { type: 'button', onclick: () => showLineage(opts.title, panel.lineage) }, 'lineage'),
    h('button', { type: 'button', onclick: () => showEmbed(opts.title, panel.links()) }, 'embed')));
  const entry = { panel, opts, box };
  panel.onchange = (state) => onchange && onchange(state, entry);
  registry.push(entry);
  return {
    panel,
    entry,
    destroy() {
      panel.destroy();
      box.remove();
      const i = registry.indexOf(entry);
      if (i >= 0) registry.splice(i, 1);
    },
  };
}

/** Panels for `defs` ([{title, targets, height, live?…}]) on one time range. */
export function panelGrid(parent, defs, range, onrange) {
  const made = [];
  const grid = parent.appendChild(h('div.grid'));
  for (const d of defs) {
    const opts = { title: d.title, targets: d.targets, height: d.height || 220,
      from: range.from, until: range.until, live: range.live && d.live !== false };
    const m = makePanel(grid, opts, (state) => {
      const r = { from: rangeValue(state.from), until: rangeValue(state.until), live: !!state.live };
      for (const x of made) if (x !== m) x.follow(r);
      onrange && onrange(r);
    });
    // another panel's range, and back to live (setRange alone does not)
    m.follow = (r) => { m.panel.setRange(r); if (r.live && d.live !== false) m.panel.setLive(true); };
    made.push(m);
  }
  return {
    panels: made,
    destroy() { for (const m of made) m.destroy(); grid.remove(); },
    /** The panels as dashboard-file panels. */
    defs: () => made.map((m) => ({ title: m.entry.opts.title, targets: m.entry.opts.targets, height: m.entry.opts.height })),
  };
}
