# Runs the real Diamond collectors (4.0.515 or master; Python 2.7) over copied /proc snapshots
# and prints what they publish, for scripts/compare-diamond.sh (read that first).
#
# stdin: one JSON job per line: {"case", "collector" (Diamond's class name), "module",
# "roots": [t0, t1], "interval", "config": {...}}. Every path under /proc/ that the collector
# opens, checks or lists is redirected into the snapshot; os.getloadavg() and
# multiprocessing.cpu_count() read the snapshot's loadavg and stat; time.time() moves by exactly
# `interval` between the two rounds (DiskUsage measures time); `labels_dir`, when the job has one,
# stands for /dev/disk/by-label. Only the second round is printed
# (Diamond publishes a fake 0 for rates on the first one; tally does not publish them).
# stdout: one JSON object per metric: {"case", "name" (below servers.h.), "value",
# "precision", "line" (the Graphite line's value, as Diamond formats it)}.
import __builtin__
import json
import multiprocessing
import os
import sys
import time

ROOT = [None]
CLOCK = [1700000000.0]

real_open = __builtin__.open
real_access = os.access
real_exists = os.path.exists
real_isdir = os.path.isdir
real_listdir = os.listdir
real_realpath = os.path.realpath


LABELS = [None]  # a directory standing for /dev/disk/by-label (diskspace)


def mapped(path):
    if isinstance(path, basestring) and ROOT[0] and (path == '/proc' or path.startswith('/proc/')):
        return ROOT[0] + path[len('/proc'):]
    if isinstance(path, basestring) and LABELS[0] and path.startswith('/dev/disk/by-label'):
        return LABELS[0] + path[len('/dev/disk/by-label'):]
    return path


__builtin__.open = lambda path, *a, **k: real_open(mapped(path), *a, **k)
os.access = lambda path, mode: real_access(mapped(path), mode)
os.path.exists = lambda path: real_exists(mapped(path))
os.path.isdir = lambda path: real_isdir(mapped(path))
os.listdir = lambda path: real_listdir(mapped(path))
os.path.realpath = lambda path: real_realpath(mapped(path))
time.time = lambda: CLOCK[0]


def snapshot_loadavg():
    with real_open(ROOT[0] + '/loadavg') as f:
        return tuple(float(x) for x in f.read().split()[:3])


def snapshot_cpus():
    with real_open(ROOT[0] + '/stat') as f:
        return sum(1 for l in f if l.startswith('cpu') and l[3:4].isdigit()) or 1


os.getloadavg = snapshot_loadavg
multiprocessing.cpu_count = snapshot_cpus


class Recorder(object):
    def __init__(self):
        self.metrics = []

    def _process(self, metric):
        self.metrics.append(metric)


def native(value):
    # json gives unicode strings; Diamond tests `type(x) == str`
    if isinstance(value, unicode):
        return value.encode('utf-8')
    if isinstance(value, list):
        return [native(v) for v in value]
    if isinstance(value, dict):
        return dict((native(k), native(v)) for k, v in value.items())
    return value


def run(job):
    job = native(job)
    module = __import__(job['module'])
    klass = getattr(module, job['collector'])
    LABELS[0] = job.get('labels_dir')
    config = {'hostname': 'h', 'interval': job['interval']}
    config.update(job.get('config', {}))
    recorder = Recorder()
    collector = klass(config={'collectors': {job['collector']: config}}, handlers=[recorder])
    out = []
    for i, root in enumerate(job['roots']):
        ROOT[0] = root
        CLOCK[0] = 1700000000.0 + i * float(job['interval'])
        del recorder.metrics[:]
        try:
            collector.collect()
        except Exception as e:  # what Diamond's scheduler would log
            out.append({'case': job['case'], 'error': '%s: %s' % (type(e).__name__, e)})
    prefix = 'servers.h.'
    for m in recorder.metrics:
        line = str(m).split(' ')
        out.append({'case': job['case'], 'name': m.path[len(prefix):],
                    'value': float(m.value), 'precision': m.precision, 'line': line[1]})
    return out


def main():
    sys.path.insert(0, sys.argv[1])  # share/diamond/collectors/<name>/
    for raw in sys.stdin:
        job = json.loads(raw)
        sys.path.insert(0, os.path.join(sys.argv[1], job['module']))
        for rec in run(job):
            sys.stdout.write(json.dumps(rec) + '\n')
        sys.path.pop(0)


if __name__ == '__main__':
    main()
