#!/usr/bin/env python3
"""Side by side: etsy Logster's bundled parsers and tally's equivalent YAML parsers over the
same generated logs. Run through scripts/compare-logster.sh (it sets up Logster and builds tally).

usage: compare-logster.py TALLY LOGSTER_DIR PYTHON [--case SUBSTR] [--keep DIR] [-v]
                          [--random N [--seed S]] [--file LOG=PATH ...]

Logster runs as cron would run it: `bin/logster --dry-run --output=stdout --tailer=pygtail`
once on the empty log (its first run only records the offset), then the lines are appended,
the state file is dated 60 s back and Logster runs again. Its per-second (ErrorLog: per 10 s)
rates times the duration are counts; `tally parse` prints sums. Both are mapped to the same
keys (PAIRS below) and compared; a key missing on one side is 0. Known differences (KNOWN in
logster_known.py, each with its reason) are printed, not counted. Exit status 1 on any other
difference. --random N: N lines of each kind from logster_random.py (seeded by --seed); a
difference is narrowed down to its lines by halving, and JSON lines are compared one by one.
--file LOG=PATH: a real log, compared as LOG.
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

DURATION = 60

# ---------------------------------------------------------------------------------------------
# Logs (lists of byte lines; the last one may lack its newline)

T = '[10/Oct/2000:13:55:36 -0700]'


def access_lines():
    """Apache access lines of many shapes, each with the status Logster's sample regex sees."""
    return [
        '127.0.0.1 - frank %s "GET /apache_pb.gif HTTP/1.0" 200 2326' % T,
        '127.0.0.1 - - %s "POST /form HTTP/1.1" 302 - "http://a/" "Mozilla/5.0 (X11)"' % T,
        '2001:db8::1 - - %s "GET /v6 HTTP/1.1" 404 153 "-" "curl/8.5.0"' % T,
        '::1 - - %s "OPTIONS * HTTP/1.0" 200 - "-" "Apache/2.4.58 (internal dummy connection)"' % T,
        '10.0.0.1 - - %s "GET /slow HTTP/1.1" 503 299 "-" "Go-http-client/1.1" 1534021' % T,
        '10.0.0.2 - - %s "HEAD / HTTP/1.1" 101 0 "-" "ws"' % T,
        '10.0.0.3 - - %s "GET /x HTTP/1.1" 000 0 "-" "-"' % T,
        '10.0.0.4 - - %s "GET /x HTTP/1.1" 499 0 "-" "-"' % T,
        '10.0.0.5 - - %s "GET /y HTTP/1.1" 999 12 "-" "-"' % T,
        '10.0.0.6 - - %s "GET /h2 HTTP/2.0" 200 512 "-" "h2load"' % T,
        '10.0.0.7 - - %s "-" 408 0 "-" "-"' % T,
        '10.0.0.8 - - %s "\\x16\\x03\\x01" 400 226 "-" "-"' % T,
        '10.0.0.9 - - %s "GET /q?a=\\"b\\" HTTP/1.1" 200 10 "-" "Mozilla \\"quoted\\""' % T,
        'www.example.com:443 10.0.0.10 - - %s "GET /vhost HTTP/1.1" 200 1024 "-" "curl/8"' % T,
        'example.org:80 192.0.2.1 - - %s "GET /vhost2 HTTP/1.1" 301 0 "-" "-"' % T,
        '10.0.0.11 - - %s "get /lower HTTP/1.1" 200 5 "-" "-"' % T,
        '10.0.0.12 - - %s "GET /%s HTTP/1.1" 200 7 "-" "-"' % (T, 'x' * 70000),
        '10.0.0.13 - - %s "GET /cut HTTP/1.1" 200' % T,  # cut before the size
        '',
        '   ',
        'garbage line without anything',
        '10.0.0.14 - - %s "GET /noproto" 200 3 "-" "-"' % T,
        '10.0.0.15 - - %s "GET /sp ace HTTP/1.1" 200 3 "-" "-"' % T,
        '10.0.0.16 - user name %s "GET / HTTP/1.1" 200 3 "-" "-"' % T,
        '203.0.113.7, 10.0.0.1 - - %s "GET /xff HTTP/1.1" 200 3 "-" "-"' % T,
        '2001:db8::9, 10.0.0.1, 10.0.0.2 - - %s "GET /xff6 HTTP/1.1" 503 0 "-" "-"' % T,
        '10.0.0.17 - - %s "GET / HTTP/1.1" 200 3 "-" "-"' % T,
    ]


def nginx_lines():
    return [
        '203.0.113.9 - - %s "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1"' % T,
        '203.0.113.9 - - %s "GET /api HTTP/1.1" 502 157 "-" "curl/7.88.1" 0.012' % T,
        '2001:db8::2 - alice %s "POST /login HTTP/2.0" 401 0 "https://x/" "Mozilla/5.0"' % T,
        '203.0.113.9 - - %s "GET /\\x22quoted\\x22 HTTP/1.1" 200 1 "-" "-"' % T,
        '203.0.113.9 - - %s "\\x16\\x03\\x01\\x02\\x00\\x01\\x00" 400 157 "-" "-"' % T,
        '203.0.113.9 - - %s "" 400 0 "-" "-"' % T,
        '203.0.113.9 - - %s "GET / HTTP/1.1" 499 0 "-" "-" 0.000' % T,
        '203.0.113.9 - - %s "GET / HTTP/1.1" 444 0 "-" "-"' % T,
        '203.0.113.9 - - %s "PROPFIND /dav HTTP/1.1" 207 900 "-" "-"' % T,
        '203.0.113.9 - - %s "GET / HTTP/1.1" 304 0 "-" "Mozilla/5.0 (\\"q\\")"' % T,
        '203.0.113.9 - - %s "GET / HTTP/1.1" 200 612' % T,
        '',
    ]


SYSLOG = 'Jan 15 10:00:0%d mail'


def postfix_lines():
    out = []
    head = ['Jan 15 10:00:01 mail', 'Jan  5 10:00:01 mail', '2024-01-15T10:00:01.123456+01:00 mail',
            '2024-01-15T10:00:01+0100 mail.example.com', '2024-01-15 10:00:01 mail',
            'Jan 15 10:00:01 mail.example.com']
    progs = ['postfix/smtp[1234]', 'postfix/local[99]', 'postfix-out/smtp[7]', 'postfix/lmtp[3]',
             'postfix/virtual[3]', 'postfix/pipe[42]', 'postfix/submission/smtp[5]']
    tails = [
        'to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK)',
        'to=<root@mail>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)',
        'to=<b@example.net>, relay=none, delay=3600, delays=3599/0.1/0.9/0, dsn=4.4.1, status=deferred (connect to example.net[192.0.2.2]:25: Connection timed out)',
        'to=<c@example.org>, relay=mx.example.org[192.0.2.3]:25, delay=0.9, delays=0.1/0/0.3/0.5, dsn=5.1.1, status=bounced (host said: 550 5.1.1 no such user (in reply to RCPT TO command))',
        'to=<"odd,name"@example.com>, relay=mx[192.0.2.1]:25, delay=12, delays=1/1/5/5, dsn=2.0.0, status=sent (250 ok)',
        'to=<d@example.com>, relay=none, delay=432000, delays=432000/0/0/0, dsn=4.4.1, status=expired, returned to sender',
        'to=<e@example.com>, relay=mx[192.0.2.1]:25, conn_use=2, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 ok)',
    ]
    i = 0
    for h in head:
        for p in progs:
            out.append('%s %s: 4F2B31C0A%d: %s' % (h, p, i, tails[i % len(tails)]))
            i += 1
    out += [
        'Jan 15 10:00:01 mail postfix/smtpd[11]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>',
        'Jan 15 10:00:01 mail postfix/qmgr[12]: 4F2B31C0A1: from=<a@b>, size=1234, nrcpt=1 (queue active)',
        'Jan 15 10:00:01 mail postfix/cleanup[13]: 4F2B31C0A1: message-id=<x@y>',
        'Jan 15 10:00:01 mail postfix/smtp[1234]: 4Xk8Zq1qzVz9sWM: to=<long@id.example>, relay=mx[192.0.2.1]:25, delay=0.33, delays=0.1/0/0.1/0.13, dsn=2.0.0, status=sent (250 ok)',
        'Jan 15 10:00:01 mail postfix/smtp[1234]: 4F2B31C0AFF: to=<cut@example.com>, relay=mx[192.0.2.1]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent',
        '',
        'Jan 15 10:00:01 mail postfix/smtp[1234]: 4F2B',
    ]
    return out


def log4j_lines():
    return [
        '13:55:36 WARN com.etsy.LogsterTest - This is a message',
        '13:55:36,123 ERROR com.etsy.LogsterTest - boom',
        '13:55:36.123 FATAL x - y',
        '2024-01-15 10:00:00,123 WARN [main] c.e.Foo - msg',
        '2024-01-15 10:00:00,123 ERROR [main] c.e.Foo - msg',
        '2024-01-15T10:00:00.123Z ERROR c.e.Foo - iso',
        '2024-01-15T10:00:00.123+01:00 WARN c.e.Foo - iso',
        '10:00:00.123 [main] ERROR c.e.Foo - logback',
        '2024-01-15 10:00:00.123  WARN 12345 --- [main] c.e.Foo : spring',
        '2013-01-01_10:00:00.123 WARN underscore date',
        '2024-01-15_10:00:00 ERROR underscore date',
        '1700000000.123 FATAL epoch',
        '20240115 ERROR compact date',
        '2024-01-15 WARN date only',
        '10:00:00 WARNING java.util.logging',
        '10:00:00 ERRORS plural',
        '10:00:00 INFO not counted by default',
        '10:00:00 DEBUG debug',
        'WARN 10:00:00 level first',
        'java.lang.IllegalStateException: oops',
        '\tat com.example.Foo.bar(Foo.java:10)',
        '',
    ]


def error_lines():
    return [
        '[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /x',
        '[Wed Oct 11 14:32:52 2000] [notice] Apache/2.2.22 (Debian) configured -- resuming normal operations',
        '[Wed Oct 11 14:32:52 2000] [warn] RSA server certificate CommonName (CN) does NOT match',
        '[Wed Oct 11 14:32:52 2000] [crit] (28)No space left on device: mod_rewrite: could not create rewrite_log_lock',
        '[Wed Oct 11 14:32:52 2000] [info] Server built: Jan 1 2020',
        '[Wed Oct 11 14:32:52 2000] [debug] mod_ssl.c(123): debug',
        '[Wed Oct 11 14:32:52 2000] [alert] alert',
        '[Wed Oct 11 14:32:52 2000] [emerg] emerg',
        '[Wed Oct  1 14:32:52 2000] [error] [client 127.0.0.1] File does not exist: /x',
        '[Wed Oct 11 14:32:52.123456 2023] [core:error] [pid 123:tid 456] [client 10.0.0.1:5555] AH00126: Invalid URI in request',
        '[Wed Oct 11 14:32:52.123456 2023] [mpm_event:notice] [pid 1:tid 2] AH00489: Apache/2.4.58 configured',
        '[Wed Oct 11 14:32:52.123456 2023] [ssl:warn] [pid 1:tid 2] AH01909: server certificate does NOT include an ID',
        '[Wed Oct 11 14:32:52.123456 2023] [proxy_fcgi:error] [pid 3:tid 4] (70007)The timeout specified has expired: [client 1.2.3.4:5] AH01075: Error dispatching request',
        '[Wed Oct 11 14:32:52.123456 2023] [rewrite:trace3] [pid 3:tid 4] mod_rewrite.c(470): trace',
        '[Wed Oct 11 14:32:52 2023] [authz_core:crit] [pid 3] crit',
        '[Wed Oct 11 14:32:52.654321 2023] [:error] [pid 4243] [client 203.0.113.5:51234] PHP Warning:  x',
        '[2023-10-11 14:32:52.123456] [core:error] [pid 3] AH00037: compact time (%{cu}t)',
        '[Wed Oct 11 14:32:52 2000] [error]',
        '[Wed Oct 11 14:32:52 2000] [Error] capitalised',
        'PHP Warning:  something in /var/www/x.php on line 3',
        '',
    ]


def squid_lines():
    return [
        '1286536308.779   1903 192.168.0.224 TCP_MISS/200 411 GET http://a/ - DIRECT/1.2.3.4 text/html',
        '1286536309.144    344 192.168.0.224 TCP_HIT/200 6050 GET http://b/ - NONE/- image/png',
        '1286536309.500      0 192.168.0.224 TCP_MEM_HIT/304 250 GET http://c/ - NONE/- -',
        '1286536310.001      5 192.168.0.10 TCP_DENIED/403 3900 CONNECT x:443 - HIER_NONE/- text/html',
        '1286536310.002     12 192.168.0.10 TCP_TUNNEL/200 81234 CONNECT x:443 - HIER_DIRECT/1.2.3.4 -',
        '1286536310.003      0 192.168.0.10 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -',
        '1286536310.004      7 192.168.0.10 TAG_NONE/400 3900 NONE error:invalid-request - HIER_NONE/- text/html',
        '1286536310.005    120 192.168.0.10 TCP_MISS_ABORTED/000 0 GET http://d/ - HIER_DIRECT/1.2.3.4 -',
        '1286536310.006     99 192.168.0.10 TCP_REFRESH_UNMODIFIED/304 300 GET http://e/ - HIER_DIRECT/1.2.3.4 -',
        '1286536310.007     42 192.168.0.10 UDP_MISS/200 10 ICP_QUERY http://f/ - NONE/- -',
        '1286536310     42 192.168.0.10 TCP_MISS/503 4000 GET http://g/ - HIER_NONE/- text/html',
        '1286536310.008     42 2001:db8::5 TCP_MISS/204 0 GET http://h/ - HIER_DIRECT/2001:db8::6 -',
        '',
    ]


def json_lines(strings):
    rows = [{'http': {'status': 200, 'ms': 12.5}, 'n': -3},
            {'http': {'status': 503, 'ms': 900, 'up': {'s': 0.25}}, 'sizes': [1, 2.5, 3], 'queue': 0,
             'big': 12345678901234, 'sci': 1e-7, 'neg': -0.5, 'deep': [[1, [2]], {'x': [3]}],
             'empty': {}, 'none': []}]
    if strings:
        rows[-1].update({'time': '2024-01-15T10:00:01Z', 'level': 'warn', 'ok': True})
    return [json.dumps(r) for r in rows]


LOGS = {
    'access': [l.encode() for l in access_lines()],
    'access_bytes': [b'10.0.0.1 - - ' + T.encode() + b' "GET /caf\xe9 HTTP/1.1" 200 3 "-" "-"',
                     b'10.0.0.1 - - ' + T.encode() + b' "GET / HTTP/1.1" 404 3 "-" "\xff\xfe"'],
    'nginx': [l.encode() for l in nginx_lines()],
    'access_crlf': [l.encode() + b'\r' for l in access_lines()[:6]],
    'empty': [],
    'postfix': [l.encode() for l in postfix_lines()],
    'log4j': [l.encode() for l in log4j_lines()],
    'postfix_crlf': [l.encode() + b'\r' for l in postfix_lines()],
    'error': [l.encode() for l in error_lines()],
    'squid': [l.encode() for l in squid_lines()],
    'json': [l.encode() for l in json_lines(False)],
    'json_odd_keys': [b'{"my key": 1, "caf\xc3\xa9": 2, "x/y": 3, "n": 5, "a.b": 4, "c": {"d.e": 6}}'],
    'json_strings': [l.encode() for l in json_lines(True)],
}

# ---------------------------------------------------------------------------------------------
# Pairs: (log, Logster parser, its options, tally parser, mapping of Logster's output, mapping of
# tally's). A mapping takes {name: value} and gives {key: count or value}.


def classes(prefix):
    return lambda m: {k[len(prefix):]: v * m['__duration__'] for k, v in m.items()
                      if k.startswith(prefix)}


def tally_status(m):
    return {k[len('status.'):]: v for k, v in m.items() if k.startswith('status.')}


def squid_logster(m):
    return {k: v * m['__duration__'] for k, v in m.items() if k != '__duration__'}


def squid_tally(m):
    return {k: v for k, v in m.items() if k.startswith(('http_', 'squid_')) or k == 'size'}


LOG4J_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']


def log4j_logster(m):
    return {k.lower(): v * m['__duration__'] for k, v in m.items() if k != '__duration__'}


def log4j_tally(m):
    return {k[len('level.'):]: v for k, v in m.items() if k.startswith('level.')}


def error_logster(m):
    return {k: v * m['__duration__'] / 10.0 for k, v in m.items() if k != '__duration__'}


def error_tally(m):
    out = {'notice': 0, 'warn': 0, 'error': 0, 'crit': 0, 'other': 0}
    for k, v in m.items():
        if k.startswith('level.'):
            level = k[len('level.'):]
            out[level if level in out else 'other'] += v
    return out


def postfix_logster(m):
    out = {k: v for k, v in m.items() if k != '__duration__'}
    out['mailTxnsSec'] = m['mailTxnsSec'] * m['__duration__']
    out['mailSentSec'] = m['mailSentSec'] * m['__duration__']
    return out


def postfix_tally(m):
    keys = ['numSent', 'numDeferred', 'numBounced', 'mailTxnsSec', 'mailSentSec']
    out = {k: m.get(k, 0) for k in keys}
    for k in ['pctSent', 'pctDeferred', 'pctBounced']:
        out[k] = m.get(k + ':avg', 0)
    out['avgDelay'] = m.get('avgDelay:avg', 0)
    return out


def json_logster(m):
    return {k: v for k, v in m.items() if k != '__duration__'}


def json_tally_for(logster_keys):
    return lambda m: {k: v for k, v in m.items() if k in logster_keys}


PAIRS = [
    ('access', 'SampleLogster', '', 'apache_access', classes('http_'), tally_status),
    ('access_bytes', 'SampleLogster', '', 'apache_access', classes('http_'), tally_status),
    ('nginx', 'SampleLogster', '', 'nginx_access', classes('http_'), tally_status),
    ('access_crlf', 'SampleLogster', '', 'apache_access', classes('http_'), tally_status),
    ('empty', 'PostfixLogster', '', 'postfix', postfix_logster, postfix_tally),
    ('postfix_crlf', 'PostfixLogster', '', 'postfix', postfix_logster, postfix_tally),
    ('squid', 'SquidLogster', '', 'squid', squid_logster, squid_tally),
    ('log4j', 'Log4jLogster', '--log-levels=' + ','.join(LOG4J_LEVELS), 'log4j', log4j_logster, log4j_tally),
    ('error', 'ErrorLogLogster', '', 'apache_error', error_logster, error_tally),
    ('postfix', 'PostfixLogster', '', 'postfix', postfix_logster, postfix_tally),
    ('json', 'JsonLogster', '', 'json_lines', json_logster, None),
    ('json_strings', 'JsonLogster', '', 'json_lines', json_logster, None),
    ('json_odd_keys', 'JsonLogster', '', 'json_lines', json_logster, None),
]

from logster_known import KNOWN, KNOWN_FAILURES, KNOWN_KEYS  # noqa: E402


def run_logster(logster, python, work, name, parser, options, lines):
    log = os.path.join(work, name + '.log')
    state = os.path.join(work, name + '.state')
    os.makedirs(state, exist_ok=True)
    open(log, 'wb').close()
    logdir = os.path.join(work, name + '.logster')
    os.makedirs(logdir, exist_ok=True)
    cmd = [python, os.path.join(logster, 'bin', 'logster'), '--dry-run', '--output=stdout',
           '--tailer=pygtail', '--debug', '-s', state, '-l', logdir]
    if options:
        cmd.append('--parser-options=' + options)
    cmd += [parser, log]
    env = dict(os.environ, PYTHONPATH=logster)
    first = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if first.returncode:
        sys.exit('Logster failed on its first run:\n' + first.stderr)
    with open(log, 'ab') as f:
        f.write(b'\n'.join(lines) + b'\n')
    for statefile in glob.glob(os.path.join(state, '*.state')):
        past = time.time() - DURATION
        os.utime(statefile, (past, past))
    p = subprocess.run(cmd, capture_output=True, env=env)
    if p.returncode:
        err = p.stderr.decode('utf-8', 'replace').strip().splitlines()
        return None, (err[-1] if err else 'exit %d' % p.returncode), log
    # Logster's duration: whole seconds between the state file's date and its start
    with open(os.path.join(logdir, 'logster.log')) as f:
        durations = re.findall(r'Setting duration to ([\d.]+) seconds', f.read())
    duration = float(durations[-1])
    out = {'__duration__': duration}
    for line in p.stdout.decode().splitlines():
        if not line.strip() or line.startswith(('DEBUG', 'INFO', 'WARNING')):
            continue
        key, value = line.split(' ', 1)[1].rsplit(' ', 1)  # a JSON key may hold spaces
        out[key] = float(value) if value not in ('True', 'False') else float(value == 'True')
    return out, None, log


def run_tally(tally, parsers, parser, log):
    p = subprocess.run([tally, 'parse', '--parser-file', parsers, '--parser', parser, log],
                       capture_output=True)
    if p.returncode:
        sys.exit('tally parse failed: ' + p.stderr.decode('utf-8', 'replace'))
    out = {}
    for line in p.stdout.decode('utf-8', 'replace').splitlines():
        if line.startswith('event '):
            continue
        name, value, _ = line.rsplit(' ', 2)
        out[name] = float(value)
    return out


def compare_once(a, work, name, log, lines, pair):
    lparser, opts, tparser, lmap, tmap = pair
    lout, failed, path = run_logster(a.logster, a.python, work, name, lparser, opts, lines)
    tout = run_tally(a.tally, a.parsers, tparser, path)
    if failed:
        return ['Logster failed: ' + failed], 0
    lkeys = lmap(lout)
    tkeys = (tmap or json_tally_for(set(lkeys)))(tout)
    diffs = []
    for key in sorted(set(lkeys) | set(tkeys)):
        lv, tv = lkeys.get(key, 0.0), tkeys.get(key, 0.0)
        if not math.isclose(lv, tv, rel_tol=1e-6, abs_tol=1e-6):
            diffs.append('%s: tally %r, Logster %r' % (key, tv, lv))
    return diffs, len(lkeys)


def split_known(log, lines):
    """{reason or None: lines}: each line under the first KNOWN rule of its log (or of `*`)."""
    rules = [(re.compile(r), reason) for l, r, reason in KNOWN if l in (log, '*')]
    groups = {}
    for line in lines:
        text = line.decode('utf-8', 'replace')
        reason = next((reason for r, reason in rules if r.search(text)), None)
        groups.setdefault(reason, []).append(line)
    return groups


def drop_known_keys(log, diffs):
    """The diffs not explained by KNOWN_KEYS, and {reason: diffs} of those that are."""
    known = {}
    for l, key, reason in KNOWN_KEYS:
        if l != log:
            continue
        for d in [d for d in diffs if re.fullmatch(key, d.split(': tally ')[0])]:
            diffs.remove(d)
            known.setdefault(reason, []).append(d)
    return diffs, known


def culprits(check, lines, limit=8):
    """The smallest runs of lines that differ on their own, by halving (`check(lines)` is true
    when they differ); at most `limit` of them. Counts add up, so a difference is in one half
    or the other; one that needs both halves (an average) is returned whole."""
    if len(lines) == 1 or limit <= 0:
        return [lines]
    half = len(lines) // 2
    found = []
    for part in (lines[:half], lines[half:]):
        if len(found) < limit and check(part):
            found += culprits(check, part, limit - len(found))
    return found or [lines]


def compare_log(a, work, i, log, pair, lines, per_line):
    """Compares one log's lines; returns the number of unexplained differences."""
    groups = split_known(log, lines)
    rest = groups.pop(None, [])
    runs = [0]

    def once(part):
        runs[0] += 1
        diffs, nkeys = compare_once(a, work, '%s_%d_%d' % (log, i, runs[0]), log, part, pair)
        failed = [d for d in diffs if d.startswith('Logster failed: ')]
        for l, r, reason in KNOWN_FAILURES:
            if failed and l == log and re.search(r, failed[0]):
                return [], {reason: failed}, nkeys
        return drop_known_keys(log, diffs) + (nkeys,)

    if per_line:  # JsonLogster reports the last line only: compare line by line
        results = [(line,) + once([line]) for line in rest]
        bad = [r for r in results if r[1]]
        diffs = ['%s\n         | %s' % ('; '.join(r[1]), r[0].decode('utf-8', 'replace')[:200])
                 for r in bad]
        key_known = {}
        for r in results:
            for reason, ds in r[2].items():
                key_known.setdefault(reason, []).extend(ds)
        nkeys = sum(r[3] for r in results)
    else:
        diffs, key_known, nkeys = once(rest) if rest or not groups else ([], {}, 0)
        if diffs and (a.random or a.file):
            found = culprits(lambda part: bool(once(part)[0]), rest)
            diffs = diffs + ['culprit: %s\n         | %s' % (
                '; '.join(once(c)[0]),
                '\n         | '.join(l.decode('utf-8', 'replace')[:200] for l in c[:4]))
                for c in found]
    print('%-4s %-14s %-15s %-13s %d lines, %d keys' % ('DIFF' if diffs else 'same', log, pair[0],
                                                       pair[2], len(rest), nkeys))
    for d in diffs:
        print('       ' + d)
    for reason, ds in key_known.items():
        print('       known: ' + reason)
        for d in ds[:6 if a.random else None]:
            print('         ' + d)
    for j, (reason, part) in enumerate(groups.items()):
        kdiffs, _ = compare_once(a, work, '%s_%d_known%d' % (log, i, j), log, part, pair)
        print('       known (%d lines): %s' % (len(part), reason))
        for d in kdiffs or ['(these lines do not differ here)' if a.random or a.file else
                            '(these lines no longer differ: drop them from KNOWN)']:
            print('         ' + d)
        if a.verbose:
            for line in part:
                print('         | ' + line.decode('utf-8', 'replace')[:160])
    return len([d for d in diffs if not d.startswith('culprit: ')])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tally')
    ap.add_argument('logster')
    ap.add_argument('python', help='the Python 3 that has pygtail')
    ap.add_argument('--parsers', default='parsers')
    ap.add_argument('--keep', help='write the logs here and keep them')
    ap.add_argument('--case', help='only logs whose name holds this')
    ap.add_argument('--random', type=int, metavar='N',
                    help='instead of the fixed logs, N random lines of each kind (logster_random.py)')
    ap.add_argument('--seed', default='1', help='seed of --random (any text; default 1)')
    ap.add_argument('--file', action='append', default=[], metavar='LOG=PATH',
                    help='instead of the fixed logs, compare this file as LOG (access, nginx, '
                         'postfix, log4j, squid, error or json); repeatable')
    ap.add_argument('-v', action='store_true', dest='verbose')
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix='compare-logster.')
    os.makedirs(work, exist_ok=True)
    logs = LOGS
    if a.random is not None:
        import logster_random
        logs = logster_random.logs(a.random, a.seed)
        print('random: %d lines of each kind, seed %r' % (a.random, a.seed))
    if a.file:
        logs = {}
        for spec in a.file:
            log, path = spec.split('=', 1)
            with open(path, 'rb') as f:
                logs.setdefault(log, []).extend(f.read().rstrip(b'\n').split(b'\n'))
    unexplained = 0
    for i, (log, lparser, opts, tparser, lmap, tmap) in enumerate(PAIRS):
        if log not in logs or (a.case and a.case not in log):
            continue
        pair = (lparser, opts, tparser, lmap, tmap)
        unexplained += compare_log(a, work, i, log, pair, logs[log],
                                   (a.random is not None or a.file) and lparser == 'JsonLogster')
    print('%d unexplained difference(s)%s' % (unexplained, '; logs in ' + work if a.keep else ''))
    if not a.keep:
        shutil.rmtree(work)
    sys.exit(1 if unexplained else 0)


if __name__ == '__main__':
    main()
