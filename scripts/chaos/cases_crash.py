"""kill -9 in the middle of a head flush or a compaction, and a data directory that turns
read-only under the daemon (cases that held in issue 17's attack run, kept as rows)."""

import glob
import os
import subprocess
import time

from harness import Daemon, settle
from matrix import case, Row
from cases_disk import Tmpfs

# Head flushes every second, so a compaction (FAN_IN = 4 files of a level) every few seconds.
FLUSHY = "storage:\n  commit_interval: 100ms\n  head_flush_interval: 1s\n"
SERIES = 3000


def seg_tmps(d):
    return glob.glob(os.path.join(d.data, "seg", "*.tmp"))


def send_round(d, r, t0):
    """One point for each of SERIES series at t0 + 10 r (one commit, one flush's worth)."""
    d.send_carbon([f"abuse.flush.s{i} 1 {t0 + 10 * r}\n" for i in range(SERIES)])


def kill_when_writing(d, seconds):
    """kill -9 the moment a segment is being written (a `.seg.tmp` exists): True if caught."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if seg_tmps(d):
            d.kill9()
            return True
        time.sleep(0.0005)
    return False


@case("crash.kill9_flush_compaction", "kill -9 while segments are written (head flushes and"
      " compactions), 6 times: every restart clean, no .tmp left, nothing committed lost (held)",
      quick=False, extra=FLUSHY, timeout=240)
def kill9_flush(d):
    t0 = int(time.time()) // 10 * 10 - 3600
    sent = caught = 0
    problems = []
    for k in range(6):
        # Enough flushed rounds that level-0 files pile up and compactions run too.
        for r in range(4):
            send_round(d, sent, t0)
            sent += 1
            time.sleep(1.1)
        if kill_when_writing(d, 20):
            caught += 1
        else:
            d.kill9()
        d.start()
        # A crash's leftover stays; a flush the restarted daemon is writing now goes away.
        deadline = time.time() + 5
        while seg_tmps(d) and time.time() < deadline:
            time.sleep(0.01)
        if seg_tmps(d):
            problems.append(f"restart {k}: .tmp left")
        time.sleep(1.5)  # the last round's commit (100 ms) is long done before each kill
        got = d.total("sumSeries(abuse.flush.*)", frm="-2h")
        if got != sent * SERIES:
            problems.append(f"restart {k}: {got:.0f} of {sent * SERIES}")
    ok = caught >= 4 and not problems
    return Row(ok, f"{caught} of 6 kills during a segment write; {sent * SERIES} points sent;"
               f" {'; '.join(problems) or 'all there after every restart, no .tmp'}",
               lost="none" if not problems else "see seen")


@case("disk.read_only_start", "a data directory on a read-only filesystem: a clear refusal to"
      " start, nothing touched; writable again: starts with every point (held)",
      quick=True, own_daemon=True, timeout=90)
def read_only_start():
    fs = Tmpfs(size="64m")
    d = None
    try:
        d = Daemon(dir=fs.path, extra="storage:\n  commit_interval: 200ms\n")
        t0 = int(time.time()) // 10 * 10
        d.send_carbon([f"abuse.ro 1 {t0 - i * 10}\n" for i in range(100)])
        time.sleep(1)
        d.stop()
        subprocess.run(["mount", "-o", "remount,ro", fs.path], check=True)
        try:
            d.start()
            started = True
        except RuntimeError:
            started = False
        code = None if started else d.proc.wait(10)
        clear = bool(d.logged("Read-only file system"))
        if started:
            d.stop()
        subprocess.run(["mount", "-o", "remount,rw", fs.path], check=True)
        d.start()
        after = d.total("abuse.ro:sum", frm="-1d")
        ok = not started and code not in (0, None) and clear and after == 100
        return Row(ok, f"started read-only {started}, exit {code}, says read-only {clear},"
                   f" writable again: {after:.0f}/100", lost=f"{100 - after:.0f} points",
                   clear=clear, alive=True)
    finally:
        if d:
            d.stop()
        fs.close()


@case("disk.unwritable_dirs", "the data directory's seg/ and wal/ turn unwritable under a running"
      " daemon (not root): flushes fail loudly, reads answer; writable again: recovers by"
      " itself, nothing lost (held)", quick=True, own_daemon=True, timeout=120)
def unwritable_dirs():
    d = Daemon(extra="storage:\n  commit_interval: 200ms\n  head_flush_interval: 2s\n",
               unprivileged=True)
    dirs = [os.path.join(d.data, x) for x in ("seg", "wal")]
    try:
        t0 = int(time.time()) // 10 * 10
        d.send_carbon([f"abuse.rw 1 {t0 - i * 10}\n" for i in range(100)])
        time.sleep(1)
        for x in dirs:
            os.chmod(x, 0o555)
        d.send_carbon([f"abuse.rw 1 {t0 - 1000 - i * 10}\n" for i in range(100)])
        time.sleep(5)  # two head flushes are due and fail
        # Polled on: on a loaded machine the flushes (every 2 s) can come later than 5 s.
        errors = settle(lambda: len(d.logged("Permission denied")), lambda n: n > 0)
        reads = settle(lambda: d.total("abuse.rw:sum", frm="-1d"), lambda v: v >= 100)
        for x in dirs:
            os.chmod(x, 0o755)
        time.sleep(5)
        code = d.stop()
        d.start()
        after = d.total("abuse.rw:sum", frm="-1d")
        ok = errors > 0 and code == 0 and after == 200 and reads >= 100
        seen = (f"EACCES lines {errors}, read meanwhile {reads:.0f}, stop exit {code},"
                f" after restart {after:.0f}/200")
        return Row(ok, seen, lost=f"{200 - after:.0f} points", clear=errors > 0, alive=True)
    finally:
        for x in dirs:
            if os.path.isdir(x):
                os.chmod(x, 0o755)
        d.close()
