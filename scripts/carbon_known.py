"""The known differences between carbon-cache 1.1.7 (Debian graphite-carbon) and tally's carbon
plaintext input, for compare-carbon.py, each with its reason; and KILLERS, the lines after
which carbon-cache reads nothing more of their connection or datagram."""
import re


def fields(text):
    """carbon's `line.strip().split()` (str.split: any Unicode whitespace)."""
    return text.strip().split()


def killer(text, transport):
    """Why carbon-cache stops reading the unit (TCP connection, UDP datagram) at this line, or
    None. The line is text with non-UTF-8 bytes as surrogates."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        # TCP: lineReceived decodes outside its try: the exception ends the connection. UDP:
        # datagramReceived decodes the whole datagram first: all of it is lost.
        return 'not UTF-8'
    f = fields(text)
    if len(f) != 3:
        return None
    try:
        ts, value = float(f[2]), float(f[1])
    except ValueError:
        return None
    if value != value or ts == ts and abs(ts) != float('inf'):
        return None
    if transport == 'tcp':
        # metricReceived runs int(timestamp) after lineReceived's try: ValueError (nan) or
        # OverflowError (inf) ends the connection.
        return 'timestamp %s' % f[2]
    # UDP: metricReceived is inside the try, which catches ValueError (nan) only: inf's
    # OverflowError ends datagramReceived.
    return None if ts != ts else 'timestamp %s' % f[2]


UDP_READ = 8192  # Twisted's udp.Port.maxPacketSize: carbon reads no more of a datagram


def contexts(units):
    """Per unit, per line: what carbon-cache does to the line because of the lines around it
    ('' for nothing)."""
    out = []
    for transport, lines in units:
        ctx, stop, at = [], None, 0
        whole = None
        if transport == 'udp' and any(killer(l, 'udp') == 'not UTF-8' for l in lines):
            whole = 'datagram lost: a line is not UTF-8'
        for l in lines:
            size = len(l.encode('utf-8', 'surrogateescape'))
            why = killer(l, transport)
            if whole:
                ctx.append(whole)
            elif stop:
                ctx.append('after %s' % stop)
            elif transport == 'udp' and at + size > UDP_READ:
                ctx.append('past byte %d of its datagram' % UDP_READ)
            else:
                ctx.append('carbon stops here: %s' % why if why else '')
            stop = stop or why
            at += size
        out.append(ctx)
    return out


def ts_of(f):
    try:
        return float(f[2]) if len(f) == 3 else None
    except ValueError:
        return None


def value_of(f):
    try:
        return float(f[1]) if len(f) == 3 else None
    except ValueError:
        return None


TAG_BAD = re.compile(r';(?![^;=]+=[^;~][^;]*(;|$))|;[^;=]*[!^][^;=]*=')


def line_rules(now):
    """(test of (transport, text, fields, context), reason): a group one of whose lines passes
    a test differs for that reason."""
    inf = float('inf')
    return [
        (lambda tr, l, f, c: bool(c),
         'carbon-cache stops reading a TCP connection at a line that is not UTF-8 or whose '
         'timestamp is nan/inf (an exception outside its try), drops a UDP datagram with a '
         'line that is not UTF-8 and reads only the first 8192 bytes of a datagram (Twisted); '
         'tally skips such a line alone and reads 64 KiB datagrams'),
        (lambda tr, l, f, c: tr == 'udp' and re.search('[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]', l),
         "carbon splits a UDP datagram with str.splitlines(), which also ends a line at "
         "\\v, \\f, \\x1c-\\x1e, \\x85, U+2028/9; tally ends lines at \\n only, as carbon's TCP"),
        (lambda tr, l, f, c: value_of(f) in (inf, -inf),
         'an infinite value (inf, -Infinity, 1e400): carbon stores it; tally refuses values '
         'that are not finite (one would make every sum and average over it infinite)'),
        (lambda tr, l, f, c: len(f) == 3 and value_of(f) is not None and re.search(r'[^\x00-\x7f]', f[1]),
         "digits other than ASCII ('\uff11\uff12', Arabic-Indic): Python's float() reads "
         "any Unicode digit; tally reads ASCII numbers"),
        (lambda tr, l, f, c: ts_of(f) is not None and int(ts_of(f)) != -1 and
         (ts_of(f) < now - 3600 or ts_of(f) > now),
         'a timestamp outside the hour kept, or in the future: carbon creates the Whisper file '
         'before whisper drops a point too old (the name is listed, with no data) and keeps any '
         'future point (update_many has no check; it overwrites the slot an hour older), '
         'which no render shows before its time; tally stores nothing too old, refuses points '
         'over storage.max_future (10 min) ahead and shows none before its time'),
        (lambda tr, l, f, c: f and re.search(r'[(),"\'|{}\x00-\x1f\x7f]', f[0]),
         "a name with ( ) , \" ' | { } or a control character: carbon stores it; tally refuses "
         "it (metric::check_path): in a render target these are calls, arguments, strings, "
         "globs or pipes, so no graph could show the series"),
        (lambda tr, l, f, c: f and ';' not in f[0] and f[0].endswith('.'),
         "a name ending in '.': carbon writes a/b/.wsp, a hidden file graphite-web never lists; "
         "tally refuses the name"),
        (lambda tr, l, f, c: f and any(len(n.encode()) > 255 for n in f[0].split('.')) and ';' not in f[0],
         'a node over 255 bytes: carbon cannot create the Whisper file (the file system\'s name '
         'limit) and loses the points; tally keeps them'),
        (lambda tr, l, f, c: f and len(f[0].encode()) > 1024,
         'a name over 1024 bytes: tally refuses it (metric::MAX_NAME_LEN); carbon stores it'),
        (lambda tr, l, f, c: len(l.encode('utf-8', 'surrogateescape')) > 4096,
         'a line over 4096 bytes: tally drops it (inputs.carbon.max_line_length); carbon reads '
         'lines up to 16384 bytes'),
        (lambda tr, l, f, c: f and ';' in f[0] and (TAG_BAD.search(f[0]) or f[0].startswith(';')
                                                   or '..' in f[0].split(';')[0]),
         "a tagged name graphite's rules refuse (empty tag or value, no '=', ! ^ = in a tag, a "
         "value starting with ~, an empty name or node): carbon logs it and files the points "
         "under the name as sent; tally refuses it"),
    ]


def group_rules(lines):
    """Reasons that come from several lines of one series together."""
    seconds = {}
    for _tr, l, _c in lines:
        f = fields(l)
        ts = ts_of(f)
        if ts is not None and ts == ts and abs(ts) != float('inf'):
            seconds.setdefault((f[0], int(ts)), set()).add(ts)
    minus_one = sum(1 for _t, l, _c in lines if ts_of(fields(l)) is not None
                    and int(ts_of(fields(l))) == -1) > 1
    if minus_one or any(len(v) > 1 for v in seconds.values()):
        return ["several points in one second with fractions, or -1 (now) more than once: "
                "carbon's cache keys points by the float timestamp and whisper keeps the "
                "earliest of a second (carbon meant the last: writer.py 'always pick the "
                "last'); tally keeps the last sent, as both do for equal timestamps"]
    return []


def explain(lines, carbon, tally, now):
    """The reasons (KNOWN) that explain a group's difference, [] if none do."""
    reasons = []
    for test, reason in line_rules(now):
        if any(test(tr, l, fields(l), c) for tr, l, c in lines) and reason not in reasons:
            reasons.append(reason)
    return reasons + group_rules(lines)
