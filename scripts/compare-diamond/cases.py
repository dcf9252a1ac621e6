"""The /proc snapshot pairs scripts/compare-diamond.sh feeds to Diamond and to tally: generated
here (deterministic, seeded), this machine's own /proc, and the project's captures.

all_cases() gives name -> (t0, t1, interval, runs): t0/t1 are {path under /proc: text} (a path
ending in `/` is a directory) or a directory already on disk; a run is (tally collector,
Diamond's options, the same options in tally's YAML).
"""
import os
import random
import time

# ---------------------------------------------------------------------------------------------
# Generated /proc files

CPU_FIELDS = 10


def proc_stat(cpus, ncols, seed, advance=None, names=None):
    """A /proc/stat with `cpus` per-CPU lines of `ncols` columns each."""
    rnd = random.Random(seed)
    rows = []
    for i in range(cpus):
        row = [rnd.randrange(10**4, 10**8) for _ in range(ncols)]
        if advance is not None:
            row = [v + d for v, d in zip(row, advance(i, rnd, ncols))]
        rows.append(row)
    total = [sum(r[c] for r in rows) for c in range(ncols)]
    out = ['cpu  ' + ' '.join(map(str, total))]
    for i, row in enumerate(rows):
        out.append('%s %s' % ((names[i] if names else 'cpu%d' % i), ' '.join(map(str, row))))
    out += ['intr 123456 1 2 3', 'ctxt 987654', 'btime 1700000000', 'processes 4242',
            'procs_running 3', 'procs_blocked 0', 'softirq 1 2 3 4 5 6 7 8 9 10 11']
    return '\n'.join(out) + '\n'


def busy(i, rnd, ncols):
    # one second ×interval of jiffies per CPU, spread over the columns
    return [rnd.randrange(0, 300) for _ in range(ncols)]


MEMINFO = [
    ('MemTotal', 16303976), ('MemFree', 1234560), ('MemAvailable', 9876540),
    ('Buffers', 345678), ('Cached', 7654321), ('SwapCached', 1024), ('Active', 6543210),
    ('Inactive', 4321098), ('Active(anon)', 3210987), ('Inactive(anon)', 123456),
    ('Active(file)', 3332223), ('Inactive(file)', 4197642), ('Unevictable', 0),
    ('Mlocked', 0), ('SwapTotal', 2097148), ('SwapFree', 2000000), ('Zswap', 0),
    ('Dirty', 1234), ('Writeback', 0), ('AnonPages', 3333333), ('Mapped', 444444),
    ('Shmem', 55555), ('KReclaimable', 666666), ('Slab', 777777), ('SReclaimable', 666666),
    ('SUnreclaim', 111111), ('KernelStack', 12345), ('PageTables', 23456),
    ('CommitLimit', 10249136), ('Committed_AS', 8765432), ('VmallocTotal', 34359738367),
    ('VmallocUsed', 45678), ('VmallocChunk', 0), ('Percpu', 5678),
    ('HardwareCorrupted', 0), ('AnonHugePages', 0), ('CmaTotal', 0),
]


def meminfo(drop=(), extra=(), hugepages=True):
    out = ['%-16s%8d kB' % (k + ':', v) for k, v in MEMINFO if k not in drop]
    out += ['%-16s%8d kB' % (k + ':', v) for k, v in extra]
    if hugepages:
        out += ['HugePages_Total:       0', 'HugePages_Free:        0', 'Hugepagesize:       2048 kB']
    return '\n'.join(out) + '\n'


VMSTAT = ['nr_free_pages 308640', 'nr_zone_inactive_anon 30864', 'pgpgin %d', 'pgpgout %d',
          'pswpin %d', 'pswpout %d', 'pgalloc_normal 123', 'pgfault %d', 'pgmajfault %d',
          'pgfault_extra 5', 'thp_fault_alloc 0']


def vmstat(values, drop=()):
    keys = ['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgfault', 'pgmajfault']
    it = iter(values)
    out = []
    for line in VMSTAT:
        key = line.split()[0]
        if key in drop:
            continue
        out.append(line % next(it) if key in keys else line)
    return '\n'.join(out) + '\n'


NETDEV_HEAD = ('Inter-|   Receive                                                |  Transmit\n'
               ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets'
               ' errs drop fifo colls carrier compressed\n')


def net_dev(ifaces, old_style=False):
    """ifaces: [(name, [16 counters])]; old_style: `eth0:123` with no space (2.6 kernels)."""
    out = NETDEV_HEAD
    for name, vals in ifaces:
        sep = ':' if old_style else ': '
        out += '%6s%s%s\n' % (name, sep, ' '.join('%7d' % v for v in vals))
    return out


def diskstats(rows, fields):
    """rows: [(major, minor, name, [counters])]; `fields` columns in all (14, 18 or 20)."""
    out = ''
    for major, minor, name, vals in rows:
        vals = list(vals) + [0] * (fields - 3 - len(vals))
        out += '%4d %7d %s %s\n' % (major, minor, name, ' '.join(str(v) for v in vals[:fields - 3]))
    return out


SOCKSTAT = ('sockets: used %d\nTCP: inuse %d orphan %d tw %d alloc %d mem %d\nUDP: inuse %d mem %d\n'
            'UDPLITE: inuse 0\nRAW: inuse 1\nFRAG: inuse 0 memory 0\n')
SOCKSTAT6 = 'TCP6: inuse %d\nUDP6: inuse %d\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 0 memory 0\n'

TCPEXT = ['SyncookiesSent', 'SyncookiesRecv', 'EmbryonicRsts', 'PruneCalled', 'TW',
          'DelayedACKs', 'ListenOverflows', 'ListenDrops', 'TCPLostRetransmit', 'TCPLoss',
          'TCPLossUndo', 'TCPLossProbes', 'TCPTimeouts', 'TCPFastRetrans', 'TCPForwardRetrans',
          'TCPSlowStartRetrans', 'TCPAbortOnMemory', 'TCPBacklogDrop', 'TCPRcvCoalesce',
          'TCPOrigDataSent', 'TCPBacklogCoalesce']
IPEXT = ['InNoRoutes', 'InTruncatedPkts', 'InMcastPkts', 'OutMcastPkts', 'InOctets', 'OutOctets']
SNMP_TCP = ['RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn', 'ActiveOpens', 'PassiveOpens',
            'AttemptFails', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs',
            'InErrs', 'OutRsts', 'InCsumErrors']


def table(prefix, names, values):
    return '%s: %s\n%s: %s\n' % (prefix, ' '.join(names), prefix, ' '.join(str(v) for v in values))


def netstat(values, names=TCPEXT, mptcp=False):
    out = table('TcpExt', names, values)
    out += table('IpExt', IPEXT, range(len(IPEXT)))
    if mptcp:
        out += table('MPTcpExt', ['MPCapableSYNRX', 'MPCapableSYNTX'], [3, 4])
    return out


def snmp(tcp_values, names=SNMP_TCP):
    out = table('Ip', ['Forwarding', 'DefaultTTL', 'InReceives'], [1, 64, 12345])
    out += table('Icmp', ['InMsgs', 'InErrors'], [5, 0])
    out += table('Tcp', names, tcp_values)
    out += table('Udp', ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams'], [10, 2, 0, 11])
    return out

# ---------------------------------------------------------------------------------------------
# Cases: name -> (t0 files, t1 files, interval, [runs]); a run is (tally collector, Diamond
# options, tally options).


def cpu_cases():
    cases = {}
    for ncpu, ncols, seed in [(2, 11, 11), (64, 10, 1), (1, 10, 2), (4, 7, 3), (4, 8, 4), (4, 4, 5), (8, 9, 6)]:
        t0 = proc_stat(ncpu, ncols, seed)
        t1 = proc_stat(ncpu, ncols, seed, busy)
        runs = [('cpu', {}, {}), ('cpu', {'percore': 'False'}, {'percore': False}),
                ('cpu', {'normalize': 'True'}, {'normalize': True}),
                ('loadavg', {}, {}), ('loadavg', {'simple': 'True'}, {'simple': True})]
        cases['cpu_%dcpus_%dcols' % (ncpu, ncols)] = (
            {'stat': t0, 'loadavg': '0.52 1.30 2.75 3/812 4242\n'},
            {'stat': t1, 'loadavg': '13.07 9.99 0.00 17/1812 4343\n'}, 10, runs)
    # a CPU going offline between the snapshots, and one that comes back with other numbers
    names = ['cpu0', 'cpu1', 'cpu2', 'cpu3']
    t0 = proc_stat(4, 10, 7, names=names)
    t1 = proc_stat(3, 10, 7, busy, names=['cpu0', 'cpu1', 'cpu3'])
    cases['cpu_hotplug'] = ({'stat': t0}, {'stat': t1}, 10, [('cpu', {}, {})])
    # and one coming (back) online: its first sample
    cases['cpu_online'] = ({'stat': proc_stat(3, 10, 17, names=['cpu0', 'cpu1', 'cpu3'])},
                           {'stat': proc_stat(4, 10, 17, busy, names=names)}, 10, [('cpu', {}, {})])
    # counters that go back (a reset): Diamond wraps at 2^64
    t0 = proc_stat(2, 10, 8, busy)
    t1 = proc_stat(2, 10, 8)
    cases['cpu_backwards'] = ({'stat': t0}, {'stat': t1}, 10, [('cpu', {}, {})])
    # Xen's doubled idle: /proc/xen exists, cpu0 adds up to more than 110 per second
    t0 = proc_stat(2, 8, 9)
    t1 = proc_stat(2, 8, 9, lambda i, r, n: [20, 0, 10, 1800, 0, 0, 0, 0])
    cases['cpu_xen'] = ({'stat': t0, 'xen/': ''}, {'stat': t1, 'xen/': ''}, 10, [('cpu', {}, {})])
    # interval 1 and 60
    for iv in (1, 60):
        t0 = proc_stat(3, 10, 10 + iv)
        t1 = proc_stat(3, 10, 10 + iv, busy)
        cases['cpu_interval%d' % iv] = ({'stat': t0}, {'stat': t1}, iv, [('cpu', {}, {})])
    return cases


def memory_cases():
    cases = {}
    variants = {
        'full': meminfo(),
        'old_kernel': meminfo(drop=('MemAvailable', 'Shmem', 'KReclaimable', 'Committed_AS',
                                    'VmallocChunk', 'Zswap')),
        'no_swap': meminfo(drop=('SwapTotal', 'SwapFree', 'SwapCached')),
        'no_hugepages_big': meminfo(hugepages=False, extra=[('DirectMap1G', 17825792)]),
        'zero_total': meminfo(drop=('MemTotal',)) + 'MemTotal:       0 kB\n',
    }
    for name, text in variants.items():
        runs = [('memory', {'byte_unit': ['kB']}, {'byte_unit': 'kB'}),
                ('memory', {'byte_unit': ['bit']}, {'byte_unit': 'bit'}),
                ('memory', {'byte_unit': ['Mbyte']}, {'byte_unit': 'Mbyte'}),
                ('memory', {'byte_unit': ['TiB']}, {'byte_unit': 'TiB'}),
                ('memory', {}, {}),
                ('memory', {'byte_unit': ['kilobyte']}, {'byte_unit': 'kilobyte'}),
                ('memory', {'byte_unit': ['megabyte']}, {'byte_unit': 'megabyte'}),
                ('memory', {'byte_unit': ['gigabyte']}, {'byte_unit': 'gigabyte'}),
                ('memory', {'detailed': 'True'}, {'detailed': True})]
        cases['memory_' + name] = ({'meminfo': text}, {'meminfo': text}, 10, runs)
    return cases


def vmstat_cases():
    cases = {}
    a = [1000, 2000, 0, 0, 500000, 300]
    b = [1500, 2900, 10, 20, 512345, 333]
    cases['vmstat_full'] = ({'vmstat': vmstat(a)}, {'vmstat': vmstat(b)}, 10, [('vmstat', {}, {})])
    cases['vmstat_noswap_keys'] = ({'vmstat': vmstat(a[:2] + a[4:], ('pswpin', 'pswpout'))},
                                   {'vmstat': vmstat(b[:2] + b[4:], ('pswpin', 'pswpout'))}, 10,
                                   [('vmstat', {}, {})])
    w = [2**64 - 6, 2**32 - 2, 0, 0, 2**63, 7]
    x = [4, 5, 0, 0, 2**63 + 1000, 3]
    cases['vmstat_wrap_reset'] = ({'vmstat': vmstat(w)}, {'vmstat': vmstat(x)}, 10,
                                  [('vmstat', {}, {})])
    return cases


def network_cases():
    cases = {}
    names = ['lo', 'eth0', 'eth1', 'eth1.100', 'bond0', 'em1', 'p1p1', 'eno1', 'enp0s31f6',
             'ens5', 'enx00e04c680001', 'wlan0', 'docker0', 'veth1a2b3c', 'br-0123abcd',
             'tun0', 'wg0', 'ib0', 'enp1s0f0np0']
    rnd = random.Random(42)
    t0 = [(n, [rnd.randrange(0, 10**12) for _ in range(16)]) for n in names]
    t1 = [(n, [v + rnd.randrange(0, 10**7) for v in vals]) for n, vals in t0]
    runs = [('network', {}, {}),
            ('network', {'byte_unit': ['megabit', 'kilobyte', 'gigabyte']},
             {'byte_unit': ['megabit', 'kilobyte', 'gigabyte']}),
            ('network', {'interfaces': ['eth', 'wlan', 'docker', 'veth', 'lo'], 'greedy': 'false'},
             {'interfaces': ['eth', 'wlan', 'docker', 'veth', 'lo'], 'greedy': False}),
            ('network', {'interfaces': ['eth', 'wlan', 'docker', 'veth', 'lo']},
             {'interfaces': ['eth', 'wlan', 'docker', 'veth', 'lo']}),
            ('network', {'interfaces': ['eth[0-9]', 'br-', 'en(p|s)'], 'byte_unit': ['b', 'Kibit', 'MiB', 'GB']},
             {'interfaces': ['eth[0-9]', 'br-', 'en(p|s)'], 'byte_unit': ['b', 'Kibit', 'MiB', 'GB']})]
    cases['network_many'] = ({'net/dev': net_dev(t0)}, {'net/dev': net_dev(t1)}, 10, runs)
    # 32-bit counters wrapping (old kernels, 32-bit hosts), a reset (interface re-created), and
    # an interface that appears and one that goes away between the snapshots
    w0 = [('eth0', [2**32 - 1000] * 16), ('eth1', [5 * 10**9] * 16), ('eth2', [10] * 16)]
    w1 = [('eth0', [3000] * 16), ('eth1', [1234] * 16), ('eth3', [99] * 16)]
    cases['network_wrap_reset'] = ({'net/dev': net_dev(w0)}, {'net/dev': net_dev(w1)}, 10,
                                   [('network', {}, {})])
    # 2.6 kernels: `eth0:1234` with no space once the counter is wide
    o0 = [('eth0', [4294967295] + [7] * 15), ('eth1', [12] * 16)]
    o1 = [('eth0', [4294999999] + [9] * 15), ('eth1', [20] * 16)]
    cases['network_old_style'] = ({'net/dev': net_dev(o0, True)}, {'net/dev': net_dev(o1, True)},
                                  10, [('network', {}, {})])
    # a driver that prints fewer columns, and a line cut short
    short0 = NETDEV_HEAD + '  eth0: 100 2 0 0 0 0 0 0\n  eth1: 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5\n  eth2: 1 2 3\n'
    short1 = NETDEV_HEAD + '  eth0: 200 4 0 0 0 0 0 0\n  eth1: 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9\n  eth2: 4 5 6\n'
    cases['network_short_lines'] = ({'net/dev': short0}, {'net/dev': short1}, 10, [('network', {}, {})])
    cases['network_interval1'] = ({'net/dev': net_dev(t0)}, {'net/dev': net_dev(t1)}, 1,
                                  [('network', {}, {})])
    return cases


DISKS = [(8, 0, 'sda'), (8, 1, 'sda1'), (8, 2, 'sda2'), (8, 16, 'sdb'), (8, 32, 'sdaa'),
         (259, 0, 'nvme0n1'), (259, 1, 'nvme0n1p1'), (259, 2, 'nvme0n1p2'), (253, 0, 'dm-0'),
         (253, 1, 'dm-1'), (9, 0, 'md0'), (9, 127, 'md127'), (7, 0, 'loop0'), (1, 0, 'ram0'),
         (202, 0, 'xvda'), (202, 1, 'xvda1'), (252, 0, 'vda'), (252, 16, 'vdb1'),
         (179, 0, 'mmcblk0'), (179, 1, 'mmcblk0p1'), (11, 0, 'sr0'), (8, 48, 'sdd'),
         (230, 0, 'zd0'), (43, 0, 'nbd0'), (254, 0, 'rbd0'), (104, 0, 'cciss/c0d0'),
         (104, 1, 'cciss/c0d0p1')]


def disk_counters(rnd, busy_dev):
    vals = [rnd.randrange(0, 10**6) for _ in range(11)]
    vals[8] = rnd.randrange(0, 5)  # io_in_progress
    return vals


def disk_cases():
    cases = {}
    for fields in (14, 18, 20):
        rnd = random.Random(fields)
        t0, t1 = [], []
        for i, (ma, mi, name) in enumerate(DISKS):
            vals = disk_counters(rnd, True)
            idle = name in ('sdd', 'md127', 'dm-1')
            inc = [0 if idle else rnd.randrange(0, 5000) for _ in range(11)]
            inc[8] = rnd.randrange(0, 4) - vals[8]
            extra0 = [rnd.randrange(0, 1000) for _ in range(fields - 14)]
            t0.append((ma, mi, name, vals + extra0))
            t1.append((ma, mi, name, [v + d for v, d in zip(vals, inc)] + [e + 5 for e in extra0]))
        runs = [('iostat', {}, {}),
                ('iostat', {'devices': '.*', 'send_zero': True}, {'devices': '.*', 'send_zero': True}),
                ('iostat', {'byte_unit': ['kilobyte']}, {'byte_unit': ['kilobyte']}),
                ('iostat', {'devices': 'sd[a-z]+$|nvme[0-9]+n[0-9]+$', 'exclude_devices': 'sdb'},
                 {'devices': 'sd[a-z]+$|nvme[0-9]+n[0-9]+$', 'exclude_devices': 'sdb'}),
                ('iostat', {'byte_unit': ['MiB'], 'devices': 'cciss|mmcblk'},
                 {'byte_unit': ['MiB'], 'devices': 'cciss|mmcblk'}),
                ('iostat', {'sector_size': 4096, 'devices': 'sda$'}, {'sector_size': 4096, 'devices': 'sda$'}),
                ('iostat', {'byte_unit': ['kilobyte', 'byte'], 'devices': 'sda$'},
                 {'byte_unit': ['kilobyte', 'byte'], 'devices': 'sda$'})]
        cases['diskstats_%dfields' % fields] = (
            {'diskstats': diskstats(t0, fields)}, {'diskstats': diskstats(t1, fields)}, 10, runs)
    # 32-bit counters wrapping, a reset (a device re-attached), old partition lines of 7 columns
    w0 = [(8, 0, 'sda', [4294967290, 5, 100, 7, 4294967000, 3, 200, 9, 1, 500, 600]),
          (8, 16, 'sdb', [10**10, 5, 10**10, 7, 10**10, 3, 10**10, 9, 0, 10**10, 10**10]),
          (8, 32, 'sdc', [500, 5, 1000, 70, 600, 3, 2000, 90, 0, 800, 900])]
    w1 = [(8, 0, 'sda', [10, 6, 140, 8, 300, 4, 260, 11, 0, 520, 650]),
          (8, 16, 'sdb', [10**10 + 7, 5, 10**10 + 56, 7, 10**10, 3, 10**10, 9, 0, 10**10 + 5, 10**10 + 9]),
          (8, 32, 'sdc', [20, 1, 40, 3, 10, 0, 80, 2, 0, 30, 40])]
    part = '   8       1 sda1 1234 5678 910 1112\n'
    cases['diskstats_wrap_reset'] = ({'diskstats': diskstats(w0, 14) + part},
                                     {'diskstats': diskstats(w1, 14) + part}, 10,
                                     [('iostat', {}, {})])
    return cases


def socket_tcp_cases():
    cases = {}
    s0 = {'net/sockstat': SOCKSTAT % (118, 10, 0, 1, 13, 1, 0, 0),
          'net/sockstat6': SOCKSTAT6 % (51, 6)}
    cases['sockstat_v4v6'] = (s0, s0, 10, [('sockets', {}, {})])
    s1 = {'net/sockstat': SOCKSTAT % (5, 1, 2, 3, 4, 5, 6, 7)}
    cases['sockstat_no_v6'] = (s1, s1, 10, [('sockets', {}, {})])
    # an old kernel's short lines: TCP without orphan/tw/alloc/mem, UDP without mem
    s2 = {'net/sockstat': 'sockets: used 40\nTCP: inuse 7\nUDP: inuse 3\nRAW: inuse 0\n',
          'net/sockstat6': SOCKSTAT6 % (2, 1)}
    cases['sockstat_short'] = (s2, s2, 10, [('sockets', {}, {})])
    rnd = random.Random(7)
    n0 = [rnd.randrange(0, 10**6) for _ in TCPEXT]
    n1 = [v + rnd.randrange(0, 1000) for v in n0]
    p0 = [1, 200, 120000, -1, 5000, 6000, 70, 80, 9, 10**7, 10**7, 300, 4, 500, 0]
    p1 = [1, 200, 120000, -1, 5100, 6050, 75, 80, 12, 10**7 + 9, 10**7 + 8, 301, 5, 510, 0]
    runs = [('tcp', {}, {}),
            ('tcp', {'allowed_names': []}, {'allowed_names': []}),
            ('tcp', {'allowed_names': ['TCPLoss', 'MaxConn', 'RetransSegs'], 'gauges': ['RetransSegs']},
             {'allowed_names': ['TCPLoss', 'MaxConn', 'RetransSegs'], 'gauges': ['RetransSegs']})]
    cases['tcp_full'] = ({'net/netstat': netstat(n0, mptcp=True), 'net/snmp': snmp(p0)},
                         {'net/netstat': netstat(n1, mptcp=True), 'net/snmp': snmp(p1)}, 10, runs)
    # an old kernel: fewer TcpExt columns, snmp without InCsumErrors
    cases['tcp_old'] = ({'net/netstat': netstat(n0[:8], TCPEXT[:8]), 'net/snmp': snmp(p0[:-1], SNMP_TCP[:-1])},
                        {'net/netstat': netstat(n1[:8], TCPEXT[:8]), 'net/snmp': snmp(p1[:-1], SNMP_TCP[:-1])},
                        10, [('tcp', {}, {}), ('tcp', {'allowed_names': []}, {'allowed_names': []})])
    cases['tcp_no_netstat'] = ({'net/snmp': snmp(p0)}, {'net/snmp': snmp(p1)}, 10, [('tcp', {}, {})])
    return cases


MOUNTS = '''/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
tmpfs /dev/shm tmpfs rw,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
/dev/vda /tmp ext4 rw,relatime 0 0
server:/export /mnt/gone-nfs nfs4 rw 0 0
/dev/sdz1 /export/home ext4 rw 0 0
none /run tmpfs rw 0 0
overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0
/dev/mapper/vg-root /srv/never-mounted xfs rw 0 0
'''


def root_block_device():
    """The block device /proc/mounts names for /, if it is one here and / is on it."""
    try:
        with open('/proc/mounts') as f:
            dev = next(l.split()[0] for l in f if l.split()[1:2] == ['/'])
        st = os.stat(dev)
    except (OSError, StopIteration):
        return None
    import stat as stat_mod
    if stat_mod.S_ISBLK(st.st_mode) and st.st_rdev == os.stat('/').st_dev:
        return dev
    return None


def other_cases():
    cases = {}
    # diskspace reads the mount table from the snapshot and statvfs from this machine's mounts
    # (both tools live); free space moves while it runs, so its values get a looser tolerance
    runs = [('diskspace', {}, {'labels_dir': ''}),
            ('diskspace', {'filesystems': 'ext4, tmpfs', 'byte_unit': ['byte', 'gigabyte']},
             {'filesystems': ['ext4', 'tmpfs'], 'byte_unit': ['byte', 'gigabyte'], 'labels_dir': ''}),
            ('diskspace', {'filesystems': 'ext4,tmpfs', 'exclude_filters': ['^/sys', 'shm$']},
             {'filesystems': ['ext4', 'tmpfs'], 'exclude_filters': ['^/sys', 'shm$'], 'labels_dir': ''})]
    cases['diskspace_mounts'] = ({'mounts': MOUNTS}, {'mounts': MOUNTS}, 10, runs)
    # a mount point with a space, as /proc/mounts escapes it (`\\040`); {case} is the case's dir
    spaced = {'with space/': '', 'mounts': '/dev/vda {case}/t0/with\\040space ext4 rw 0 0\n/dev/vda / ext4 rw 0 0\n'}
    cases['diskspace_space'] = (spaced, spaced, 10, [runs[0]])
    # labels: a by-label directory whose links point at the device this machine's / is on
    # (when /proc/mounts names it and it is a block device here)
    root_dev = root_block_device()
    if root_dev:
        labelled = {'mounts': '%s / ext4 rw 0 0\n' % root_dev}
        for label in ('rootfs', 'data\\x2fpart', 'my\\x20label'):
            cases['diskspace_label_' + label.split('\\')[0]] = (
                dict(labelled, **{'by-label/' + label: '->' + root_dev}), labelled, 10,
                [('diskspace', {}, {'labels_dir': '{case}/t0/by-label'})])
    for name, text in (('idle', '350735.47 234388.90\n'), ('short', '59.99 1.00\n'),
                       ('years', '98765432.10 1.0\n')):
        cases['uptime_' + name] = ({'uptime': text}, {'uptime': text}, 10, [
            ('uptime', {}, {}),
            ('uptime', {'metric_name': 'seconds'}, {'metric_name': 'seconds'}),
            ('uptime', {'metric_name': 'hours'}, {'metric_name': 'hours'}),
            ('uptime', {'metric_name': 'days'}, {'metric_name': 'days'})])
    # whitelist and blacklist (regexes matched at the start of the name below the collector)
    t0 = proc_stat(4, 10, 77)
    t1 = proc_stat(4, 10, 77, busy)
    cases['filters_cpu'] = ({'stat': t0}, {'stat': t1}, 10, [
        ('cpu', {'metrics_whitelist': 'total\\.'}, {'metrics_whitelist': ['total\\.']}),
        ('cpu', {'metrics_blacklist': 'cpu[0-9]+\\.(user|idle)'},
         {'metrics_blacklist': ['cpu[0-9]+\\.(user|idle)']}),
        ('cpu', {'metrics_whitelist': 'idle'}, {'metrics_whitelist': ['idle']})])
    # files missing, empty or of another kind (a 2.4 kernel's meminfo table): every collector
    everything = [('cpu', {}, {}), ('memory', {}, {}), ('loadavg', {}, {}), ('vmstat', {}, {}),
                  ('network', {}, {}), ('iostat', {}, {}), ('sockets', {}, {}), ('tcp', {}, {}),
                  ('uptime', {}, {})]
    cases['missing_files'] = ({'README': 'no proc files here\n'}, {'README': 'none\n'}, 10, everything)
    empty = dict((f, '') for f in ['stat', 'meminfo', 'vmstat', 'diskstats', 'uptime',
                                   'net/dev', 'net/sockstat', 'net/sockstat6', 'net/netstat',
                                   'net/snmp'])
    empty['loadavg'] = '0.00 0.00 0.00 1/1 1\n'
    cases['empty_files'] = (empty, empty, 10, [r for r in everything if r[0] != 'loadavg'])
    old24 = ('        total:    used:    free:  shared: buffers:  cached:\n'
             'Mem:  261943296 253423616  8519680        0 10637312 186687488\n'
             'Swap: 534634496 14901248 519733248\n' + meminfo(drop=('MemAvailable',)))
    cases['memory_linux24'] = ({'meminfo': old24}, {'meminfo': old24}, 10, [('memory', {}, {})])
    return cases


LIVE_FILES = ['stat', 'meminfo', 'loadavg', 'vmstat', 'diskstats', 'uptime', 'net/dev',
              'net/sockstat', 'net/sockstat6', 'net/netstat', 'net/snmp']


def live_cases():
    """This machine's own /proc, twice, a second apart: whatever kernel runs the script."""
    snaps = []
    for i in range(2):
        if i:
            time.sleep(1)
        snap = {}
        for f in LIVE_FILES:
            try:
                with open('/proc/' + f) as src:
                    snap[f] = src.read()
            except OSError:
                pass
        snaps.append(snap)
    runs = [(c, {}, {}) for c in ['cpu', 'memory', 'loadavg', 'vmstat', 'network', 'iostat',
                                  'sockets', 'tcp', 'uptime']]
    runs += [('network', {'interfaces': ['[a-z]'], 'byte_unit': ['byte']},
              {'interfaces': ['[a-z]'], 'byte_unit': ['byte']}),
             ('iostat', {'devices': '.', 'send_zero': True}, {'devices': '.', 'send_zero': True}),
             ('memory', {'detailed': 'True'}, {'detailed': True}),
             ('tcp', {'allowed_names': []}, {'allowed_names': []})]
    return {'live_proc': (snaps[0], snaps[1], 1, runs)}


def capture_cases():
    """The project's own captures (tests/data/proc: a 2-CPU Linux 6.x VM, and hand-made wraps)."""
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'data', 'proc')
    runs = [(c, {}, {}) for c in ['cpu', 'memory', 'loadavg', 'vmstat', 'network', 'iostat',
                                  'sockets', 'tcp', 'uptime']]
    runs.append(('iostat', {'devices': '.', 'send_zero': True}, {'devices': '.', 'send_zero': True}))
    return {'capture_t0_t1': (os.path.join(d, 't0'), os.path.join(d, 't1'), 10, runs),
            'capture_wrap': (os.path.join(d, 'wrap0'), os.path.join(d, 'wrap1'), 10,
                             [r for r in runs if r[0] in ('cpu', 'vmstat', 'network', 'iostat', 'tcp')]),
            'capture_seq': (os.path.join(d, 'seq', 's05'), os.path.join(d, 'seq', 's06'), 1, runs)}


def huge_cases():
    """Big machines: files far over one read buffer."""
    rnd = random.Random(99)
    cases = {}
    t0 = proc_stat(512, 10, 5)
    t1 = proc_stat(512, 10, 5, busy)
    cases['huge_512cpus'] = ({'stat': t0}, {'stat': t1}, 10, [('cpu', {}, {}), ('loadavg', {}, {})])
    cases['huge_512cpus'][0]['loadavg'] = cases['huge_512cpus'][1]['loadavg'] = '100.5 90.2 80.1 300/90000 123456\n'
    names = ['veth%07x' % rnd.randrange(16**7) for _ in range(1500)] + ['eth%d' % i for i in range(64)]
    n0 = [(n, [rnd.randrange(0, 2**63) for _ in range(16)]) for n in names]
    n1 = [(n, [v + rnd.randrange(0, 10**9) for v in vals]) for n, vals in n0]
    cases['huge_2000ifaces'] = ({'net/dev': net_dev(n0)}, {'net/dev': net_dev(n1)}, 10, [
        ('network', {}, {}), ('network', {'interfaces': ['veth', 'eth']}, {'interfaces': ['veth', 'eth']})])
    disks = [(8, i, 'sd' + chr(97 + i // 26) + chr(97 + i % 26)) for i in range(600)]
    disks += [(253, i, 'dm-%d' % i) for i in range(1000)] + [(7, i, 'loop%d' % i) for i in range(500)]
    d0 = [(ma, mi, n, [rnd.randrange(0, 10**9) for _ in range(11)]) for ma, mi, n in disks]
    d1 = [(ma, mi, n, [v + rnd.randrange(0, 10**4) for v in vals]) for ma, mi, n, vals in d0]
    cases['huge_2100disks'] = ({'diskstats': diskstats(d0, 20)}, {'diskstats': diskstats(d1, 20)}, 10,
                               [('iostat', {}, {})])
    return cases


def all_cases():
    cases = live_cases()
    cases.update(capture_cases())
    cases.update(huge_cases())
    for gen in (cpu_cases, memory_cases, vmstat_cases, network_cases, disk_cases, socket_tcp_cases,
                other_cases):
        cases.update(gen())
    return cases
