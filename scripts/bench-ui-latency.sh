#!/usr/bin/env bash
# Observation to pixel in the web UI: a release tally on free loopback ports (StatsD on, the
# system collectors off) and headless Chromium on tally's Explore screen, live, for one StatsD
# gauge; benches/ui/latency.mjs sends N values over UDP (137 ms apart) and reads, from the
# page's draw hook (`/?bench=1`), when each value was first drawn: p50/p95/p99 in ms.
# tally and chromium run under `nice -n -15` (run as root on a shared machine).
#   scripts/bench-ui-latency.sh [N]
#   TALLY=path/to/tally scripts/bench-ui-latency.sh    # measure another build
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-400}"
if [ -z "${TALLY:-}" ]; then
  cargo build --release -q --bin tally
  TALLY=./target/release/tally
fi
if [ ! -d target/peers/ws/node_modules/ws ]; then
  mkdir -p target/peers/ws
  [ -f target/peers/ws/package.json ] || echo '{"private":true}' > target/peers/ws/package.json
  (cd target/peers/ws && npm install --no-audit --no-fund --silent ws)
fi
NICE=()
[ "$(id -u)" = 0 ] && NICE=(nice -n -15)
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
read -r http statsd < <(python3 -c 'import socket
a=[socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
[s.bind(("127.0.0.1",0)) for s in a]
print(*[s.getsockname()[1] for s in a])')
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:$http }
inputs:
  statsd: { listen: 127.0.0.1:$statsd }
  system: { enabled: false }
YAML
"${NICE[@]}" "$TALLY" run -c "$work/tally.yaml" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s "127.0.0.1:$http/version" >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $("$TALLY" --version)"
"${NICE[@]}" node benches/ui/latency.mjs --http "127.0.0.1:$http" --statsd "$statsd" --n "$N"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
