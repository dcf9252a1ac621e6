import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachBands, bandTargets, fetchEvents, fetchHistory, parseRender, parseTime, renderQuery, rollup } from '../history.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const meta = (o = {}) => ({ 'archive-read': 1, 'archive-interval': 60, 'aggnum-norm': 1, 'aggnum-rc': 6, 'consolidator-rc': 'AverageConsolidator', view: 'avg', ...o });

test('graphite times', () => {
  assert.equal(parseTime('now', NOW), NOW);
  assert.equal(parseTime('-1h', NOW), NOW - 3600e3);
  assert.equal(parseTime('-30min', NOW), NOW - 1800e3);
  assert.equal(parseTime('now-2d', NOW), NOW - 2 * 86400e3);
  assert.equal(parseTime('1796565600', NOW), 1796565600e3);
  assert.equal(parseTime('20261206', NOW), Date.UTC(2026, 11, 6));
  assert.equal(parseTime('04:30_20261206', NOW), Date.UTC(2026, 11, 6, 4, 30));
  assert.ok(Number.isNaN(parseTime('midnight', NOW)));
  assert.ok(Number.isNaN(parseTime('-1parsec', NOW)));
});

test('render query: one point per pixel with meta', () => {
  const q = new URLSearchParams(renderQuery(['a.b:p99', "sumSeries(x.*)"], { from: '-1h', until: 'now', width: 812.4 }));
  assert.deepEqual(q.getAll('target'), ['a.b:p99', 'sumSeries(x.*)']);
  assert.equal(q.get('maxDataPoints'), '812');
  assert.equal(q.get('meta'), 'true');
  const png = new URLSearchParams(renderQuery(['a'], { from: '1', until: '2', format: 'png', extra: { width: 300 } }));
  assert.equal(png.get('meta'), null);
  assert.equal(png.get('width'), '300');
});

test('parse /render json with meta: ms times, NaN for null, step, lineage', () => {
  const s = parseRender({ series: [{ target: 'a', tags: { name: 'a' }, datapoints: [[1.5, 60], [null, 120]], meta: [meta()] }] });
  assert.equal(s.length, 1);
  assert.deepEqual(Array.from(s[0].times), [60000, 120000]);
  assert.equal(s[0].values[0], 1.5);
  assert.ok(Number.isNaN(s[0].values[1]));
  assert.equal(s[0].step, 60000);
  assert.equal(parseRender([{ target: 'b', datapoints: [] }])[0].name, 'b');
});

test('rollup: null when raw, else tier, points merged and consolidation', () => {
  assert.equal(rollup([meta({ 'archive-read': 0, 'aggnum-rc': 1 })]), null);
  assert.equal(rollup([]), null);
  assert.deepEqual(rollup([meta()]), { tier: 1, merged: 6, interval: 60, consolidation: 'average', view: 'avg' });
});

test('bands only for merged avg views; every min, then every max', () => {
  const merged = [{ meta: [meta()] }];
  assert.deepEqual(bandTargets(['a', 'b.*'], merged), ["consolidateBy(a,'min')", "consolidateBy(b.*,'min')", "consolidateBy(a,'max')", "consolidateBy(b.*,'max')"]);
  assert.equal(bandTargets(['a'], [{ meta: [meta({ 'aggnum-rc': 1, 'archive-read': 0 })] }]), null);
  assert.equal(bandTargets(['a'], [{ meta: [meta({ view: 'sumrate' })] }]), null);
  assert.equal(bandTargets(['a'], [{ meta: [meta({ view: 'p99' })] }]), null);
});

test('bands pair up by position and only when the shapes match', () => {
  const mk = (v, view = 'avg') => ({ times: new Float64Array([0, 1]), values: new Float64Array([v, v]), meta: [meta({ view })] });
  const series = [mk(5), mk(6), mk(7, 'sum')];
  attachBands(series, [mk(1), mk(2), mk(3), mk(9), mk(10), mk(11)]);
  assert.equal(series[0].mins[0], 1);
  assert.equal(series[0].maxs[0], 9);
  assert.equal(series[1].maxs[0], 10);
  assert.equal(series[2].mins, undefined);
  const lone = [mk(5)];
  attachBands(lone, [mk(1)]);
  assert.equal(lone[0].mins, undefined);
});

const answer = (status, body) => ({ ok: status < 300, status, json: async () => body, text: async () => (typeof body === 'string' ? body : JSON.stringify(body)) });

test('fetchHistory asks for bands when points merged, and reports the server reason on 400', async () => {
  const urls = [];
  const fetch = async (url) => {
    urls.push(decodeURIComponent(url));
    const q = new URLSearchParams(url.split('?')[1]);
    const series = q.getAll('target').map((t) => ({ target: t, datapoints: [[t.includes("'min'") ? 1 : t.includes("'max'") ? 9 : 5, 60]], meta: [meta({ view: t.includes("'min'") ? 'min' : t.includes("'max'") ? 'max' : 'avg' })] }));
    return answer(200, { series });
  };
  const s = await fetchHistory(['a'], { from: '-1h', until: 'now', width: 100, fetch });
  assert.equal(urls.length, 2);
  assert.equal(s[0].mins[0], 1);
  assert.equal(s[0].maxs[0], 9);
  const bad = async () => answer(400, 'bad target at char 13');
  await assert.rejects(fetchHistory(['a('], { from: '-1h', until: 'now', width: 100, fetch: bad }), { message: 'bad target at char 13', status: 400 });
});

test('fetchEvents: when in ms', async () => {
  const fetch = async (url) => {
    assert.match(url, /^\/events\/get_data\?from=-1h&until=now/);
    return answer(200, [{ id: 3, when: 1796565600, what: 'deploy', tags: ['a'], data: 'x' }]);
  };
  assert.deepEqual(await fetchEvents({ from: '-1h', until: 'now', fetch }), [{ id: 3, when: 1796565600000, what: 'deploy', tags: ['a'], data: 'x' }]);
});
