"""HTTP abuse: bodies, callbacks, CPU, events, tokens, connections (issue 17 items 1, 5, 6, 7)."""

import json
import socket
import time
import urllib.parse

from harness import Daemon, http_request, settle, stream_body
from matrix import case, Row

LIMIT = 1 << 20  # http.max_body_bytes in these daemons
HTTP = f"  max_body_bytes: {LIMIT}\n"

BODY_ROUTES = [
    "/render",
    "/metrics/find",
    "/events/",
    "/tags/tagMultiSeries",
    "/api/ingest",
]


def body_case(route, chunked):
    mode = "chunked" if chunked else "declared"

    @case(
        f"body{route.rstrip('/').replace('/', '.')}.{mode}",
        f"64 MiB POST {mode}: 413, under 8 MiB taken (limit + 4 MiB lingering close + socket buffers)",
        quick=True,
    )
    def run(d):
        total = 64 << 20
        status, sent, secs = stream_body(d.http, route, total, chunked)
        seen = f"{status} after {sent >> 10} KiB in {secs:.2f}s, RSS {d.rss_mib():.0f} MiB"
        ok = status == 413 and sent < 8 << 20 and secs < 10
        return Row(ok, seen, clear=status == 413)

    return run


for _r in BODY_ROUTES:
    body_case(_r, False)
    body_case(_r, True)


@case("body.rss_after", "RSS back under 64 MiB over start after 40 large bodies", quick=True)
def body_rss(d):
    before = d.rss_mib()
    for i in range(40):
        stream_body(d.http, BODY_ROUTES[i % len(BODY_ROUTES)], 16 << 20, i % 2 == 0)
    time.sleep(1)
    after = d.rss_mib()
    return Row(after - before < 64, f"RSS {before:.0f} -> {after:.0f} MiB")


@case("jsonp.script", "jsonp=</script><x>( never echoed (400, or plain JSON where graphite ignores jsonp); jsonp=cb.x answers cb.x(...)", quick=True)
def jsonp(d):
    q = urllib.parse.quote("</script><x>(")
    answers = [d.get(f"{p}&jsonp={q}") for p in (
        "/metrics/find?query=*",
        "/render?target=a&format=json",
        "/tags?x=1",
        "/functions?x=1",
        "/events/get_data?x=1",
    )]
    bad = [a[0] for a in answers]
    echoed = any(b"<x>" in a[2] for a in answers)
    status, headers, body = d.get("/metrics/index.json?jsonp=cb.x")
    good = status == 200 and body.startswith(b"cb.x(")
    # /metrics/find and /tags/* answer plain JSON whatever jsonp says (graphite-web's tag
    # routes ignore it): nothing echoed is fine too.
    ok = not echoed and bad[0] in (200, 400) and bad[2] in (200, 400) and all(
        bad[k] == 400 for k in (1, 3, 4))
    return Row(ok and good, f"bad {bad}, good {status} {body[:12]!r}")


@case("query.round", "round(x, ±70000) and round(x, 2^40) answer 200, no 500", quick=True)
def round_precision(d):
    d.send_carbon([f"abuse.round 1.23456 {int(time.time())}\n"])
    time.sleep(1.5)
    settle(lambda: d.total("abuse.round", frm="-5min"), lambda v: v != 0)  # stored: rounded
    statuses = []
    for p in ("70000", "-70000", "65536", "1099511627776", "-1099511627776", "2"):
        q = urllib.parse.urlencode({"target": f"round(abuse.round,{p})", "format": "json"})
        statuses.append(d.get(f"/render?{q}")[0])
    return Row(all(s == 200 for s in statuses) and d.alive(), f"{statuses}")


@case("query.percent_format", "aliasQuery with %.70000f is a 400, not a panic", quick=True)
def percent_fmt(d):
    d.send_carbon([f"abuse.pf 1.5 {int(time.time())}\n"])
    time.sleep(1.5)
    # Stored before the query (an alias over no series formats nothing and is a 200).
    settle(lambda: d.total("abuse.pf", frm="-5min"), lambda v: v != 0)
    t = "aliasQuery(abuse.pf, 'abuse.pf', 'abuse.pf', '%.70000f')"
    q = urllib.parse.urlencode({"target": t, "format": "json"})
    status, _, body = d.get(f"/render?{q}")
    return Row(status == 400, f"{status} {body[:80]!r}")


def cpu_case(name, params, expected):
    @case(name, expected, quick=True, http_extra=HTTP, extra="query:\n  timeout: 2s\n")
    def run(d):
        d.send_carbon([f"abuse.cpu 1 {int(time.time()) - i * 60}\n" for i in range(60)])
        time.sleep(1.5)
        settle(lambda: d.total("abuse.cpu:obvs", frm="-2h"), lambda n: n == 60)
        cpu0 = cpu_seconds(d.proc.pid)
        t0 = time.time()
        status, _, body = d.get("/render?" + urllib.parse.urlencode(params), timeout=60)
        secs = time.time() - t0
        time.sleep(3)  # work left running after the answer counts too
        cpu = cpu_seconds(d.proc.pid) - cpu0
        seen = f"{status} in {secs:.2f}s, {cpu:.2f} s CPU: {body[:60]!r}"
        return Row(secs < 3.5 and cpu < 3.5 and status != 500, seen)

    return run


cpu_case(
    "cpu.xformat",
    {"target": "abuse.cpu", "from": "-1h", "width": "1000", "xFormat": "%n" * 10000},
    "xFormat of 10,000 %n: bounded by query.timeout (2s)",
)
cpu_case(
    "cpu.holtwinters",
    {"target": "holtWintersForecast(abuse.cpu, '1000y')", "format": "json", "from": "-1d"},
    "holtWintersForecast over 1000 years: bounded by query.timeout (2s)",
)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@case("events.tags", "an event with 100,000 tags is a 413; with 3 tags 200", quick=True)
def event_tags(d):
    many = json.dumps({"what": "x", "tags": [f"t{i}" for i in range(100_000)]}).encode()
    s1 = d.request("POST", "/events/", many, {"Content-Type": "application/json"})[0]
    few = json.dumps({"what": "x", "tags": ["a", "b", "c"]}).encode()
    s2 = d.request("POST", "/events/", few, {"Content-Type": "application/json"})[0]
    return Row(s1 == 413 and s2 == 200, f"{s1}, {s2}")


@case("events.bad_json", "a body that is not JSON is a 400 (held)", quick=True)
def event_bad_json(d):
    s = d.request("POST", "/events/", b"{not json", {"Content-Type": "application/json"})[0]
    return Row(s == 400, f"{s}")


TOKEN_HTTP = "  token: s3cret\n  require_token_on_loopback: true\n"


@case("auth.loopback_token", "require_token_on_loopback: loopback write without the token 403,"
      " with it 200", quick=True, http_extra=TOKEN_HTTP)
def loopback_token(d):
    ev = json.dumps({"what": "deploy"}).encode()
    h = {"Content-Type": "application/json"}
    s1 = d.request("POST", "/events/", ev, h)[0]
    s2 = d.request("POST", "/events/", ev, dict(h, Authorization="Bearer s3cret"))[0]
    s3 = d.request("POST", "/api/ingest", b"x", {"Content-Encoding": "snappy"})[0]
    return Row(s1 == 403 and s2 == 200 and s3 == 403, f"no token {s1}, token {s2}, ingest {s3}")


CONN_HTTP = "  max_connections: 50\n  header_timeout: 1s\n  idle_timeout: 2s\n"


@case("conn.idle_flood", "300 idle connections: at most 50 held, all closed after the header"
      " timeout, API answers again, counted", quick=True, http_extra=CONN_HTTP)
def idle_flood(d):
    socks = []
    for _ in range(300):
        try:
            socks.append(socket.create_connection(d.http, timeout=5))
        except OSError:
            break
    time.sleep(2.5)
    # Each socket is given until 15 s after the flood to be closed (a loaded machine can run
    # the 1 s header timeout late; a socket never closed still counts as open).
    closed = 0
    deadline = time.time() + 15
    for s in socks:
        while True:
            s.settimeout(0.2)
            try:
                if s.recv(1) == b"":
                    closed += 1
                    break
            except socket.timeout:
                if time.time() < deadline:
                    continue
                break
            except OSError:
                closed += 1
                break
        s.close()
    status = d.get("/version")[0]
    time.sleep(2.5)
    refused = settle(lambda: d.counter("tally.http.refused_connections"), lambda n: n >= 200)
    timeouts = settle(lambda: d.counter("tally.http.timeouts"), lambda n: n >= 40)
    seen = f"{closed}/{len(socks)} closed, /version {status}, refused {refused:.0f}, timeouts {timeouts:.0f}"
    return Row(closed == len(socks) and status == 200 and refused >= 200 and timeouts >= 40, seen)


@case("conn.slowloris", "headers sent one byte per 300 ms: closed by the 1s header timeout",
      quick=True, http_extra=CONN_HTTP)
def slowloris(d):
    s = socket.create_connection(d.http, timeout=5)
    t0 = time.time()
    closed_after = None
    for b in b"GET /version HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100:
        try:
            s.send(bytes([b]))
        except OSError:
            closed_after = time.time() - t0
            break
        s.settimeout(0.3)
        try:
            if s.recv(1) == b"":
                closed_after = time.time() - t0
                break
        except socket.timeout:
            pass
        except OSError:
            closed_after = time.time() - t0
            break
        if time.time() - t0 > 10:
            break
    s.close()
    return Row(closed_after is not None and closed_after < 3, f"closed after {closed_after}")


@case("conn.slow_body", "a body trickled one byte per 300 ms: 408 or closed at idle_timeout",
      quick=True, http_extra=CONN_HTTP)
def slow_body(d):
    s = socket.create_connection(d.http, timeout=10)
    s.sendall(b"POST /render HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded"
              b"\r\nContent-Length: 1000\r\n\r\n")
    t0 = time.time()
    result = None
    for _ in range(100):
        try:
            s.send(b"a")
        except OSError:
            result = "closed"
            break
        s.settimeout(0.3)
        try:
            got = s.recv(100)
            result = got.split(b"\r\n")[0].decode() if got else "closed"
            break
        except socket.timeout:
            pass
    secs = time.time() - t0
    s.close()
    ok = result is not None and secs < 25
    return Row(ok, f"{result} after {secs:.1f}s")


@case("conn.keepalive_reuse", "a kept-alive connection serves several requests (no regression)",
      quick=True, http_extra=CONN_HTTP)
def keepalive(d):
    s = socket.create_connection(d.http, timeout=5)
    n = 0
    for _ in range(5):
        s.sendall(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n")
        got = s.recv(4096)
        n += got.startswith(b"HTTP/1.1 200")
        time.sleep(0.2)
    s.close()
    return Row(n == 5, f"{n}/5 answered on one connection")


CARBON = "    max_connections: 20\n    idle_timeout: 1s\n"


@case("carbon.idle_hold", "20 idle carbon sockets (the limit): closed after idle_timeout, a real"
      " sender then gets in and its point is stored", quick=True, carbon_extra=CARBON)
def carbon_idle(d):
    held = [socket.create_connection(d.carbon, timeout=5) for _ in range(20)]
    time.sleep(0.3)
    # Locked out while they are held: this one is refused (closed unread).
    time.sleep(2)
    # The held ones closed by the idle timeout (1 s; up to 15 s given when the machine is
    # loaded) before the real sender comes: a fixed 2 s could send it while all 20 were held.
    deadline = time.time() + 15
    for s in held:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            s.recv(1)
        except OSError:
            pass
    now = int(time.time())
    d.send_carbon([f"abuse.carbon.real 7 {now}\n"])
    for s in held:
        s.close()
    time.sleep(2)
    got = settle(lambda: d.total("abuse.carbon.real:sum", frm="-5min"), lambda v: v == 7)
    idle = settle(lambda: d.counter("tally.carbon.idle_timeouts"), lambda n: n >= 20)
    return Row(got == 7 and idle >= 20, f"stored {got}, idle timeouts {idle:.0f}")


@case("target.malformed", "malformed target, regex bomb, traversal, huge image: 4xx (held)",
      quick=True)
def malformed(d):
    statuses = []
    for params in (
        {"target": "sumSeries(a.b", "format": "json"},
        {"target": "grep(*, '(a+)+$')", "format": "json"},
        {"target": "../../etc/passwd", "format": "json"},
        {"target": "a", "width": "100000", "height": "100000"},
        {"target": "a" * 100_000, "format": "json"},
    ):
        statuses.append(d.get("/render?" + urllib.parse.urlencode(params), timeout=30)[0])
    ok = all(400 <= s < 500 or s == 200 for s in statuses) and d.alive()
    return Row(ok and 500 not in statuses, f"{statuses}")


@case("conn.fd_limit", "RLIMIT_NOFILE 300, 600 connections held: bounded below the limit, the"
      " store still commits and flushes, the API answers after the timeouts", quick=True,
      nofile=300, http_extra=CONN_HTTP, carbon_extra=CARBON, timeout=90)
def fd_limit(d):
    socks = []
    for i in range(600):
        try:
            socks.append(socket.create_connection(d.http if i % 2 else d.carbon, timeout=5))
        except OSError:
            break
    now = int(time.time())
    time.sleep(2.5)
    d.send_carbon([f"abuse.fd 5 {now}\n"])
    time.sleep(1.5)
    status = d.get("/version")[0]
    got = settle(lambda: d.total("abuse.fd:sum", frm="-5min"), lambda v: v == 5)
    for s in socks:
        s.close()
    emfile = d.logged("Too many open files")
    code = d.stop()
    flush_ok = code == 0 and not d.logged("flush failed")
    seen = f"held {len(socks)}, /version {status}, stored {got}, EMFILE lines {len(emfile)}, stop {code}"
    return Row(status == 200 and got == 5 and flush_ok, seen, alive=True)
