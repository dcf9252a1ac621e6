#!/usr/bin/env python3
"""Side by side: the real Diamond collectors and `tally collect --root` over generated /proc
snapshot pairs. Run through scripts/compare-diamond.sh (it installs Diamond and builds tally).

usage: main.py TALLY PYTHON2 DIAMOND_DIR... [--keep DIR] [--case SUBSTR] [-v]
  DIAMOND_DIR: `pypi=<dir with diamond/ and share/diamond/collectors>` or
               `git=<dir with src/diamond and src/collectors>`

Each case (cases.py) is two snapshots of /proc and one or more runs (collector + Diamond's
options + the same options in tally's YAML); driver.py runs Diamond's collectors over them. Diamond's values of the
second round are compared with tally's by name (below `servers.h.`): a value is the same when
it is equal to 1e-9 relative or when both print alike at Diamond's precision (the Graphite
line's decimals). Known differences (KNOWN below, each with its reason) are printed, not
counted. Exit status 1 on any other difference.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import all_cases  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Known differences: (oracle, case regex, run collector, metric regex, reason). `oracle` is
# `pypi`, `git` or `*`. A difference matched here is printed with its reason and not counted.

KNOWN = [
    ('*', r'^missing_files', r'.*', r'^Diamond raised',
     "no /proc file: Diamond falls back to psutil, which reads the same missing file here (or "
     "lacks the call); tally logs the collector's error; neither publishes anything"),
    ('*', r'^empty_files', 'cpu', r'^cpu\.cpu_count$',
     "an empty /proc/stat: Diamond publishes cpu_count -1 (its count starts at -1 for the "
     "total line); tally publishes nothing and logs the error"),
    ('*', r'^diskstats_.*#5$', 'iostat', r'.',
     "sector_size 4096: Diamond divides 1024 by it with integer division and raises "
     "ZeroDivisionError; tally converts sectors × sector_size bytes"),
    ('*', r'^diskstats_.*#6$', 'iostat', r'.',
     "several byte_units: Diamond takes every counter's derivative once per unit, so from the "
     "second unit on each delta is 0 and no device is ever published; tally converts each unit "
     "from the same bytes"),
    ('pypi', r'^diskspace', 'diskspace', r'^diskspace\._(dev|sys)_',
     "Diamond 4.0.515 skips mount points under /dev, /proc and /sys (Diamond's master does not: "
     "/dev/shm is a tmpfs worth watching); tally follows master"),
    ('pypi', r'#3$', 'iostat', r'^iostat\.sdb\.',
     "Diamond 4.0.515 has no `exclude_devices` (added in Diamond's master); tally follows master"),
    ('*', r'.', 'memory', r'\(|_(anon|file)$',
     "meminfo names such as `Active(anon)` (with `detailed`): graphite's targets read `(` as a "
     "function call, so tally's names cannot hold it and it sends `Active_anon`"),
    ('*', r'^memory_zero_total', 'memory', r'^Diamond raised ZeroDivisionError',
     "MemTotal 0: Diamond's MemUsedPercentage divides by it and the round fails (after the other "
     "values went out); tally leaves MemUsedPercentage out"),
    ('pypi', r'.', 'iostat', r'^iostat\.nvme',
     "Diamond 4.0.515's default `devices` lacks nvme (added in Diamond's master); tally follows "
     "master"),
    ('pypi', r'.', 'memory', r'^memory\.MemUsedPercentage$',
     "Diamond 4.0.515 has no MemUsedPercentage (added in Diamond's master); tally follows master"),
    ('*', r'^cpu_online', 'cpu', r'^cpu\.cpu2\.',
     "a CPU's first sample (it came online): Diamond publishes a made-up 0 for every field, "
     "tally publishes from the second sample on (README, System metrics)"),
    ('*', r'^diskspace_space', 'diskspace', r'^diskspace\.(root|_.*_with_space)\.',
     "a mount point with a space (`\\040` in /proc/mounts: /media/user/My Disk): Diamond stats "
     "the escaped path, fails and skips the filesystem; tally decodes it (here it is on the same "
     "filesystem as /, which it then stands for)"),
    ('*', r'^diskspace_label_data', 'diskspace', r'^diskspace\.(root|data_part)\.',
     "a label with a `/` (udev's `\\x2f`): Diamond decodes it before resolving the link, finds "
     "no such path and names the filesystem by its mount point; tally names it by its label "
     "with `_` for `/` (a `/` in a Graphite name is a directory to carbon)"),
    ('*', r'^network_wrap_reset', 'network', r'^network\.eth3\.',
     "an interface's first sample: Diamond publishes a made-up 0 for every rate, tally publishes "
     "from the second sample on (README, System metrics)"),
]

# Diamond's class and module per tally collector.
DIAMOND = {'cpu': ('cpu', 'CPUCollector'), 'memory': ('memory', 'MemoryCollector'),
           'loadavg': ('loadavg', 'LoadAverageCollector'), 'vmstat': ('vmstat', 'VMStatCollector'),
           'network': ('network', 'NetworkCollector'), 'iostat': ('diskusage', 'DiskUsageCollector'),
           'sockets': ('sockstat', 'SockstatCollector'), 'tcp': ('tcp', 'TCPCollector'),
           'uptime': ('uptime', 'UptimeCollector'),
           'diskspace': ('diskspace', 'DiskSpaceCollector')}


def write_case(base, name, t0, t1):
    if isinstance(t0, str):  # captures already on disk
        return [t0, t1]
    roots = []
    for label, files in (('t0', t0), ('t1', t1)):
        root = os.path.join(base, name, label)
        for path, text in files.items():
            full = os.path.join(root, path)
            if path.endswith('/'):
                os.makedirs(full, exist_ok=True)
                continue
            if text.startswith('->'):  # a symbolic link
                os.makedirs(os.path.dirname(full), exist_ok=True)
                os.symlink(text[2:], full)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'w') as f:
                f.write(text.replace('{case}', os.path.join(base, name)))
        os.makedirs(root, exist_ok=True)
        roots.append(root)
    return roots


def run_tally(tally, base, key, roots, interval, collector, opts):
    conf = os.path.join(base, key + '.yaml')
    with open(conf, 'w') as f:
        json.dump({'hostname': 'h', 'inputs': {'system': {collector: opts}}}, f)
    cmd = [tally, 'collect', '-c', conf, '--interval', str(interval), '--collectors', collector]
    for r in roots:
        cmd += ['--root', r]
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = {}
    for line in p.stdout.splitlines():
        name, value, _ = line.split(' ')
        if name.startswith('servers.h.'):
            out[name[len('servers.h.'):]] = float(value)
    err = [l for l in p.stderr.splitlines() if l.strip()]
    return out, (err if p.returncode or err else [])


def run_diamond(python2, label, path, jobs):
    if label == 'git':
        collectors, pkg = os.path.join(path, 'src', 'collectors'), os.path.join(path, 'src')
    else:
        collectors, pkg = os.path.join(path, 'share', 'diamond', 'collectors'), path
    deps = os.environ.get('DIAMOND_DEPS', path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pkg, deps]), PYTHONDONTWRITEBYTECODE='1')
    driver = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'driver.py')
    p = subprocess.run([python2, driver, collectors], input=''.join(json.dumps(j) + '\n' for j in jobs),
                       capture_output=True, text=True, env=env)
    if p.returncode:
        sys.exit('Diamond (%s) failed:\n%s' % (label, p.stderr))
    results = {}
    for line in p.stdout.splitlines():
        rec = json.loads(line)
        results.setdefault(rec['case'], []).append(rec)
    return results


def live_slack(name, dvals):
    """diskspace reads this machine's filesystems, live: what other processes write between
    Diamond's statvfs and tally's moves the numbers (builds on a shared machine: hundreds of
    MB a second). Allowed: 1 % of the filesystem's size in that unit (used + free: reserved
    blocks, f_bavail for f_bfree or a wrong unit are 5 % and more), 0.5 points of a percentage."""
    if name.endswith('percentfree'):
        return 0.5
    base, _, field = name.rpartition('.')
    unit = field.rsplit('_', 1)[0]
    size = sum(abs(dvals.get('%s.%s_%s' % (base, unit, part), {}).get('value', 0))
               for part in ('used', 'free'))
    return 0.01 * size + 1


def same(t, d, precision, rel=1e-9):
    if abs(t - d) <= rel * max(1.0, abs(d)):
        return True
    return '%.*f' % (precision, t) == '%.*f' % (precision, d)


def known(oracle, key, collector, name):
    for o, case_re, coll, name_re, reason in KNOWN:
        if (o in ('*', oracle) and re.fullmatch(coll, collector) and re.search(case_re, key)
                and re.search(name_re, name)):
            return reason
    return None


def compare(oracle, key, collector, drecs, tvals, terr, verbose):
    diffs, knowns = [], {}
    dvals = {}
    for rec in drecs:
        if 'error' in rec:
            msg = 'Diamond raised %s' % rec['error']
            reason = known(oracle, key, collector, msg)
            if reason:
                knowns.setdefault(reason, []).append(msg)
            else:
                diffs.append(msg)
            continue
        dvals[rec['name']] = rec
    for name in sorted(set(dvals) | set(tvals)):
        d, t = dvals.get(name), tvals.get(name)
        if d is not None and t is not None and (
                same(t, d['value'], d['precision'])
                or (collector == 'diskspace' and abs(t - d['value']) <= live_slack(name, dvals))):
            continue
        if d is None:
            msg = '%s: only tally (%r)' % (name, t)
        elif t is None:
            msg = '%s: only Diamond (%s)' % (name, d['line'])
        else:
            msg = '%s: tally %r, Diamond %r (sent as %s)' % (name, t, d['value'], d['line'])
        reason = known(oracle, key, collector, name)
        if reason:
            knowns.setdefault(reason, []).append(msg)
        else:
            diffs.append(msg)
    return diffs, knowns, len(dvals)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tally')
    ap.add_argument('python2')
    ap.add_argument('oracles', nargs='+', help='pypi=DIR or git=DIR')
    ap.add_argument('--keep', help='write the cases here and keep them')
    ap.add_argument('--case', help='only cases whose name holds this')
    ap.add_argument('-v', action='store_true', dest='verbose', help='print every difference')
    a = ap.parse_args()
    tally, python2, verbose, keep, only = a.tally, a.python2, a.verbose, a.keep, a.case
    oracles = [o.split('=', 1) for o in a.oracles]
    base = keep or tempfile.mkdtemp(prefix='compare-diamond.')
    jobs, runs = [], []
    for name, (t0, t1, interval, case_runs) in sorted(all_cases().items()):
        if only and only not in name:
            continue
        roots = write_case(base, name, t0, t1)
        for i, (collector, dconf, tconf) in enumerate(case_runs):
            key = '%s#%d' % (name, i)
            module, klass = DIAMOND[collector]
            job = {'case': key, 'module': module, 'collector': klass, 'roots': roots,
                   'interval': interval, 'config': dconf}
            if tconf.get('labels_dir'):  # the same by-label directory for Diamond
                tconf = dict(tconf, labels_dir=tconf['labels_dir'].replace('{case}', os.path.join(base, name)))
                job['labels_dir'] = tconf['labels_dir']
            jobs.append(job)
            runs.append((key, collector, roots, interval, tconf, dconf))
    unexplained = 0
    for oracle, path in oracles:
        results = run_diamond(python2, oracle, path, jobs)
        print('== Diamond %s (%s): %d runs' % (oracle, path, len(runs)))
        summary = {}
        for key, collector, roots, interval, tconf, dconf in runs:
            tvals, terr = run_tally(tally, base, key.replace('#', '_'), roots, interval, collector, tconf)
            diffs, knowns, n = compare(oracle, key, collector, results.get(key, []), tvals, terr, verbose)
            status = 'DIFF' if diffs else 'same'
            nknown = sum(len(m) for m in knowns.values())
            print('%-4s %-28s %-9s %3d metrics%s  %s' % (status, key, collector, n,
                  ' (%d known)' % nknown if nknown else '', json.dumps(dconf)))
            if verbose:
                for line in terr:  # tally's log (Diamond logs too): shown, not a difference
                    print('       tally logged: ' + line[:300])
            for d in diffs[:None if verbose else 6]:
                print('       ' + d)
            if len(diffs) > 6 and not verbose:
                print('       … %d more (-v shows all)' % (len(diffs) - 6))
            for reason, msgs in knowns.items():
                summary.setdefault(reason, []).append((key, msgs))
                if verbose:
                    print('       known: ' + reason)
                    for m in msgs:
                        print('         ' + m)
            unexplained += len(diffs)
        print('-- known differences with Diamond %s (-v lists every metric):' % oracle)
        for reason, hits in summary.items():
            print('   %s\n     %d metric(s) in %s; e.g. %s' % (
                reason, sum(len(m) for _, m in hits), ', '.join(k for k, _ in hits[:4])
                + (', …' if len(hits) > 4 else ''), hits[0][1][0]))
    print('%d unexplained difference(s)%s' % (unexplained, '; inputs in ' + base if keep else ''))
    if not keep:
        shutil.rmtree(base)
    sys.exit(1 if unexplained else 0)


if __name__ == '__main__':
    main()

