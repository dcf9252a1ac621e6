"""Floods of new series (issue 17 item 2) and of set members: the quick cases here; the
1M-series floods over carbon and StatsD and the 1M-member set floods are full-mode rows
(`scripts/chaos.sh flood`; figures in BENCHMARKS.md, "Issue 17")."""

import os
import socket
import threading
import time

from harness import Daemon, settle
from matrix import case, Row

STATSD = "  statsd:\n    listen: 127.0.0.1:0\n"

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
    # Polled (a fixed 3 s could read before a commit or a self-metrics round that came late on
    # a loaded machine); the lines that must not appear are looked for after it, as before.
    kept = settle(lambda: d.total("sumSeries(abuse.old.*:sum)", frm="-10min"), lambda v: v == 100)
    refused = settle(lambda: d.counter("tally.store.refused_new_series_buckets"), lambda n: n > 0)
    cause = settle(lambda: d.logged("max_new_series_per_minute"), bool)
    wrong = d.logged("The store refuses commits")
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
    # Polled: a commit of 5,000 new series can take longer than 3 s on a loaded machine.
    kept_old = settle(lambda: d.total("sumSeries(abuse.old.*:sum)", frm="-10min"),
                      lambda v: v == 100)
    kept_new = settle(lambda: d.total("sumSeries(abuse.burst.*:sum)", frm="-10min"),
                      lambda v: v == 5000)
    dropped = d.counter("tally.store.dropped_buckets")
    wrong = d.logged("The store refuses commits")
    ok = kept_old == 100 and kept_new == 5000 and dropped == 0 and not wrong
    seen = (f"existing {kept_old:.0f}/100, new {kept_new:.0f}/5000, dropped buckets {dropped:.0f},"
            f" 'store refuses' lines {len(wrong)}")
    return Row(ok, seen, lost=f"{5100 - kept_old - kept_new:.0f} points")


def after_flood(d, rss):
    """RSS and the buckets waiting, 5 to 30 s after a flood."""
    over_time = []
    for k in range(6):
        time.sleep(5)
        rss.append(d.rss_mib())
        waiting = d.total("tally.store.new_series_waiting:last", frm="-10s")
        over_time.append(f"{5 * (k + 1)}s {rss[-1]:.0f}MiB/{waiting / 1e3:.0f}kw")
    return ", ".join(over_time)


def budget(d):
    """(new series admitted, new-series buckets refused, buckets dropped), counted."""
    return (d.counter("tally.store.new_series"),
            d.counter("tally.store.refused_new_series_buckets"),
            d.counter("tally.store.dropped_buckets"))


def flood(n, proto):
    @case(f"flood.{proto}_{n // 1000}k", f"{n:,} new series over {proto}: existing series keep"
          " every bucket, new ones slowed/refused and counted, nothing dropped", timeout=900,
          carbon_extra=STATSD if proto == "statsd" else "")
    def run(d):
        now = int(time.time()) // 10 * 10
        send = d.send_carbon if proto == "carbon" else d.send_statsd
        if proto == "carbon":
            old = lambda t: [f"abuse.old.s{i} 1 {t}\n" for i in range(100)]  # noqa: E731
            new = lambda i: f"abuse.flood.s{i} 1 {now}\n"  # noqa: E731
        else:
            old = lambda t: [f"abuse.old.k{i}:1|c\n" for i in range(100)]  # noqa: E731
            new = lambda i: (f"abuse.flood.c{i}:1|c\n" if i % 2 else  # noqa: E731
                             f"abuse.flood.t{i}:{i % 1000}|ms\n")
        send(old(now - 20))
        time.sleep(2)
        t0, rss, batch, expected = time.time(), [d.rss_mib()], 20000, 100
        for start in range(0, n, batch):
            lines = [new(i) for i in range(start, start + batch)]
            if proto == "statsd" or start == 0:
                lines += old(now)
                expected += 100
            send(lines)
            rss.append(d.rss_mib())
        secs = time.time() - t0
        curve = after_flood(d, rss)
        kept = d.total("sumSeries(abuse.old.*:sum)", frm="-10min")
        admitted, refused, dropped = budget(d)
        seen = (f"sent in {secs:.0f}s, existing kept {kept:.0f}/{expected}, new series admitted "
                f"{admitted:.0f}, refused buckets {refused:.0f} (counted), dropped {dropped:.0f}; "
                f"RSS {rss[0]:.0f} MiB before, after: {curve}; peak {d.hwm_mib():.0f} MiB")
        return Row(kept == expected and refused > 0 and dropped == 0, seen,
                   lost=f"{expected - kept:.0f} of existing series")

    return run


def set_flood(sets, members):
    """`sets` sets of `members` members each over StatsD TCP, through the store and an etsy
    flush (to a carbon listener here): memory stays bounded, counts stay near the truth."""
    total = sets * members

    @case(f"flood.set_{sets}x{members // 1000}k", f"{total:,} set members ({sets:,} set(s)):"
          " RSS bounded (distinct counter), counts within 5%, existing series keep every"
          " bucket", own_daemon=True, timeout=900)
    def run():
        sink = CarbonSink()
        out = (f"outputs:\n  - {{type: carbon, name: etsy, destinations: ['127.0.0.1:{sink.port}'],"
               f" statsd: {{flush_interval: 10s}}}}\n")
        d = Daemon(http_extra="", carbon_extra=STATSD, extra=out)
        try:
            d.send_statsd([f"abuse.old.k{i}:1|c\n" for i in range(100)])
            time.sleep(2)
            base, rss, t0, expected = d.rss_mib(), [], time.time(), 100
            batch = 20000
            order = ((i % sets, i // sets) for i in range(total))
            while True:
                lines = [f"abuse.set.s{s}:member-{m}|s\n" for s, m in
                         (next(order, (None, None)) for _ in range(batch)) if s is not None]
                if not lines:
                    break
                lines += [f"abuse.old.k{i}:1|c\n" for i in range(100)]
                expected += 100
                d.send_statsd(lines)
                rss.append(d.rss_mib())
            secs = time.time() - t0
            curve = after_flood(d, rss)
            time.sleep(10)  # the flush window that holds the last members
            kept = d.total("sumSeries(abuse.old.*:sum)", frm="-10min")
            # One point per set: its buckets merged (a union of members), then summed here.
            stored = d.render("abuse.set.*:distinct", frm="-10min", extra="&maxDataPoints=1")
            distinct = sum(v for s in stored for v, _ in s["datapoints"] if v is not None)
            flushed = sink.total("stats.sets.abuse.set.")
            growth = max(rss) - base
            ok = (kept == expected and abs(distinct - total) <= 0.05 * total
                  and abs(flushed - total) <= 0.05 * total and growth < 200)
            seen = (f"sent in {secs:.0f}s, store distinct {distinct:,.0f}, etsy flush count "
                    f"{flushed:,.0f} (of {total:,}), existing kept {kept:.0f}/{expected}; RSS "
                    f"{base:.0f} MiB before, +{growth:.0f} MiB at most; after: {curve}; peak "
                    f"{d.hwm_mib():.0f} MiB")
            return Row(ok, seen, lost=f"{expected - kept:.0f} of existing series",
                       alive=d.alive())
        finally:
            d.close()
            sink.close()

    return run


class CarbonSink:
    """A carbon plaintext listener that sums the values of the lines it receives by prefix."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lines = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        buf = b""
        while True:
            got = conn.recv(65536)
            if not got:
                return
            buf += got
            *whole, buf = buf.split(b"\n")
            self.lines.extend(whole)

    def total(self, prefix):
        p = prefix.encode()
        return sum(float(l.split()[1]) for l in list(self.lines) if l.startswith(p))

    def close(self):
        self.server.close()


if os.environ.get("CHAOS_FLOOD", "1") == "1":
    flood(1_000_000, "carbon")
    flood(1_000_000, "statsd")
    set_flood(1, 1_000_000)
    set_flood(1000, 1000)
