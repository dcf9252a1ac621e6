import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Panel } from '../panel.js';
import { parseRender } from '../history.js';
import { drawLine } from '../plot.js';
import { Ring } from '../ring.js';
import { Decimated } from '../decimate.js';

// The page's hook (`window.tally.panels[i].panel.data`, read by tests/browser.rs): the history
// a panel holds, in /render's JSON shape, in the order of the last answer. No DOM needed.
test('panel.data is the last /render answer in its own shape', () => {
  const p = Object.create(Panel.prototype);
  p.series = [];
  assert.equal(p.data, null, 'nothing before the first answer');
  const first = [{ target: 'a.b', datapoints: [[1, 10], [null, 11], [2.5, 12]] }, { target: 'c', datapoints: [] }];
  p.applyHistory(parseRender(first));
  assert.deepEqual(p.data, first);
  const second = [{ target: 'd', datapoints: [[7, 20]] }, { target: 'a.b', datapoints: [[0, 20], [-1.5, 21]] }];
  p.applyHistory(parseRender(second));
  assert.deepEqual(p.data, second, 'a series gone is gone, order is the answer’s');
});

// plot.js drawLine: a point between gaps (sparse data: carbon every 60 s into 1 s buckets)
// showed nothing, a moveTo alone strokes no pixel; it is a 3 px dash now.
test('a lone point between gaps is drawn', () => {
  const ops = [];
  const ctx = new Proxy({}, { get: (_, k) => (...a) => ops.push([k, ...a]), set: () => true });
  const f = { area: { x: 0, y: 0, w: 100, h: 100 }, sx: 1 };
  Object.assign(f, { ymin: 0, ymax: 10 });
  drawLine(ctx, f, { xs: [10, NaN, 50, NaN, 70, 80], ys: [1, NaN, 2, NaN, 3, 4], n: 6 }, '#f00');
  const path = ops.filter(([k]) => k === 'moveTo' || k === 'lineTo');
  assert.deepEqual(path, [
    ['moveTo', 10, 90], ['moveTo', 8.5, 90], ['lineTo', 11.5, 90],
    ['moveTo', 50, 80], ['moveTo', 48.5, 80], ['lineTo', 51.5, 80],
    ['moveTo', 70, 70], ['lineTo', 80, 60],
  ]);
});

// panel-view.js appendLive: a live series' first point after a gap is drawn alone, as a 3 px
// dash centred on it. Appending the next slot from that point left the dash's left half in the
// picture, which a full draw of the same data does not have (tests/browser_append.rs caught it
// when the last full draw fell between a stream's first and second slot). Such a point is drawn
// whole instead; a point that continues a line is appended to.
test('a live line that starts at the last point drawn is drawn whole, not appended', () => {
  const ops = [];
  const ctx = new Proxy({}, {
    get: (_, k) => (k === 'measureText' ? () => ({ width: 12 }) : (...a) => ops.push([k, ...a])),
    set: () => true,
  });
  const t0 = 1_000_000, t1 = t0 + 30_000;
  const p = Object.create(Panel.prototype);
  Object.assign(p, {
    cssW: 600, cssH: 150, dpr: 1, ctx, live: true, mode: 'stream', stream: { step: 100 }, view: null,
    error: '', events: [], offset: () => 0, legendAt: 0, needPlot: false, needFull: true, id: 1,
    theme: { bg: '#fff', fg: '#000', grid: '#eee', live: '#0a0', liveBg: '#efe', event: '#a60', colors: ['#f00'] },
  });
  p.range = () => ({ t0, t1 });
  const live = new Ring(600);
  // history ends in a gap (the second being filled), so no history line joins the live one
  // (its 0 and 10 set a y scale the live values stay within)
  const hist = new Ring(3);
  hist.push(t1 - 3000, 0);
  hist.push(t1 - 2000, 10);
  hist.push(t1 - 1000, NaN);
  p.series = [{ name: 'a', hist, histStep: 1000, live, info: { live: t1 - 1000 }, hd: new Decimated(), ld: new Decimated() }];
  const draws = [];
  globalThis.__tally = { onDraw: (r) => draws.push(r.plot) };
  const frame = (add) => {
    for (const [t, v] of add) live.set(t, v);
    p.needPlot = true;
    p.draw(1);
  };
  try {
    frame([[t1 - 900, 5]]);
    frame([[t1 - 800, 6]]);
    frame([[t1 - 700, 7]]);
    // a silence, a gap, and a lone point again
    frame([[t1 - 600, NaN], [t1 - 500, 6]]);
    frame([[t1 - 400, 5]]);
  } finally {
    delete globalThis.__tally;
  }
  assert.deepEqual(draws, ['full', 'full', 'append', 'full', 'full']);
});
