"""Soaks (issue 17): `scripts/chaos.sh --soak`, CHAOS_SOAK_MINUTES long (default 30). Two
daemons side by side: one takes a burst of large-body requests and then sits idle (its RSS must
come back near where it started), the other takes steady carbon + StatsD + HTTP traffic (RSS,
open fds and threads must stay flat, and every point sent is stored). Samples every 30 s go to
CHAOS_SOAK_OUT (default /tmp/tally-soak-<time>.csv)."""

import os
import random
import threading
import time
import urllib.parse

from harness import Daemon, http_request
from matrix import case, Row

MINUTES = float(os.environ.get("CHAOS_SOAK_MINUTES", "30"))
STATSD = "  statsd:\n    listen: 127.0.0.1:0\n"


def large_bodies(d, n=64, threads=8):
    """`n` requests with 7 MiB bodies (under the 8 MiB limit) and 64 MiB ones (over it) to the
    read endpoints and /api/ingest, `threads` at a time: the statuses seen."""
    seven = 7 << 20
    jobs = []
    for i in range(n):
        path = ["/render", "/metrics/find", "/api/ingest", "/render"][i % 4]
        over = i % 8 == 7
        size = 64 << 20 if over else seven
        jobs.append((path, size))
    statuses = {}
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not jobs:
                    return
                path, size = jobs.pop()
            key = "target=" if path == "/render" else "query=" if "find" in path else ""
            body = key.encode() + b"a" * (size - len(key))
            ctype = ("application/octet-stream" if path == "/api/ingest"
                     else "application/x-www-form-urlencoded")
            try:
                status = http_request(d.http, "POST", path, body,
                                      {"Content-Type": ctype}, timeout=60)[0]
            except OSError:
                status = "reset"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return statuses


class Traffic:
    """Steady traffic to one daemon each second: 200 carbon points, 300 StatsD values
    (counters, timers, one set), a render, a find and a readiness check."""

    def __init__(self, d):
        self.d, self.stop, self.carbon_sent, self.statsd_count = d, threading.Event(), 0, 0
        self.http_errors, self.errors, self.rnd, self.tick = 0, [], random.Random(17), 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            t0 = time.time()
            try:
                self.second()
            except OSError as e:
                self.errors.append(repr(e))
            self.stop.wait(max(0.0, 1.0 - (time.time() - t0)))

    def second(self):
        d, rnd, now = self.d, self.rnd, int(time.time())
        d.send_carbon([f"soak.c.s{i} 1 {now}\n" for i in range(200)])
        self.carbon_sent += 200
        lines = [f"soak.counter.k{i}:1|c\n" for i in range(100)]
        lines += [f"soak.timer.k{i}:{rnd.uniform(1, 500):.1f}|ms\n" for i in range(100)]
        lines += [f"soak.set:u{rnd.randrange(100000)}|s\n" for _ in range(100)]
        d.send_statsd(lines)
        self.statsd_count += 100
        q = urllib.parse.urlencode({"target": f"sumSeries(soak.c.s{self.tick % 200}:sum)",
                                    "from": "-10min", "format": "json"})
        for path in (f"/render?{q}", "/metrics/find?query=soak.*", "/-/ready"):
            if d.get(path, timeout=30)[0] != 200:
                self.http_errors += 1
        self.tick += 1


@case("soak.rss_fds_threads", f"{MINUTES:g} min: after a burst of large bodies RSS returns near"
      " its baseline while idle; under steady carbon+StatsD+HTTP RSS, fds and threads stay"
      " flat and every point is stored", own_daemon=True, soak=True,
      timeout=int(MINUTES * 60) + 600)
def soak():
    out_path = os.environ.get("CHAOS_SOAK_OUT", f"/tmp/tally-soak-{int(time.time())}.csv")
    idle = Daemon(http_extra="")
    busy = None
    try:
        busy = Daemon(http_extra="", carbon_extra=STATSD)
        time.sleep(20)
        base = idle.rss_mib()
        t_burst = time.time()
        statuses = large_bodies(idle)
        burst_s = time.time() - t_burst
        peak = idle.hwm_mib()
        traffic = Traffic(busy)
        samples, t0 = [], time.time()
        with open(out_path, "w") as f:
            f.write("seconds,idle_rss_mib,idle_cpu_s,busy_rss_mib,busy_fds,busy_threads,"
                    "busy_cpu_s,busy_segment_fds\n")
            while time.time() - t0 < MINUTES * 60:
                fds, segments, threads = busy.proc_counts()
                s = (round(time.time() - t0), idle.rss_mib(), idle.cpu_seconds(),
                     busy.rss_mib(), fds - segments, threads, busy.cpu_seconds(), segments)
                samples.append(s)
                f.write(",".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in s)
                        + "\n")
                f.flush()
                time.sleep(30)
        traffic.stop.set()
        traffic.thread.join(60)
        time.sleep(3)
        frm = f"-{int(MINUTES) + 5}min"
        carbon = busy.total("sumSeries(soak.c.*:sum)", frm=frm)
        counts = busy.total("sumSeries(soak.counter.*:sum)", frm=frm)
        first, third, last = samples[min(4, len(samples) - 1)], samples[len(samples) // 3], samples[-1]
        idle_ok = last[1] <= base * 1.5 + 16
        # Segment files come and go with head flushes and compaction (FAN_IN per level);
        # every other fd (sockets, WAL, pipes) must stay flat.
        busy_ok = (last[3] <= third[3] * 1.25 + 16 and last[4] <= first[4] + 3
                   and last[5] <= first[5] + 4 and max(s[7] for s in samples) <= 40)
        data_ok = carbon == traffic.carbon_sent and counts == traffic.statsd_count
        every = max(1, len(samples) // 6)
        curve = " ".join(f"{s[0] // 60}m:{s[1]:.0f}/{s[3]:.0f}/{s[4]}+{s[7]}/{s[5]}"
                         for s in samples[::every] + [last])
        seen = (f"burst {sum(statuses.values())} bodies in {burst_s:.0f}s {statuses}; idle RSS "
                f"baseline {base:.0f} MiB, peak {peak:.0f}, end {last[1]:.0f} (CPU "
                f"{last[2]:.1f}s); busy: carbon {carbon:.0f}/{traffic.carbon_sent}, StatsD "
                f"{counts:.0f}/{traffic.statsd_count}, HTTP errors {traffic.http_errors}, send errors {traffic.errors[:3]}, CPU "
                f"{last[6]:.0f}s; min:idleRSS/busyRSS/fds+segment fds/threads {curve}; samples {out_path}")
        lost = f"{traffic.carbon_sent - carbon:.0f} carbon, {traffic.statsd_count - counts:.0f} StatsD"
        return Row(idle_ok and busy_ok and data_ok and traffic.http_errors == 0
                   and not traffic.errors, seen, lost=lost,
                   alive=idle.alive() and busy.alive())
    finally:
        idle.close()
        if busy:
            busy.close()
