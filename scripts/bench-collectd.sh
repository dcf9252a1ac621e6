#!/usr/bin/env bash
# tally vs collectd, side by side in one run: both collect the same system set every 10 s for
# DURATION seconds (default 600), and this prints each one's CPU time (% of one core) and memory.
#
# tally: the default collectors (cpu, memory, loadavg, vmstat, diskspace, iostat, network,
# sockets, tcp, uptime) into its own store, HTTP and carbon on loopback.
# collectd (Debian collectd-core): cpu, memory, load, vmem, df, disk, interface, tcpconns,
# uptime, written to CSV files (its simplest store).
#   scripts/bench-collectd.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-600}"
command -v collectd >/dev/null || [ -x /usr/sbin/collectd ] || {
  [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends collectd-core >/dev/null; }
COLLECTD=$(command -v collectd || echo /usr/sbin/collectd)
cargo build --release -q
work=$(mktemp -d)
cleanup() { kill "$tpid" "$cpid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
http: { listen: 127.0.0.1:0 }
inputs:
  carbon: { listen: 127.0.0.1:0 }
  system: { interval: 10s }
YAML
cat > "$work/collectd.conf" <<CONF
Interval 10
BaseDir "$work/collectd"
PIDFile "$work/collectd.pid"
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
LoadPlugin csv
<Plugin csv>
  DataDir "$work/csv"
</Plugin>
CONF
mkdir -p "$work/collectd"
./target/release/tally run -c "$work/tally.yaml" 2> "$work/tally.log" & tpid=$!
"$COLLECTD" -f -C "$work/collectd.conf" > "$work/collectd.log" 2>&1 & cpid=$!
sleep 5 # both started; measure from here
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(cpu $tpid); c0=$(cpu $cpid)
sleep "$DURATION"
t1=$(cpu $tpid); c1=$(cpu $cpid)
trss=$(awk '/VmRSS/ {print $2}' /proc/$tpid/status); thwm=$(awk '/VmHWM/ {print $2}' /proc/$tpid/status)
crss=$(awk '/VmRSS/ {print $2}' /proc/$cpid/status); chwm=$(awk '/VmHWM/ {print $2}' /proc/$cpid/status)
# Resident memory splits into file-backed pages (the program's own code, mapped from the page
# cache, shared and reclaimable) and anonymous memory (heap, stacks: what the process costs).
anon() { awk '/^(Private_Dirty|Shared_Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
tanon=$(anon $tpid); canon=$(anon $cpid)
series=$(ls "$work/csv"/*/ 2>/dev/null | wc -l)
awk -v d="$DURATION" -v hz="$ticks" -v t="$((t1 - t0))" -v c="$((c1 - c0))" \
    -v tr="$trss" -v th="$thwm" -v cr="$crss" -v ch="$chwm" -v ta="$tanon" -v ca="$canon" 'BEGIN {
  printf "over %d s at a 10 s interval:\n", d
  printf "tally:    CPU %.3f%% of one core (%d ticks)  RSS %.1f MiB (peak %.1f MiB)\n", 100*t/hz/d, t, tr/1024, th/1024
  printf "collectd: CPU %.3f%% of one core (%d ticks)  RSS %.1f MiB (peak %.1f MiB)\n", 100*c/hz/d, c, cr/1024, ch/1024
  if (t > 0) printf "CPU collectd/tally = %.2f\n", c/t; else print "CPU collectd/tally: tally used 0 ticks"
  printf "RSS collectd/tally = %.2f\n", cr/tr
  printf "anonymous (dirty) memory: tally %.1f MiB, collectd %.1f MiB; collectd/tally = %.2f\n", ta/1024, ca/1024, ca/ta
}'
