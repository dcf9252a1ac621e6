#!/usr/bin/env bash
# tally vs graphite-web, side by side in one run on the same data, per-request latency.
#
# The same 100 gauge series × 7 days at 60 s (10,080 points each) go into Whisper files
# (whisper's Python API, retention 60s:8d) and into tally over carbon (schema 1m:8d); 100,000
# more names (one point each) are there for the find. graphite-web 1.1.10 from PyPI serves the
# Whisper files (waitress, 4 threads, 127.0.0.1, Django's dummy cache, so nothing is cached),
# tally serves its store. Each request is sent N times (default 20, after 2 warm-ups), one at a
# time, a new connection each; the median and p90 are printed with the ratio graphite/tally.
#   scripts/bench-graphite-web.sh [N]
# Python packages go into the venv target/peers/graphite-web (not committed; shared with
# compare-graphite-web.sh); versions are pinned to ones that work on Python 3.11 (Django < 3.1
# is graphite-web 1.1.10's requirement).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
SERIES=100
FIND_NAMES=100000
V=target/peers/graphite-web
if [ ! -x "$V/bin/waitress-serve" ]; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q 'graphite-web==1.1.10' 'whisper==1.1.10' 'Django==2.2.28' \
    'django-tagging==0.4.3' 'cairocffi==1.7.1' 'pyparsing==3.3.3' 'waitress==3.0.2'
fi
cargo build --release -q
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
start=$(( (now - 7 * 86400) / 60 * 60 ))
points=$(( 7 * 1440 ))

# The data, once: a random walk per series, two decimals; the find names with one point each.
python3 scripts/bench/walk-lines.py "$SERIES" "$points" "$start" "$FIND_NAMES" "$now" > "$work/lines.txt"

# Whisper files with graphite's layout: one file per series under STORAGE_DIR/whisper.
export GRAPHITE_STORAGE_DIR="$work/graphite" GRAPHITE_CONF_DIR="$work/graphite/conf"
mkdir -p "$GRAPHITE_STORAGE_DIR/whisper" "$GRAPHITE_STORAGE_DIR/log/webapp" "$GRAPHITE_CONF_DIR"
echo "== writing Whisper files"
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
    whisper.create(path, [(60, 8 * 1440)] if name.startswith("bench.") else [(60, 10)],
                   xFilesFactor=0.0, aggregationMethod="average")
    whisper.update_many(path, pts)
PY
PYTHONPATH="$V/lib/python3.11/site-packages" "$V/bin/django-admin" migrate -v0 --run-syncdb \
  --settings=graphite.settings >/dev/null 2>&1 || true
gw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$V/bin/waitress-serve" --listen="127.0.0.1:$gw_port" --threads=4 graphite.wsgi:application \
  > "$work/graphite.log" 2>&1 &
gw_pid=$!

# tally: the same lines over carbon; wait until every one is committed.
cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
self_metrics: { interval: 1s }
http: { listen: 127.0.0.1:0 }
inputs: { carbon: { listen: 127.0.0.1:0, udp: false }, system: { enabled: false } }
storage:
  schemas: [ { name: bench, pattern: '.*', retentions: [1m:8d] } ]
YAML
echo "== feeding tally"
./target/release/tally --log-format json run -c "$work/tally.yaml" 2> "$work/tally.log" &
tally_pid=$!
for _ in $(seq 100); do grep -q "tally is running" "$work/tally.log" && break; sleep 0.1; done
carbon=$(grep 'Carbon listening on tcp' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
http=$(grep 'HTTP listening' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
python3 - "$carbon" "$work/lines.txt" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "rb") as f:
    while chunk := f.read(1 << 20):
        s.sendall(chunk)
s.close()
PY
total=$(wc -l < "$work/lines.txt")
for _ in $(seq 600); do
  got=$(./target/release/tally query 'tally.aggregate.observations:sum' --from -1h --max-data-points 1 -c "$work/tally.yaml" 2>/dev/null | awk '{s+=$2} END {print s+0}')
  [ "${got%.*}" -ge "$total" ] && break
  sleep 0.5
done
for _ in $(seq 100); do curl -sf "127.0.0.1:$gw_port/version" >/dev/null && break; sleep 0.2; done

echo "== requests (median / p90 of $N, ms)"
"$V/bin/python" - "$http" "$gw_port" "$N" "$start" "$(( start + points * 60 ))" <<'PY'
import statistics, sys, time, urllib.parse, urllib.request, json
tally, gw, n, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = f"from={start}&until={end}"
cases = [
    ("render 100 series x 7 d, maxDataPoints=1000", f"/render?target=bench.*.*&{rng}&maxDataPoints=1000&format=json"),
    ("render sumSeries(100 series)", f"/render?target=sumSeries(bench.*.*)&{rng}&maxDataPoints=1000&format=json"),
    ("render movingAverage(100 series, 1h)", f"/render?target=movingAverage(bench.*.*,'1h')&{rng}&maxDataPoints=1000&format=json"),
    ("find over 100k names (find.*.m99*)", "/metrics/find?query=find.*.m99*"),
    ("png 10 series x 7 d, 800x400", f"/render?target=bench.h00.*&{rng}&format=png&width=800&height=400"),
]
def get(port, path):
    url = f"http://127.0.0.1:{port}{path}".replace("'", "%27")
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
    return time.perf_counter() - t, body
def check(body, path):
    if "format=png" in path:
        return f"{len(body)} B png"
    v = json.loads(body)
    return f"{len(v)} items" if "find" in path else f"{len(v)} series, {sum(len(s['datapoints']) for s in v)} points"
print(f"{'request':46} {'tally':>16} {'graphite-web':>18} {'ratio':>7}")
for name, path in cases:
    res = {}
    for who, port in (("tally", tally), ("graphite", gw)):
        for _ in range(2):
            get(port, path)
        times = sorted(get(port, path)[0] * 1000 for _ in range(n))
        res[who] = (statistics.median(times), times[int(len(times) * 0.9) - 1], check(get(port, path)[1], path))
    t, g = res["tally"], res["graphite"]
    print(f"{name:46} {t[0]:7.1f} / {t[1]:6.1f} {g[0]:9.1f} / {g[1]:6.1f} {g[0] / t[0]:6.1f}x")
    print(f"{'':46} tally: {t[2]}; graphite-web: {g[2]}")
PY
