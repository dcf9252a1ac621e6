"""The known differences between carbon-cache 1.1.7 (Debian graphite-carbon) and tally's carbon
plaintext input, for compare-carbon.py, each with its reason; and KILLERS, the lines after
which carbon-cache reads nothing more of their connection or datagram."""


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


def explain(lines, carbon, tally, now):
    """The reasons (KNOWN) that explain a group's difference, [] if none do."""
    return []
