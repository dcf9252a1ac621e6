import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSI, formatValue, niceStep, timeLabel, timeStamp, timeTicks, valueTicks, shortNames } from '../ticks.js';

test('1-2-5 steps', () => {
  assert.equal(niceStep(0, 100, 5), 20);
  assert.equal(niceStep(0, 1, 5), 0.2);
  assert.equal(niceStep(0, 7, 5), 1);
  assert.equal(niceStep(0, 9, 5), 2);
  assert.equal(niceStep(0, 3000, 5), 500);
  assert.equal(niceStep(0, 0.00037, 4), 0.0001);
});

test('value ticks widen the range to whole steps and include both ends', () => {
  const t = valueTicks(3.2, 97.5, 5);
  assert.deepEqual(t, { min: 0, max: 100, step: 20, ticks: [0, 20, 40, 60, 80, 100] });
  const n = valueTicks(-13, 7, 4);
  assert.equal(n.step, 5);
  assert.deepEqual(n.ticks, [-15, -10, -5, 0, 5, 10]);
});

test('a flat or empty range still gets ticks', () => {
  const f = valueTicks(5, 5, 5);
  assert.ok(f.min < 5 && f.max > 5 && f.ticks.length >= 2);
  const z = valueTicks(0, 0, 5);
  assert.ok(z.min < 0 && z.max > 0);
  const e = valueTicks(NaN, NaN, 5);
  assert.deepEqual([e.min, e.max], [0, 1]);
});

test('SI prefixes with the precision the step needs', () => {
  assert.equal(formatSI(1500, 500), '1.5k');
  assert.equal(formatSI(2000000, 1000000), '2M');
  assert.equal(formatSI(0.25, 0.05), '250m');
  assert.equal(formatSI(12, 2), '12');
  assert.equal(formatSI(0, 5), '0');
  assert.equal(formatSI(-3000, 1000), '-3k');
  assert.equal(formatSI(1.2e-6, 1e-7), '1.2µ');
  assert.equal(formatValue(123456), '123.5k');
  assert.equal(formatValue(0.001234), '1.234m');
  assert.equal(formatValue(NaN), '–');
});

test('time ticks: nice steps at least minPx apart, aligned to the zone', () => {
  const t0 = Date.UTC(2026, 11, 6, 15, 0, 7);
  const { step, ticks } = timeTicks(t0, t0 + 3600e3, 800, { minPx: 90 });
  assert.equal(step, 10 * 60e3);
  assert.equal(ticks[0], Date.UTC(2026, 11, 6, 15, 10));
  assert.ok(ticks.every((t) => t % step === 0));
  const plus2 = () => 2 * 3600e3 + 30 * 60e3; // +02:30
  const z = timeTicks(t0, t0 + 24 * 3600e3, 400, { minPx: 90, offset: plus2 });
  assert.equal(z.step, 6 * 3600e3);
  assert.ok(z.ticks.every((t) => (t + plus2()) % z.step === 0));
  const fine = timeTicks(t0, t0 + 2000, 1000, { minPx: 90 });
  assert.equal(fine.step, 200);
});

test('labels follow the step; midnight shows the day', () => {
  const t = Date.UTC(2026, 11, 6, 15, 30, 15, 250);
  assert.equal(timeLabel(t, 60e3), '15:30');
  assert.equal(timeLabel(t, 5e3), '15:30:15');
  assert.equal(timeLabel(t, 100), '15:30:15.250');
  assert.equal(timeLabel(Date.UTC(2026, 11, 7), 3600e3), 'Mon 7');
  assert.equal(timeLabel(t, 30 * 86400e3), 'Dec 2026');
  assert.equal(timeStamp(t), '2026-12-06 15:30:15');
  assert.equal(timeStamp(t, () => 3600e3, true), '2026-12-06 16:30:15.250');
});

test('legend names leave out the start they share up to a dot', () => {
  assert.deepEqual(shortNames(['servers.vm.cpu.total.idle', 'servers.vm.cpu.total.iowait']), ['idle', 'iowait']);
  assert.deepEqual(shortNames(['a.b', 'a.b.c']), ['b', 'b.c']);
  assert.deepEqual(shortNames(['web.req:p50', 'web.req:p99']), ['req:p50', 'req:p99']);
  assert.deepEqual(shortNames(['sumSeries(a.*)', 'a.b']), ['sumSeries(a.*)', 'a.b']);
  assert.deepEqual(shortNames(['x.y', 'x.y']), ['y', 'y']);
  assert.deepEqual(shortNames(['only.one']), ['only.one']);
  assert.deepEqual(shortNames([]), []);
});
