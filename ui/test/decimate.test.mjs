import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../ring.js';
import { Decimated, m4 } from '../decimate.js';

function ringOf(times, values, bands = null) {
  const r = new Ring(times.length, { bands: !!bands });
  times.forEach((t, i) => r.push(t, values[i], bands?.[0][i], bands?.[1][i]));
  return r;
}

// A small deterministic generator (mulberry32).
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('per column: first, min, max and last of the points, at most 4 vertices, in time order', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rand = rng(seed);
    const n = 500 + Math.floor(rand() * 5000);
    const times = Array.from({ length: n }, (_, i) => i * 10);
    const values = times.map(() => Math.round(rand() * 1000) / 10);
    const width = 10 + Math.floor(rand() * 200);
    const t0 = 0;
    const t1 = times[n - 1];
    const d = m4(ringOf(times, values), t0, t1, width, new Decimated());
    const cols = new Map();
    times.forEach((t, i) => {
      const c = Math.floor((t - t0) * (width / (t1 - t0))); // the same arithmetic as m4
      const e = cols.get(c) ?? { first: values[i], last: 0, min: Infinity, max: -Infinity };
      e.last = values[i];
      e.min = Math.min(e.min, values[i]);
      e.max = Math.max(e.max, values[i]);
      cols.set(c, e);
    });
    const got = new Map();
    for (let k = 0; k < d.n; k++) {
      if (k) assert.ok(d.xs[k] >= d.xs[k - 1], 'x in order');
      const c = Math.floor(d.xs[k]);
      const g = got.get(c) ?? [];
      g.push(d.ys[k]);
      got.set(c, g);
    }
    assert.equal(got.size, cols.size);
    for (const [c, e] of cols) {
      const g = got.get(c);
      assert.ok(g.length <= 4);
      assert.equal(g[0], e.first);
      assert.equal(g[g.length - 1], e.last);
      assert.equal(Math.min(...g), e.min);
      assert.equal(Math.max(...g), e.max);
    }
    assert.ok(d.n <= 4 * (width + 1));
    assert.equal(d.stats.count, n);
    assert.equal(d.stats.max, Math.max(...values));
    assert.equal(d.stats.last, values[n - 1]);
  }
});

test('one point outside each edge is kept so the line reaches the edges; stats cover the view only', () => {
  const times = [0, 100, 200, 300, 400, 500];
  const values = [1, 2, 3, 4, 5, 6];
  const d = m4(ringOf(times, values), 150, 350, 100, new Decimated());
  assert.deepEqual(Array.from(d.ys.subarray(0, d.n)), [2, 3, 4, 5]);
  assert.equal(d.xs[0], -25);
  assert.equal(d.xs[d.n - 1], 125);
  assert.deepEqual([d.stats.min, d.stats.max, d.stats.count, d.stats.sum], [3, 4, 2, 7]);
});

test('NaN breaks the line once; tEnd clips where the live ring starts', () => {
  const times = [0, 10, 20, 30, 40, 50];
  const values = [1, NaN, NaN, 4, 5, 6];
  const d = m4(ringOf(times, values), 0, 50, 50, new Decimated());
  const xs = Array.from(d.xs.subarray(0, d.n));
  assert.equal(xs.filter((x) => Number.isNaN(x)).length, 1);
  assert.deepEqual(Array.from(d.ys.subarray(0, d.n)).filter((v) => !Number.isNaN(v)), [1, 4, 5, 6]);
  const c = m4(ringOf(times, [1, 2, 3, 4, 5, 6]), 0, 50, 50, new Decimated(), 35);
  assert.deepEqual(Array.from(c.ys.subarray(0, c.n)), [1, 2, 3, 4]);
});

test('bands: lowest min and highest max per column', () => {
  const times = [0, 1, 2, 3, 10, 11];
  const values = [5, 5, 5, 5, 7, 7];
  const mins = [4, 2, 3, 4, 6, 1];
  const maxs = [6, 9, 6, 6, 8, 8];
  const d = m4(ringOf(times, values, [mins, maxs]), 0, 12, 2, new Decimated());
  assert.equal(d.nb, 2);
  assert.deepEqual([d.blo[0], d.bhi[0], d.blo[1], d.bhi[1]], [2, 9, 1, 8]);
});

test('a wrapped ring decimates like the same points in order', () => {
  const r = new Ring(100);
  for (let t = 0; t < 250; t++) r.push(t, Math.sin(t));
  const plain = ringOf(Array.from({ length: 100 }, (_, i) => 150 + i), Array.from({ length: 100 }, (_, i) => Math.sin(150 + i)));
  const a = m4(r, 150, 249, 30, new Decimated());
  const b = m4(plain, 150, 249, 30, new Decimated());
  assert.deepEqual(Array.from(a.ys.subarray(0, a.n)), Array.from(b.ys.subarray(0, b.n)));
});

test('output buffers are reused across draws of the same width', () => {
  const d = new Decimated();
  const r = ringOf([0, 1, 2], [1, 2, 3]);
  m4(r, 0, 2, 100, d);
  const xs = d.xs;
  m4(r, 0, 2, 100, d);
  assert.equal(d.xs, xs);
  assert.equal(m4(new Ring(4), 0, 1, 100, d).n, 0);
});

test('the same unchanged ring on the same frame is not decimated again; a write is', () => {
  const r = new Ring(8);
  [1, 2, 3].forEach((v, t) => r.push(t, v));
  const d = m4(r, 0, 2, 100, new Decimated());
  d.ys[0] = 42; // a cached result is returned as it is
  assert.equal(m4(r, 0, 2, 100, d).ys[0], 42);
  r.push(3, 4);
  assert.equal(m4(r, 0, 2, 100, d).ys[0], 1);
  assert.equal(m4(r, 0, 3, 100, d).stats.count, 4);
});
