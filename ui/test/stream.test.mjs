import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stream, unpack } from '../stream.js';

// A fake EventSource that records the connections and lets the test send messages.
function fakes() {
  const opened = [];
  class FakeES {
    constructor(url) {
      this.url = url;
      this.readyState = 1;
      this.listeners = {};
      opened.push(this);
    }
    addEventListener(name, fn) {
      (this.listeners[name] ??= []).push(fn);
    }
    close() {
      this.readyState = 2;
      this.closed = true;
    }
    send(name, data, id = '') {
      for (const fn of this.listeners[name] ?? []) fn({ data: data === undefined ? undefined : JSON.stringify(data), lastEventId: id });
    }
    fail() {
      this.readyState = 2;
      for (const fn of this.listeners.error ?? []) fn({});
    }
  }
  const doc = { hidden: false, fns: [], addEventListener(_, fn) { this.fns.push(fn); }, removeEventListener() {} };
  doc.set = (hidden) => {
    doc.hidden = hidden;
    doc.fns.forEach((fn) => fn());
  };
  return { opened, FakeES, doc };
}
const tick = () => new Promise((r) => setTimeout(r, 5));
const targetsOf = (es) => new URL(es.url, 'http://x').searchParams.getAll('target');

test('one connection carries the union of every subscriber, reopened once per change', async () => {
  const { opened, FakeES, doc } = fakes();
  const s = new Stream({ EventSource: FakeES, doc });
  const a = [];
  const b = [];
  const unA = s.subscribe(['x', 'y'], { series: (l) => a.push(['series', l]), data: (m) => a.push(['data', m]) });
  s.subscribe(['y', 'z'], { series: (l) => b.push(['series', l]), data: (m) => b.push(['data', m]) });
  await tick();
  assert.equal(opened.length, 1);
  const es = opened[0];
  assert.deepEqual(targetsOf(es), ['x', 'y', 'z']);
  es.send('hello', { step: 100, window: 60000, now: 0, targets: ['x', 'y', 'z'] });
  es.send('series', { series: [{ id: 0, target: 0, name: 'x' }, { id: 1, target: 1, name: 'y' }, { id: 7, target: 2, name: 'z.1' }] });
  es.send('data', { t: 1000, n: 2, s: [1, 1, 5, 1], v: [1, null, 3, 4] }, '1200');
  assert.deepEqual(a[0][1].map((x) => [x.name, x.target]), [['x', 0], ['y', 1]]);
  assert.deepEqual(b[0][1].map((x) => [x.name, x.target]), [['y', 0], ['z.1', 1]]);
  const da = a[1][1];
  assert.equal(da.step, 100);
  assert.deepEqual(da.series.map(([i, v]) => [i.name, i.target, v]), [['y', 1, [1, NaN]]]);
  assert.deepEqual(b[1][1].series.map(([i]) => i.name), ['y', 'z.1']);
  unA();
  await tick();
  assert.equal(es.closed, true);
  assert.equal(opened.length, 2);
  assert.deepEqual(targetsOf(opened[1]), ['y', 'z']);
  assert.equal(new URL(opened[1].url, 'http://x').searchParams.get('last_event_id'), '1200');
});

test('a hidden tab closes the stream; visible again resumes from the last id', async () => {
  const { opened, FakeES, doc } = fakes();
  const s = new Stream({ EventSource: FakeES, doc });
  s.subscribe(['x'], {});
  await tick();
  opened[0].send('hello', { step: 100 });
  opened[0].send('data', { t: 0, n: 1, s: [], v: [] }, '500');
  doc.set(true);
  assert.equal(opened[0].closed, true);
  assert.equal(s.es, null);
  doc.set(false);
  assert.equal(opened.length, 2);
  assert.match(opened[1].url, /last_event_id=500/);
});

test('no /stream (closed before hello): poll mode, then a retry', async () => {
  const { opened, FakeES, doc } = fakes();
  const s = new Stream({ EventSource: FakeES, doc, retryMs: 20 });
  const modes = [];
  s.subscribe(['x'], { mode: (m) => modes.push(m) });
  await tick();
  opened[0].fail();
  assert.equal(s.mode, 'poll');
  assert.ok(modes.includes('poll'));
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(opened.length, 2);
  opened[1].send('hello', { step: 100 });
  assert.equal(s.mode, 'stream');
  assert.equal(modes.at(-1), 'stream');
});

test('server error events, resets and graphite events reach the right subscribers', async () => {
  const { opened, FakeES, doc } = fakes();
  const s = new Stream({ EventSource: FakeES, doc });
  const got = [];
  s.subscribe(['x'], { error: (e) => got.push(['error', e]), reset: (m) => got.push(['reset', m]), event: (e) => got.push(['event', e]) });
  s.subscribe(['bad('], { error: (e) => got.push(['error2', e]) });
  await tick();
  const es = opened[0];
  es.send('hello', { step: 100 });
  es.send('series', { series: [{ id: 0, target: 0, name: 'x' }] });
  es.send('error', { target: 1, message: 'unknown function' });
  es.send('reset', { t: 0, n: 1, s: [0, 1], v: [2] }, '100');
  es.send('event', { id: 1, when: 5, what: 'deploy' });
  es.fail(); // a connection error after hello: not poll mode
  assert.deepEqual(got.map((g) => g[0]), ['error2', 'reset', 'event']);
  assert.deepEqual(got[0][1], { target: 0, message: 'unknown function' });
  assert.notEqual(s.mode, 'poll');
  s.destroy();
});

test('unpack: ids as runs of skipped and present ids, n values each in id order', () => {
  assert.deepEqual(unpack({ n: 1, s: [0, 1, 1, 3, 2, 1], v: [1e15, 2, -0, 1e300, 0.12345678901234566] }), [
    [0, [1e15]],
    [2, [2]],
    [3, [-0]],
    [4, [1e300]],
    [7, [0.12345678901234566]],
  ]);
  assert.deepEqual(unpack({ n: 2, s: [3, 2], v: [null, 1, 2, null] }), [
    [3, [null, 1]],
    [4, [2, null]],
  ]);
  assert.deepEqual(unpack({ n: 3, s: [], v: [] }), []);
  // full precision survives JSON text: the server writes the shortest round-trip repr
  const x = 0.1 + 0.2;
  assert.equal(unpack(JSON.parse(`{"n":1,"s":[0,1],"v":[${x}]}`))[0][1][0], x);
});
