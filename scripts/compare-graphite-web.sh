#!/usr/bin/env bash
# tally vs graphite-web, answer by answer: the same data goes into Whisper files (served by
# graphite-web 1.1.10 from PyPI) and into tally over carbon; then every target is rendered by
# both as json over the same absolute range, and the answers are compared: series names,
# timestamps, values (relative 1e-9), tags. Two independent sets:
#   scripts/compare-graphite-web.targets        cmp.*: one tier (1m:2d), 2 hours of data
#   scripts/compare-graphite-web-tiers.targets  tiers.*: three tiers (10s:1d, 1m:7d, 1h:30d),
#                                               20 days of data, ranges that pick each tier
#   scripts/compare-graphite-web.sh [-v]        (-v prints both answers of each difference)
#   TIMES=10 scripts/compare-graphite-web.sh     also times every identical answer 10 times on
#                                               each side (after one warm-up) and prints the
#                                               median ratio per function group; with TIMES
#                                               tally is a release build. Each side is timed
#                                               over one kept-alive connection (as Grafana's
#                                               data source proxy does); CONNECT=new opens a
#                                               new connection per request instead
# A line of a targets file may add parameters after " &" (`sumSeries(a.*) &maxDataPoints=17`,
# more targets with `&target=…`); in the second set {T}, {T-6h} and {T+2h} are times relative
# to the data's anchor, in the first {S}, {S+30min} and {S+30min:%H:%M_%Y%m%d} to its first
# point (in the target too). pickle answers are unpickled and compared as structures.
# Prints one line per target (same / DIFFERENT / graphite error / tally error) and a summary;
# exits non-zero if any answer differs, except the Whisper-averaging cases the README lists
# (marked "whisper avg", not counted as differences) and the graphite-web bugs it lists
# (marked "graphite bug"). scripts/compare-graphite-web-endpoints.targets is a third set:
# whole requests to /metrics/find, /metrics/expand, /metrics/index.json, /tags… and
# /events/get_data, compared as json structures or text fields. ONLY=REGEX runs only the
# lines it matches (or that contain it as written: `ONLY='sumSeries(cmp.*.x)'`). Python
# packages are installed here into target/peers/graphite-web (not committed); tally is a debug
# build.
# A fourth set is random: scripts/compare-graphite-web-random.py builds RANDOM_TARGETS (default
# 150) nested targets over the first set's data from graphite-web's own function list and
# parameter types, repeatable by SEED (default 1); only its non-identical answers are printed,
# with the seed. `RANDOM_TARGETS=2000 SEED=7 scripts/compare-graphite-web.sh` runs more;
# `RANDOM_TARGETS=0` none; replay one with ONLY='<target as printed>' and the same seed and
# count; ONLY_RANDOM=1 skips the three fixed sets. A random target graphite-web answers and tally refuses fails the run, like a difference;
# "graphite error" lines (tally answers what graphite-web cannot) are listed to look at.
# The same generator builds RANDOM_TIERS (default 100; 0 none) targets over the second set's
# data, with the same SEED (`RANDOM_TIERS=300 SEED=4 RANDOM_TARGETS=0 ONLY_RANDOM=1 …`): each
# with a from/until range that reads one tier or crosses the tiers' edges, about half with a
# maxDataPoints; printed as the first random set's and replayed the same way (ONLY and the same
# seed and counts). The generator marks "~" the targets that may meet a documented
# Whisper-averaging case (a coarse tier read with a merge across a resolution edge, 1 h slots
# over tiers.gappy.x, consolidateBy's bucket fields, names made of values); for these only a
# difference in values (or in the numbers of names) counts as one, anything else is DIFFERENT.
# In the fifth set a difference only in values where maxDataPoints merged points is counted as
# "whisper avg" when the same request without maxDataPoints is the same on both sides and each
# differing value of tally's lies within the values its group merged.
# A fifth set varies the time and render parameters: scripts/compare-graphite-web-timespec.py
# builds TIMESPEC_REQUESTS (default 150; 0 none) whole /render requests, repeatable by
# TIMESPEC_SEED (default 1), with from/until in every parseATTime form, tz, now, maxDataPoints,
# noNullPoints and format; ONLY_TIMESPEC=1 runs only it. Most pin `now` (exact); the others are
# asked of both servers within one 10 s step of the wall clock (again if a step passed). Where
# both refuse, the status classes are compared: tally answering 5xx is a difference.
set -euo pipefail
cd "$(dirname "$0")/.."
VERBOSE="${1:-}"
V=target/peers/graphite-web
if [ ! -x "$V/bin/waitress-serve" ]; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q 'graphite-web==1.1.10' 'whisper==1.1.10' 'Django==2.2.28' \
    'django-tagging==0.4.3' 'cairocffi==1.7.1' 'pyparsing==3.3.3' 'waitress==3.0.2'
fi
TIMES="${TIMES:-0}"
if [ "$TIMES" -gt 0 ]; then PROFILE=release; cargo build --release -q; else PROFILE=debug; cargo build -q; fi
work=$(mktemp -d)
gw_pid=""
tally_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null || true
  [ -n "$tally_pid" ] && kill "$tally_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
now=$(date +%s)
start=$(( (now - 3 * 3600) / 3600 * 3600 ))
# The second set ends at a minute's last 10 s point, so the last minute is whole.
anchor=$(( now / 60 * 60 - 10 ))

# The data: 120 points a minute apart per series, with nulls, a counter that resets, a series
# written every third minute (compressPeriodicGaps), negative and fractional values.
python3 - "$start" > "$work/lines.txt" <<'PY'
import math, sys
start = int(sys.argv[1])
out = sys.stdout
for i in range(120):
    t = start + i * 60
    for host, k in (("a", 1), ("b", 2), ("c", 3)):
        for m, base in (("x", 10), ("y", 3)):
            if (i + k) % 11 == 4 and m == "y":
                continue
            v = base * k + (i % 13) * 0.5 - (i % 5) * k
            out.write(f"cmp.{host}.{m} {v} {t}\n")
    out.write(f"cmp.counter {(i * 37) % 1000 if i < 80 else (i - 80) * 11} {t}\n")
    if i % 3 == 1:
        out.write(f"cmp.periodic {i} {t}\n")
    out.write(f"cmp.wave {round(100 * math.sin(i / 9.0), 3)} {t}\n")
    out.write(f"cmp.freq.{1 + i % 2} {2412 + 25 * (i % 2)} {t}\n")
    out.write(f"cmp.power.{1 + i % 2} {i} {t}\n")
    # A name that is both a series and a branch (a whisper file and a directory).
    out.write(f"cmp.node {i % 6} {t}\ncmp.node.leaf {i % 4} {t}\n")
    # Tagged series (tags in carbon's order, not always sorted); tag.io has nulls and zeros.
    for name, k in (("tag.cpu;dc=eu;host=web1", 1), ("tag.cpu;host=web2;dc=eu", 2),
                    ("tag.cpu;dc=us;host=web3", 3), ("tag.mem;dc=eu;host=web1;unit=bytes", 40),
                    ("tag.mem;unit=bytes;dc=us;host=web3", 70), ("tag.io;dc=us;host=web3;dev=sda", 0)):
        if name.startswith("tag.io") and i % 4 == 2:
            continue
        v = (i % 7) * (i % 3) if k == 0 else k * 10 + (i % 9) * 0.25 - (i % 4) * k
        out.write(f"{name} {v} {t}\n")
PY
# The second set: three tiers, written as carbon would have kept them (every 10 s over the last
# day, every minute up to 7 days back, every hour before), so whisper's archives hold what
# tally's tiers hold (an archive written directly keeps one point per slot).
python3 - "$anchor" >> "$work/lines.txt" <<'PY'
import math, random, sys
T = int(sys.argv[1])
rnd = random.Random(18)
gappy = {t for t in range(T - 86400, T + 1, 10) if rnd.random() < 0.15}
# Whole hours of each resolution, so a coarse slot never mixes points written at two
# resolutions (whisper would average their averages); 10 minutes of margin at the 1 d edge
# for the time the script takes.
B10 = -(-(T - 86400 + 600) // 3600) * 3600
B60 = -(-(T - 7 * 86400 + 3600) // 3600) * 3600
def step_for(t):
    return 10 if t >= B10 else 60 if t >= B60 else 3600
t = T - 20 * 86400
t -= t % 3600
while t <= T:
    st = step_for(t)
    if t % st:
        t += 10
        continue
    spike = t == (T - 5 * 3600) // 10 * 10 + 20
    load = {1: 56.468 if spike else 50 + 0.3 * math.sin(t / 7200), 2: 50 + 2.8 * (1 + math.sin(2 * math.pi * t / 3600)), 3: 40 + (t - T + 20 * 86400) / 86400}
    for h in (1, 2, 3):
        print(f"tiers.web{h}.load {load[h]!r} {t}")
    print(f"tiers.web1.req {(t // 10) % 100000} {t}")
    print(f"tiers.web2.req {(t % 21600) // 10 * 3} {t}")
    if (t // 60) % 7 != 3:
        print(f"tiers.web3.req {t // 60 % 5000} {t}")
    print(f"tiers.neg.y {round(-3.25 + 7.5 * math.cos(t / 5000), 4)} {t}")
    if t not in gappy:
        print(f"tiers.gappy.x {(t // 10) % 37 * 1.5} {t}")
    t += st
PY

export GRAPHITE_STORAGE_DIR="$work/graphite" GRAPHITE_CONF_DIR="$work/graphite/conf"
mkdir -p "$GRAPHITE_STORAGE_DIR/whisper" "$GRAPHITE_STORAGE_DIR/log/webapp" "$GRAPHITE_CONF_DIR"
"$V/bin/python" - "$work/lines.txt" "$GRAPHITE_STORAGE_DIR/whisper" <<'PY'
import os, sys, whisper
from collections import defaultdict
lines, root = sys.argv[1], sys.argv[2]
series = defaultdict(list)
with open(lines) as f:
    for line in f:
        name, v, ts = line.split()
        series[name].append((int(ts), float(v)))
from graphite.tags.utils import TaggedSeries
tagged = []
for name, pts in series.items():
    if ";" in name:
        # As carbon stores a tagged series: _tagged/<sha256[0:3]>/<sha256[3:6]>/<name, . as _DOT_>
        name = TaggedSeries.parse(name).path
        tagged.append(name)
        path = os.path.join(root, TaggedSeries.encode(name, os.sep)) + ".wsp"
    else:
        path = os.path.join(root, *name.split(".")) + ".wsp"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    archives = [(10, 8640), (60, 7 * 1440), (3600, 30 * 24)] if name.startswith("tiers.") else [(60, 2 * 1440)]
    whisper.create(path, archives, xFilesFactor=0.0, aggregationMethod="average")
    # Oldest first, in pieces: whisper propagates each piece to the coarser archives.
    pts.sort()
    for i in range(0, len(pts), 500):
        whisper.update_many(path, pts[i:i + 500])
open(os.path.join(root, "..", "tagged.txt"), "w").write("\n".join(tagged))
PY
# The random set, from graphite-web's function registry (its /functions answers 500 on 3.11),
# over the first set's data (RANDOM_TARGETS) and over the tiers set's (RANDOM_TIERS).
RANDOM_TARGETS="${RANDOM_TARGETS:-150}" RANDOM_TIERS="${RANDOM_TIERS:-100}" SEED="${SEED:-1}"
: > "$work/random.targets"
: > "$work/random-tiers.targets"
if [ "$RANDOM_TARGETS" -gt 0 ] || [ "$RANDOM_TIERS" -gt 0 ]; then
  "$V/bin/python" - "$work/functions.json" 2>/dev/null <<'PY'
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graphite.settings")
import django
django.setup()
from graphite.functions import SeriesFunctions
json.dump({n: [p.toJSON() for p in getattr(f, "params", None) or []] for n, f in SeriesFunctions().items()},
          open(sys.argv[1], "w"), default=str)
PY
fi
if [ "$RANDOM_TARGETS" -gt 0 ]; then
  echo "random targets: RANDOM_TARGETS=$RANDOM_TARGETS SEED=$SEED"
  python3 scripts/compare-graphite-web-random.py "$work/functions.json" "$SEED" "$RANDOM_TARGETS" \
    > "$work/random.targets"
fi
if [ "$RANDOM_TIERS" -gt 0 ]; then
  echo "random targets over the tiers: RANDOM_TIERS=$RANDOM_TIERS SEED=$SEED"
  python3 scripts/compare-graphite-web-random.py "$work/functions.json" "$SEED" "$RANDOM_TIERS" tiers \
    > "$work/random-tiers.targets"
fi
TIMESPEC_REQUESTS="${TIMESPEC_REQUESTS:-150}" TIMESPEC_SEED="${TIMESPEC_SEED:-1}"
python3 scripts/compare-graphite-web-timespec.py "$TIMESPEC_SEED" "$TIMESPEC_REQUESTS" > "$work/timespec.targets"
[ "$TIMESPEC_REQUESTS" -gt 0 ] && echo "time specifications: TIMESPEC_REQUESTS=$TIMESPEC_REQUESTS TIMESPEC_SEED=$TIMESPEC_SEED"
PYTHONPATH="$V/lib/python3.11/site-packages" "$V/bin/django-admin" migrate -v0 --run-syncdb \
  --settings=graphite.settings >/dev/null 2>&1 || true
gw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$V/bin/waitress-serve" --listen="127.0.0.1:$gw_port" --threads=2 graphite.wsgi:application \
  > "$work/graphite.log" 2>&1 &
gw_pid=$!

cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
self_metrics: { interval: 1s }
http: { listen: 127.0.0.1:0 }
inputs: { carbon: { listen: 127.0.0.1:0, udp: false }, system: { enabled: false } }
storage:
  schemas:
    - { name: tiers, pattern: '^tiers\.', retentions: [10s:1d, 1m:7d, 1h:30d] }
    - { name: cmp, pattern: '.*', retentions: [1m:2d] }
YAML
"./target/$PROFILE/tally" --log-format json run -c "$work/tally.yaml" 2> "$work/tally.log" &
tally_pid=$!
for _ in $(seq 100); do grep -qs "tally is running" "$work/tally.log" && break; sleep 0.1; done
carbon=$(grep 'Carbon listening on tcp' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
http=$(grep 'HTTP listening' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
python3 - "$carbon" "$work/lines.txt" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
s.close()
PY
for _ in $(seq 100); do curl -sf "127.0.0.1:$gw_port/version" >/dev/null && break; sleep 0.2; done
# graphite-web's local tagdb learns the tagged series as carbon tells it (tagMultiSeries); both
# sides get the same events.
python3 - "$gw_port" "$http" "$GRAPHITE_STORAGE_DIR/tagged.txt" "$start" <<'PY'
import json, sys, urllib.parse, urllib.request
gw, tally, tagged, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
paths = open(tagged).read().split()
body = urllib.parse.urlencode([("path", p) for p in paths]).encode()
urllib.request.urlopen(f"http://127.0.0.1:{gw}/tags/tagMultiSeries", body, timeout=60).read()
events = [{"what": "deploy web1", "tags": ["deploy", "web1"], "when": start + 600, "data": "v1"},
          {"what": "deploy web2", "tags": ["deploy", "web2"], "when": start + 1800, "data": "v2"},
          {"what": "reboot", "tags": ["ops"], "when": start + 3000, "data": ""}]
for port in (gw, tally):
    for e in events:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/events/", json.dumps(e).encode(),
                                     {"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=60).read()
PY

TIMES="$TIMES" ONLY="${ONLY:-}" SEED="$SEED" ONLY_RANDOM="${ONLY_RANDOM:-}" ONLY_TIMESPEC="${ONLY_TIMESPEC:-}" \
  TIMESPEC_SEED="$TIMESPEC_SEED" "$V/bin/python" - "$http" "$gw_port" "$start" "$anchor" "$VERBOSE" \
  scripts/compare-graphite-web.targets scripts/compare-graphite-web-tiers.targets \
  scripts/compare-graphite-web-endpoints.targets "$work/random.targets" "$work/timespec.targets" \
  "$work/random-tiers.targets" <<'PY'
import csv, datetime, html, http.client, json, pickle, math, os, re, statistics, sys, time, urllib.error, urllib.parse, urllib.request
tally, gw, start, anchor, verbose = sys.argv[1:6]
files = sys.argv[6:]
start, anchor = int(start), int(anchor)
UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}

def times(text):
    # {T}, {T-6h} and {T+2h}: the second set's times, relative to the data's anchor; {S} and
    # {S+30min}: the first set's, relative to its first point; {N}: when the comparison began
    # (a `now` to pin); {S+1h:%Y%m%d} writes one with a strftime format (UTC).
    def one(m):
        base = {"T": anchor, "S": start, "N": pinned_now}[m.group(1)]
        t = base + ((1 if m.group(3) == "+" else -1) * int(m.group(4)) * UNITS[m.group(5)] if m.group(2) else 0)
        if not m.group(6):
            return str(t)
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(m.group(6))
    return re.sub(r"\{([STN])(([-+])(\d+)(s|min|h|d))?(?::([^}]+))?\}", one, text)

def request(line, first_set):
    # A line starting with "/" is a whole request to another endpoint (/metrics/find?…).
    if line.startswith("/"):
        return times(line)
    return "/render?" + params(line, first_set)

def params(line, first_set):
    # A line is a target, optionally followed by " &param=value…" (e.g. maxDataPoints).
    target, _, extra = line.partition(" &")
    if first_set:
        q = {"from": str(start - 60), "until": str(start + 119 * 60)}
    else:
        q = {"from": str(anchor - 6 * 3600), "until": str(anchor)}
    q.update({"tz": "UTC", "format": "json"})
    more = []  # further targets: " &target=…"
    for kv in filter(None, times(extra).split("&")):
        k, _, v = kv.partition("=")
        if k == "target":
            more.append(("target", v))
        else:
            q[k] = v
    return "target=" + urllib.parse.quote(times(target)) + "&" + urllib.parse.urlencode(more + list(q.items()))

def get(port, query):
    if not query.startswith("/"):
        query = "/render?" + query
    url = f"http://127.0.0.1:{port}{query}"
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            raw = r.read()
            if r.headers.get("Content-Type", "").startswith("application/pickle"):
                # graphite-web's cluster format (both servers are local, started here).
                return True, {"pickle": pickle.loads(raw)}
            body = raw.decode()
            jsonp = re.fullmatch(r"([\w.]+)\((.*)\)", body, re.S)
            if "javascript" in r.headers.get("Content-Type", "") and jsonp:
                return True, {"jsonp": jsonp.group(1), "body": json.loads(jsonp.group(2))}
            if "json" not in r.headers.get("Content-Type", ""):
                return True, body  # csv, raw, completer text…: compared token by token
            return True, json.loads(body.replace("1e9999", "Infinity"))
    except urllib.error.HTTPError as e:
        body = html.unescape(e.read().decode(errors="replace"))
        # graphite-web's 500 page: its traceback's last line (the exception) is enough.
        exc = re.findall(r"^((?:\w[\w.]*)?(?:Error|Exception)\b.*)$", body, re.M)
        return False, f"{e.code} {exc[-1] if exc else body[-300:].strip()}"
    except Exception as e:  # noqa: BLE001 (connection errors, bad json)
        return False, str(e)

# tally has every line once the last ones (at the anchor) are readable.
for _ in range(300):
    ok, r = get(tally, f"target=tiers.neg.y&from={anchor - 10}&until={anchor}&format=json")
    if ok and r and r[0]["datapoints"] and r[0]["datapoints"][-1][0] is not None:
        break
    time.sleep(0.2)

pinned_now = int(time.time()) // 10 * 10

def one_slot(g, t):
    """A range within one slot (after `until` is cut at `now`, or after `from` is clamped to the
    longest retention's start: `from=jan1&until=-1mon`): graphite-web answers whisper's next,
    empty slot, tally the slot holding the range (README): one point each a step apart, or
    (hitcount's buckets over that one slot) the same points all moved by that step, graphite-web's
    all null."""
    if isinstance(g, str) and isinstance(t, str):
        g, t = text_points(g), text_points(t)
    if isinstance(g, dict) and isinstance(t, dict) and "pickle" in g and "pickle" in t:
        g = [{"datapoints": [[None, s["start"]]] * len(s["values"]), "step": s["step"]} for s in g["pickle"]]
        t = [{"datapoints": [[None, s["start"]]] * len(s["values"]), "step": s["step"]} for s in t["pickle"]]
    if not (isinstance(g, list) and isinstance(t, list) and len(g) == len(t) and g):
        return False
    def moved(a, b):
        shifts = {p[1] - q[1] for p, q in zip(a, b)}
        return len(a) == len(b) >= 1 and len(shifts) == 1 and 0 < shifts.pop() <= 3600 \
            and (len(a) == 1 or all(p[0] is None for p in a))
    return all(moved(a["datapoints"], b["datapoints"]) for a, b in zip(g, t))

def text_points(text):
    """A csv or raw answer as json-like series, for one_slot: raw lines are
    `name,start,end,step|values`, csv lines `name,%Y-%m-%d %H:%M:%S,value` (in the request's
    zone, read as UTC: only differences of times are used). Values: None, or the text."""
    lines = [l for l in text.strip().splitlines() if l]
    if lines and all(re.search(r",-?\d+,-?\d+,\d+\|", l) for l in lines):
        out = []
        for l in lines:
            head, _, values = l.rpartition("|")
            _, start, _, step = head.rsplit(",", 3)
            vals = [None if v == "None" else v for v in values.split(",")]
            out.append({"datapoints": [[v, int(start) + i * int(step)] for i, v in enumerate(vals)]})
        return out
    series = {}
    try:
        for row in csv.reader(lines):
            when = datetime.datetime.strptime(row[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
            series.setdefault(row[0], []).append([row[2] or None, int(when.timestamp())])
    except (ValueError, IndexError):
        return None
    return [{"datapoints": p} for p in series.values()]

def same_value(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isinf(a) or isinstance(b, float) and math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)

def number(x):
    try:
        return float(x)
    except ValueError:
        return None

def diff_text(g, t):
    # csv / raw: the same lines and fields; numbers within 1e-9 (Python's repr vs Rust's).
    gl, tl = g.strip().split("\n"), t.strip().split("\n")
    if len(gl) != len(tl):
        return f"{len(gl)} lines vs {len(tl)}"
    for a, b in zip(gl, tl):
        fa, fb = re.split(r"[,|]", a), re.split(r"[,|]", b)
        if len(fa) != len(fb) or any(
                x != y and not (number(x) is not None and number(y) is not None and same_value(number(x), number(y)))
                for x, y in zip(fa, fb)):
            return f"line {a[:200]!r} vs {b[:200]!r}"
    return None

def diff_json(g, t, where="$"):
    # Any other endpoint's json: the same structure, numbers within 1e-9.
    if isinstance(g, dict) and isinstance(t, dict):
        if sorted(g) != sorted(t):
            return f"{where}: keys {sorted(g)} vs {sorted(t)}"
        return next(filter(None, (diff_json(g[k], t[k], f"{where}.{k}") for k in g)), None)
    if isinstance(g, list) and isinstance(t, list):
        if len(g) != len(t):
            return f"{where}: {len(g)} items vs {len(t)}: {json.dumps(g)[:300]} vs {json.dumps(t)[:300]}"
        return next(filter(None, (diff_json(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(g, t)))), None)
    if isinstance(g, (int, float)) and isinstance(t, (int, float)) and not isinstance(g, bool) and not isinstance(t, bool):
        return None if same_value(g, t) else f"{where}: {g} vs {t}"
    return None if g == t and type(g) is type(t) else f"{where}: {g!r} vs {t!r}"

def normalize(target, side, answer):
    """What differs for reasons the README lists under "Where this differs", for the endpoint
    lines only: graphite-web's whisper finder shows carbon's `_tagged` directory (where tagged
    series are kept) as a metric tree, and its local tagdb adds its rows' `id`s to /tags
    answers; tally's store holds its own `tally.*` series (as carbon's carbon.* would be in a
    real graphite). Names of one leaf name under several branches come from os.listdir in a
    find (the order of ties): graphite-web's answer is put in path order for them."""
    if not target.startswith("/") or isinstance(answer, str):
        return answer
    hidden = "_tagged" if side == "graphite" else "tally"
    def shown(x):
        v = x if isinstance(x, str) else next((x[k] for k in ("path", "id") if isinstance(x, dict) and k in x), "")
        v = v if isinstance(v, str) else ""
        return not (v == hidden or v.startswith(hidden + "."))
    def walk(x):
        if isinstance(x, list):
            return [walk(i) for i in x if shown(i)]
        if isinstance(x, dict):
            drop_id = side == "graphite" and target.startswith("/tags")
            return {k: walk(v) for k, v in x.items() if not (drop_id and k == "id")}
        return x
    answer = walk(answer)
    # A find's json intervals end at the whisper file's mtime (its last write) in graphite-web,
    # at the request's time in tally: only their starts (now − retention) are compared.
    if "format=json" in target and isinstance(answer, list):
        for node in answer:
            for i in node.get("intervals", []):
                i.pop("end", None)
    # In a pickled find graphite-web writes its IntervalSet objects, tally [start, end] pairs
    # (graphite-web's cluster reads both): their starts are compared, as above.
    if "format=pickle" in target and isinstance(answer, dict):
        for node in answer["pickle"]:
            if "intervals" in node:
                node["intervals"] = [getattr(i, "start", None) if hasattr(i, "start") else i[0] for i in node["intervals"]]
    if side == "graphite" and "format=completer" in target and isinstance(answer, dict):
        m = answer["metrics"]
        answer["metrics"] = sorted((x for x in m if "path" in x), key=lambda x: (x["name"], x["path"].rstrip("."))) + [x for x in m if "path" not in x]
    return answer

def averaged(g, t):
    """A random tiers target's difference that a Whisper-averaging case explains: in values, or
    in numbers that names and tags make of values (`aggregateLine`, `cactiStyle`, `aliasQuery`);
    series, timestamps and the rest of every name the same."""
    def numberless(x):
        if isinstance(x, str):
            return re.sub(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", x)
        if isinstance(x, list):
            return [numberless(i) for i in x]
        if isinstance(x, dict):
            return {k: v if k == "datapoints" else numberless(v) for k, v in x.items()}
        return x
    d = diff(numberless(g), numberless(t))
    return d is None or re.search(r": at -?\d+ \S+ vs \S+$", d) is not None

def merged_only(q, g, t):
    """A time specification's difference that only the maxDataPoints merge makes (a
    Whisper-averaging case: the request's range is not known beforehand, so it is checked
    here): values only, the same request without maxDataPoints the same on both sides, and
    every differing point of tally's within the values its group merged (tally's exact merge
    weighs the slots by their raw points, Whisper's mean of means weighs them alike)."""
    if "maxDataPoints=" not in q or not (is_render(g) and is_render(t)) or not averaged(g, t):
        return False
    (gok, g2), (tok, t2) = both(re.sub(r"&maxDataPoints=[^&]*", "", q), True)
    if not (gok and tok and is_render(g2) and not diff(g2, t2)) or len(g2) != len(g):
        return False
    for gs, ts, raw in zip(g, t, g2):
        stamps = [p[1] for p in gs["datapoints"]]
        step = stamps[1] - stamps[0] if len(stamps) > 1 else 10 ** 10
        for (gv, at), (tv, _) in zip(gs["datapoints"], ts["datapoints"]):
            if same_value(gv, tv):
                continue
            group = [v for v, x in raw["datapoints"] if v is not None and at - step <= x < at + step]
            if tv is None or not group or not min(group) - 1e-9 <= tv <= max(group) + 1e-9:
                return False
    return True

def without_tags(answer):
    return [{k: v for k, v in s.items() if k != "tags"} for s in answer] if is_render(answer) else answer

def is_render(x):
    # /render's json ([[value, time], …]); rickshaw's points are objects, compared as json.
    return isinstance(x, list) and all(isinstance(s, dict) and "datapoints" in s
                                       and all(isinstance(p, list) for p in s["datapoints"][:1]) for s in x)

def diff(g, t):
    if isinstance(g, str) or isinstance(t, str):
        return diff_text(g, t) if isinstance(g, str) and isinstance(t, str) else f"text vs json: {str(g)[:200]!r} vs {str(t)[:200]!r}"
    if not (is_render(g) and is_render(t)):
        return diff_json(g, t)
    if len(g) != len(t):
        return f"{len(g)} series vs {len(t)}: {[s['target'] for s in g]} vs {[s['target'] for s in t]}"
    for gs, ts in zip(g, t):
        if gs["target"] != ts["target"]:
            return f"name {gs['target']!r} vs {ts['target']!r}"
        gp, tp = gs["datapoints"], ts["datapoints"]
        if [p[1] for p in gp] != [p[1] for p in tp]:
            return f"{gs['target']}: timestamps {[p[1] for p in gp][:3]}… ({len(gp)}) vs {[p[1] for p in tp][:3]}… ({len(tp)})"
        for (gv, ts_), (tv, _) in zip(gp, tp):
            if not same_value(gv, tv):
                return f"{gs['target']}: at {ts_} {gv} vs {tv}"
        if gs.get("tags") != ts.get("tags"):
            return f"{gs['target']}: tags {gs.get('tags')} vs {ts.get('tags')}"
    return None

TIMES = int(os.environ.get("TIMES", "0"))
ONLY = os.environ.get("ONLY", "")
ONLY_RANDOM = os.environ.get("ONLY_RANDOM", "") == "1"
ONLY_TIMESPEC = os.environ.get("ONLY_TIMESPEC", "") == "1"
groups = {}
if TIMES:
    # The groups from tally's /functions (graphite-web 1.1.10's answers 500 on Python 3.11).
    with urllib.request.urlopen(f"http://127.0.0.1:{tally}/functions", timeout=60) as r:
        groups = {name: f.get("group", "?") for name, f in json.loads(r.read()).items()}
timed = {}

def group_of(target):
    m = re.match(r"\s*(\w+)\(", target)
    return groups.get(m.group(1), "?") if m else "Path"

NEW_CONNECTIONS = os.environ.get("CONNECT", "keepalive") == "new"
conns = {}

def timed_get(port, q):
    """One request; over the port's kept-alive connection unless CONNECT=new."""
    if NEW_CONNECTIONS:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{q}", timeout=120).read()
        return
    c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", q)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"{port}: {r.status} for {q}")
    if r.will_close:
        c.close()
        conns.pop(port, None)
    else:
        conns[port] = c

def median_ms(port, q):
    timed_get(port, q)
    times = []
    for _ in range(TIMES):
        t = time.perf_counter()
        timed_get(port, q)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

def both(q, timespec):
    """Both answers. A time-specification request whose `now` is not epoch seconds reads the
    wall clock: both are asked within one 10 s step (the finest step of the data), again if a
    step passed meanwhile, so that relative times give the same slots on both sides."""
    wall = timespec and not re.search(r"[?&]now=\d+(&|$)", q)
    for _ in range(5):
        while wall and time.time() % 10 > 6:
            time.sleep(0.05)
        step = int(time.time() // 10)
        g, t = get(gw, q), get(tally, q)
        if not wall or int(time.time() // 10) == step:
            break
    return g, t

def status(answer):
    return answer.split(" ", 1)[0] if re.match(r"\d{3} ", answer) else "no status"

def wanted(target):
    if not ONLY or ONLY in target:
        return True
    try:
        return re.search(ONLY, target) is not None
    except re.error:
        return False

sets = {3: {}, 4: {}, 5: {}}  # the random targets', the time specifications' and the random tiers targets' counts
counts = {"same": 0, "DIFFERENT": 0, "whisper avg": 0, "graphite bug": 0, "known": 0, "graphite error": 0, "tally error": 0, "both error": 0}
for n, path in enumerate(files):
    for line in open(path):
        target = line.strip()
        if not target or target.startswith("#") or not wanted(target) or ONLY_RANDOM and n not in (3, 5) \
                or ONLY_TIMESPEC and n != 4:
            continue
        # "~ " marks a documented Whisper-averaging case (README): a difference is expected.
        # "! " a documented graphite-web bug in tags: everything but the tags is compared.
        # "!! " a documented graphite-web bug in the whole answer: any difference is expected.
        # "? " a documented difference of tally's (time specifications): likewise, but tally
        # answers 4xx where it refuses. In the random tiers set "~ " may come before "! " or
        # "!! ", and a "~ " difference must be one a Whisper-averaging case explains (averaged).
        averaging = target.startswith("~ ")
        target = target.removeprefix("~ ")
        bug = "tags" if target.startswith("! ") else "all" if target.startswith("!! ") else None
        bug = "known" if target.startswith("? ") else bug
        target = target.removeprefix("~ ").removeprefix("!! ").removeprefix("! ").removeprefix("? ")
        q = request(target, n not in (1, 5))
        (gok, g), (tok, t) = both(q, n == 4)
        g, t = normalize(target, "graphite", g), normalize(target, "tally", t)
        if bug == "all" or bug == "known" and (tok or status(t).startswith("4")):
            d = diff(g, t) if gok and tok else f"{g} vs {t}"
            kind = ("graphite bug" if bug == "all" else "known") if d else "same"
        elif gok and tok:
            d = diff(g, t)
            if d and bug == "tags" and not diff(without_tags(g), without_tags(t)):
                kind = "graphite bug"
            else:
                explained = n != 5 or (averaged(without_tags(g), without_tags(t)) if bug == "tags" else averaged(g, t))
                kind = ("whisper avg" if averaging and explained else "DIFFERENT") if d else "same"
                kind = "known" if d and n == 4 and one_slot(g, t) else kind
                kind = "whisper avg" if kind == "DIFFERENT" and n == 4 and merged_only(q, g, t) else kind
        elif not gok and not tok and n == 4 and not status(t).startswith("4"):
            # A request both refuse: tally must answer 4xx, with a reason.
            kind, d = "tally error", f"graphite {g[:150]} / tally {t[:150]}"
        elif not gok and not tok:
            kind, d = "both error", f"graphite {g[:150]} / tally {t[:150]}" if n == 4 else None
        elif not gok:
            kind, d = "graphite error", g
        else:
            kind, d = "tally error", t
        counts[kind] += 1
        if TIMES and kind == "same":
            tm, gm = median_ms(tally, q), median_ms(gw, q)
            timed.setdefault(group_of(target), []).append((gm / tm, tm, gm, target))
        if n >= 3:
            sets[n][kind] = sets[n].get(kind, 0) + 1
            if kind == "same":
                continue
        d = d[:400] if d and n == 4 else d
        print(f"{kind:15} {target}" + (f"\n                {d}" if d else ""))
        if verbose and kind != "same":
            print("   graphite:", json.dumps(g, default=str)[:2000])
            print("   tally:   ", json.dumps(t, default=str)[:2000])
print("\n" + ", ".join(f"{v} {k}" for k, v in counts.items()))
for n, what, seed in ((3, "random", "SEED"), (5, "random over the tiers", "SEED"),
                      (4, "time specifications", "TIMESPEC_SEED")):
    if sets[n]:
        print(f"of which {what} ({seed}={os.environ.get(seed)}, {sum(sets[n].values())} requests): "
              + ", ".join(f"{v} {k}" for k, v in sorted(sets[n].items())))
if TIMES:
    how = "a new connection per request" if NEW_CONNECTIONS else "one kept-alive connection per server"
    print(f"\nspeed on identical answers, median of {TIMES} each, {how}, ms (graphite-web / tally):")
    allr = [r for rows in timed.values() for r in rows]
    for g, rows in sorted(timed.items()) + [("all", allr)]:
        ratios = sorted(r[0] for r in rows)
        print(f"  {g:16} {len(rows):4} requests  median ratio {statistics.median(ratios):6.1f}x"
              f"  (min {ratios[0]:.1f}x; tally median {statistics.median(r[1] for r in rows):.1f} ms,"
              f" graphite-web {statistics.median(r[2] for r in rows):.1f} ms)")
if TIMES:
    print("  the ten lowest ratios:")
    for r, tm, gm, target in sorted(allr)[:10]:
        print(f"    {r:6.1f}x  tally {tm:.2f} ms, graphite-web {gm:.2f} ms  {target}")
sys.exit(1 if counts["DIFFERENT"] or counts["tally error"] else 0)
PY
