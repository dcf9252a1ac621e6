// The router: the location hash is the whole state of the screen (see url.js), so a link
// reproduces it. Each screen module's `show(main, nav)` draws it and returns
// {destroy, toDashboard}; the header's YAML button shows toDashboard() as a dashboard file.

import { parseHash, formatHash, rangeOf } from './url.js';
import { dashboardYaml } from './yaml.js';
import { h, clear } from './dom.js';
import { timePicker, describeRange } from './timepicker.js';
import * as overview from './overview.js';
import * as explore from './explore.js';
import * as dashboard from './dashboard.js';

const main = document.getElementById('main');
let screen = null;

const SCREENS = {
  overview: (nav) => overview.show(main, nav),
  explore: (nav) => explore.show(main, nav),
  dashboards: () => dashboard.showList(main),
  dashboard: (nav) => dashboard.show(main, nav),
};

function navFor(state) {
  return {
    state,
    /** The screen's range: the URL's, else `defaults`. */
    range: (defaults) => rangeOf(state.params, defaults),
    /** Changes URL parameters; `quiet` records the state without redrawing the screen. */
    go(params, { replace = false, quiet = false } = {}) {
      const next = { ...state, params: { ...state.params, ...params } };
      if (typeof next.params.live === 'boolean') next.params.live = next.params.live ? '1' : '0';
      const hash = formatHash(next);
      if (quiet) {
        state.params = next.params;
        history.replaceState(null, '', hash);
        document.getElementById('range').textContent = describeRange(state.params.from || '-1h', state.params.until || 'now');
      } else if (replace) location.replace(hash);
      else location.hash = hash;
    },
    /** The time range picker at the top of a screen. */
    rangeBar(parent, range) {
      parent.append(timePicker(range, (r) => this.go({ from: r.from, until: r.until, live: r.live ? '1' : '0' })));
    },
  };
}

async function route() {
  const state = parseHash(location.hash);
  if (screen) { screen.destroy(); screen = null; }
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('on', a.dataset.route === state.route || (a.dataset.route === 'dashboards' && state.route === 'dashboard'));
  }
  const nav = navFor(state);
  const r = nav.range();
  document.getElementById('range').textContent = describeRange(r.from, r.until);
  const draw = SCREENS[state.route] || SCREENS.overview;
  try {
    screen = await draw(nav);
    performance.mark('tally:screen-ready');
    globalThis.tally.ready = true;
  } catch (e) {
    clear(main).append(h('p.error', {}, `Could not draw this screen: ${e.message}`));
    console.error(e);
  }
}

function showYaml() {
  const d = screen && screen.toDashboard && screen.toDashboard();
  if (!d) return;
  const text = dashboardYaml(d);
  document.getElementById('dialog-body').textContent = text;
  const save = document.getElementById('dialog-save');
  save.href = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
  document.getElementById('dialog-copy').onclick = () => navigator.clipboard?.writeText(text);
  document.getElementById('dialog').showModal();
}

function theme() {
  const stored = localStorage.getItem('tally-theme');
  if (stored) document.documentElement.dataset.theme = stored;
  document.getElementById('theme').onclick = () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === 'dark'
      : matchMedia('(prefers-color-scheme: dark)').matches;
    const next = dark ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem('tally-theme', next);
    // panels read their colours when made
    route();
  };
}

// ?bench=1 (scripts/bench-ui-latency.sh): every panel draw is recorded in window.__tally.draws.
if (/[?&]bench=1(&|$)/.test(location.search)) globalThis.__tally ??= { draws: [] };
globalThis.tally = Object.assign(globalThis.tally || {}, { ready: false, yaml: () => screen?.toDashboard && dashboardYaml(screen.toDashboard()) });
theme();
document.getElementById('yaml').onclick = showYaml;
addEventListener('hashchange', route);
route();
