#!/usr/bin/env bash
# Side by side: the real etsy statsd 0.9.0 (npm `statsd`, as scripts/test.sh installs it into
# target/peers/statsd) and tally's etsy-compatible flush (a carbon output with a `statsd:`
# block) over the same seeded random StatsD traffic, window by window, for several etsy
# configs (scripts/compare-statsd.py, CONFIGS). scripts/statsd_random.py makes the traffic:
# every type (c, ms, g with +/-, s, h, d), sample rates valid and not, multi-value lines,
# DogStatsD tags, keys to sanitize (spaces, slashes, odd characters, Unicode), JavaScript's
# number syntax (exponents, hex, leading +, `.5`, `5.`, Infinity, NaN, empty), huge and tiny
# values, negative timers, gauges moved below zero, odd set members, bad lines, empty lines,
# CRLF, several lines per UDP datagram, TCP connections, idle windows. Each flushed name holds
# its group's token (kNNNN), so a difference is printed with the lines that made it; known
# ones are explained by scripts/statsd_known.py (printed with -v), any other exits 1.
#
#   scripts/compare-statsd.sh --seed S [--windows N] [--config NAME] [--keep DIR] [-v]
#
# N windows of 2 s (default 10) per config; without --config every config runs (about 30 s
# each). `python3 scripts/statsd_random.py N S` prints a seed's packets. Needs node and the
# npm package (TALLY_ETSY_STATSD=path/to/stats.js to use another). Not in scripts/test.sh:
# it takes minutes and tests/statsd_etsy.rs covers the same ground in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
stats_js="${TALLY_ETSY_STATSD:-$PWD/target/peers/statsd/node_modules/statsd/stats.js}"
if ! command -v node >/dev/null || [ ! -f "$stats_js" ]; then
  echo "node or etsy statsd is missing (scripts/test.sh installs it into target/peers/statsd)" >&2
  exit 2
fi
if [ -n "${TALLY:-}" ]; then tally="$TALLY"; else cargo build -q; tally=target/debug/tally; fi
exec python3 scripts/compare-statsd.py "$tally" "$stats_js" "$@"
