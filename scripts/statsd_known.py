"""The known differences between etsy statsd 0.9.0 and tally's etsy-compatible flush, for
compare-statsd.py, each with its reason (README, section StatsD, lists them)."""
import re

import statsd_random

INTERVAL_S = 2


def explain(config, name, etsy, tally, groups, sent, window):
    """Why flushed name `name` differs (etsy's and tally's value texts, None where not sent),
    given the groups (transport, token, scenario, lines) of its token sent so far, all groups
    sent so far, and the packets (transport, text, groups) of its window; None when no known
    difference explains it."""
    for rule in (tcp_reads, tcp_ascii, proto_member, proto_key):
        reason = rule(config, name, etsy, tally, groups, sent, window)
        if reason:
            return reason
    return None


def number(values):
    try:
        return float(values[0]) if values and len(values) == 1 else None
    except ValueError:
        return None


def tcp_reads(config, name, etsy, tally, groups, sent, window):
    """packets_received: tally counts each TCP read that holds whole lines, etsy each `data`
    event of node's socket; either side may read pieces written apart as one (seed 4 had etsy
    ahead by one, other seeds tally). So the counts differ by at most the pieces with a
    newline beyond one per connection."""
    if 'packets_received' not in name:
        return None
    e, t = number(etsy), number(tally)
    if e is None or t is None:
        return None
    extra = sum(sum(1 for p in statsd_random.tcp_pieces(data.encode('utf-8')) if b'\n' in p) - 1
                for transport, data, _ in window if transport == 'tcp')
    # The count (`stats_counts.…`, `….count`) or the rate per second (`stats.…`, `….rate`).
    scale = 1 if name.startswith('stats_counts.') or '.count' in name else INTERVAL_S
    if 0 < abs(t - e) * scale <= extra:
        return ('packets_received over TCP: tally counts each read with whole lines, etsy each '
                'data event of node; either can join pieces written apart (README: StatsD)')
    return None


def non_ascii_tcp(groups):
    return any(transport == 'tcp' and any(not l.isascii() for l in lines)
               for transport, _token, _scenario, lines in groups)


def tcp_ascii(config, name, etsy, tally, groups, sent, window):
    """etsy's TCP server reads its stream as 'ascii' (node clears each byte's top bit): a
    UTF-8 character becomes ASCII letters and controls (`café` → `cafC)`, sanitized to the key
    `cafC`; a no-break space before a number → `B `, a bad line). tally reads TCP as UTF-8, as
    both read UDP. A name of the token, or a count of the whole flush (numStats, bad lines),
    once such a line was sent."""
    if groups:
        hit = non_ascii_tcp(groups)
    elif 'bad_lines_seen' in name:
        hit = non_ascii_tcp([(tr,) + g for tr, _, gs in window for g in gs])
    else:
        hit = 'numStats' in name and non_ascii_tcp(sent)
    if hit:
        return ('non-ASCII over TCP: etsy reads TCP as ASCII (each byte\'s top bit cleared), '
                'tally as UTF-8 (README: StatsD)')
    return None


def proto_member(config, name, etsy, tally, groups, sent, window):
    """etsy's set is a plain object (`store[member] = true`): the member `__proto__` sets its
    prototype instead and is never counted. tally counts it as any member."""
    e, t = number(etsy), number(tally)
    members = [l for _, _, scenario, lines in groups for l in lines if ':__proto__|s' in l]
    if members and e is not None and t == e + 1 and ('.count' in name):
        return 'set member __proto__: never counted by etsy (a JavaScript object key)'
    return None


PROTO = re.compile(r'(^|\.)(__proto__|constructor|toString|valueOf)(\.|;| |$)')


def proto_key(config, name, etsy, tally, groups, sent, window):
    """A key named like a property of JavaScript's Object.prototype meets it in etsy's state
    objects: a counter `__proto__` is lost, a counter `constructor` (toString, valueOf) adds
    to the function's text (`function Object() { [native code] }1`), numStats counts them
    accordingly; a timer or set of such a key makes etsy throw (so none is sent). tally treats
    them as any key."""
    proto_sent = any(s == 'proto' for _, _, s, _ in sent)
    if PROTO.search(name) or ('numStats' in name and proto_sent):
        return ('key named like an Object.prototype property (__proto__, constructor, …): '
                'etsy\'s state objects mishandle it')
    return None
