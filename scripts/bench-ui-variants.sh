#!/usr/bin/env bash
# Variants of the UI's files on the real page without a rebuild (issue 14): a release tally fed
# like bench-ui-netdata.sh (StatsD, 64 gauges every 100 ms, a dashboard of 16 live panels × 4),
# then benches/ui/variants.mjs: each DIR's files served as /ui/* in turn, renderer and gpu
# process CPU over SECONDS each, ROUNDS rounds alternated. Copy ui/ to a scratch dir, change it,
# and compare:  scripts/bench-ui-variants.sh [-s SECONDS] [-r ROUNDS] ui /tmp/variant ... [--paired]
# --paired (after the dirs) opens every dir's page at once and measures them over the same
# seconds: on this shared machine two copies of the same page then agree within ~0.6 point,
# where runs one after the other differ by up to 5. --trace: where the renderer's time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=20 ROUNDS=3
while getopts s:r: o; do case $o in s) SECS=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
TALLY="${TALLY:-./target/release/tally}"
[ -x "$TALLY" ] || cargo build --release -q --bin tally
NICE=()
[ "$(id -u)" = 0 ] && NICE=(nice -n -15)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"' EXIT
read -r http statsd < <(python3 -c 'import socket
a=[socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
[s.bind(("127.0.0.1",0)) for s in a]
print(*[s.getsockname()[1] for s in a])')
mkdir -p "$work/dash"
{
  printf 'title: Bench\nfrom: -40s\nuntil: now\nlive: true\npanels:\n'
  for p in $(seq 0 15); do echo "  - { title: panel $p, height: 150, targets: ['bench.p$p.s{0,1,2,3}'] }"; done
} > "$work/dash/bench.yaml"
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:$http }
dashboard_dirs: [$work/dash]
inputs:
  statsd: { listen: 127.0.0.1:$statsd }
  system: { enabled: false }
YAML
"${NICE[@]}" "$TALLY" run -c "$work/tally.yaml" > "$work/tally.log" 2>&1 & pids+=($!)
python3 - "$statsd" > /dev/null 2>&1 <<'PY' & pids+=($!)
import math, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port, k = int(sys.argv[1]), 0
while True:
    k += 1
    lines = [f"bench.p{p}.s{i}:{50 + 40 * math.sin(k / 20 + p + i):.3f}|g" for p in range(16) for i in range(4)]
    s.sendto("\n".join(lines).encode(), ("127.0.0.1", port))
    time.sleep(0.1 - time.time() % 0.1)
PY
for _ in $(seq 100); do curl -sf "127.0.0.1:$http/version" > /dev/null && break; sleep 0.2; done
sleep 5 # the series exist
echo "machine: $(nproc) cpus, $(uname -sr), $("$TALLY" --version)"
"${NICE[@]}" node benches/ui/variants.mjs --tally "http://127.0.0.1:$http" --seconds "$SECS" --rounds "$ROUNDS" "$@"
