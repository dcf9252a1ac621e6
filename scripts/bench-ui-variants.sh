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
. scripts/bench/ui-tally.sh
start_ui_bench_tally
for _ in $(seq 100); do curl -sf "127.0.0.1:$http/version" > /dev/null && break; sleep 0.2; done
sleep 5 # the series exist
echo "machine: $(nproc) cpus, $(uname -sr), $("$TALLY" --version)"
"${NICE[@]}" node benches/ui/variants.mjs --tally "http://127.0.0.1:$http" --seconds "$SECS" --rounds "$ROUNDS" "$@"
