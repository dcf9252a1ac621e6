// Unit tests of the UI's pure helpers: node --test ui/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHash, formatHash, rangeOf } from '../url.js';
import { dashboardYaml, scalar } from '../yaml.js';
import { tokenize, contextAt, completeFunctions } from '../target.js';
import { viewsFor, splitView, withView, defaultView, isView } from '../views.js';
import { absolute, describeRange, isTime } from '../timepicker.js';
import { children } from '../tree.js';

test('url state survives a round trip', () => {
  const state = { route: 'explore', name: '', params: { target: ['a.b:p99', 'sumSeries(c.{x,y})'], from: '-6h', until: 'now', live: '0' } };
  const hash = formatHash(state);
  assert.equal(hash, '#/explore?target=a.b%3Ap99&target=sumSeries%28c.%7Bx%2Cy%7D%29&from=-6h&until=now&live=0');
  assert.deepEqual(parseHash(hash), state);
  assert.deepEqual(parseHash(''), { route: 'overview', name: '', params: { target: [] } });
  const d = parseHash(formatHash({ route: 'dashboard', name: 'my host', params: {} }));
  assert.equal(d.name, 'my host');
});

test('ranges: live only when it ends now', () => {
  assert.deepEqual(rangeOf({ target: [] }), { from: '-1h', until: 'now', live: true });
  assert.deepEqual(rangeOf({ from: '-2d', until: '-1d' }), { from: '-2d', until: '-1d', live: false });
  assert.equal(rangeOf({ live: '0' }).live, false);
});

test('yaml scalars quote only what needs it', () => {
  assert.equal(scalar('servers.h.cpu.total.user'), 'servers.h.cpu.total.user');
  assert.equal(scalar('-1h'), "'-1h'");
  assert.equal(scalar('a: b'), "'a: b'");
  assert.equal(scalar("it's"), "it's");
  assert.equal(scalar("'x'"), "'''x'''");
  assert.equal(scalar('true'), "'true'");
  assert.equal(scalar('sumSeries(a.{b,c})'), 'sumSeries(a.{b,c})');
  assert.equal(scalar('{a,b}.c'), "'{a,b}.c'");
  assert.equal(scalar(''), "''");
  assert.equal(scalar(220), '220');
  assert.equal(scalar(false), 'false');
  assert.equal(scalar('CPU # busy'), "'CPU # busy'");
});

test('a dashboard as yaml', () => {
  const y = dashboardYaml({ title: 'Host', from: '-1h', until: 'now', live: true,
    panels: [{ title: 'CPU', targets: ['a.b', "alias(c,'d')"], from: '-1h', live: true, height: 300 }] });
  assert.equal(y, "title: Host\nfrom: '-1h'\nuntil: now\nlive: true\npanels:\n  - title: CPU\n    targets:\n      - a.b\n      - alias(c,'d')\n    height: 300\n");
});

test('tokens of a target, braces and tags kept in paths', () => {
  const t = tokenize("sumSeries(a.{b,c}.d, 'x y', -1.5, key=2) name;k=v");
  assert.deepEqual(t.map((x) => [x.type, x.text]), [
    ['name', 'sumSeries'], ['(', '('], ['name', 'a.{b,c}.d'], [',', ','], ['string', "'x y'"],
    [',', ','], ['number', '-1.5'], [',', ','], ['name', 'key'], ['=', '='], ['number', '2'],
    [')', ')'], ['name', 'name;k=v']]);
  assert.deepEqual(tokenize("f('open").map((x) => x.type), ['name', '(', 'error']);
  assert.equal(tokenize('a.b-c:p99')[0].text, 'a.b-c:p99');
});

test('context at the cursor: function, argument, keyword, word', () => {
  const s = 'alias(sumSeries(a.b, c), ';
  assert.deepEqual(contextAt(s, s.length), { fn: 'alias', arg: 1, keyword: null, word: null });
  const c = contextAt('alias(sumSeries(a.b, c', 22);
  assert.equal(c.fn, 'sumSeries');
  assert.equal(c.arg, 1);
  assert.equal(c.word.text, 'c');
  assert.equal(contextAt('movingAverage(a, windowSize=', 28).keyword, 'windowSize');
  assert.equal(contextAt('sumS', 4).word.text, 'sumS');
  assert.equal(contextAt('sumS', 4).fn, null);
});

test('function completion', () => {
  const names = ['sumSeries', 'sum', 'summarize', 'alias', 'sortByMaxima'];
  assert.deepEqual(completeFunctions(names, 'sum'), ['sum', 'sumSeries', 'summarize']);
  assert.deepEqual(completeFunctions(names, 'SO'), ['sortByMaxima']);
  assert.deepEqual(completeFunctions(names, 'a.b'), []);
});

test('views per kind and view suffixes', () => {
  assert.deepEqual(viewsFor('counter').slice(0, 2), ['sumrate', 'sum']);
  assert.ok(viewsFor('timer').includes('p99'));
  assert.ok(!viewsFor('gauge').includes('sumrate'));
  assert.deepEqual(viewsFor('set'), ['distinct', 'obvs', 'obvsrate']);
  assert.equal(defaultView('gauge'), 'avg');
  assert.deepEqual(splitView('web.req:p99'), ['web.req', 'p99']);
  assert.deepEqual(splitView('web.req:99pct'), ['web.req', '99pct']);
  assert.deepEqual(splitView('name;k=a:b'), ['name;k=a:b', null]);
  assert.equal(withView('web.req:p99', 'max', 'timer'), 'web.req:max');
  assert.equal(withView('web.req:max', 'sumrate', 'counter'), 'web.req');
  assert.ok(isView('sum60') && !isView('sum0') && !isView('p') && isView('p99.9'));
});

test('time formats: absolute from a date, descriptions, validity', () => {
  assert.equal(absolute(new Date(Date.UTC(2026, 0, 2, 3, 4))), '03:04_20260102');
  assert.equal(describeRange('-1h', 'now'), 'last 1h');
  assert.equal(describeRange('03:04_20260102', '05:00_20260102'), '03:04_20260102 → 05:00_20260102');
  // Epoch seconds (a drag-zoom's range) read as times; the date once when both share it.
  const utc = () => 0;
  assert.equal(describeRange('1796664114', '1796664134', utc), '2026-12-07 17:21:54 → 17:22:14');
  assert.equal(describeRange('1796664114', '1796750514', utc), '2026-12-07 17:21:54 → 2026-12-08 17:21:54');
  assert.equal(describeRange('1796664114', 'now', utc), '2026-12-07 17:21:54 → now');
  for (const s of ['now', '-1h', '-7d', '1700000000', '03:04_20260102', '20260102', 'now-5min', 'midnight']) {
    assert.ok(isTime(s), s);
  }
  for (const s of ['', 'soon', '-1x', '1h']) assert.ok(!isTime(s), s);
});

test('children of a prefix, as /metrics/find answers', () => {
  const paths = ['s.h.cpu.total.user', 's.h.cpu.count', 's.h.load.01', 's.h.load', 's.hx.a', 'x;t=1'];
  assert.deepEqual(children(paths, 's.h'), [
    { text: 'cpu', id: 's.h.cpu', leaf: false, expandable: true },
    { text: 'load', id: 's.h.load', leaf: false, expandable: true },
  ]);
  assert.deepEqual(children(paths, 's.h.cpu').map((n) => [n.text, n.leaf]), [['count', true], ['total', false]]);
  assert.deepEqual(children(paths, '').map((n) => n.text), ['s']);
});
