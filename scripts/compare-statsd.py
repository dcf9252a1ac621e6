#!/usr/bin/python3
"""Side by side: the real etsy statsd 0.9.0 and tally's etsy-compatible flush (a carbon output
with a `statsd:` block) over the same StatsD traffic. Run through scripts/compare-statsd.sh.

usage: compare-statsd.py TALLY STATS_JS [--seed S] [--windows N] [--config NAME] [--keep DIR] [-v]

Per config (CONFIGS: one etsy config and the equivalent tally `statsd:` block), both daemons
run on loopback ports picked free and flush every 2 s to a Graphite sink of their own (a TCP
listener here). The windows are aligned as tests/statsd_etsy.rs aligns them: the idle flushes
tell each side's flush phase, and every window's packets (statsd_random.py's, seeded) go out
at the point of the cycle farthest from both, UDP datagrams and TCP connections alike (etsy's
`./servers/tcp` on a port of its own, tally's StatsD TCP listener). Window w of etsy's flushes
is compared with window w of tally's: every name exactly, every value to float precision
(1e-9 relative; NaN equals NaN); timestamps are not compared (etsy stamps from its own start,
tally on wall-clock multiples), nor the values of the timing metrics (processing_time,
calculationtime, graphiteStats.*, timestamp_lag), whose names are. A flushed name holds the
token (kNNNN) of the group that made it, so a difference is shown with the lines of that token
sent so far; one statsd_known.py explains is known, any other is DIFFERENT (exit status 1).
A value equal to float precision but not byte for byte is counted and printed (`text ...`):
tally promises etsy's bytes. --keep DIR keeps each config's files and the packets sent
(DIR/NAME/sent.txt); -v prints the known differences too.
"""
import argparse
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import statsd_known  # noqa: E402
import statsd_random  # noqa: E402
import tally_proc  # noqa: E402

INTERVAL = 2.0
TOKEN = re.compile(r'k\d{4}')
TIMING = ['processing_time', 'calculationtime', 'graphiteStats.last_flush',
          'graphiteStats.last_exception', 'graphiteStats.flush_time',
          'graphiteStats.flush_length', 'timestamp_lag']

# name: (etsy config members, tally `statsd:` block members)
CONFIGS = {
    'defaults': ('', ''),
    'namespace': ("graphite: {legacyNamespace: false, globalPrefix: 'pre', prefixCounter: 'cnt',"
                  " prefixTimer: 'tmr', prefixGauge: 'gge', prefixSet: 'st', globalSuffix: 'sfx'},"
                  " prefixStats: 'sd'",
                  "legacy_namespace: false, global_prefix: pre, prefix_counter: cnt, "
                  "prefix_timer: tmr, prefix_gauge: gge, prefix_set: st, global_suffix: sfx, "
                  "prefix_stats: sd"),
    'no-prefix': ("graphite: {legacyNamespace: false, globalPrefix: '', prefixCounter: '',"
                  " prefixGauge: ''}",
                  "legacy_namespace: false, global_prefix: '', prefix_counter: '', "
                  "prefix_gauge: ''"),
    'percentiles': ("percentThreshold: [90, 99.9, -10, 50, 0.5, 100, -99.9]",
                    "percent_threshold: [90, 99.9, -10, 50, 0.5, 100, -99.9]"),
    'histogram': ("histogram: [{metric: 'lat', bins: [0.5, 10, 100.5, 'inf']},"
                  " {metric: 'k00', bins: [1, 1000]}, {metric: '', bins: [50, 'inf']}]",
                  "histogram: [{metric: lat, bins: [0.5, 10, 100.5, inf]},"
                  " {metric: k00, bins: [1, 1000]}, {metric: '', bins: [50, inf]}]"),
    'delete-idle': ("deleteIdleStats: true", "delete_idle_stats: true"),
    'delete-parts': ("deleteIdleStats: true, deleteCounters: false, deleteSets: false,"
                     " gaugesMaxTTL: 2",
                     "delete_idle_stats: true, delete_counters: false, delete_sets: false, "
                     "gauges_max_ttl: 2"),
    'delete-some': ("deleteGauges: true, deleteTimers: true",
                    "delete_gauges: true, delete_timers: true"),
    'timer-metrics': ("calculatedTimerMetrics: ['count', 'mean', 'upper_90', 'histogram',"
                      " 'sum_squares', 'std', 'lower'], percentThreshold: [90, -50],"
                      " histogram: [{metric: '', bins: [10, 'inf']}]",
                      "calculated_timer_metrics: [count, mean, upper_90, histogram, "
                      "sum_squares, std, lower], percent_threshold: [90, -50], "
                      "histogram: [{metric: '', bins: [10, inf]}]"),
    'no-counts': ("flush_counts: false", "flush_counts: false"),
    'no-counts-ns': ("flush_counts: false, graphite: {legacyNamespace: false}",
                     "flush_counts: false, legacy_namespace: false"),
}


def free_port():
    """A port free for TCP and UDP both."""
    while True:
        t = socket.socket()
        t.bind(('127.0.0.1', 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


class Sink:
    """A local Graphite: (arrival, line) of every connection, grouped into flushes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lines, self.lock = [], threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        buf = b''
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            *whole, buf = buf.split(b'\n')
            now = time.monotonic()
            with self.lock:
                self.lines += [(now, l.decode('utf-8', 'surrogateescape')) for l in whole]

    def flushes(self):
        """[(start, [line])]: lines less than 0.7 s after a flush's first belong to it."""
        out = []
        with self.lock:
            for at, line in self.lines:
                if out and at - out[-1][0] < 0.7:
                    out[-1][1].append(line)
                else:
                    out.append((at, [line]))
        return out


def start_etsy(work, stats_js, members, sink):
    udp, tcp = free_port(), free_port()
    conf = os.path.join(work, 'etsy.js')
    with open(conf, 'w') as f:
        f.write('{ servers: [{server: "./servers/udp", address: "127.0.0.1", port: %d},\n'
                '            {server: "./servers/tcp", address: "127.0.0.1", port: %d}],\n'
                '  mgmt_address: "127.0.0.1", mgmt_port: %d, graphiteHost: "127.0.0.1",\n'
                '  graphitePort: %d, flushInterval: %d, automaticConfigReload: false,\n  %s }\n'
                % (udp, tcp, free_port(), sink.port, INTERVAL * 1000, members))
    log = open(os.path.join(work, 'etsy.log'), 'w')
    proc = subprocess.Popen(['node', stats_js, conf], cwd=os.path.dirname(stats_js),
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit('etsy statsd exited: %s' % open(log.name).read()[-2000:])
        if 'server is up' in open(log.name).read():
            return proc, ('127.0.0.1', udp), ('127.0.0.1', tcp)
        time.sleep(0.1)
    sys.exit('etsy statsd did not start')


def start_tally(work, binary, members, sink):
    conf = os.path.join(work, 'tally.yaml')
    with open(conf, 'w') as f:
        f.write('data_dir: %s/data\nhostname: cmp\nhttp: {listen: 127.0.0.1:0}\n'
                'inputs:\n  system: {enabled: false}\n  carbon: {enabled: false}\n'
                '  statsd: {listen: 127.0.0.1:0}\noutputs:\n  - type: carbon\n'
                "    destinations: ['127.0.0.1:%d']\n    statsd: {flush_interval: %dms%s}\n"
                % (work, sink.port, INTERVAL * 1000, ', ' + members if members else ''))
    wanted = ('StatsD listening on udp.', 'StatsD listening on tcp.')
    proc, addrs = tally_proc.start(binary, conf, os.path.join(work, 'tally.log'), wanted)
    return (proc, *(addrs[w] for w in wanted))


def send(packets, etsy, tally):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for transport, data, _groups in packets:
        raw = data.encode('utf-8')
        if transport == 'udp':
            udp.sendto(raw, etsy[0])
            udp.sendto(raw, tally[0])
            continue
        pieces = statsd_random.tcp_pieces(raw)
        conns = [socket.create_connection(dest) for dest in (etsy[1], tally[1])]
        for p in pieces:
            for c in conns:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sendall(p)
            time.sleep(0.005)
        for c in conns:
            c.shutdown(socket.SHUT_WR)
            c.settimeout(2)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass
            c.close()
    udp.close()


def send_phase(etsy_at, tally_at):
    """The phase (from etsy's flush) farthest from both sides' flushes."""
    pt = (tally_at - etsy_at) % INTERVAL
    lo, hi = min(0.0, pt), max(0.0, pt)
    if hi - lo >= INTERVAL - (hi - lo):
        return (lo + hi) / 2
    return (hi + lo + INTERVAL) / 2 % INTERVAL


def run(a, name):
    etsy_members, tally_members = CONFIGS[name]
    work = os.path.join(a.keep, name) if a.keep else tempfile.mkdtemp(prefix='compare-statsd.')
    os.makedirs(work, exist_ok=True)
    windows = statsd_random.windows(a.windows, a.seed)
    procs = []
    try:
        es, ts = Sink(), Sink()
        eproc, e_udp, e_tcp = start_etsy(work, a.stats_js, etsy_members, es)
        procs.append(eproc)
        tproc, t_udp, t_tcp = start_tally(work, a.tally, tally_members, ts)
        procs.append(tproc)
        deadline = time.monotonic() + 30 * INTERVAL
        while len(es.flushes()) < 2 or len(ts.flushes()) < 2:
            if time.monotonic() > deadline:
                sys.exit('no idle flushes seen')
            time.sleep(0.05)
        origin = es.flushes()[-1][0]
        phase = send_phase(origin, ts.flushes()[-1][0])
        start = origin + 2 * INTERVAL + phase
        while start < time.monotonic() + 0.1:
            start += INTERVAL
        sent_at = []
        for w, packets in enumerate(windows):
            time.sleep(max(0, start + w * INTERVAL - time.monotonic()))
            sent_at.append(time.monotonic())
            send(packets, (e_udp, e_tcp), (t_udp, t_tcp))
            took = time.monotonic() - sent_at[-1]
            if took > 0.3:
                print('warning: window %d took %.2f s to send' % (w, took))
        time.sleep(INTERVAL + 0.8)
        e_fl, t_fl = es.flushes(), ts.flushes()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    with open(os.path.join(work, 'sent.txt'), 'w') as f:
        for w, packets in enumerate(windows):
            f.write('## window %d\n' % w)
            for transport, data, _ in packets:
                f.write('# %s %r\n' % (transport, data))
    e0 = next(i for i, (t, _) in enumerate(e_fl) if t > sent_at[0])
    t0 = next(i for i, (t, _) in enumerate(t_fl) if t > sent_at[0])
    if len(e_fl) < e0 + a.windows or len(t_fl) < t0 + a.windows:
        sys.exit('not enough flushes: etsy %d from %d, tally %d from %d'
                 % (len(e_fl), e0, len(t_fl), t0))
    counts = compare(a, name, windows, [l for _, l in e_fl[e0:e0 + a.windows]],
                     [l for _, l in t_fl[t0:t0 + a.windows]])
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return counts


def parse(lines):
    """{name: [value text]} of one flush."""
    out = {}
    for l in lines:
        f = l.split(' ')
        if len(f) != 3:
            f = [l, '?', '?']
        out.setdefault(f[0], []).append(f[1])
    return out


def same_value(x, y):
    if x == y:
        return True
    try:
        a, b = float(x), float(y)
    except ValueError:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def same(name, ev, tv):
    if ev is None or tv is None or len(ev) != len(tv):
        return False
    if any(t in name for t in TIMING):
        return True
    return all(same_value(x, y) for x, y in zip(sorted(ev), sorted(tv)))


def compare(a, config, windows, etsy, tally):
    counts = {'lines': 0, 'same': 0, 'DIFFERENT': 0, 'known': 0, 'text': 0}
    reasons = {}
    for w in range(a.windows):
        e, t = parse(etsy[w]), parse(tally[w])
        sent = [(tr,) + g for packets in windows[:w + 1] for tr, _, groups in packets
                for g in groups]
        for name in sorted(set(e) | set(t)):
            ev, tv = e.get(name), t.get(name)
            counts['lines'] += 1
            toks = set(TOKEN.findall(name))
            groups = [g for g in sent if g[1] in toks]
            if same(name, ev, tv):
                counts['same'] += 1
                if ev != tv and not any(x in name for x in TIMING):
                    why = statsd_known.explain(config, name, ev, tv, groups, sent, windows[w])
                    counts['text'] += not why
                    print('text %s window %d: %r: etsy %s, tally %s%s'
                          % (config, w, name, ev, tv, ' (known: %s)' % why if why else ''))
                continue
            reason = statsd_known.explain(config, name, ev, tv, groups, sent, windows[w])
            verdict = 'known' if reason else 'DIFFERENT'
            counts[verdict] += 1
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
            if verdict == 'DIFFERENT' or a.v:
                print('%s %s window %d: %r\n   etsy  %s\n   tally %s'
                      % (verdict, config, w, name, ev, tv))
                for transport, tok, scenario, lines in groups[-6:]:
                    print('   %s %s %-6s %r' % (transport, tok, scenario, lines))
                if not groups:
                    window = [(tr,) + g for tr, _, gs in windows[w] for g in gs]
                    print('   (no token) window %d: %r' % (w, window[:40]))
                if reason:
                    print('   known: %s' % reason)
    for r, n in sorted(reasons.items(), key=lambda x: -x[1]):
        print('  %s known x%d: %s' % (config, n, r))
    print('seed %s config %s: %d windows, %d lines: %d same (%d not byte for byte and '
          'unexplained), '
          '%d DIFFERENT, %d known' % (a.seed, config, a.windows, counts['lines'], counts['same'],
                                      counts['text'], counts['DIFFERENT'], counts['known']))
    sys.stdout.flush()
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('tally')
    ap.add_argument('stats_js')
    ap.add_argument('--seed', default='1')
    ap.add_argument('--windows', type=int, default=10)
    ap.add_argument('--config', choices=sorted(CONFIGS) + ['all'], default='all')
    ap.add_argument('--keep')
    ap.add_argument('-v', action='store_true')
    a = ap.parse_args()
    a.stats_js, a.tally = os.path.abspath(a.stats_js), os.path.abspath(a.tally)
    names = sorted(CONFIGS) if a.config == 'all' else [a.config]
    total = {}
    for name in names:
        for k, v in run(a, name).items():
            total[k] = total.get(k, 0) + v
    if len(names) > 1:
        print('seed %s, %d configs: %d lines: %d same, %d DIFFERENT, %d known'
              % (a.seed, len(names), total['lines'], total['same'], total['DIFFERENT'],
                 total['known']))
    if total['DIFFERENT']:
        sys.exit(1)


if __name__ == '__main__':
    main()
