#!/usr/bin/env bash
# tally vs graphite-web, answer by answer: the same small data set goes into Whisper files
# (served by graphite-web 1.1.10 from PyPI) and into tally over carbon; then every target of
# scripts/compare-graphite-web.targets is rendered by both as json over the same absolute range,
# and the answers are compared: series names, timestamps, values (relative 1e-9), tags.
#   scripts/compare-graphite-web.sh [-v]        (-v prints both answers of each difference)
# A line of the targets file may add parameters after " &" (`sumSeries(a.*) &maxDataPoints=17`).
# Prints one line per target (same / DIFFERENT / graphite error / tally error) and a summary;
# exits non-zero if any answer differs. Python packages go into the same venv as
# (installed here into target/peers/graphite-web, not committed); tally is a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
VERBOSE="${1:-}"
V=target/peers/graphite-web
if [ ! -x "$V/bin/waitress-serve" ]; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q 'graphite-web==1.1.10' 'whisper==1.1.10' 'Django==2.2.28' \
    'django-tagging==0.4.3' 'cairocffi==1.7.1' 'pyparsing==3.3.3' 'waitress==3.0.2'
fi
cargo build -q
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
for name, pts in series.items():
    path = os.path.join(root, *name.split(".")) + ".wsp"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    whisper.create(path, [(60, 2 * 1440)], xFilesFactor=0.0, aggregationMethod="average")
    whisper.update_many(path, pts)
PY
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
  schemas: [ { name: cmp, pattern: '.*', retentions: [1m:2d] } ]
YAML
./target/debug/tally --log-format json run -c "$work/tally.yaml" 2> "$work/tally.log" &
tally_pid=$!
for _ in $(seq 100); do grep -q "tally is running" "$work/tally.log" && break; sleep 0.1; done
carbon=$(grep 'Carbon listening on tcp' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
http=$(grep 'HTTP listening' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
python3 - "$carbon" "$work/lines.txt" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
s.close()
PY
sleep 3
for _ in $(seq 100); do curl -sf "127.0.0.1:$gw_port/version" >/dev/null && break; sleep 0.2; done

"$V/bin/python" - "$http" "$gw_port" "$start" "$VERBOSE" scripts/compare-graphite-web.targets <<'PY'
import json, math, sys, urllib.error, urllib.parse, urllib.request
tally, gw, start, verbose, targets_file = sys.argv[1:6]
start = int(start)
rng = f"from={start - 60}&until={start + 119 * 60}&tz=UTC&format=json"

def get(port, line):
    # A line is a target, optionally followed by " &param=value…" (e.g. maxDataPoints).
    target, _, extra = line.partition(" &")
    extra = "&" + extra if extra else ""
    url = f"http://127.0.0.1:{port}/render?target={urllib.parse.quote(target)}&{rng}{extra}"
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return True, json.loads(r.read().decode().replace("1e9999", "Infinity"))
    except urllib.error.HTTPError as e:
        return False, f"{e.code} {e.read().decode(errors='replace')[-300:].strip()}"
    except Exception as e:  # noqa: BLE001 (connection errors, bad json)
        return False, str(e)

def same_value(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isinf(a) or isinstance(b, float) and math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)

def diff(g, t):
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

counts = {"same": 0, "DIFFERENT": 0, "graphite error": 0, "tally error": 0, "both error": 0}
for line in open(targets_file):
    target = line.strip()
    if not target or target.startswith("#"):
        continue
    gok, g = get(gw, target)
    tok, t = get(tally, target)
    if gok and tok:
        d = diff(g, t)
        kind = "DIFFERENT" if d else "same"
    elif not gok and not tok:
        kind, d = "both error", None
    elif not gok:
        kind, d = "graphite error", g
    else:
        kind, d = "tally error", t
    counts[kind] += 1
    print(f"{kind:15} {target}" + (f"\n                {d}" if d else ""))
    if verbose and kind == "DIFFERENT":
        print("   graphite:", json.dumps(g)[:2000])
        print("   tally:   ", json.dumps(t)[:2000])
print("\n" + ", ".join(f"{v} {k}" for k, v in counts.items()))
sys.exit(1 if counts["DIFFERENT"] or counts["tally error"] else 0)
PY
