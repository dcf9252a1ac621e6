#!/usr/bin/env bash
# The web UI drawing core in headless Chromium (benches/ui/): (a) 16 live panels × 4 series
# fed at a 100 ms step by a fake /stream that follows the README contract, for SECONDS:
# frame intervals, frames over 50 ms, main-thread busy share, JS heap, draws per second;
# (b) 2 series × 200,000 points in view drawn by tally's Panel and by uPlot (npm `uplot`,
# installed here into target/peers/, never committed) in the same page, with the ratio.
#   scripts/bench-ui.sh [live|draw|all] [SECONDS]
# Needs node ≥ 20 and /usr/bin/chromium (or CHROMIUM=…); `ws` (the CDP client's socket) and
# `uplot` come from npm into target/peers/.
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH="${1:-all}"
SECS="${2:-60}"
for pkg in ws uplot; do
  if [ ! -d "target/peers/$pkg/node_modules/$pkg" ]; then
    mkdir -p "target/peers/$pkg"
    [ -f "target/peers/$pkg/package.json" ] || echo '{"private":true}' > "target/peers/$pkg/package.json"
    (cd "target/peers/$pkg" && npm install --no-audit --no-fund --silent "$pkg")
  fi
done
echo "machine: $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version)"
echo "uplot $(node -p "require('./target/peers/uplot/node_modules/uplot/package.json').version")"
echo "ui core: $(cat ui/ring.js ui/decimate.js ui/ticks.js ui/history.js ui/stream.js ui/scheduler.js ui/panel.js ui/panel-view.js ui/plot.js | wc -c) bytes"
node benches/ui/run.mjs "$WHICH" --seconds "$SECS"
