#!/usr/bin/env bash
# tally's web UI beside Netdata's dashboard in headless Chromium (issue 14): a release tally
# (StatsD on; 64 gauges fed every 100 ms by this script; a dashboard file of 16 live panels × 4
# of them) and Debian's netdata (update every 1 s, web server on a free loopback port, its web
# files copied with one extra page of 16 charts drawn by the package's dashboard.js, the v1
# dashboard). The same browser settings (benches/ui/cdp.mjs, window 1280×2600 so all 16 charts
# are on screen), one browser after the other; benches/ui/vs-netdata.mjs prints each renderer's
# CPU (% of a core) over SECONDS, updates per second and tally's share of Netdata's.
# chromium (and tally, netdata) run under `nice -n -15` when run as root.
#   scripts/bench-ui-netdata.sh [SECONDS]
#   TALLY=path/to/tally scripts/bench-ui-netdata.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-60}"
NETDATA=$(command -v netdata || echo /usr/sbin/netdata)
[ -x "$NETDATA" ] || { echo "netdata not installed (apt-get install netdata)" >&2; exit 1; }
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
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
read -r http statsd nport < <(python3 -c 'import socket
a=[socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()]
[s.bind(("127.0.0.1",0)) for s in a]
print(*[s.getsockname()[1] for s in a])')

. scripts/bench/ui-tally.sh
start_ui_bench_tally

# netdata: its web files with one more page, 16 charts of the ones it collects
user=$(id -un)
nd="$work/netdata"
mkdir -p "$nd/etc" "$nd/cache" "$nd/lib" "$nd/log" "$nd/run"
touch "$nd/etc/.opt-out-from-anonymous-statistics"
cp -r /usr/share/netdata/web "$work/web"
cat > "$nd/etc/netdata.conf" <<CONF
[global]
    run as user = $user
    hostname = bench
[db]
    update every = 1
    mode = dbengine
[directories]
    config = $nd/etc
    stock config = /usr/lib/netdata/conf.d
    web = $work/web
    log = $nd/log
    cache = $nd/cache
    lib = $nd/lib
    home = $nd
    run = $nd/run
[logs]
    debug log = none
    error log = $nd/log/error.log
    access log = $nd/log/access.log
[web]
    bind to = 127.0.0.1:$nport
    web files owner = $user
    web files group = $(id -gn)
[plugins]
    apps = no
    cgroups = no
    enable running new plugins = no
[ml]
    enabled = no
[health]
    enabled = no
[registry]
    enabled = no
CONF
[ "$(id -u)" = 0 ] && chown -R "$user" "$nd" "$work/web"
DO_NOT_TRACK=1 "${NICE[@]}" "$NETDATA" -D -c "$nd/etc/netdata.conf" -P "$nd/run/netdata.pid" > "$work/netdata.log" 2>&1 & pids+=($!)
for _ in $(seq 300); do
  curl -sf "127.0.0.1:$nport/api/v1/charts" -o "$work/charts.json" && curl -sf "127.0.0.1:$http/version" >/dev/null && break
  sleep 0.2
done
sleep 15 # netdata's charts and tally's series exist
curl -sf "127.0.0.1:$nport/api/v1/charts" -o "$work/charts.json"
python3 - "$work/charts.json" > "$work/web/tally-bench.html" <<'PY'
import json, sys
charts = json.load(open(sys.argv[1]))["charts"].values()
pick = sorted((c for c in charts if c["update_every"] == 1 and 2 <= len(c["dimensions"]) <= 8),
              key=lambda c: (c["priority"], c["id"]))[:16]
print('<!DOCTYPE html><html><head><meta charset="utf-8"><title>bench</title>')
print('<script>var netdataShowHelp = false; var netdataRegistry = false;</script>')
print('<script src="dashboard.js"></script></head><body>')
print('<div style="display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:8px">')
for c in pick:
    print(f'<div data-netdata="{c["id"]}" data-after="-40" data-height="150px" data-width="100%" data-title="{c["title"]}"></div>')
print('</div></body></html>')
print(", ".join(f'{c["id"]} ({len(c["dimensions"])})' for c in pick), file=sys.stderr)
PY
echo "machine: $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $("$TALLY" --version), netdata $("$NETDATA" -v 2>&1 | head -1)"
"${NICE[@]}" node benches/ui/vs-netdata.mjs --seconds "$SECS" --hz "$(getconf CLK_TCK)" \
  --tally "http://127.0.0.1:$http/?bench=1#/dashboard/bench" \
  --netdata "http://127.0.0.1:$nport/tally-bench.html" --netdata-log "$nd/log/access.log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
