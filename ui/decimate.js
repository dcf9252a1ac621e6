// M4 decimation (Jugel et al., VLDB 2014): per pixel column the first, min, max and last
// point in time order, so a line through at most 4 vertices a column covers the pixels the
// whole line would: drawing follows the width, not the points. Pure.

/** A series' output buffers, reused across draws (they grow only with the width). */
export class Decimated {
  constructor() {
    this.reserve(0);
    // vertices (xs: px from the left, NaN a gap; ys: values); band columns
    this.n = this.nb = 0;
    // min, max, sum, count, last, lastTime of the points in view
    this.stats = {};
    // what was decimated
    this.key = { ring: null, version: 0, t0: 0, t1: 0, width: 0, tEnd: 0 };
  }

  reserve(width) {
    const need = 4 * (width + 3) + 8;
    if (this.xs?.length >= need) return;
    [this.xs, this.ys] = [new Float64Array(need), new Float64Array(need)];
    // band x, min, max
    [this.bx, this.blo, this.bhi] = [0, 0, 0].map(() => new Float64Array(need >> 1));
  }
}

/**
 * Decimates the points of `ring` (a Ring from ring.js) that fall in [t0, t1], plus one on
 * each side so the line reaches the edges, onto `width` px columns. Only points before
 * `tEnd` are taken (to clip history where the live ring starts). Fills `out`; allocates
 * nothing, and does nothing when the same unchanged ring was decimated onto the same frame.
 * Column by column: a point joins the open column while (t - t0) * scale < col + 1
 * (floor(x) === col for times in order), so the inner loop is compares and adds.
 */
export function m4(ring, t0, t1, width, out, tEnd = Infinity) {
  const key = out.key;
  if (key.ring === ring && key.version === ring.version && key.t0 === t0 && key.t1 === t1 && key.width === width && key.tEnd === tEnd) return out;
  key.ring = ring;
  key.version = ring.version;
  key.t0 = t0;
  key.t1 = t1;
  key.width = width;
  key.tEnd = tEnd;
  out.reserve(width);
  out.n = out.nb = 0;
  const st = out.stats;
  st.min = st.max = st.last = st.lastTime = NaN;
  st.sum = st.count = 0;
  if (!ring.length || !(t1 > t0)) return out;
  const from = Math.max(0, ring.lowerBound(t0) - 1);
  // the first point after the view is kept too
  let last = ring.lowerBound(t1);
  if (last < ring.length && ring.time(last) === t1) last++;
  const to = Math.min(last + 1, ring.lowerBound(tEnd));
  if (to <= from) return out;
  const { times, values, mins, maxs, capacity } = ring;
  const scale = width / (t1 - t0);
  const { xs, ys } = out;
  let n = 0;
  let nb = 0;
  let smin = Infinity, smax = -Infinity, ssum = 0, scount = 0, slast = NaN, slastT = NaN;
  let i = from;
  let j = ring.index(from);
  while (i < to) {
    const v = values[j];
    // a gap: breaks the line once
    if (v !== v) {
      if (n && xs[n - 1] === xs[n - 1]) {
        xs[n] = ys[n] = NaN;
        n++;
        if (mins) nb = band(out, nb, NaN, NaN, NaN);
      }
      i++;
      j = j + 1 === capacity ? 0 : j + 1;
      continue;
    }
    const first = i;
    const ft = times[j];
    const fx = (ft - t0) * scale;
    // x of the next column
    const end = Math.floor(fx) + 1;
    let lv = v, lo = v, hi = v, loi = i, hii = i, sum = v, lt = ft;
    let blo = mins ? mins[j] : 0;
    let bhi = mins ? maxs[j] : 0;
    for (i++, j = j + 1 === capacity ? 0 : j + 1; i < to; i++, j = j + 1 === capacity ? 0 : j + 1) {
      const t = times[j];
      const w = values[j];
      if ((t - t0) * scale >= end || w !== w) break;
      lv = w;
      lt = t;
      sum += w;
      if (w < lo) {
        lo = w;
        loi = i;
      } else if (w > hi) {
        hi = w;
        hii = i;
      }
      if (mins) {
        if (mins[j] < blo) blo = mins[j];
        if (maxs[j] > bhi) bhi = maxs[j];
      }
    }
    const k = i - first;
    n = flush(xs, ys, n, k, end - 0.5, fx, v, lo, loi, hi, hii, lv);
    if (mins) nb = band(out, nb, fx, blo, bhi);
    // the column is inside the view: its totals are the stats'
    if (ft >= t0 && lt <= t1) {
      if (lo < smin) smin = lo;
      if (hi > smax) smax = hi;
      ssum += sum;
      scount += k;
      slast = lv;
      slastT = lt;
    } else {
      // an edge column: only its points in view count
      for (let a = first; a < i; a++) {
        const t = ring.time(a);
        const w = ring.value(a);
        if (t < t0 || t > t1) continue;
        if (w < smin) smin = w;
        if (w > smax) smax = w;
        ssum += w;
        scount++;
        slast = w;
        slastT = t;
      }
    }
  }
  out.n = n;
  out.nb = nb;
  if (scount) Object.assign(st, { min: smin, max: smax, sum: ssum, count: scount, last: slast, lastTime: slastT });
  return out;
}

// Emits a column's vertices in time order, skipping repeats: a lone point at its own x,
// several as a vertical run at the column's middle `mid` (what a 1 px line covers anyway;
// whole columns also keep the software rasterizer off sub-pixel zigzags).
function flush(xs, ys, n, k, mid, fx, fv, lo, loi, hi, hii, lv) {
  if (k === 1) return vertex(xs, ys, n, fx, fv);
  const a = loi <= hii;
  n = vertex(xs, ys, n, mid, fv);
  n = vertex(xs, ys, n, mid, a ? lo : hi);
  n = vertex(xs, ys, n, mid, a ? hi : lo);
  return vertex(xs, ys, n, mid, lv);
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
