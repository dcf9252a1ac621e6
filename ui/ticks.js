// Axis ticks and labels. Pure: the time zone comes in as an offset function.

const SI = ['p', 'n', 'µ', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E'];

/** A 1-2-5 step giving about `count` ticks over [min, max]. */
export function niceStep(min, max, count) {
  const raw = (max - min) / count;
  if (!(raw > 0)) return 1;
  const e = Math.floor(Math.log10(raw));
  const f = e >= 0 ? raw / 10 ** e : raw * 10 ** -e;
  const nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
  // dividing keeps 0.1, 0.2… exact
  return e >= 0 ? nice * 10 ** e : nice / 10 ** -e;
}

/** Ticks over [min, max] widened to whole steps; a flat or empty range gets one around it. */
export function valueTicks(min, max, count = 5) {
  if (!(min <= max)) [min, max] = [0, 1];
  if (max - min <= Math.abs(max) * 1e-12) {
    const d = max ? Math.abs(max) / 10 : 1;
    [min, max] = [min - d, max + d];
  }
  const step = niceStep(min, max, count);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9 && k < 100; k++) {
    const v = lo + k * step;
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { min: lo, max: hi, step, ticks };
}

const trim = (s) => (s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s);
const prefix = (ref) => Math.max(-4, Math.min(6, Math.floor(Math.log10(Math.abs(ref)) / 3)));

/** A value with an SI prefix, as precise as ticks `step` apart need: 1.5k, 250m, 12. */
export function formatSI(v, step = Math.abs(v)) {
  if (!v) return v === 0 ? '0' : '';
  const e = prefix(Math.max(Math.abs(v), Math.abs(step)));
  const s = Math.abs(step || v) / 1000 ** e;
  return trim((v / 1000 ** e).toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(s) + 1e-9))))) + SI[e + 4];
}

/** A value for the legend and crosshair: 4 significant digits and an SI prefix. */
export function formatValue(v) {
  if (!v) return v === 0 ? '0' : '–';
  const e = prefix(v);
  return trim((v / 1000 ** e).toPrecision(4)) + SI[e + 4];
}

// Legend names: of two or more, the start they all share up to a dot is left out.
export function shortNames(names) {
  if (names.length < 2) return names;
  const first = names[0];
  let k = first.length;
  for (const s of names) while (k && !s.startsWith(first.slice(0, k))) k--;
  k = k && first.lastIndexOf('.', k - 1) + 1;
  return names.map((s) => s.slice(k) || s);
}

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
/** Time steps in ms; months and years are 30 and 365 days. */
export const TIME_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, M, 2 * M,
  5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 30 * D, 91 * D, 365 * D];

/** Offset from UTC in ms at t: the browser's zone, or UTC. */
export const localOffset = (t) => -new Date(t).getTimezoneOffset() * M;
export const utcOffset = () => 0;

/**
 * Ticks over [t0, t1] ms on `width` px, at least `minPx` apart, at whole steps of the
 * wall-clock time in the zone `offset` gives.
 */
export function timeTicks(t0, t1, width, { minPx = 90, offset = utcOffset } = {}) {
  const ticks = [];
  if (!(t1 > t0) || !(width > 0)) return { step: S, ticks };
  const want = ((t1 - t0) * minPx) / width;
  const step = TIME_STEPS.find((s) => s >= want) ?? Math.ceil(want / (365 * D)) * 365 * D;
  const off = offset(t0);
  for (let t = Math.ceil((t0 + off) / step) * step, k = 0; k < 200; t += step, k++) {
    const at = t - offset(t - off);
    if (at > t1) break;
    if (at >= t0) ticks.push(at);
  }
  return { step, ticks };
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
const DAYS = 'Sun Mon Tue Wed Thu Fri Sat'.split(' ');
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

function wall(t, offset) {
  const d = new Date(t + offset(t));
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth(), d: d.getUTCDate(), wd: d.getUTCDay(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds() };
}

/** A tick's label for its step: 12:30, 12:30:15, 12:30:15.200, Mon 7 (midnights), Mar 2026. */
export function timeLabel(t, step, offset = utcOffset) {
  const w = wall(t, offset);
  if (step >= 365 * D) return String(w.y);
  if (step >= 30 * D) return `${MONTHS[w.mo]} ${w.y}`;
  if (step >= D || !(w.h || w.mi || w.s || w.ms)) return `${DAYS[w.wd]} ${w.d}`;
  const hm = `${pad(w.h)}:${pad(w.mi)}`;
  return step >= M ? hm : step >= S ? `${hm}:${pad(w.s)}` : `${hm}:${pad(w.s)}.${pad(w.ms, 3)}`;
}

/** A full time for the crosshair: 2026-12-06 15:57:27(.250). */
export function timeStamp(t, offset = utcOffset, ms = false) {
  const w = wall(t, offset);
  const s = `${w.y}-${pad(w.mo + 1)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
  return ms ? `${s}.${pad(w.ms, 3)}` : s;
}
