"""Floods of new series (issue 17 item 2): the quick case here; the 1M-series floods are the
benchmark `scripts/chaos.sh flood` (BENCHMARKS.md, "Issue 17")."""

import os
import time

from matrix import case, Row

SMALL = ("storage:\n  commit_interval: 200ms\n  max_new_series_per_minute: 600\n"
         "  max_pending_buckets: 1000\n")


@case("flood.new_series_small", "5,000 new series in one burst with 50 existing ones: every"
      " bucket of the existing series kept, new ones slowed/refused and counted, the log names"
      " the real cause", quick=True, extra=SMALL, timeout=90)
def small_flood(d):
    now = int(time.time()) // 10 * 10
    d.send_carbon([f"abuse.old.s{i} 1 {now - 20}\n" for i in range(50)])
    time.sleep(1.5)
    lines = [f"abuse.new.s{i} 1 {now}\n" for i in range(5000)]
    lines += [f"abuse.old.s{i} 1 {now - 10}\n" for i in range(50)]
    d.send_carbon(lines)
    time.sleep(3)
    kept = d.total("sumSeries(abuse.old.*:sum)", frm="-10min")
    refused = d.counter("tally.store.refused_new_series_buckets")
    wrong = d.logged("The store refuses commits")
    cause = d.logged("max_new_series_per_minute")
    ok = kept == 100 and refused > 0 and not wrong and bool(cause)
    seen = (f"existing kept {kept:.0f}/100, refused new-series buckets {refused:.0f}, "
            f"'store refuses' lines {len(wrong)}, cause named {bool(cause)}")
    return Row(ok, seen, lost=f"{100 - kept:.0f} of existing series", clear=bool(cause))


@case("flood.burst_healthy", "one commit interval draining far more than max_pending_buckets"
      " with a healthy store: nothing dropped, no false 'store refuses' line", quick=True,
      extra="storage:\n  max_pending_buckets: 1000\n", timeout=90)
def burst_healthy(d):
    now = int(time.time()) // 10 * 10
    d.send_carbon([f"abuse.old.s{i} 1 {now - 20}\n" for i in range(50)])
    time.sleep(1.5)
    lines = [f"abuse.burst.s{i} 1 {now}\n" for i in range(5000)]
    lines += [f"abuse.old.s{i} 1 {now - 10}\n" for i in range(50)]
    d.send_carbon(lines)
    time.sleep(3)
    kept_old = d.total("sumSeries(abuse.old.*:sum)", frm="-10min")
    kept_new = d.total("sumSeries(abuse.burst.*:sum)", frm="-10min")
    dropped = d.counter("tally.store.dropped_buckets")
    wrong = d.logged("The store refuses commits")
    ok = kept_old == 100 and kept_new == 5000 and dropped == 0 and not wrong
    seen = (f"existing {kept_old:.0f}/100, new {kept_new:.0f}/5000, dropped buckets {dropped:.0f},"
            f" 'store refuses' lines {len(wrong)}")
    return Row(ok, seen, lost=f"{5100 - kept_old - kept_new:.0f} points")


def flood(n, proto):
    @case(f"flood.{proto}_{n // 1000}k", f"{n:,} new series over {proto}: existing series keep"
          " every bucket, refusals counted, RSS bounded", quick=False, timeout=900,
          extra="inputs:\n  statsd:\n    listen: 127.0.0.1:0\n" if proto == "statsd" else "")
    def run(d):
        import socket
        now = int(time.time()) // 10 * 10
        d.send_carbon([f"abuse.old.s{i} 1 {now - 20}\n" for i in range(100)])
        time.sleep(2)
        t0 = time.time()
        rss = [d.rss_mib()]
        batch = 20000
        for start in range(0, n, batch):
            lines = [f"abuse.flood.s{i} 1 {now}\n" for i in range(start, start + batch)]
            lines += [f"abuse.old.s{i} 1 {now}\n" for i in range(100)] if start == 0 else []
            d.send_carbon(lines)
            rss.append(d.rss_mib())
        secs = time.time() - t0
        over_time = []
        for k in range(6):  # RSS and the admission counters over 30 s after the flood
            time.sleep(5)
            waiting = d.total("tally.store.new_series_waiting:last", frm="-10s")
            over_time.append(f"{5 * (k + 1)}s {d.rss_mib():.0f}MiB/{waiting:.0f}w")
        kept = d.total("sumSeries(abuse.old.*:sum)", frm="-10min")
        refused = d.counter("tally.store.refused_new_series_buckets")
        admitted = d.counter("tally.store.new_series")
        dropped = d.counter("tally.store.dropped_buckets")
        seen = (f"sent in {secs:.0f}s (RSS max {max(rss):.0f} MiB), existing kept {kept:.0f}/200, "
                f"new series admitted {admitted:.0f}, refused buckets {refused:.0f}, dropped "
                f"{dropped:.0f}; after: {', '.join(over_time)}; peak {d.hwm_mib():.0f} MiB")
        return Row(kept == 200, seen, lost=f"{200 - kept:.0f} of existing series")

    return run


if os.environ.get("CHAOS_FLOOD", "1") == "1":
    flood(1_000_000, "carbon")
