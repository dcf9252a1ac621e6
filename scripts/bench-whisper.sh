#!/usr/bin/env bash
# Bytes on disk per sealed bucket: tally vs Whisper, side by side on the same data, in one run.
#
# The same 1,000 gauge series × 1 day at 10 s (8,640 values each, two decimals) go into tally
# over carbon, and into Whisper files (whisper-create/whisper-update from python3-whisper) with
# the same retention. Prints bytes per point for each and the ratio.
#   scripts/bench-whisper.sh [SERIES]
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES="${1:-1000}"
POINTS=8640
# Whisper from PyPI into the python3 on PATH (Debian's python3-whisper serves /usr/bin/python3).
PY=python3
if ! $PY -c 'import whisper' 2>/dev/null; then
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import whisper' 2>/dev/null; then
    PY=/usr/bin/python3
  else
    $PY -m pip install -q whisper
  fi
fi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
now=$(date +%s)
start=$(( (now - 86400 - 3600) / 10 * 10 ))

# The data, generated once: gauge-like values with two decimals, a random walk per series.
python3 - "$SERIES" "$POINTS" "$start" > "$work/lines.txt" <<'PY'
import random, sys
n, points, start = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
random.seed(42)
out = sys.stdout
for s in range(n):
    v = random.uniform(10, 90)
    for i in range(points):
        v = min(100.0, max(0.0, v + random.uniform(-1, 1)))
        out.write(f"bench.host{s // 100:02d}.metric{s % 100:02d} {v:.2f} {start + i * 10}\n")
PY

# tally: one schema holding exactly the 10 s tier, so everything on disk is that tier.
cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
self_metrics: { interval: 1s }
http: { listen: 127.0.0.1:0 }
inputs: { carbon: { listen: 127.0.0.1:0, udp: false }, system: { enabled: false } }
storage:
  schemas: [ { name: bench, pattern: '.*', retentions: [10s:2d] } ]
YAML
./target/release/tally --log-format json run -c "$work/tally.yaml" 2> "$work/tally.log" &
pid=$!
for _ in $(seq 100); do grep -q "tally is running" "$work/tally.log" && break; sleep 0.1; done
port=$(grep 'Carbon listening on tcp' "$work/tally.log" | sed 's/.*"addr":"127.0.0.1:\([0-9]*\)".*/\1/')
python3 - "$port" "$work/lines.txt" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "rb") as f:
    while chunk := f.read(1 << 20):
        s.sendall(chunk)
s.close()
PY
total=$(( SERIES * POINTS ))
# Wait until every point is committed, then stop (the shutdown seals the head into segments).
for _ in $(seq 600); do
  got=$(./target/release/tally query 'tally.aggregate.observations:sum' --from -1h --max-data-points 1 -c "$work/tally.yaml" 2>/dev/null | awk '{s+=$2} END {print s+0}')
  [ "${got%.*}" -ge "$total" ] && break
  sleep 0.5
done
kill -TERM $pid; wait $pid || true
tally_bytes=$(find "$work/tally" -type f -name '*.seg' -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}')
tally_all=$(du -sb "$work/tally" | cut -f1)

# Whisper: the same values into one file per series with the same retention (10s:2d).
$PY - "$work/lines.txt" "$work/whisper" <<'PY'
import os, sys, whisper
from collections import defaultdict
lines, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
series = defaultdict(list)
with open(lines) as f:
    for line in f:
        name, v, ts = line.split()
        series[name].append((int(ts), float(v)))
for name, pts in series.items():
    path = os.path.join(out, name + ".wsp")
    whisper.create(path, [(10, 2 * 8640)], xFilesFactor=0.5, aggregationMethod="average")
    whisper.update_many(path, pts)
PY
whisper_bytes=$(du -sb "$work/whisper" | cut -f1)
whisper_full=$(( SERIES * (28 + 12 + 12 * POINTS) ))   # header + archive info + 12 B per point, 1 day

echo "series=$SERIES points/series=$POINTS points=$total"
awk -v t="$tally_bytes" -v a="$tally_all" -v w="$whisper_bytes" -v wf="$whisper_full" -v n="$total" 'BEGIN {
  printf "tally segments:   %10d B  %6.2f B/bucket (whole data_dir %d B, %.2f B/bucket)\n", t, t/n, a, a/n
  printf "whisper (2d file): %10d B  %6.2f B/point (a 1-day file would be %d B, %.2f B/point)\n", w, w/n, wf, wf/n
  printf "ratio whisper(1 day)/tally = %.2f\n", wf/t
}'
