// A page of panels for looking at the core against a server: ?t=a.b&t=c.*&from=-2h&live=1
// (one panel per t; targets in one t separated by '|').
import { Panel } from '/ui/panel.js';

const q = new URLSearchParams(location.search);
window.__errors = [];
addEventListener('error', (e) => window.__errors.push(String(e.message)));
window.__panels = q.getAll('t').map((t) => new Panel(document.getElementById('panels'), {
  targets: t.split('|'), from: q.get('from') ?? '-1h', until: q.get('until') ?? 'now', live: q.get('live') === '1', height: 200,
}));
