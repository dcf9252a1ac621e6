#!/usr/bin/env bash
# The live stream measured from outside (issue 13's numbers): a release tally on ephemeral
# loopback ports and examples/live_probe.rs printing observation → SSE latency p50/p99 for
# carbon and StatsD at a 100 ms step, bytes per live series per second on the wire, tally's CPU
# with 4 connections × 64 series (and without them), memory per watched series, and memory per
# watched StatsD timer (500 timers at 100 values/s; 3 minutes more; LIVE_PROBE_ONLY=timers for
# that alone; LIVE_PROBE_CONTROL=1 adds a second unwatched spell as the method's control;
# LIVE_PROBE_TIMERS / LIVE_PROBE_RATE change the 500 timers / 100 values a second;
# LIVE_PROBE_TIMER_RETENTION=1h:1d stores the timers in hour buckets, so the head hardly grows
# beside the rings; each memory reading waits for the daemon's next heap trim, logged with
# malloc's bytes in use).
#   scripts/bench-live.sh
#   nice -n -15 scripts/bench-live.sh    # on a shared machine (root): tally and the probe niced
#   TALLY=path/to/tally scripts/bench-live.sh    # measure another build of tally
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TALLY:-}" ]; then
  cargo build --release -q --bin tally
  TALLY=./target/release/tally
fi
cargo build --release -q --example live_probe
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:0 }
inputs:
  carbon: { listen: 127.0.0.1:0 }
  statsd: { listen: 127.0.0.1:0 }
  system: { enabled: false }
live: { max_series_per_connection: 10000 }
# No head flush during a run: one falling inside a memory spell (at 128 MiB of head, ~5 min
# into the timers' part) frees the head's buckets and spoils the comparison of spells.
storage:
  head_max_bytes: 2GiB
  head_flush_interval: 1h
  schemas:
    - { name: tally_self, pattern: '^tally\.', retentions: [10s:1d, 1m:30d, 1h:1y] }
    - { name: probe_timers, pattern: '^probe\.t\.', retentions: [${LIVE_PROBE_TIMER_RETENTION:-10s:7d, 1m:90d, 1h:5y}] }
    - { name: default, pattern: '.*', retentions: [10s:7d, 1m:90d, 1h:5y] }
YAML
TALLY_LOG=info,tally::agent::pipeline::commit=debug \
  "$TALLY" --log-format json run -c "$work/tally.yaml" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q 'tally is running' "$work/log" && break; sleep 0.1; done
addr() { jq -r "select(.fields.message == \"$1\") | .fields.addr" "$work/log" | head -1; }
echo "$(date -u +%F) $(nproc) cores, $(uname -r), $($TALLY --version)"
LIVE_PROBE_LOG="$work/log" ./target/release/examples/live_probe "$(addr 'HTTP listening.')" "$(addr 'Carbon listening on tcp.')" \
  "$(addr 'StatsD listening on udp.')" "$pid"
