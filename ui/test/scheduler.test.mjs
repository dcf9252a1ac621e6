import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../scheduler.js';

// A fake window: frames run when the test says, at the times it gives; draws take `cost` ms.
function fakeWin() {
  const w = { now: 0, frames: [], timers: [], document: null };
  w.performance = { now: () => w.now };
  w.requestAnimationFrame = (fn) => w.frames.push(fn);
  w.cancelAnimationFrame = () => {};
  w.setTimeout = (fn, ms) => w.timers.push([w.now + ms, fn]);
  w.clearTimeout = () => {};
  w.frame = (at) => {
    w.now = at;
    const fns = w.frames.splice(0);
    fns.forEach((fn) => fn(at));
    return fns.length;
  };
  return w;
}
const panel = (w, name, { interval = 0, cost = 0 } = {}) => ({
  el: name, draws: [], draw(ts) { this.draws.push(ts); w.now += cost; }, minInterval: () => interval,
});

test('dirty panels are drawn once per frame; idle means no frames', () => {
  const w = fakeWin();
  const s = new Scheduler({ win: w });
  const a = panel(w, 'a');
  s.add(a);
  s.dirty(a);
  s.dirty(a);
  assert.equal(w.frame(16), 1);
  assert.deepEqual(a.draws, [16]);
  assert.equal(w.frames.length, 0, 'nothing dirty: no frame asked for');
  s.dirty(a);
  w.frame(32);
  assert.deepEqual(a.draws, [16, 32]);
});

test('a panel is drawn no more often than its minInterval; urgent skips it', () => {
  const w = fakeWin();
  const s = new Scheduler({ win: w });
  const a = panel(w, 'a', { interval: 100 });
  s.add(a);
  w.frame(16);
  s.dirty(a);
  w.frame(33);
  assert.deepEqual(a.draws, [16]);
  assert.equal(w.timers.length, 1, 'a timer wakes the loop when the panel is due');
  assert.ok(w.timers[0][0] >= 90);
  s.dirty(a, true);
  w.frame(50);
  assert.deepEqual(a.draws, [16, 50]);
});

test('panels off screen are not drawn until they show', () => {
  const w = fakeWin();
  let cb;
  w.IntersectionObserver = class { constructor(fn) { cb = fn; } observe() {} unobserve() {} disconnect() {} };
  const s = new Scheduler({ win: w });
  const a = panel(w, 'a');
  s.add(a);
  w.frame(16);
  assert.deepEqual(a.draws, []);
  cb([{ target: 'a', isIntersecting: true }]);
  w.frame(33);
  assert.deepEqual(a.draws, [33]);
});

test('the frame budget spreads draws over frames, round robin', () => {
  const w = fakeWin();
  const s = new Scheduler({ win: w, budgetMs: 8 });
  const ps = ['a', 'b', 'c', 'd'].map((n) => panel(w, n, { cost: 5 }));
  ps.forEach((p) => s.add(p));
  w.frame(16);
  assert.deepEqual(ps.map((p) => p.draws.length), [1, 1, 0, 0]);
  w.frame(33);
  assert.deepEqual(ps.map((p) => p.draws.length), [1, 1, 1, 1]);
});

test('late frames back off to every 2nd/4th frame, and on-time frames recover', () => {
  const w = fakeWin();
  const s = new Scheduler({ win: w, budgetMs: 1000 });
  const a = panel(w, 'a', { cost: 2 });
  const b = panel(w, 'b', { cost: 2 });
  s.add(a);
  s.add(b);
  let t = 0;
  const run = (n, dt) => {
    for (let i = 0; i < n; i++) {
      s.dirty(a);
      s.dirty(b);
      t += dt;
      w.frame(t);
    }
  };
  run(5, 16.7);
  assert.equal(s.level, 0);
  run(3, 60);
  assert.ok(s.level >= 2, `level ${s.level}`);
  const before = a.draws.length;
  run(8, 16.7);
  assert.ok(a.draws.length - before <= 4, 'drawn on a fraction of the frames');
  run(200, 16.7);
  assert.equal(s.level, 0);
  assert.ok(s.stats.late >= 3);
});

test('a frame that comes at once after a long one does not make every later frame late', () => {
  const w = fakeWin();
  const s = new Scheduler({ win: w, budgetMs: 1000 });
  const a = panel(w, 'a');
  s.add(a);
  // the loop runs on at 60 Hz (a frame skipped while at level 1), with one catch-up frame
  // 4 ms after a 30 ms one among them
  let t = 0;
  s.level = 1;
  for (let i = 0; i < 20; i++) {
    s.dirty(a);
    t += i === 10 ? 30 : i === 11 ? 4 : 16.7;
    w.frame(t);
  }
  assert.ok(Math.abs(s.frameMs - 16.7) < 0.01, `frame time ${s.frameMs}`);
  // then data every 100 ms (6 frames of 16.7 ms), frames when asked for: on time, and back
  // to drawing on every frame
  const late = s.stats.late;
  for (let i = 0; i < 600; i++) {
    t += 100 / 6;
    w.now = t - 100 / 6;
    if (i % 6 === 0) s.dirty(a);
    w.frame(t);
  }
  assert.equal(s.stats.late, late);
  assert.equal(s.level, 0);
});
