#!/usr/bin/python3
"""Side by side: carbon-cache 1.1.7 (Debian graphite-carbon) and tally's carbon plaintext input
over the same bytes. Run through scripts/compare-carbon.sh (it builds tally).

usage: compare-carbon.py TALLY [--groups N] [--seed S] [--keep DIR] [-v]

Both daemons run on loopback ports picked free, in a temp dir, with 10 s points kept an hour
(carbon: storage-schemas `10s:1h`; tally: a `10s:1h` schema). The traffic is
carbon_random.py's (seeded), sent unit by unit to both: TCP connections written in random
pieces, UDP datagrams. Then carbon's Whisper files are read slot by slot (every point each
file holds, future ones too) and tally's series listed (/api/series) and read
(/render?target=NAME:last, the same 10 s steps). Everything stored is traced back to its
group of lines by the group's token (idNNNNN) in the name; a group is the same when both
stored the same names with the same points. A group that differs is known when a KNOWN rule
of carbon_known.py explains one of its lines (the rule and the lines are printed), else it is
DIFFERENT (its lines are printed: the group is the narrowed-down cause). Exit status 1 on any
DIFFERENT group.

Tagged series: carbon 1.1.7 names a tagged Whisper file by the sha256 of the normalized name
(TAG_HASH_FILENAMES, the default), so the names are found by hashing carbon's own
normalization (carbon.util.TaggedSeries) of each sent name and tally's stored names; a
`_tagged` file no name explains is reported as such.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import carbon_known  # noqa: E402
import carbon_random  # noqa: E402
import tally_proc  # noqa: E402

STEP = carbon_random.STEP
TOKEN = re.compile(r'id(\d{5})')


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_carbon(work):
    root = os.path.join(work, 'carbon')
    conf = os.path.join(root, 'conf')
    os.makedirs(conf)
    line, udp = free_port(), free_port(socket.SOCK_DGRAM)
    settings = {
        'STORAGE_DIR': root, 'LOCAL_DATA_DIR': root + '/whisper', 'LOG_DIR': root + '/log',
        'PID_DIR': root, 'USER': '', 'MAX_CACHE_SIZE': 'inf', 'MAX_UPDATES_PER_SECOND': '100000',
        'MAX_CREATES_PER_MINUTE': 'inf', 'LINE_RECEIVER_INTERFACE': '127.0.0.1',
        'LINE_RECEIVER_PORT': line, 'ENABLE_UDP_LISTENER': 'True',
        'UDP_RECEIVER_INTERFACE': '127.0.0.1', 'UDP_RECEIVER_PORT': udp,
        'PICKLE_RECEIVER_INTERFACE': '127.0.0.1', 'PICKLE_RECEIVER_PORT': free_port(),
        'CACHE_QUERY_INTERFACE': '127.0.0.1', 'CACHE_QUERY_PORT': free_port(),
        # Tags stay on (the default); the tag index it would post to graphite-web is a closed
        # loopback port: only the Whisper files are compared.
        'GRAPHITE_URL': 'http://127.0.0.1:%d' % free_port(), 'LOG_LISTENER_CONN_SUCCESS': 'False',
    }
    with open(os.path.join(conf, 'carbon.conf'), 'w') as f:
        f.write('[cache]\n' + ''.join('%s = %s\n' % kv for kv in settings.items()))
    with open(os.path.join(conf, 'storage-schemas.conf'), 'w') as f:
        f.write('[all]\npattern = .*\nretentions = %ds:1h\n' % STEP)
    log = open(os.path.join(root, 'console.log'), 'w')
    proc = subprocess.Popen(['/usr/bin/carbon-cache', '--config=%s/carbon.conf' % conf,
                             '--instance=a', '--nodaemon', 'start'], stdout=log, stderr=log)
    wait_port(line, proc, 'carbon-cache', os.path.join(root, 'console.log'))
    return proc, root + '/whisper', ('127.0.0.1', line), ('127.0.0.1', udp)


def wait_port(port, proc, name, log):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit('%s exited: %s' % (name, open(log).read()[-2000:]))
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit('%s did not listen' % name)


def start_tally(work, binary):
    root = os.path.join(work, 'tally')
    os.makedirs(root)
    conf = os.path.join(root, 'tally.yaml')
    with open(conf, 'w') as f:
        f.write('data_dir: %s/data\nhostname: cmp\nhttp:\n  listen: 127.0.0.1:0\n'
                'inputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\n'
                '    udp: true\nstorage:\n  schemas:\n    - name: all\n      pattern: ".*"\n'
                '      retentions: [%ds:1h]\nquery:\n  max_series: 1000000\n' % (root, STEP))
    wanted = ('HTTP listening.', 'Carbon listening on tcp.', 'Carbon listening on udp.')
    proc, addrs = tally_proc.start(binary, conf, os.path.join(root, 'tally.log'), wanted)
    return (proc, *(addrs[w] for w in wanted))


def send(units, carbon, tally, rnd):
    """Each unit to both, carbon first: a TCP connection written in random pieces (so lines
    are split across reads), or one UDP datagram."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i, (transport, lines) in enumerate(units):
        data = ''.join(lines).encode('utf-8', 'surrogateescape')
        if transport == 'udp':
            for dest in (carbon[1], tally[1]):
                udp.sendto(data, dest)
            time.sleep(0.002)
            continue
        conns = [connect(dest) for dest in (carbon[0], tally[0])]
        for c in conns:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cuts = sorted(rnd.sample(range(1, len(data)), min(3, len(data) - 1))) if len(data) > 1 else []
        closed = set()  # carbon-cache drops a connection after some lines (KILLERS)
        for a, b in zip([0] + cuts, cuts + [len(data)]) if cuts else [(0, len(data))]:
            for c in conns:
                try:
                    if c not in closed:
                        c.sendall(data[a:b])
                except OSError:
                    closed.add(c)
            time.sleep(0.001)
        for c in conns:
            c.settimeout(5)
            try:
                c.shutdown(socket.SHUT_WR)
                while c.recv(4096):
                    pass
            except OSError:
                pass
            c.close()


def connect(dest):
    for _ in range(50):
        try:
            return socket.create_connection(dest)
        except ConnectionRefusedError as e:
            print('refused by %s: %s' % (dest, e), file=sys.stderr)
            time.sleep(0.1)
    sys.exit('%s refuses connections' % (dest,))


def whisper_points(path):
    """Every (interval, value) slot a Whisper file's first archive holds."""
    with open(path, 'rb') as f:
        data = f.read()
    _agg, _ret, _xff, count = struct.unpack('!LLfL', data[:16])
    offset, _spp, points = struct.unpack('!LLL', data[16:28])
    out = {}
    for i in range(points):
        t, v = struct.unpack('!Ld', data[offset + 12 * i: offset + 12 * i + 12])
        if t:
            out[t] = v
    return out


def carbon_files(whisper):
    """{relative path without .wsp: {t: v}} of every Whisper file."""
    out = {}
    for d, _dirs, files in os.walk(whisper):
        for name in files:
            if name.endswith('.wsp'):
                p = os.path.join(d, name)
                out[os.path.relpath(p, whisper)[:-4]] = whisper_points(p)
    return out


def wait_carbon(whisper, since):
    """Until carbon's files stop changing (its writer has drained the cache)."""
    last = None
    while time.time() - since < 90:
        time.sleep(1.5)
        now = carbon_files(whisper)
        if now == last and time.time() - since > 4:
            return now
        last = now
    return last


def tagged_file(name):
    h = hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()
    return '_tagged/%s/%s/%s' % (h[:3], h[3:6], h)


def carbon_name(metric):
    """The name carbon-cache 1.1.7 files a sent metric under (its own code)."""
    from carbon.util import TaggedSeries
    try:
        return TaggedSeries.parse(metric).path
    except Exception:
        return metric


def carbon_series(files, sent_names):
    """{name: points}: untagged files by their dotted path; tagged ones by the names hashed."""
    out, tagged = {}, {}
    for rel, pts in files.items():
        if rel.startswith('_tagged/'):
            tagged[rel] = pts
        else:
            out[rel.replace('/', '.')] = pts
    for name in sent_names:
        rel = tagged_file(name)
        if ';' in name and rel in tagged:
            out[name] = tagged.pop(rel)
    return out, sorted(tagged)


class Tally:
    def __init__(self, addr):
        self.conn = http.client.HTTPConnection(*addr, timeout=30)

    def get(self, path):
        self.conn.request('GET', path)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError('%s: %d %s' % (path, r.status, body[:200]))
        return json.loads(body)

    def names(self):
        return [s['path'] for s in self.get('/api/series')['series']]

    def points(self, name, start, until):
        # A glob character stands for itself only through `?` (the answer is filtered by
        # name); a backslash is escaped.
        target = re.sub(r'[*?\[\]{}]', '?', name.replace('\\', '\\\\')) + ':last'
        q = urllib.parse.urlencode({'target': target, 'from': start, 'until': until,
                                    'format': 'json'})
        for s in self.get('/render?' + q):
            if s['target'] == name + ':last':
                return {t: v for v, t in s['datapoints'] if v is not None}
        return {}


def group_of(name):
    m = TOKEN.search(name)
    return int(m.group(1)) if m else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('tally')
    ap.add_argument('--groups', type=int, default=600)
    ap.add_argument('--seed', default='1')
    ap.add_argument('--keep')
    ap.add_argument('-v', action='store_true')
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix='compare-carbon.')
    os.makedirs(work, exist_ok=True)
    procs = []
    try:
        cproc, whisper, c_tcp, c_udp = start_carbon(work)
        procs.append(cproc)
        tproc, t_http, t_tcp, t_udp = start_tally(work, a.tally)
        procs.append(tproc)
        # Start just after a step begins, so `-1` lines fall in the same step on both sides.
        time.sleep(STEP - time.time() % STEP + 0.3)
        now = int(time.time())
        units = carbon_random.units(a.groups, a.seed, now)
        with open(os.path.join(work, 'sent.txt'), 'w') as f:
            for transport, lines in units:
                f.write('# %s\n' % transport + ''.join(repr(l) + '\n' for l in lines))
        import random
        sent_at = time.time()
        send(units, (c_tcp, c_udp), (t_tcp, t_udp), random.Random('send-%s' % a.seed))
        took = time.time() - sent_at
        files = wait_carbon(whisper, time.time())
        report(a, units, now, took, files, Tally(t_http))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(a, units, now, took, files, tally):
    context = carbon_known.contexts(units)
    by_group, sent = {}, set()
    for (transport, lines), ctx in zip(units, context):
        for l, c in zip(lines, ctx):
            f = carbon_known.fields(l)
            if f:
                sent.add(carbon_name(f[0]))
            by_group.setdefault(group_of(l), []).append((transport, l, c))
    c_series, unexplained_files = carbon_series(files, sent)
    t_names = [n for n in tally.names() if not n.startswith('tally.')]
    t_series = {n: tally.points(n, now - 3700, now + 700) for n in t_names}
    groups = {}
    for side, series in (('carbon', c_series), ('tally', t_series)):
        for name, pts in series.items():
            groups.setdefault(group_of(name), ({}, {}))[side == 'tally'][name] = pts
    counts = {'same': 0, 'DIFFERENT': 0, 'known': 0}
    known_reasons = {}
    for g in sorted(set(by_group) | set(groups)):
        c, t = groups.get(g, ({}, {}))
        if c == t:
            counts['same'] += 1
            continue
        lines = by_group.get(g, [])
        reasons = carbon_known.explain(lines, c, t, now)
        verdict = 'known' if reasons else 'DIFFERENT'
        counts[verdict] += 1
        for r in reasons:
            known_reasons[r] = known_reasons.get(r, 0) + 1
        if verdict == 'DIFFERENT' or a.v:
            print('%s group id%05d' % (verdict, g))
            for transport, l, ctx in lines:
                print('   %s %r%s' % (transport, l, ' [%s]' % ctx if ctx else ''))
            for name in sorted(set(c) | set(t)):
                cp, tp = c.get(name), t.get(name)
                if cp != tp:
                    print('   %r\n      carbon %s\n      tally  %s' % (name, show(cp, now),
                                                                     show(tp, now)))
            for r in reasons:
                print('   known: %s' % r)
    n_lines = sum(len(ls) for _, ls in units)
    print('\nseed %s: %d lines in %d units (%d TCP connections, %d UDP datagrams) sent in '
          '%.1f s; %d groups' % (a.seed, n_lines, len(units),
                                 sum(1 for t, _ in units if t == 'tcp'),
                                 sum(1 for t, _ in units if t == 'udp'), took,
                                 len(set(by_group) | set(groups))))
    print('carbon stored %d series, tally %d' % (len(c_series), len(t_series)))
    for r, n in sorted(known_reasons.items(), key=lambda x: -x[1]):
        print('  known x%d: %s' % (n, r))
    if unexplained_files:
        print('carbon _tagged files no sent name explains: %d' % len(unexplained_files))
    print('groups: %(same)d same, %(DIFFERENT)d DIFFERENT, %(known)d known' % counts)
    if counts['DIFFERENT'] or unexplained_files:
        sys.exit(1)


def show(pts, now):
    if pts is None:
        return 'nothing'
    return ' '.join('%+d:%r' % (t - now, v) for t, v in sorted(pts.items())) or 'no points'


if __name__ == '__main__':
    main()
