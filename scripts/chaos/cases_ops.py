"""An unlucky operator: reloads with empty, truncated or broken configs, and tailed paths that
are not files (issue 17 item 6)."""

import json
import os
import signal
import time

from harness import Daemon, settle
from matrix import case, Row

TOKEN = "  token: s3cret\n  require_token_on_loopback: true\n"


def wait_counter(d, name, want, timeout=30):
    """A `tally.*` counter's total once it reaches `want` (or what it is after `timeout`)."""
    deadline = time.time() + timeout
    while True:
        got = d.counter(name)
        if got >= want or time.time() > deadline:
            return got
        time.sleep(0.5)


def reload_case(name, text, expected):
    @case(f"reload.{name}", expected, quick=True, http_extra=TOKEN, timeout=60)
    def run(d):
        good = open(d.config).read()
        since = len(d.log)
        with open(d.config, "w") as f:
            f.write(text)
        d.signal(signal.SIGHUP)
        refused = d.wait_log("Reload rejected", timeout=30, since=since)
        with open(d.config, "w") as f:
            f.write(good)
        ev = json.dumps({"what": "x"}).encode()
        status = d.request("POST", "/events/", ev, {"Content-Type": "application/json"})[0]
        counted = wait_counter(d, "tally.config.rejected_reloads", 1)
        # The token still applies: the running config stayed.
        ok = bool(refused) and status == 403 and counted == 1 and d.alive()
        return Row(ok, f"refused {bool(refused)}, write without token {status}, "
                   f"tally.config.rejected_reloads {counted:.0f}", clear=bool(refused))

    return run


reload_case("empty", "", "an empty config on SIGHUP is refused; the running one (token) stays")
reload_case("comments_only", "# http:\n#   token: x\n",
            "a comment-only (truncated) config on SIGHUP is refused")
reload_case("broken_yaml", "http:\n  listen: [unclosed\n",
            "broken YAML on SIGHUP is refused with file:line:col (held)")
reload_case("truncated", "hostname: chaos\nhttp:\n  token: \"s3c",
            "a config cut mid-way (inside a quoted token) on SIGHUP is refused")


@case("tail.odd_paths", "tailed paths that are a directory, a FIFO, a symlink loop, a file that"
      " cannot be opened: each logged once, kept in tally.tail.files_unusable and named in"
      " /-/ready (503); a real file next to them is tailed", quick=True, own_daemon=True,
      timeout=60)
def odd_paths():
    import tempfile
    tmp = tempfile.TemporaryDirectory(prefix="tally-chaos-tail-")
    t = tmp.name
    os.chmod(t, 0o755)
    os.mkdir(os.path.join(t, "adir"))
    os.mkfifo(os.path.join(t, "fifo"))
    os.symlink(os.path.join(t, "loop"), os.path.join(t, "loop"))
    secret = os.path.join(t, "secret.log")
    open(secret, "w").close()
    os.chmod(secret, 0)  # the daemon runs as nobody when this runs as root
    real = os.path.join(t, "real.log")
    open(real, "w").close()
    parsers = os.path.join(t, "parsers")
    os.mkdir(parsers)
    with open(os.path.join(parsers, "count.yaml"), "w") as f:
        f.write("name: count\nrules:\n  - regex: 'hit'\n    metrics:\n"
                "      - {name: chaos.hits, type: counter}\n")
    odd = ("adir", "fifo", "loop", "secret.log")
    paths = ", ".join(os.path.join(t, n) for n in odd + ("real.log",))
    tail = f"  tail:\n    - paths: [{paths}]\n      parsers: [count]\n      start_at: beginning\n"
    d = Daemon(extra=f"parser_dirs: [{parsers}]\n", carbon_extra=tail, unprivileged=True)
    try:
        time.sleep(1)
        with open(real, "a") as f:
            f.write("hit\nhit\n")
        time.sleep(4)
        # The gauge's latest value (a sum over 10 s slots would count it once per slot); it and
        # the hits polled, as a commit can come late on a loaded machine.
        def gauge_now():
            points = [v for s in d.render("tally.tail.files_unusable:last", frm="-1min")
                      for v, _ in s["datapoints"] if v is not None]
            return points[-1] if points else 0
        gauge = settle(gauge_now, lambda g: g == 4)
        hits = settle(lambda: d.total("chaos.hits:sum", frm="-5min"), lambda h: h == 2)
        warned = d.logged("Tail path cannot be read")
        per_path = {p: sum(p in l for l in warned) for p in odd}
        status, _, body = d.get("/-/ready")
        named = [p for p in odd if os.path.join(t, p).encode() in body]
        ok = (all(n == 1 for n in per_path.values()) and gauge == 4 and hits == 2
              and status == 503 and len(named) == 4)
        return Row(ok, f"warnings per path {per_path}, files_unusable {gauge:.0f}, /-/ready "
                   f"{status} naming {len(named)}/4, real file hits {hits:.0f}/2",
                   clear=bool(warned), alive=d.alive())
    finally:
        d.close()
        tmp.cleanup()
