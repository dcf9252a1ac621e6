#!/usr/bin/env python3
"""Seeded random StatsD traffic for compare-statsd.py: what apps, DogStatsD clients and shell
scripts send, with the oddities and damage real senders produce.

usage: statsd_random.py WINDOWS SEED     prints each window's packets (`# udp`/`# tcp` headers)

Traffic is made of groups: one scenario (a counter, timer, gauge, set, `h`/`d` line, a
multi-value line, tags, a key to sanitize, a number in JavaScript's syntax, a sample rate, a bad
line, ...) of 1-4 lines whose keys hold the group's token `kNNNN`, so every flushed name traces
back to the lines that made it. Later groups reuse earlier tokens now and then (gauges move
by deltas across windows, idle keys come back). A window is a list of packets: UDP datagrams
(several lines each, `\\n` or `\\r\\n` separated, sometimes with empty lines and a trailing
newline) and TCP connections (lines ending in `\\n`, ASCII only: etsy's TCP server reads ASCII).
About one window in five is idle. The same WINDOWS and SEED give the same packets.
"""
import random
import sys

NODES = ['api', 'db', 'web01', 'queue', 'cache', 'lat', 'jobs', 'eu-west-1']
LEAVES = ['hits', 'lat', 'bytes', 'depth', 'users', 'time', 'errors', 'size']

# JavaScript Number() syntax and odd texts: etsy's isNumber is `str && !isNaN(str)`.
JS_NUMBERS = ['1e3', '1E-3', '0x1F', '0X10', '+5', '.5', '5.', '-.5', '+.5e1', 'Infinity',
              '-Infinity', '+Infinity', 'NaN', '', ' ', ' 7 ', '\t3', '0b11', '0o17', '1_000',
              '1e400', '-1e400', '5e-324', '1e-400', '-0', '0', '00012', '012', '1,5', '12abc',
              'inf', 'infinity', '0x', '1e', 'e1', '.', '+', '-', '1.2.3', '9007199254740993',
              '123456789012345678901234567890', '0.1', '1e21', '1e-7', '123e-20', '0xffffffff',
              '-0x10', '+0x10', '1.5e+3', '\u0661\u0662', '\u00a05']
ODD_MEMBERS = ['alice', 'Bob', '10.0.0.1', '42', '', ' ', 'a b', 'x|y', 'caf\u00e9',
               '\u6e29\u5ea6', 'emoji\U0001f600', 'a,b', 'a=b', '#tag', '@x', '-1', '1e3',
               '1000', '1000.0', 'NaN', '  padded  ', '__proto__', 'constructor']
# etsy keeps its state in plain JavaScript objects, where these keys meet Object.prototype
# (a timer or set of such a key crashes etsy: only counters and gauges are sent).
PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf']
RATES = ['@0.5', '@0.1', '@0.25', '@1', '@.5', '@0.001', '@2', '@0', '@5.', '@1e-1', '@0x1',
         '@abc', '@', '@-0.5', '@0.5.5', '@1.0', '@0.3333']
BAD = ['badline', 'k{t}', 'k{t}:', 'k{t}:1', 'k{t}:1|', 'k{t}:abc|c', 'k{t}:1|c|@',
       'k{t}:1|c|0.5', 'k{t}:-1|ms', 'k{t}:x|g', 'k{t}:|ms', ':1|c', 'k{t}::2|c', '|c',
       'k{t}:1|c|@abc', 'k{t}:NaN|c', 'k{t}:1|c|@-1', 'k{t}:1|ms|@0.5|extra', 'k{t}:1||c',
       'k{t}:1|c|#', 'k{t}:1|zz', 'k{t}:1|C', 'k{t}:1|MS', 'k{t}:1| c', 'k{t}:1|ms ',
       'k{t}:1|g|@0.5', 'k{t}:1|s|@x', '\r', ' ', ':', '|', '|#', '#', 'k{t}:1|c:', 'k{t}:1|c::2|c',
       'k{t}:1|c|@0.5:2|c', 'k{t}:1|c|#a:b|#c:d', 'k{t}:1|c|#a:b|@0.5', 'k{t}:1|c|@0.5|#e:1',
       'k{t}:1\x00|c', 'k{t}\x00:1|c', 'k{t}:1|c\x00', 'k{t}:1|c|@0.5\x00', 'k{t}:1|s:2|s|@0.1',
       'k{t}|c', 'k{t}:1:2', 'k{t}:1|c|@1|@2', 'k{t}:0x|c', 'k{t}:1|c|@0x1p3']
COUNTER_WALK = ['Infinity', '-Infinity', '1e308', '1e308', '-1e308', '5', '0', '-0', 'NaN']
GAUGE_WALK = ['+Infinity', '-Infinity', 'Infinity', '-1e308', '+1e308', '+1e308', '-5', '+0',
              '-0', '0', '+5', '-10', '1e-320', '-1e-320', '+.5', '-.5']


def token(g):
    return 'k%04d' % g


def plain_key(r, t):
    return '%s.%s.%s' % (r.choice(NODES), t, r.choice(LEAVES))


def odd_key(r, t):
    return r.choice(['fo/o b+ar.%s', '%s with  spaces', 'caf\u00e9.%s.\u00fc', '\u6e29\u5ea6.%s',
                     'a\tb.%s', '%s.x(1)', '%s.[br]', '%s.q?*', '%s.d$o#l@l', 'a..%s..b',
                     '.%s.lead', '%s.trail.', '%s.a=b', '%s;x=1', '%s;', 'UP.%s.Down',
                     '%s.emoji\U0001f600', '%s.a-b_c', '%s\\back', "%s.'quote'", '%s.%%pct',
                     '%s.' + 'n' * 300, '  %s.pad  ']) % t


def number(r):
    k = r.randrange(8)
    if k == 0:
        return str(r.randrange(0, 1000))
    if k == 1:
        return repr(round(r.uniform(0, 500), r.randrange(0, 4)))
    if k == 2:
        return str(r.randrange(0, 20) / 4)
    if k == 3:
        return repr(r.uniform(0, 1))
    if k == 4:
        return '%g' % r.uniform(0, 1e12)
    if k == 5:
        return r.choice(['1e300', '1e-300', '1.7976931348623157e308', '5e-324', '1e15',
                         '123456789.123456789', '0.1', '0.2', '0.30000000000000004'])
    if k == 6:
        return r.choice(JS_NUMBERS)
    return str(r.randrange(0, 10))


def rate(r):
    return '|' + r.choice(RATES) if r.random() < 0.25 else ''


def tags(r):
    if r.random() < 0.8:
        return ''
    return '|#' + r.choice(['env:prod,role:web', 'env:dev', 'a:b:c', 'x', 'k:v,k:w',
                            'z:1,a:2', 'sp ace:v', 'semi;c:1', 'e:\u00e9', ',', 'k:', ':v',
                            'env:prod,,x:1', 'host:web-01.example.com'])


def group_lines(r, t, key):
    """(scenario, [line]) of one group."""
    s = r.choices(['c', 'ms', 'g', 's', 'hd', 'multi', 'tags', 'key', 'js', 'rate', 'bad',
                   'big', 'proto'], [14, 14, 12, 8, 4, 6, 6, 8, 10, 6, 8, 4, 0.5])[0]
    out = []
    if s == 'c' and r.random() < 0.15:
        for _ in range(r.randrange(2, 6)):
            out.append('%s:%s|c%s' % (key, r.choice(COUNTER_WALK), r.choice(['', '', '|@0'])))
    elif s == 'c':
        for _ in range(r.randrange(1, 4)):
            out.append('%s:%s|c%s' % (key, number(r), rate(r)))
    elif s == 'ms':
        for _ in range(r.randrange(1, 5)):
            v = number(r) if r.random() < 0.9 else '-' + number(r)
            out.append('%s:%s|ms%s' % (key, v, rate(r)))
    elif s == 'g' and r.random() < 0.3:
        for _ in range(r.randrange(2, 6)):
            out.append('%s:%s|g' % (key, r.choice(GAUGE_WALK)))
    elif s == 'g':
        for _ in range(r.randrange(1, 4)):
            sign = r.choice(['', '', '+', '-', '-', '+-'[r.randrange(2)]])
            out.append('%s:%s%s|g' % (key, sign, number(r)))
    elif s == 's':
        for _ in range(r.randrange(1, 5)):
            out.append('%s:%s|s' % (key, r.choice(ODD_MEMBERS)))
    elif s == 'hd':
        out.append('%s:%s|%s%s' % (key, number(r), r.choice('hd'), rate(r)))
    elif s == 'multi':
        parts = ['%s|%s' % (number(r), r.choice(['c', 'ms', 'g', 's', 'h', 'c|@0.5']))
                 for _ in range(r.randrange(2, 5))]
        out.append('%s:%s' % (key, ':'.join(parts)))
    elif s == 'tags':
        out.append('%s:%s|%s%s%s' % (key, r.randrange(10), r.choice(['c', 'ms', 'g', 's']),
                                     rate(r), tags(r) or '|#env:prod'))
    elif s == 'key':
        out.append('%s:%s|%s' % (odd_key(r, t), r.randrange(100), r.choice(['c', 'ms', 'g', 's'])))
    elif s == 'js':
        out.append('%s:%s|%s' % (key, r.choice(JS_NUMBERS), r.choice(['c', 'ms', 'g', 'g', 's'])))
    elif s == 'rate':
        out.append('%s:%s|%s|%s' % (key, r.randrange(100), r.choice(['c', 'ms']), r.choice(RATES)))
    elif s == 'bad':
        out.append(r.choice(BAD).replace('{t}', t))
    elif s == 'proto':
        out.append('%s:%s|%s' % (r.choice(PROTO_KEYS), r.randrange(1, 5), r.choice('cg')))
    else:
        v = r.choice(['1e308', '-1e308', '1e-320', '1e20', '-5', '9e15', '1.5e300'])
        out.append('%s:%s|%s' % (key, v, r.choice(['c', 'ms', 'g', 'g'])))
    if s not in ('tags', 'bad', 'key', 'proto') and r.random() < 0.1:
        out = [l + tags(r) for l in out]
    return s, out


def windows(n, seed):
    """[[(transport, payload, [(token, scenario, lines)])]] per window."""
    r = random.Random('statsd-%s' % seed)
    out, used, g = [], [], 0
    for w in range(n):
        if w > 0 and r.random() < 0.2:
            out.append([])
            continue
        packets = []
        for _ in range(r.randrange(2, 9)):
            transport = 'tcp' if r.random() < 0.2 else 'udp'
            groups = []
            for _ in range(r.randrange(1, 7)):
                if used and r.random() < 0.25:
                    t, key = r.choice(used)
                else:
                    t = token(g)
                    g += 1
                    key = plain_key(r, t)
                    used.append((t, key))
                s, lines = group_lines(r, t, key)
                groups.append((t, s, lines))
            packets.append((transport, payload(r, transport, groups), groups))
        out.append(packets)
    return out


def payload(r, transport, groups):
    lines = [l for _, _, ls in groups for l in ls]
    if transport == 'tcp':
        return ''.join(l + '\n' for l in lines)
    if r.random() < 0.03:
        return r.choice(['', '\n', '\n\n', '\r\n'])
    sep = '\r\n' if r.random() < 0.15 else '\n'
    if any(l.endswith('|@') for l in lines):
        # `|@\r` passes etsy's rate check (Number('\r') is 0) and then makes it throw (the
        # README's `@ 0.5` case): etsy would stop.
        sep = '\n'
    if r.random() < 0.15:
        lines.insert(r.randrange(len(lines) + 1), '')
    text = sep.join(lines)
    return text + sep if r.random() < 0.3 else text


def tcp_pieces(raw):
    """The pieces a TCP connection's bytes are written in (cut anywhere, within a line or a
    UTF-8 character too), each its own write, a few milliseconds apart."""
    r = random.Random(raw)
    cuts = sorted(r.sample(range(1, len(raw)), min(2, len(raw) - 1)))
    return [raw[i:j] for i, j in zip([0] + cuts, cuts + [len(raw)])]


if __name__ == '__main__':
    for w, packets in enumerate(windows(int(sys.argv[1]), sys.argv[2])):
        print('## window %d' % w)
        for transport, data, _groups in packets:
            print('# %s %r' % (transport, data))
