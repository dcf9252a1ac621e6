// A dashboard object as the YAML of a dashboard file (README, "Dashboards"), ready to save in
// /etc/tally/dashboards.d/. Pure: no DOM.

const PLAIN = /^[A-Za-z0-9_./(){}*,<>+=$^~\[\]-][^#]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

/** A scalar as YAML: numbers and booleans bare, strings plain when safe, else single-quoted. */
export function scalar(v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v ?? '');
  const plain = s !== '' && PLAIN.test(s) && s.trim() === s && !s.includes(': ')
    && !/^[-?:,\[\]{}#&*!|>'"%@`]/.test(s) && !RESERVED.test(s) && !/^[-+.\d]/.test(s)
    && !s.includes(' #') && !s.endsWith(':');
  return plain ? s : `'${s.replaceAll("'", "''")}'`;
}

const PANEL_KEYS = ['title', 'targets', 'from', 'until', 'live', 'height'];

/** `{title, description?, from, until, live, panels: [{title, targets, …}]}` as YAML text. */
export function dashboardYaml(d) {
  const out = [];
  const line = (indent, key, value) => out.push(`${indent}${key}: ${scalar(value)}`);
  line('', 'title', d.title || 'Untitled');
  if (d.description) line('', 'description', d.description);
  for (const k of ['from', 'until', 'live']) if (d[k] !== undefined) line('', k, d[k]);
  out.push('panels:');
  for (const p of d.panels || []) {
    let first = true;
    for (const k of PANEL_KEYS) {
      if (p[k] === undefined || p[k] === d[k]) continue;
      const indent = first ? '  - ' : '    ';
      first = false;
      if (k === 'targets') {
        out.push(`${indent}targets:`);
        for (const t of p.targets) out.push(`      - ${scalar(t)}`);
      } else line(indent, k, p[k]);
    }
  }
  return out.join('\n') + '\n';
}
