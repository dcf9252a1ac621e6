import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../ring.js';

const contents = (r) => Array.from({ length: r.length }, (_, i) => [r.time(i), r.value(i)]);

test('push keeps the newest capacity points in order', () => {
  const r = new Ring(3);
  for (let t = 1; t <= 5; t++) assert.equal(r.push(t * 10, t), true);
  assert.deepEqual(contents(r), [[30, 3], [40, 4], [50, 5]]);
  assert.equal(r.firstTime, 30);
  assert.equal(r.lastTime, 50);
});

test('an equal time replaces the newest point; an older one is refused', () => {
  const r = new Ring(4);
  r.push(10, 1);
  r.push(20, 2);
  assert.equal(r.push(20, 7), true);
  assert.equal(r.push(15, 9), false);
  assert.deepEqual(contents(r), [[10, 1], [20, 7]]);
});

test('appending does not allocate new arrays', () => {
  const r = new Ring(8, { bands: true });
  const arrays = [r.times, r.values, r.mins, r.maxs];
  for (let t = 0; t < 100; t++) r.push(t, t, t - 1, t + 1);
  assert.deepEqual([r.times, r.values, r.mins, r.maxs], arrays);
  assert.equal(r.mins[r.index(7)], 98);
  assert.equal(r.maxs[r.index(7)], 100);
});

test('lowerBound and nearest across the wrap', () => {
  const r = new Ring(5);
  for (let t = 0; t < 8; t++) r.push(t * 100, t); // keeps 300..700, wrapped
  assert.equal(r.lowerBound(0), 0);
  assert.equal(r.lowerBound(300), 0);
  assert.equal(r.lowerBound(301), 1);
  assert.equal(r.lowerBound(700), 4);
  assert.equal(r.lowerBound(701), 5);
  assert.equal(r.nearest(449), 1);
  assert.equal(r.nearest(451), 2);
  assert.equal(r.nearest(10_000), 4);
  assert.equal(new Ring(2).nearest(5), -1);
});

test('a capacity below one is refused', () => {
  assert.throws(() => new Ring(0), RangeError);
});

test('set appends newer points and replaces a slot already held', () => {
  const r = new Ring(4);
  for (const [t, v] of [[100, 1], [200, 2], [300, 3]]) assert.equal(r.set(t, v), true);
  assert.equal(r.set(200, 20), true, 'a re-sent slot replaces its value');
  assert.equal(r.set(150, 9), false, 'no slot at 150: nothing inserted in the middle');
  assert.equal(r.set(300, 30), true);
  assert.equal(r.set(400, 4), true);
  assert.deepEqual([0, 1, 2, 3].map((i) => [r.time(i), r.value(i)]), [[100, 1], [200, 20], [300, 30], [400, 4]]);
  r.set(500, 5); // the oldest goes; set still finds the rest after the ring wrapped
  assert.equal(r.set(200, 21), true);
  assert.deepEqual([0, 1, 2, 3].map((i) => r.value(i)), [21, 30, 4, 5]);
});

test('rewritten is the earliest time a write changed, until a reader resets it', () => {
  const r = new Ring(4);
  for (const [t, v] of [[100, 1], [200, 2], [300, 3]]) r.set(t, v);
  assert.equal(r.rewritten, Infinity, 'appending changes nothing already held');
  r.set(200, 2);
  r.push(300, 3);
  assert.equal(r.rewritten, Infinity, 'the same value written again');
  r.set(300, 30);
  assert.equal(r.rewritten, 300, 'the newest slot replaced');
  r.set(200, 20);
  r.set(300, 31);
  assert.equal(r.rewritten, 200, 'the earliest of the changes');
  r.rewritten = Infinity;
  r.set(400, 4);
  assert.equal(r.rewritten, Infinity);
  r.set(100, 10);
  assert.equal(r.rewritten, 100);
  r.clear();
  assert.equal(r.rewritten, Infinity);
});
