"""The chaos matrix: each case gets a fresh daemon (unless it manages its own), runs bounded in
time, and prints one table row: case, expected, seen, data lost, daemon alive, error clear.
Exit status 1 when any case fails."""

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

CASES = []


@dataclass
class Row:
    ok: bool
    seen: str
    lost: str = "none"
    clear: bool = True
    alive: bool = None


def case(name, expected, quick=False, timeout=60, own_daemon=False, soak=False, **daemon_kwargs):
    """Registers a case; `daemon_kwargs` go to `Daemon(...)` (http_extra, carbon_extra, extra).
    A `soak` case runs only under `--soak` (and only soak cases run then)."""

    def wrap(f):
        daemon_kwargs.setdefault("http_extra", "  max_body_bytes: 1048576\n")
        CASES.append(dict(name=name, expected=expected, quick=quick, timeout=timeout,
                          own=own_daemon, soak=soak, kwargs=daemon_kwargs, run=f))
        return f

    return wrap


def run_one(c):
    from harness import Daemon

    result = {}

    def body():
        d = None
        try:
            if c["own"]:
                row = c["run"]()
            else:
                d = Daemon(**c["kwargs"])
                row = c["run"](d)
                if row.alive is None:
                    row.alive = d.alive()
                if not row.alive:
                    row.ok = False
            result["row"] = row
        except Exception as e:  # a case that breaks is a failed row, with the reason
            result["row"] = Row(False, f"error: {e!r}"[:200], lost="?", clear=False, alive=False)
            result["trace"] = traceback.format_exc()
        finally:
            if d is not None:
                d.close()

    t = threading.Thread(target=body, daemon=True)
    t0 = time.time()
    t.start()
    t.join(c["timeout"])
    if t.is_alive():
        return Row(False, f"timed out after {c['timeout']}s", lost="?", clear=False,
                   alive=False), time.time() - t0, None
    return result["row"], time.time() - t0, result.get("trace")


def main(argv):
    quick = "--quick" in argv
    soak = "--soak" in argv
    only = [a for a in argv if not a.startswith("--")]
    skip = [w for w in os.environ.get("CHAOS_SKIP", "").split(",") if w]
    selected = [c for c in CASES if (not quick or c["quick"]) and c["soak"] == soak
                and (not only or any(o in c["name"] for o in only))
                and not any(w in c["name"] for w in skip)]
    print(f"| {'case':<28} | {'result':<6} | {'s':>5} | expected | seen | data lost | alive | error clear |")
    print("|---|---|---|---|---|---|---|---|")
    failed = []
    t_all = time.time()
    for c in selected:
        row, secs, trace = run_one(c)
        res = "ok" if row.ok else "FAIL"
        print(f"| {c['name']:<28} | {res:<6} | {secs:5.1f} | {c['expected']} | {row.seen} | "
              f"{row.lost} | {'yes' if row.alive else 'NO'} | {'yes' if row.clear else 'no'} |",
              flush=True)
        if not row.ok:
            failed.append(c["name"])
            if trace and os.environ.get("CHAOS_TRACE"):
                print(trace, file=sys.stderr)
    print(f"\n{len(selected) - len(failed)}/{len(selected)} cases passed in "
          f"{time.time() - t_all:.0f}s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
