// Axis ticks. Pure: the time zone comes in as an offset function, never from the clock.

const SI = ['p', 'n', 'µ', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E'];

/** A 1-2-5 step giving about `count` ticks over [min, max]. */
export function niceStep(min, max, count) {
  const span = max - min;
  if (!(span > 0) || !(count >= 1)) return 1;
  const raw = span / count;
  const e = Math.floor(Math.log10(raw));
  const f = e >= 0 ? raw / 10 ** e : raw * 10 ** -e;
  const nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
  return e >= 0 ? nice * 10 ** e : nice / 10 ** -e; // dividing keeps 0.1, 0.2… exact
}

/**
 * Value ticks for [min, max] at about `count` ticks: the range widened to whole steps, and
 * the tick values. A flat or empty range gets a unit range around its value.
 */
export function valueTicks(min, max, count = 5) {
  if (!(min === min) || !(max === max)) {
    min = 0;
    max = 1;
  }
  if (max - min < Math.abs(max) * 1e-12 || max === min) {
    const d = max === 0 ? 1 : Math.abs(max) * 0.1;
    min -= d;
    max += d;
  }
  const step = niceStep(min, max, count);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let k = 0, v = lo; v <= hi + step * 1e-9 && k < 100; k++, v = lo + k * step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { min: lo, max: hi, step, ticks };
}

/** A value with an SI prefix, precise enough to tell ticks `step` apart: 1.5k, 250m, 12. */
export function formatSI(v, step = Math.abs(v)) {
  if (!(v === v)) return '';
  if (v === 0) return '0';
  const ref = Math.max(Math.abs(v), Math.abs(step));
  const e = Math.max(-4, Math.min(6, Math.floor(Math.log10(ref) / 3)));
  const scaled = v / 1000 ** e;
  const s = step > 0 ? step / 1000 ** e : Math.abs(scaled);
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(s) + 1e-9)));
  return `${trim(scaled.toFixed(digits))}${SI[e + 4]}`;
}

/** A value for the legend and crosshair: 4 significant digits with an SI prefix. */
export function formatValue(v) {
  if (!(v === v)) return '–';
  if (v === 0) return '0';
  const e = Math.max(-4, Math.min(6, Math.floor(Math.log10(Math.abs(v)) / 3)));
  return `${trim((v / 1000 ** e).toPrecision(4))}${SI[e + 4]}`;
}

function trim(s) {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
/** Time steps, ms. Months and years are approximated by 30 and 365 days. */
export const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, M, 2 * M,
  5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 30 * D,
  91 * D, 365 * D,
];

/** Offset of local time from UTC in ms at t (the browser's zone). */
export const localOffset = (t) => -new Date(t).getTimezoneOffset() * M;
export const utcOffset = () => 0;

/**
 * Time ticks over [t0, t1] ms for `width` px, at least `minPx` apart, aligned to whole steps
 * of wall-clock time in the zone `offset(t)` gives. Returns the step and tick times.
 */
export function timeTicks(t0, t1, width, { minPx = 90, offset = utcOffset } = {}) {
  const span = t1 - t0;
  const ticks = [];
  if (!(span > 0) || !(width > 0)) return { step: S, ticks };
  const want = (span * minPx) / width;
  const step = TIME_STEPS.find((s) => s >= want) ?? Math.ceil(want / (365 * D)) * 365 * D;
  let t = Math.ceil((t0 + offset(t0)) / step) * step;
  for (let k = 0; k < 200; k++) {
    const at = t - offset(t - offset(t0));
    if (at > t1) break;
    if (at >= t0) ticks.push(at);
    t += step;
  }
  return { step, ticks };
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

/** Wall-clock fields of t in the zone `offset` gives. */
export function wall(t, offset = utcOffset) {
  const d = new Date(t + offset(t));
  return {
    y: d.getUTCFullYear(), mo: d.getUTCMonth(), d: d.getUTCDate(), wd: d.getUTCDay(),
    h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds(),
  };
}

/** The label of a tick at t for a given step: 12:30, 12:30:15, 12:30:15.200, Mon 7, Mar 2026. */
export function timeLabel(t, step, offset = utcOffset) {
  const w = wall(t, offset);
  if (step >= 365 * D) return String(w.y);
  if (step >= 30 * D) return `${MONTHS[w.mo]} ${w.y}`;
  if (step >= D || (w.h === 0 && w.mi === 0 && w.s === 0 && w.ms === 0)) {
    return `${DAYS[w.wd]} ${w.d}`;
  }
  const hm = `${pad(w.h)}:${pad(w.mi)}`;
  if (step >= M) return hm;
  if (step >= S) return `${hm}:${pad(w.s)}`;
  return `${hm}:${pad(w.s)}.${pad(w.ms, 3)}`;
}

/** A full timestamp for the crosshair: 2026-12-06 15:57:27(.250). */
export function timeStamp(t, offset = utcOffset, ms = false) {
  const w = wall(t, offset);
  const s = `${w.y}-${pad(w.mo + 1)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
  return ms ? `${s}.${pad(w.ms, 3)}` : s;
}
