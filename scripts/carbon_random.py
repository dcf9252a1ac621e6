#!/usr/bin/env python3
"""Seeded random Graphite plaintext traffic for compare-carbon.py: what collectd, Diamond,
scripts and relays send, with the damage and oddities real senders produce.

usage: carbon_random.py GROUPS SEED [NOW]   prints the units (one `# tcp`/`# udp` header each)

Traffic is made of groups: each group is one scenario (plain points, odd separators, odd
values, odd timestamps, odd names, tags, several points in one step, bytes that are not
UTF-8) of 1-5 lines whose names all hold the group's token `idNNNNN`, so anything either
side stores can be traced back to the lines that made it. Groups are packed whole into
units: a TCP connection (its bytes written in random pieces) or a UDP datagram (under 8 KiB,
Twisted's read size, unless the unit is the one big datagram). A line that makes carbon-cache
drop its connection (see carbon_known.KILLERS) goes into a unit of its own, with a plain
group after it (its victim). The same GROUPS and SEED give the same lines for the same NOW.
"""
import random
import sys

STEP = 10  # seconds per point, on both sides

PREFIXES = ['servers.web01', 'collectd.host-a.cpu-0', 'stats.gauges', 'diamond.srv_2.memory',
            'app.eu-west-1.api', 'relay.k8s.node7', 'scripts.backup', 'Temp.Sensor']
LEAVES = ['value', 'count', 'cpu-idle', 'used_percent', 'rx_bytes', 'p99', 'Load', 'x']


def token(g):
    return 'id%05d' % g


def plain_name(r, g):
    return '%s.%s.%s' % (r.choice(PREFIXES), token(g), r.choice(LEAVES))


def plain_value(r):
    kind = r.randrange(6)
    if kind == 0:
        return str(r.randrange(0, 1000))
    if kind == 1:
        return repr(round(r.uniform(-1e4, 1e4), r.randrange(0, 7)))
    if kind == 2:
        return '%.3f' % r.uniform(0, 100)
    if kind == 3:
        return repr(r.uniform(-1, 1))
    if kind == 4:
        return '%d' % r.randrange(-10**12, 10**12)
    return '%g' % r.uniform(0, 1e9)


def past_step(r, now):
    """A timestamp in a past step well within the one-hour retention (never the current
    step, which -1 lines take)."""
    return now - STEP * r.randrange(2, 300) - r.randrange(0, STEP)


def line(name, value, ts, sep=' ', end='\n'):
    return '%s%s%s%s%s%s' % (name, sep, value, sep, ts, end)


ODD_VALUES = ['1e3', '.5', '5.', '-0', '+7', '1E-3', '+.5e-3', '0.1e+2', '1_000', '1__0',
              '1_000.5_5', '_1', '1_', '0x10', '0b1', 'inf', '-Infinity', '+iNF', 'nan', 'NaN',
              '-nan', '1e400', '-1e400', '1e-400', '9007199254740993', '1' * 40, '12abc',
              '1,5', 'true', '.', '-', 'e5', '5e', '\u0661\u0662', '\uff11\uff12', '1.2.3',
              '0.30000000000000004', '-1.7976931348623157e308', '5e-324']


def odd_timestamps(r, now):
    p = past_step(r, now)
    return [str(p), '%d.9' % p, '%d.0' % p, '%.1f' % p, '%e' % p, '%.10e' % p, '-1', '-1.5',
            '-1.0', '-1e0', '-0.5', '-2', '0', '1', str(now + 30), str(now + 300),
            str(now + 900), str(now + 86400), str(now - 2 * 86400), str(now - 10 * 365 * 86400),
            '{:_}'.format(p), hex(p), '1e11', '99999999999', '%d' % (p * 1000), 'soon', '',
            '+%d' % p, '%d_' % p, str(now + 590)]


def odd_names(r, g):
    t = token(g)
    long_node = 'n' * 300
    short_nodes = '.'.join(['ab%d' % i for i in range(260)])
    return ['a..%s.b' % t, '.%s.lead' % t, '..%s.two' % t, '%s.trail.' % t, 'x.%s..' % t,
            '~%s.tilde' % t, '~~%s.tilde2' % t, '~.%s' % t, '.~%s' % t, 'caf\u00e9.%s.\u00fc' % t,
            '\u6e29\u5ea6.%s' % t, 'emoji.%s.\U0001f600' % t, '%s.a-b_c:d#e@f%%g+h=i~j' % t,
            '%s.amp&q!$^' % t, '%s.paren(1)' % t, '%s.comma,x' % t, '%s.quote"x' % t,
            "%s.apos'x" % t, '%s.pipe|x' % t, '%s.brace{x}' % t, '%s.br[0]' % t,
            '%s.star*' % t, '%s.q?' % t, '%s.lt<gt>' % t, '%s.ctl\x01x' % t, '%s.del\x7fx' % t,
            '%s.%s' % (t, long_node), '%s.%s' % (t, short_nodes), '%s.%s' % (t, 'L' * 4200),
            '%s.back\\slash' % t, '%s.%s' % (t, '.'.join(['n'] * 600))]


def odd_tags(r, g):
    t = 'tg.' + token(g)
    return [t + ';z=1;a=2', t + ';a=2;z=1', t + ';x=1;x=2', t + ';x=2;x=1', t + ';x=',
            t + ';=v', t + ';x', t + ';k=v=w', t + ';k=~v', t + ';k=v~w', t + ';k^=v',
            t + ';k!=v', t + ';', t + ';;a=1', ';x=1', '~' + t + ';a=1', t + ';a=\u00e9',
            'tg..' + token(g) + ';a=1', t + ';name=other', t + ';a=1;b=2;c=3;d=4',
            t + ';a.b=c.d', t + ';a=b;a=b', t + ';A=1;a=2', t + ';k=v\x01']


SEPS = ['\t', '  ', ' \t ', '\t\t']


def group_lines(r, g, now):
    """(scenario, [line text]) of group g; a line's text may hold non-UTF-8 as \\udcXX."""
    s = r.choices(['plain', 'seps', 'value', 'ts', 'name', 'tags', 'multi', 'bytes'],
                  [30, 10, 14, 14, 14, 10, 12, 2])[0]
    name, out = plain_name(r, g), []
    if s == 'plain':
        for _ in range(r.randrange(1, 4)):
            out.append(line(name, plain_value(r), past_step(r, now)))
    elif s == 'seps':
        sep = r.choice(SEPS + ['\x0b', '\xa0', '\u3000', '\x1f'])
        end = r.choice(['\n', '\r\n', ' \n', '\t\r\n'])
        text = line(name, plain_value(r), past_step(r, now), sep, end)
        out.append(r.choice(['', ' ', '\t']) + text if r.random() < 0.3 else text)
    elif s == 'value':
        out.append(line(name, r.choice(ODD_VALUES), past_step(r, now)))
    elif s == 'ts':
        out.append(line(name, plain_value(r), r.choice(odd_timestamps(r, now))))
    elif s == 'name':
        out.append(line(r.choice(odd_names(r, g)), plain_value(r), past_step(r, now)))
    elif s == 'tags':
        out.append(line(r.choice(odd_tags(r, g)), plain_value(r), past_step(r, now)))
    elif s == 'multi':
        out += multi_lines(r, name, now)
    else:
        bad = r.choice(['\udcff', '\udcc3(', '\udce9'])
        out.append(line('%s.%s' % (name, bad), plain_value(r), past_step(r, now)))
    if r.random() < 0.05:
        out.append(r.choice(['\n', '\r\n', '   \n', '%s 1\n' % name, '%s 1 2 3\n' % name,
                             '%s\n' % name]))
    return s, out


def multi_lines(r, name, now):
    """Several points of one series in one step: same second, second fractions in either
    order, whole seconds in order or not, or -1 (now) several times."""
    base = past_step(r, now) // STEP * STEP
    kind = r.randrange(5)
    n = r.randrange(2, 6)
    if kind == 0:
        ts = [str(base + 3)] * n
    elif kind == 1:
        ts = sorted(r.sample(range(STEP), n))
        ts = [str(base + t) for t in (ts if r.random() < 0.7 else ts[::-1])]
    elif kind == 2:
        ts = ['%d.%d' % (base + 4, f) for f in sorted(r.sample(range(1, 10), n))]
        ts = ts if r.random() < 0.5 else ts[::-1]
    elif kind == 3:
        ts = ['-1'] * n
    else:
        ts = [str(base + r.randrange(STEP)) for _ in range(n)]
    return [line(name, plain_value(r), t) for t in ts]


def units(groups, seed, now):
    """[(transport, [lines], scenario per group)]: the traffic, in sending order."""
    import carbon_known
    r = random.Random('carbon-%s' % seed)
    made = [(g,) + group_lines(r, g, now) for g in range(groups)]
    out, pending = [], []

    def flush(transport):
        if pending:
            out.append((transport, interleave(r, pending)))
            pending.clear()
    for g, scenario, lines in made:
        transport = 'tcp' if r.random() < 0.7 else 'udp'
        if any(carbon_known.killer(l, transport) for l in lines):
            flush(transport)
            victim = [line(plain_name(r, groups + g), plain_value(r), past_step(r, now))]
            out.append((transport, lines + victim))
            continue
        pending.append(lines)
        size = sum(len(l.encode('utf-8', 'surrogateescape')) for ls in pending for l in ls)
        if len(pending) >= r.randrange(3, 30) or size > 5000:
            flush(transport)
    flush('tcp')
    big = [line(plain_name(r, 2 * groups + i), plain_value(r), past_step(r, now))
           for i in range(200)]
    out.insert(r.randrange(len(out) + 1), ('udp', big))
    return out


def interleave(r, groups):
    """The groups' lines mixed, each group's in its own order."""
    queues = [list(ls) for ls in groups]
    out = []
    while queues:
        q = r.choice(queues)
        out.append(q.pop(0))
        if not q:
            queues.remove(q)
    return out


if __name__ == '__main__':
    import time
    n, seed = int(sys.argv[1]), sys.argv[2]
    now = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
    for transport, lines in units(n, seed, now):
        sys.stdout.write('# %s\n' % transport)
        for l in lines:
            sys.stdout.write(repr(l) + '\n')
