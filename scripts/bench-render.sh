#!/usr/bin/env bash
# Sustained /render requests per second on this machine: one series over one year (8,760
# hourly points) as JSON, plain and through functions, served by a release tally and driven
# by ApacheBench (apache2-utils) with keep-alive. Prints ab's requests per second and latency.
#   scripts/bench-render.sh [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-15}"
CONC="${2:-8}"
if ! command -v ab >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils >/dev/null
fi
cargo build --release -q
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
read -r http carbon < <(python3 -c 'import socket
a=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in a]
print(*[s.getsockname()[1] for s in a])')
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:$http }
inputs:
  system: { enabled: false }
  carbon: { listen: 127.0.0.1:$carbon }
YAML
./target/release/tally run -c "$work/tally.yaml" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s "127.0.0.1:$http/version" >/dev/null && break; sleep 0.1; done
now=$(date +%s)
python3 - "$carbon" "$now" <<'PY'
import socket, sys
port, now = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
start = now - 365 * 86400
lines = [f"bench.year {i % 24} {start + i * 3600}\n" for i in range(365 * 24)]
lines += [f"bench.host{h}.req {(h * 7 + i) % 13} {now - 86400 + i * 60}\n" for h in range(10) for i in range(1440)]
s.sendall("".join(lines).encode())
s.close()
PY
url="http://127.0.0.1:$http/render?from=-365d&format=json"
for _ in $(seq 100); do
  n=$(curl -s "$url&target=bench.year" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for p in d[0]["datapoints"] if p[0] is not None) if d else 0)' 2>/dev/null || echo 0)
  [ "$n" -ge 8700 ] && break; sleep 0.2
done
echo "one series, one year: $n non-null points"
run() {
  local label=$1 target=$2 extra=${3:-}
  local out
  out=$(ab -k -q -c "$CONC" -t "$SECS" -n 10000000 "$url&target=$target$extra" 2>&1)
  printf '%-48s %10s req/s   mean %s ms   p99 %s ms\n' "$label" \
    "$(awk '/^Requests per second/ {print $4}' <<<"$out")" \
    "$(awk '/^Time per request/ && /mean\)$/ {print $4; exit}' <<<"$out")" \
    "$(awk '/^ *99%/ {print $2}' <<<"$out")"
  grep -q "^Non-2xx responses" <<<"$out" && { echo "non-2xx answers:"; echo "$out"; exit 1; } || true
}
echo "ab -k -c $CONC for ${SECS}s each, $(nproc) cores"
run "bench.year (8,760 points)" "bench.year"
run "bench.year maxDataPoints=800" "bench.year" "&maxDataPoints=800"
run "movingAverage(bench.year,24)" "movingAverage(bench.year,24)"
run "sumSeries(bench.host*.req) last day" "sumSeries(bench.host*.req)" "&from=-1d"
