#!/usr/bin/env bash
# tally vs collectd, side by side in one run: all collect the same system set every 10 s for
# DURATION seconds (default 600), and this prints each one's CPU time (% of one core) and memory.
#
# tally: the default collectors (cpu, memory, loadavg, vmstat, diskspace, iostat, network,
# sockets, tcp, uptime) into its own store, HTTP and carbon on loopback.
# collectd (Debian collectd-core): cpu, memory, load, vmem, df, disk, interface, tcpconns,
# uptime, twice: written to CSV files (its simplest output) and to RRD files (rrdtool, the store
# Debian's collectd.conf enables and graphs are drawn from: the job closest to tally's store).
#   scripts/bench-collectd.sh [DURATION]
#   TALLY=path/to/tally scripts/bench-collectd.sh    # measure another build of tally
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-600}"
if [ "$(id -u)" = 0 ]; then
  need=()
  command -v collectd >/dev/null || [ -x /usr/sbin/collectd ] || need+=(collectd-core)
  [ -e /usr/lib/x86_64-linux-gnu/librrd.so.8 ] || need+=(librrd8)
  [ ${#need[@]} = 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
COLLECTD=$(command -v collectd || echo /usr/sbin/collectd)
if [ -z "${TALLY:-}" ]; then
  cargo build --release -q
  TALLY=./target/release/tally
fi
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
http: { listen: 127.0.0.1:0 }
inputs:
  carbon: { listen: 127.0.0.1:0 }
  system: { interval: 10s }
YAML
collectd_conf() { # $1 = name, $2 = the store's plugin block
  mkdir -p "$work/$1"
  cat > "$work/$1.conf" <<CONF
Interval 10
BaseDir "$work/$1"
PIDFile "$work/$1/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin vmem
LoadPlugin df
LoadPlugin disk
LoadPlugin interface
LoadPlugin tcpconns
LoadPlugin uptime
$2
CONF
}
collectd_conf csv "LoadPlugin csv
<Plugin csv>
  DataDir \"$work/csv/data\"
</Plugin>"
collectd_conf rrd "LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir \"$work/rrd/data\"
</Plugin>"
"$TALLY" run -c "$work/tally.yaml" 2> "$work/tally.log" & tpid=$!; pids+=("$tpid")
"$COLLECTD" -f -C "$work/csv.conf" > "$work/csv.log" 2>&1 & cpid=$!; pids+=("$cpid")
"$COLLECTD" -f -C "$work/rrd.conf" > "$work/rrd.log" 2>&1 & rpid=$!; pids+=("$rpid")
sleep 5 # all started; measure from here
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(cpu $tpid); c0=$(cpu $cpid); r0=$(cpu $rpid)
sleep "$DURATION"
t1=$(cpu $tpid); c1=$(cpu $cpid); r1=$(cpu $rpid)
# Resident memory splits into file-backed pages (program code and libraries, mapped from the page
# cache, shared and reclaimable) and anonymous memory (heap, stacks: what the process costs).
# PSS shares each page among the processes that map it.
report() { # name pid ticks
  awk -v n="$1" -v d="$DURATION" -v hz="$ticks" -v t="$3" '
    FILENAME ~ /status$/ && /^VmRSS/ {rss = $2} FILENAME ~ /status$/ && /^VmHWM/ {hwm = $2}
    FILENAME ~ /smaps_rollup$/ && /^Pss:/ {pss = $2}
    FILENAME ~ /smaps_rollup$/ && /^(Private_Dirty|Shared_Dirty):/ {anon += $2}
    END {printf "%-16s CPU %.3f%% of one core (%3d ticks)  RSS %5.1f MiB (peak %5.1f)  PSS %5.1f MiB  anonymous %4.1f MiB\n",
         n, 100*t/hz/d, t, rss/1024, hwm/1024, pss/1024, anon/1024}' "/proc/$2/status" "/proc/$2/smaps_rollup"
}
echo "over $DURATION s at a 10 s interval ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)):"
report tally "$tpid" $((t1 - t0))
report "collectd+csv" "$cpid" $((c1 - c0))
report "collectd+rrdtool" "$rpid" $((r1 - r0))
http=$(sed -n 's/.*HTTP listening\. addr=\([0-9.:]*\).*/\1/p' "$work/tally.log" | head -1)
echo "series: tally $(curl -s "http://$http/metrics/index.json" | tr ',' '\n' | grep -c servers || true)," \
  "collectd csv files $(find "$work/csv/data" -type f | wc -l), rrd files $(find "$work/rrd/data" -type f | wc -l)"
