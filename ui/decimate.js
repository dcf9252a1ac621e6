// M4 decimation (Jugel et al., VLDB 2014): per pixel column the first, min, max and last
// point in time order, so a line through at most 4 vertices a column covers the pixels the
// whole line would: drawing follows the width, not the points. Pure.

/** A series' output buffers, reused across draws (they grow only with the width). */
export class Decimated {
  constructor() {
    this.reserve(0);
    this.n = this.nb = 0; // vertices (xs: px from the left, NaN a gap; ys: values); band columns
    this.stats = {}; // min, max, sum, count, last, lastTime of the points in view
  }

  reserve(width) {
    const need = 4 * (width + 3) + 8;
    if (this.xs?.length >= need) return;
    [this.xs, this.ys] = [new Float64Array(need), new Float64Array(need)];
    [this.bx, this.blo, this.bhi] = [0, 0, 0].map(() => new Float64Array(need >> 1)); // band x, min, max
  }
}

/**
 * Decimates the points of `ring` (a Ring from ring.js) that fall in [t0, t1], plus one on
 * each side so the line reaches the edges, onto `width` px columns. Only points before
 * `tEnd` are taken (to clip history where the live ring starts). Fills `out`.
 */
export function m4(ring, t0, t1, width, out, tEnd = Infinity) {
  out.reserve(width);
  out.n = out.nb = 0;
  const st = Object.assign(out.stats, { min: NaN, max: NaN, sum: 0, count: 0, last: NaN, lastTime: NaN });
  if (!ring.length || !(t1 > t0)) return out;
  const from = Math.max(0, ring.lowerBound(t0) - 1);
  let last = ring.lowerBound(t1); // the first point after the view is kept too
  if (last < ring.length && ring.time(last) === t1) last++;
  const to = Math.min(last + 1, ring.lowerBound(tEnd));
  if (to <= from) return out;
  const { times, values, mins, maxs, capacity } = ring;
  const scale = width / (t1 - t0);
  const xs = out.xs;
  const ys = out.ys;
  let n = 0;
  let nb = 0;
  let col = 0; // the open column
  let k = 0; // points in it (0: none open)
  let fx = 0, fv = 0, lv = 0, lo = 0, loi = 0, hi = 0, hii = 0;
  let blo = 0, bhi = 0, bx = 0;
  let smin = Infinity, smax = -Infinity, ssum = 0, scount = 0, slast = NaN, slastT = NaN;
  let j = ring.index(from);
  // One loop, one flush site (a second call site after the loop kept V8 deoptimizing):
  // i === to closes the last column like a gap does.
  for (let i = from; i <= to; i++, j = j + 1 === capacity ? 0 : j + 1) {
    const v = i < to ? values[j] : NaN;
    let x = 0;
    let c = 0;
    if (v === v) {
      const t = times[j];
      if (t >= t0 && t <= t1) {
        if (v < smin) smin = v;
        if (v > smax) smax = v;
        ssum += v;
        scount++;
        slast = v;
        slastT = t;
      }
      x = (t - t0) * scale;
      c = Math.floor(x);
      if (k && c === col) {
        k++;
        lv = v;
        if (v < lo) {
          lo = v;
          loi = i;
        } else if (v > hi) {
          hi = v;
          hii = i;
        }
        if (mins) {
          if (mins[j] < blo) blo = mins[j];
          if (maxs[j] > bhi) bhi = maxs[j];
        }
        continue;
      }
    }
    if (k) {
      n = flush(xs, ys, n, k, col, fx, fv, lo, loi, hi, hii, lv);
      if (mins) nb = band(out, nb, bx, blo, bhi);
      k = 0;
    }
    if (v !== v) {
      if (i < to && n && xs[n - 1] === xs[n - 1]) {
        xs[n] = NaN;
        ys[n++] = NaN;
        if (mins) nb = band(out, nb, NaN, NaN, NaN);
      }
      continue;
    }
    col = c;
    k = 1;
    fx = bx = x;
    fv = lv = lo = hi = v;
    loi = hii = i;
    if (mins) {
      blo = mins[j];
      bhi = maxs[j];
    }
  }
  out.n = n;
  out.nb = nb;
  if (scount) Object.assign(st, { min: smin, max: smax, sum: ssum, count: scount, last: slast, lastTime: slastT });
  return out;
}

// Emits a column's vertices in time order, skipping repeats: a lone point at its own x,
// several as a vertical run at the column's middle (what a 1 px line covers anyway; whole
// columns also keep the software rasterizer off sub-pixel zigzags).
function flush(xs, ys, n, k, col, fx, fv, lo, loi, hi, hii, lv) {
  if (k === 1) return vertex(xs, ys, n, fx, fv);
  const x = col + 0.5;
  const a = loi <= hii;
  n = vertex(xs, ys, n, x, fv);
  n = vertex(xs, ys, n, x, a ? lo : hi);
  n = vertex(xs, ys, n, x, a ? hi : lo);
  return vertex(xs, ys, n, x, lv);
}

function vertex(xs, ys, n, x, v) {
  if (n && xs[n - 1] === x && ys[n - 1] === v) return n;
  xs[n] = x;
  ys[n] = v;
  return n + 1;
}

function band(out, nb, x, lo, hi) {
  out.bx[nb] = x;
  out.blo[nb] = lo;
  out.bhi[nb] = hi;
  return nb + 1;
}
