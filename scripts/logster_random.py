"""Random logs for compare-logster.py's `--random N --seed S` mode: realistic but varied lines
of every log kind the comparison knows, with a mix that exercises the parsers' regex edge cases.

Deterministic: the lines depend only on (kind, N, seed), through Python's `random.Random`
seeded with the text `seed/kind` (the same lines on every run; `random()`, `randrange()`,
`choice()` and `sample()` have kept their sequences across Python 3 releases, so far).
`logs(n, seed)` gives {kind: [bytes line, ...]}; `logster_random.py KIND N SEED` prints them.
"""
import json
import random

MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
DAYS = 'Mon Tue Wed Thu Fri Sat Sun'.split()
ZONES = ['+0000', '-0700', '+0100', '+0530', '-0930', '+1400', '-1200', '+0545']


def pick(r, weighted):
    """One value of [(weight, value or function of r), ...]."""
    total = sum(w for w, _ in weighted)
    x = r.random() * total
    for w, v in weighted:
        x -= w
        if x < 0:
            return v(r) if callable(v) else v
    return weighted[-1][1](r) if callable(weighted[-1][1]) else weighted[-1][1]


def clf_time(r):
    return '[%02d/%s/%d:%02d:%02d:%02d %s]' % (r.randint(1, 28), r.choice(MONTHS),
                                               r.choice([2000, 2019, 2024, 2026]), r.randrange(24),
                                               r.randrange(60), r.randrange(60), r.choice(ZONES))


def ipv4(r):
    return '%d.%d.%d.%d' % (r.randint(1, 254), r.randrange(256), r.randrange(256), r.randint(1, 254))


def ipv6(r):
    return r.choice(['2001:db8::%x' % r.randrange(65536), '::1', 'fe80::1%eth0',
                     '2001:db8:0:1:%x:%x::2' % (r.randrange(65536), r.randrange(65536)),
                     '::ffff:%s' % ipv4(r)])


def client(r):
    return pick(r, [(6, ipv4), (2, ipv6), (1, lambda r: r.choice(['host.example.com', 'localhost'])),
                    (1, lambda r: '%s, %s' % (ipv4(r), ipv4(r)))])


def user(r):
    return pick(r, [(12, '-'), (2, 'frank'), (1, 'alice@example.com'), (1, 'DOMAIN\\\\bob'),
                    (1, 'user name'), (1, '""'), (1, 'caf\u00e9')])


def escape_apache(s):
    return s.replace('\\', '\\\\').replace('"', '\\"')


def escape_nginx(s):
    return s.replace('\\', '\\x5C').replace('"', '\\x22')


def url(r):
    base = pick(r, [(5, lambda r: '/%s' % r.choice(['', 'index.html', 'api/v1/items', 'img/a.png'])),
                    (2, lambda r: '/search?q=%s' % r.choice(['a+b', 'x%20y', '%E2%9C%93', '"q"',
                                                             'a\\b', '100%', 'HTTP/1.1" 200 '])),
                    (1, lambda r: '/a b/c d'),  # an unescaped space (Apache logs it as is)
                    (1, lambda r: '/' + 'x' * r.choice([300, 5000])),
                    (1, lambda r: 'http://proxy.example.com:8080/p'),
                    (1, lambda r: '*'),
                    (1, lambda r: '/%s' % r.choice(['..%2f..%2fetc/passwd', '<script>', '%00',
                                                    "' OR 1=1--", '{x}', '[y]']))])
    return base


def method(r):
    return pick(r, [(20, 'GET'), (5, 'POST'), (2, 'HEAD'), (1, 'PUT'), (1, 'DELETE'),
                    (1, 'OPTIONS'), (1, 'PATCH'), (1, 'PROPFIND'), (1, 'M-SEARCH'), (1, 'BREW'),
                    (1, 'get'), (1, 'CONNECT')])


def request(r, escape):
    m = method(r)
    target = 'example.com:443' if m == 'CONNECT' else url(r)
    proto = pick(r, [(12, 'HTTP/1.1'), (4, 'HTTP/1.0'), (2, 'HTTP/2.0'), (1, 'HTTP/2'),
                     (1, 'HTTP/3.0'), (1, None), (1, 'HTTP/1.1 extra')])
    text = '%s %s%s' % (m, target, ' ' + proto if proto else '')
    return pick(r, [(30, lambda r: escape(text)), (1, '-'), (1, ''),
                    (1, '\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03'),
                    (1, lambda r: escape(m + ' ' + target))])


def status(r):
    return pick(r, [(1, lambda r: '1%02d' % r.choice([0, 1, 3])),
                    (20, lambda r: '2%02d' % r.choice([0, 0, 0, 1, 4, 6, 7])),
                    (6, lambda r: '3%02d' % r.choice([1, 2, 4, 7, 8])),
                    (6, lambda r: '4%02d' % r.choice([0, 1, 3, 4, 5, 8, 13, 14, 29, 44, 99])),
                    (4, lambda r: '5%02d' % r.choice([0, 2, 3, 4])),
                    (1, lambda r: r.choice(['000', '600', '999', '0', '-']))])


def quoted(r, escape, choices):
    return '"%s"' % escape(r.choice(choices))


REFERERS = ['-', 'http://example.com/', 'https://x.example/a?b="c"', 'android-app://x',
            'http://a/\\back', '']
AGENTS = ['-', 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
          'curl/8.5.0', 'Mozilla "quoted" agent', 'back\\slash', 'kube-probe/1.29',
          'Go-http-client/2.0', 'agent HTTP/1.1" 500 x', '']


def access_line(r, vhost, nginx):
    escape = escape_nginx if nginx else escape_apache
    head = '%s:%d ' % (r.choice(['www.example.com', 'example.org', 'localhost']),
                       r.choice([80, 443, 8080])) if vhost else ''
    fields = '%s%s - %s %s "%s" %s %s' % (head, client(r), user(r), clf_time(r),
                                         request(r, escape), status(r),
                                         pick(r, [(6, lambda r: str(r.randrange(100000))),
                                                  (2, '-'), (1, '0')]))
    fmt = pick(r, [(2, 'common'), (6, 'combined'), (2, 'timed')])
    if fmt != 'common':
        fields += ' %s %s' % (quoted(r, escape, REFERERS), quoted(r, escape, AGENTS))
    if fmt == 'timed':
        fields += ' ' + (('%.3f' % (r.random() * 5)) if nginx else
                         pick(r, [(4, lambda r: str(r.randrange(10, 5000000))),
                                  (1, lambda r: str(r.randrange(5)))]))
    return fields


def damage(r, line):
    """Most lines as they are; some cut, padded, CRLF-ended, blank or with raw bytes."""
    b = line.encode()
    return pick(r, [(40, b), (2, lambda r: b[:r.randrange(len(b) + 1)]),
                    (2, b + b'\r'), (1, b + b' '), (1, b''), (1, b'   '), (1, b'\t'),
                    (1, lambda r: b.replace(b'/', b'/\xe9', 1)),
                    (1, lambda r: b + b' "\xff\xfe"'), (1, lambda r: b.lower()),
                    (1, lambda r: b.replace(b' ', b'  ', 1))])


def access(r, n):
    return [damage(r, access_line(r, r.random() < 0.15, False)) for _ in range(n)]


def nginx(r, n):
    return [damage(r, access_line(r, False, True)) for _ in range(n)]


def syslog_head(r, host):
    return pick(r, [
        (6, lambda r: '%s %2d %02d:%02d:%02d %s' % (r.choice(MONTHS), r.randint(1, 28), r.randrange(24),
                                                r.randrange(60), r.randrange(60), host)),
        (2, lambda r: '2024-01-%02dT10:%02d:%02d%s%s %s' % (
            r.randint(1, 28), r.randrange(60), r.randrange(60), r.choice(['', '.123', '.123456']),
            r.choice(['Z', '+01:00', '-05:00', '+0100']), host)),
        (1, lambda r: '2024-01-15 10:00:%02d %s' % (r.randrange(60), host)),
        (1, lambda r: '<%d>%s %2d 10:00:01 %s' % (r.choice([2, 22, 166]), r.choice(MONTHS),
                                                  r.randint(1, 28), host)),
        (1, lambda r: '%s %2d 10:00:01.%03d %s' % (r.choice(MONTHS), r.randint(1, 28),
                                                   r.randrange(1000), host))])


def postfix_prog(r):
    return pick(r, [(10, 'postfix/smtp'), (3, 'postfix/local'), (2, 'postfix/lmtp'),
                    (1, 'postfix/virtual'), (1, 'postfix/pipe'), (1, 'postfix/error'),
                    (1, 'postfix-out/smtp'), (1, 'postfix/submission/smtp'),
                    (1, 'postfix-in_2/local'), (1, 'mta1/postfix/smtp')])


def delivery(r):
    st = pick(r, [(10, 'sent'), (3, 'deferred'), (2, 'bounced'), (1, 'expired'),
                  (1, 'deliverable'), (1, 'undeliverable')])
    relay = pick(r, [(5, 'mx.example.com[192.0.2.1]:25'), (2, 'none'), (2, 'local'),
                     (1, 'private/dovecot-lmtp'), (1, 'dovecot'), (1, '[2001:db8::25]:25')])
    delay = pick(r, [(4, lambda r: '%.*f' % (r.choice([1, 2]), r.random() * 10)),
                     (2, lambda r: str(r.randrange(100000))), (1, '0'), (1, '0.0')])
    parts = ['to=<%s>' % r.choice(['a@example.com', 'root@mail', '"odd,name"@example.com',
                                   'x+tag@example.net', '', 'b@[192.0.2.5]'])]
    if r.random() < 0.3:
        parts.append('orig_to=<%s>' % r.choice(['root', 'postmaster', 'a@old.example']))
    parts.append('relay=' + relay)
    if r.random() < 0.2:
        parts.append('conn_use=%d' % r.randint(2, 9))
    parts.append('delay=' + delay)
    if r.random() < 0.9:
        parts.append('delays=%s/%s/%s/%s' % tuple(r.choice(['0', '0.01', '1.2', '3599'])
                                                  for _ in range(4)))
    if r.random() < 0.95:
        parts.append('dsn=%s' % {'sent': '2.0.0', 'deferred': '4.4.1'}.get(st, '5.1.1'))
    why = r.choice([' (250 2.0.0 Ok: queued as 4F2B)', ' (delivered to mailbox)',
                    ' (connect to x[192.0.2.2]:25: Connection timed out)',
                    ' (host said: 550 5.1.1 <a@b>: status=sent? no (in reply to RCPT TO))',
                    ', returned to sender', '', ' (delivered via dovecot service)'])
    return ', '.join(parts) + ', status=' + st + why


def postfix(r, n):
    out = []
    for _ in range(n):
        head = syslog_head(r, r.choice(['mail', 'mail.example.com', 'mx-1']))
        prog = postfix_prog(r)
        qid = r.choice(['4F2B31C0A%d' % r.randrange(10), '4Xk8Zq1qzVz9sWM', 'ABCDEF012345'])
        line = pick(r, [
            (12, lambda r: '%s %s[%d]: %s: %s' % (head, prog, r.randrange(1, 99999), qid, delivery(r))),
            (1, lambda r: '<22>1 2024-01-15T10:00:01.123Z mail %s %d - - %s: %s' % (
                prog, r.randrange(1, 99999), qid, delivery(r))),
            (1, lambda r: '%s %s: %s: %s' % (head, prog, qid, delivery(r))),
            (1, lambda r: '%s postfix/qmgr[12]: %s: from=<a@b>, size=%d, nrcpt=1 (queue active)' % (
                head, qid, r.randrange(100000))),
            (1, lambda r: '%s postfix/smtpd[11]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: '
                          '554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP' % head),
            (1, lambda r: '%s postfix/bounce[13]: %s: sender non-delivery notification: 4F2B' % (head, qid)),
            (1, lambda r: '%s postfix/cleanup[13]: %s: message-id=<status=sent@x>' % (head, qid))])
        out.append(damage(r, line))
    return out


LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']


def log4j_line(r):
    level = pick(r, [(10, lambda r: r.choice(LEVELS)), (1, lambda r: r.choice(LEVELS).lower()),
                     (1, lambda r: r.choice(LEVELS).title()),
                     (1, lambda r: r.choice(['WARNING', 'SEVERE', 'ERRORS', 'INFORMATION',
                                             'ERROR_CODE', 'NOTICE', 'CRITICAL']))])
    pad = pick(r, [(6, level), (2, lambda r: '%-5s' % level), (2, lambda r: '%5s' % level)])
    msg = r.choice(['c.e.Foo - message', 'com.example.Bar: done', '[main] x - y', '- {user=7}',
                    'ERROR in message', '', 'WARN x'])
    t = pick(r, [
        (3, lambda r: '%02d:%02d:%02d' % (r.randrange(24), r.randrange(60), r.randrange(60))),
        (3, lambda r: '%02d:%02d:%02d%s%03d' % (r.randrange(24), r.randrange(60), r.randrange(60),
                                                r.choice('.,'), r.randrange(1000))),
        (3, lambda r: '2024-01-%02d %02d:%02d:%02d%s' % (r.randint(1, 28), r.randrange(24),
                                                         r.randrange(60), r.randrange(60),
                                                         r.choice(['', ',123', '.123']))),
        (2, lambda r: '2024-01-15T10:00:00.%03d%s' % (r.randrange(1000),
                                                      r.choice(['', 'Z', '+01:00', '-0500']))),
        (1, lambda r: '2024-01-15_10:00:%02d' % r.randrange(60)),
        (1, lambda r: '%d.%03d' % (r.randrange(1600000000, 1800000000), r.randrange(1000))),
        (1, lambda r: '20240115'),
        (1, lambda r: r.choice(['[2024-01-15 10:00:00]', 'Jan 15 10:00:00', '-', '']))])
    between = pick(r, [(10, ' '), (1, '  '), (2, ' [main] '), (1, ' [pool-1-thread-2] '),
                       (1, ' {req=abc} '), (1, ' 12345 --- [main] '), (1, '\t')])
    return pick(r, [(10, lambda r: '%s%s%s %s' % (t, between, pad, msg)),
                    (1, lambda r: '%s %s %s' % (pad, t, msg)),
                    (1, lambda r: r.choice(['java.lang.IllegalStateException: oops',
                                            '\tat com.example.Foo.bar(Foo.java:10)',
                                            'Caused by: java.io.IOException',
                                            '\t... 12 more']))])


def log4j(r, n):
    return [damage(r, log4j_line(r)) for _ in range(n)]


SQUID_CODES = ['TCP_MISS', 'TCP_HIT', 'TCP_MEM_HIT', 'TCP_DENIED', 'TCP_REFRESH_UNMODIFIED',
               'TCP_REFRESH_MODIFIED', 'TCP_IMS_HIT', 'TCP_NEGATIVE_HIT', 'TCP_TUNNEL',
               'TCP_MISS_ABORTED', 'TCP_CF_HIT', 'TCP_DENIED_REPLY', 'TCP_REDIRECT',
               'UDP_HIT', 'UDP_MISS', 'UDP_INVALID', 'NONE_NONE', 'TAG_NONE', 'TCP_SWAPFAIL_MISS']
HIER = ['HIER_DIRECT/192.0.2.1', 'HIER_NONE/-', 'DIRECT/192.0.2.1', 'NONE/-',
        'FIRSTUP_PARENT/10.0.0.1', 'PARENT_HIT/proxy2', 'CD_SIBLING_HIT/10.0.0.2',
        'TIMEOUT_HIER_DIRECT/2001:db8::1', 'ORIGINAL_DST/192.0.2.9']


def squid_line(r):
    t = pick(r, [(5, lambda r: '%d.%03d' % (r.randrange(1000000000, 1800000000), r.randrange(1000))),
                 (1, lambda r: str(r.randrange(1000000000, 1800000000)))])
    code = pick(r, [(10, lambda r: r.choice(SQUID_CODES[:4])), (5, lambda r: r.choice(SQUID_CODES))])
    st = pick(r, [(8, lambda r: r.choice(['200', '304', '206', '301'])),
                  (3, lambda r: r.choice(['403', '404', '407', '400'])),
                  (2, lambda r: r.choice(['500', '502', '503'])), (1, '000'), (1, '101')])
    m = r.choice(['GET', 'CONNECT', 'POST', 'HEAD', 'ICP_QUERY', 'NONE', '-'])
    target = 'example.com:443' if m == 'CONNECT' else r.choice(
        ['http://example.com/', 'http://a/b?c=d e', 'error:invalid-request', '-',
         'https://x.example/' + 'y' * 200])
    return '%s %6d %s %s/%s %d %s %s %s %s %s' % (
        t, r.choice([0, 5, 344, 1903, 123456]), r.choice([ipv4(r), ipv6(r), 'client.example']),
        code, st, r.randrange(0, 200000), m, target, r.choice(['-', 'alice', 'bob@EXAMPLE']),
        r.choice(HIER), r.choice(['text/html', '-', 'image/png', 'application/json; charset=utf-8']))


def squid(r, n):
    return [damage(r, squid_line(r)) for _ in range(n)]


ERROR_LEVELS = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug']


def apache_time(r, frac):
    return '%s %s %2d %02d:%02d:%02d%s %d' % (r.choice(DAYS), r.choice(MONTHS), r.randint(1, 28),
                                               r.randrange(24), r.randrange(60), r.randrange(60),
                                               '.%06d' % r.randrange(1000000) if frac else '',
                                               r.choice([2000, 2024]))


def error_line(r):
    level = pick(r, [(10, lambda r: r.choice(ERROR_LEVELS)),
                     (1, lambda r: 'trace%d' % r.randint(1, 8)),
                     (1, lambda r: r.choice(['Error', 'WARN', 'warning', 'err']))])
    msg = r.choice(['File does not exist: /var/www/favicon.ico', 'AH00126: Invalid URI in request',
                    '(70007)The timeout specified has expired: AH01075: Error dispatching',
                    'PHP Warning:  Undefined variable $x in /var/www/i.php on line 3',
                    'client denied by server configuration: /x', '[x] [y] brackets', ''])
    cl = pick(r, [(3, ''), (2, lambda r: '[client %s] ' % ipv4(r)),
                  (1, lambda r: '[client %s:%d] ' % (ipv4(r), r.randrange(65536))),
                  (1, lambda r: '[remote %s] ' % ipv6(r))])
    v22 = lambda r: '[%s] [%s] %s%s' % (apache_time(r, False), level, cl, msg)
    v24 = lambda r: '[%s] [%s:%s] [pid %d%s] %s%s' % (
        apache_time(r, r.random() < 0.8), r.choice(['core', 'ssl', 'proxy_fcgi', 'mpm_event', '',
                                                    'php7', 'authz_core', 'http2', 'lua']),
        level, r.randrange(1, 99999), r.choice(['', ':tid %d' % r.randrange(1, 2 ** 47)]), cl, msg)
    return pick(r, [(5, v22), (5, v24),
                    (1, lambda r: '[%s] [%s] [pid %d] %s' % (
                        '2024-01-15 10:00:%02d.%06d' % (r.randrange(60), r.randrange(1000000)),
                        r.choice(['core:' + level, level]), r.randrange(99999), msg)),
                    (1, lambda r: '[%s] [%s]' % (apache_time(r, False), level)),
                    (1, lambda r: r.choice(['PHP Fatal error:  x in /y.php on line 2',
                                            'AH00558: apache2: Could not reliably determine',
                                            '[Mon Jan 15 2024] [error] odd time',
                                            '[Mon Jan 15 10:00:01 2024] [:error] x']))])


def error(r, n):
    return [damage(r, error_line(r)) for _ in range(n)]


KEYS = ['status', 'ms', 'bytes', 'n', 'queue', 'http', 'db', 'timings', 'caf\u00e9', '\u6642\u9593',
        'up_stream', 'x1', 'A', 'count']


def json_value(r, depth):
    return pick(r, [(6, lambda r: r.randrange(-5, 100000)),
                    (4, lambda r: round(r.random() * 1000, r.choice([0, 1, 3, 6]))),
                    (1, lambda r: r.choice([0.1, 1e-7, 1e21, -0.0, 12345678901234567890, 2 ** 53 + 1])),
                    (1, lambda r: r.choice([True, False, None, '12', '1.5', 'text', '\u2713'])),
                    (2 if depth < 3 else 0, lambda r: json_object(r, depth + 1)),
                    (1 if depth < 3 else 0,
                     lambda r: [json_value(r, depth + 1) for _ in range(r.randrange(4))])])


def json_object(r, depth=0):
    keys = r.sample(KEYS, r.randrange(1, 5))
    if r.random() < 0.05:
        keys.append(r.choice(['with space', 'dot.key', 'sl/ash']))
    return {k: json_value(r, depth) for k in keys}


def json_line(r):
    obj = json_object(r)
    text = json.dumps(obj, ensure_ascii=r.random() < 0.5,
                      separators=r.choice([(',', ':'), (', ', ': ')]))
    return pick(r, [(20, text), (1, lambda r: text[:r.randrange(len(text))]),
                    (1, lambda r: r.choice(['[1, 2.5, 3]', '42', '"str"', 'null', 'not json',
                                            '{"a": NaN}', '{"a": Infinity}', '{"a": 1, "a": 2}',
                                            '{"a": 1e400}', "{'a': 1}", '{"a": 01}',
                                            '{"a": 1} trailing', ' {"a": 2}']))])


def json_lines(r, n):
    return [damage(r, json_line(r)) for _ in range(n)]


KINDS = {'access': access, 'nginx': nginx, 'postfix': postfix, 'log4j': log4j, 'squid': squid,
         'error': error, 'json': json_lines}


def logs(n, seed):
    """{kind: n random lines}; each kind has its own generator seeded by (seed, kind)."""
    return {kind: gen(random.Random('%s/%s' % (seed, kind)), n) for kind, gen in KINDS.items()}


if __name__ == '__main__':
    import sys
    kind, n, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    for line in logs(n, seed)[kind]:
        sys.stdout.buffer.write(line + b'\n')
