"""The chaos matrix's plumbing: a real tally daemon on free loopback ports with its own data
directory, raw HTTP and carbon clients, and the self-metrics read back. Standard library only."""

import json
import resource  # noqa: F401 (used in the child)
import select
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

BIN = os.path.abspath(os.environ.get("TALLY_BIN", "target/release/tally"))
NOBODY = 65534


class Daemon:
    """`tally run` on 127.0.0.1:0 ports, its JSON log collected, its addresses read from it."""

    def __init__(self, extra="", dir=None, env=None, http_extra="", carbon_extra="", nofile=None,
                 unprivileged=False):
        """`unprivileged`: when run as root, the daemon runs as nobody (uid/gid 65534), so file
        permissions apply to it."""
        self.nofile = nofile
        self.drop = unprivileged and os.geteuid() == 0
        self.tmp = None
        if dir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="tally-chaos-")
            dir = self.tmp.name
        self.dir = dir
        self.data = os.path.join(dir, "data")
        self.config = os.path.join(dir, "tally.yaml")
        self.text = (
            f"data_dir: {self.data}\nhostname: chaos\nself_metrics:\n  interval: 1s\n"
            f"http:\n  listen: 127.0.0.1:0\n{http_extra}"
            f"inputs:\n  system:\n    enabled: false\n  carbon:\n    listen: 127.0.0.1:0\n"
            f"{carbon_extra}{extra}"
        )
        with open(self.config, "w") as f:
            f.write(self.text)
        if self.drop:
            os.chmod(dir, 0o755)
            os.chown(dir, NOBODY, NOBODY)
        self.env = dict(os.environ, **(env or {}))
        self.start()

    def start(self):
        self.log = []
        self.proc = subprocess.Popen(
            [BIN, "--log-format", "json", "run", "-c", self.config],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=self.env,
            preexec_fn=self._limits,
        )
        ready = threading.Event()
        self.http = self.carbon = self.statsd_udp = self.statsd_tcp = None

        def reader():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.log.append(line)
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                msg = v.get("fields", {}).get("message", "")
                addr = v.get("fields", {}).get("addr")
                if msg == "HTTP listening.":
                    self.http = parse_addr(addr)
                elif msg == "Carbon listening on tcp.":
                    self.carbon = parse_addr(addr)
                elif msg == "StatsD listening on udp.":
                    self.statsd_udp = parse_addr(addr)
                elif msg == "StatsD listening on tcp.":
                    self.statsd_tcp = parse_addr(addr)
                elif msg == "tally is running.":
                    ready.set()

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.time() + 30
        while not ready.wait(0.1) and time.time() < deadline and self.proc.poll() is None:
            pass
        if not ready.is_set():
            time.sleep(0.2)  # the rest of the log of a daemon that refused to start
            self.proc.kill()
            raise RuntimeError("tally did not start:\n" + "\n".join(self.log[-20:]))

    def _limits(self):
        if self.nofile:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        if self.drop:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    def alive(self):
        return self.proc.poll() is None

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def proc_counts(self):
        """(open file descriptors, of them segment files, threads) of the daemon."""
        fd_dir = f"/proc/{self.proc.pid}/fd"
        targets = []
        for fd in os.listdir(fd_dir):
            try:
                targets.append(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                pass
        segments = sum(t.endswith(".seg") for t in targets)
        with open(f"/proc/{self.proc.pid}/status") as f:
            threads = next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
        return len(targets), segments, threads

    def cpu_seconds(self):
        """User + system CPU seconds the daemon has used."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def hwm_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def close(self):
        self.stop()
        if self.tmp:
            self.tmp.cleanup()

    def logged(self, needle):
        return [l for l in self.log if needle in l]

    def wait_log(self, needle, timeout=10, since=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = [l for l in self.log[since:] if needle in l]
            if hits:
                return hits
            time.sleep(0.05)
        return []

    # -- HTTP --------------------------------------------------------------------------------

    def request(self, method, path, body=b"", headers=None, timeout=30):
        """One request on its own connection: (status, headers dict, body bytes)."""
        return http_request(self.http, method, path, body, headers, timeout)

    def get(self, path, timeout=30):
        return self.request("GET", path, timeout=timeout)

    def render(self, target, frm="-10min", extra=""):
        q = urllib.parse.urlencode({"target": target, "format": "json", "from": frm})
        status, _, body = self.get(f"/render?{q}{extra}")
        if status != 200:
            raise RuntimeError(f"render {target}: {status} {body[:200]!r}")
        return json.loads(body)

    def counter(self, name):
        """A `tally.*` counter's total over the last hour (increments per commit summed)."""
        out = self.render(f"sumSeries({name}:sum)", frm="-1h")
        return sum(v for s in out for v, _ in s["datapoints"] if v is not None)

    def total(self, target, frm="-1h"):
        out = self.render(target, frm=frm)
        return sum(v for s in out for v, _ in s["datapoints"] if v is not None)

    # -- carbon ------------------------------------------------------------------------------

    def send_carbon(self, lines):
        with socket.create_connection(self.carbon, timeout=30) as s:
            s.sendall("".join(lines).encode())
            s.shutdown(socket.SHUT_WR)
            s.recv(1)


    # -- StatsD ------------------------------------------------------------------------------

    def send_statsd(self, lines):
        """StatsD lines over TCP (the sender waits when tally is busy: nothing is dropped)."""
        with socket.create_connection(self.statsd_tcp, timeout=60) as s:
            s.sendall("".join(lines).encode())
            s.shutdown(socket.SHUT_WR)
            s.recv(1)


def settle(read, ok, timeout=30, step=0.25):
    """Calls `read()` until `ok(value)` or `timeout` seconds passed; returns the last value. For
    what a commit or a self-metrics round makes visible: a fixed sleep before one look failed by
    chance when the machine was loaded and the commit came late."""
    deadline = time.time() + timeout
    while True:
        v = read()
        if ok(v) or time.time() > deadline:
            return v
        time.sleep(step)


def parse_addr(a):
    host, port = a.rsplit(":", 1)
    return (host.strip("[]"), int(port))


def http_request(addr, method, path, body=b"", headers=None, timeout=30):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        if body and not any(k.lower() == "content-length" for k in (headers or {})):
            head += f"Content-Length: {len(body)}\r\n"
        s.sendall(head.encode() + b"\r\n" + body)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    if b"\r\n\r\n" not in raw:
        return 0, {}, raw
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2 :]
    return out


def stream_body(addr, path, total, chunked, headers=None, content_type=None, timeout=30):
    """Sends a body of `total` bytes in 64 KiB pieces and stops as soon as an answer arrives
    (or the connection is closed): (status, bytes sent, seconds)."""
    s = socket.create_connection(addr, timeout=timeout)
    t0 = time.time()
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\n"
    head += f"Content-Type: {content_type or 'application/x-www-form-urlencoded'}\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n"
    s.sendall(head.encode() + b"\r\n")
    piece = b"target=" + b"a" * (65536 - 7)
    sent, buf, status = 0, b"", 0
    try:
        while time.time() - t0 < timeout:
            if not buf and sent < total:
                buf = (b"%x\r\n" % len(piece) + piece + b"\r\n") if chunked else piece
            r, w, _ = select.select([s], [s] if buf else [], [], 1)
            if r:
                got = s.recv(4096)
                if got.startswith(b"HTTP/"):
                    status = int(got.split()[1])
                break
            if w:
                try:
                    n = s.send(buf)
                except OSError:
                    break
                sent += n
                buf = buf[n:]
            if not buf and sent >= total and not r:
                s.settimeout(10)
                try:
                    got = s.recv(4096)
                    if got.startswith(b"HTTP/"):
                        status = int(got.split()[1])
                except OSError:
                    pass
                break
    finally:
        s.close()
    return status, sent, time.time() - t0
