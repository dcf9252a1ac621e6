import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Panel } from '../panel.js';
import { parseRender } from '../history.js';
import { drawLine } from '../plot.js';

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
