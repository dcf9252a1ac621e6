#!/usr/bin/env bash
# tally's StatsD input vs etsy statsd (npm statsd@0.9.0) in one run, each pinned to one core
# (CPU 0), the load generator (examples/statsd_load.rs: prebuilt packets of 20 counters over
# 1,000 keys, sendmmsg) on CPU 1.
#  1. tally's loss curve: offered rate → metrics into buckets (tally.statsd.metrics minus
#     tally.statsd.dropped) and kernel receive-buffer drops (/proc/net/snmp RcvbufErrors);
#     rate 0 = the generator unpaced, as fast as it can.
#  2. tally's capacity on one core beyond what the generator can offer: tally is stopped
#     (SIGSTOP), the socket buffer filled, tally continued; metrics taken in ÷ the CPU time
#     and the wall time tally needed to empty it.
#  3. etsy's loss curve and maximum: what its flushes counted per second at each offered rate.
#  4. both at 50k metrics/s: CPU (% of one core) and RSS.
#   scripts/bench-statsd.sh   (env: SECS=5 RATES="500000 1000000 … 0" RCVBUF=536870912
#                              BURST_SECS=1 ETSY_RATES="250000 … 0")
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${SECS:-5}"
RATES="${RATES:-500000 1000000 2000000 3000000 4000000 0}"
RCVBUF="${RCVBUF:-536870912}"
BURST_SECS="${BURST_SECS:-1}"
ETSY_RATES="${ETSY_RATES:-250000 500000 1000000 2000000 0}"
ETSY=target/peers/statsd/node_modules/statsd/stats.js
if [ ! -f "$ETSY" ]; then
  mkdir -p target/peers/statsd
  npm install --silent --no-audit --no-fund --prefix target/peers/statsd statsd@0.9.0 >/dev/null
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q --locked --bin tally --example statsd_load
LOAD=target/release/examples/statsd_load
work=$(mktemp -d)
base=$((20000 + ($$ % 2000) * 10))
TALLY_PORT=$((base + 1)); TALLY_STATSD=127.0.0.1:$TALLY_PORT; TALLY_HTTP=127.0.0.1:$((base + 2))
ETSY_PORT=$((base + 3)); ETSY_MGMT=$((base + 4)); GRAPHITE=$((base + 5))
tpid=""; epid=""; gpid=""
cleanup() {
  [ -n "$tpid" ] && kill -CONT "$tpid" 2>/dev/null || true
  for p in $tpid $epid $gpid; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/tally.yaml" <<YAML
data_dir: $work/tally
http: { listen: $TALLY_HTTP }
self_metrics: { interval: 1s }
inputs:
  system: { enabled: false }
  carbon: { enabled: false }
  statsd: { listen: $TALLY_STATSD, tcp: false, recv_buffer_bytes: $RCVBUF, queue_batches: 4096 }
YAML
taskset -c 0 target/release/tally run -c "$work/tally.yaml" 2>"$work/tally.log" & tpid=$!
for _ in $(seq 100); do curl -sf "http://$TALLY_HTTP/version" >/dev/null && break; sleep 0.1; done

# What tally counted so far: sum over the last hour of a self-metric.
tally_total() {
  curl -sf "http://$TALLY_HTTP/render?target=$1:sum&from=-1h&until=now&format=json" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(sum(p[0] for s in d for p in s["datapoints"] if p[0] is not None)))'
}
rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h=1 }' /proc/net/snmp; }
into_tally() { echo $(( $(tally_total tally.statsd.metrics) - $(tally_total tally.statsd.dropped) )); }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# Bytes waiting in the receive queue of the UDP socket on port $1.
rx_queue() { echo $((16#$(awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { split($5, q, ":"); print q[2]; exit }' /proc/net/udp))); }
field() { sed "s/.*$1=\([0-9.]*\).*/\1/" <<<"$2"; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "== tally SO_RCVBUF granted: $(grep -o 'recv_buffer_bytes=[0-9]*' "$work/tally.log" | head -1)"
echo "== 1. tally loss curve (${SECS}s per rate, 20 metrics/packet, 1000 keys; 0 = unpaced)"
printf '%12s %12s %12s %12s %8s %12s\n' asked/s offered/s sent into_buckets loss% kernel_drops
for rate in $RATES; do
  before=$(into_tally); kb=$(rcvbuf_errors)
  out=$(taskset -c 1 "$LOAD" "$TALLY_STATSD" "$rate" "$SECS")
  for _ in $(seq 50); do [ "$(rx_queue $TALLY_PORT)" = 0 ] && break; sleep 0.2; done
  sleep 2.5
  after=$(into_tally); ka=$(rcvbuf_errors)
  sent=$(field sent_metrics "$out"); offered=$(field offered_per_sec "$out")
  got=$((after - before))
  python3 -c "print('%12d %12d %12d %12d %8.2f %12d' % ($rate, $offered, $sent, $got, 100*(1-$got/$sent), ($ka-$kb)*20))"
done

echo "== 2. tally's capacity on one core: ${BURST_SECS}s of unpaced load into its socket buffer while stopped, then continued"
sleep 2
idle0=$(cpu_ticks $tpid); sleep 3; idle1=$(cpu_ticks $tpid)
before=$(into_tally); kb=$(rcvbuf_errors)
kill -STOP $tpid
out=$(taskset -c 1 "$LOAD" "$TALLY_STATSD" 0 "$BURST_SECS")
ka=$(rcvbuf_errors); queued=$(rx_queue $TALLY_PORT)
c0=$(cpu_ticks $tpid); t0=$(date +%s.%N)
kill -CONT $tpid
while [ "$(rx_queue $TALLY_PORT)" != 0 ]; do sleep 0.005; done
t1=$(date +%s.%N)
sleep 3
c1=$(cpu_ticks $tpid); tc1=$(date +%s.%N)
sleep 2
got=$(( $(into_tally) - before ))
sent=$(field sent_metrics "$out")
python3 -c "
hz=$(getconf CLK_TCK); idle=($idle1-$idle0)/3/hz
cpu=($c1-$c0)/hz - idle*($tc1-$t0)
kept=$sent-($ka-$kb)*20
print('sent %d metrics, %d lost in the kernel (buffer full), %d queued (%.0f MiB), %d into buckets' % ($sent, ($ka-$kb)*20, kept, $queued/2**20, $got))
print('tally emptied the queue in %.2f s wall: %.0f metrics/s' % ($t1-$t0, kept/($t1-$t0)))
print('tally CPU for them (idle %.1f%% subtracted): %.2f s: %.0f metrics per CPU second' % (100*idle, cpu, $got/cpu))
open('$work/capacity', 'w').write('%f %f' % (kept/($t1-$t0), $got/cpu))"

# etsy statsd, its graphite backend flushing every second to a listener that adds up
# stats_counts.statsd.metrics_received.
cat > "$work/graphite.py" <<'PY'
import socket, sys, threading
total = 0
lock = threading.Lock()
def serve(c):
    global total
    buf = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        buf += d
    for line in buf.decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "stats_counts.statsd.metrics_received":
            with lock:
                total += int(float(f[1]))
                open(sys.argv[2], "w").write(str(total))
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
echo 0 > "$work/etsy_total"
python3 "$work/graphite.py" "$GRAPHITE" "$work/etsy_total" & gpid=$!
cat > "$work/etsy.js" <<JS
{ port: $ETSY_PORT, address: "127.0.0.1", mgmt_port: $ETSY_MGMT, mgmt_address: "127.0.0.1",
  graphiteHost: "127.0.0.1", graphitePort: $GRAPHITE, flushInterval: 1000 }
JS
(cd "$(dirname "$ETSY")" && exec taskset -c 0 node stats.js "$work/etsy.js" >"$work/etsy.log" 2>&1) & epid=$!
sleep 2
# etsy's UDP socket keeps the system default buffer ($(cat /proc/sys/net/core/rmem_default)
# bytes): its config cannot raise it.
etsy_total() { sleep 2.5; cat "$work/etsy_total"; }

echo "== 3. etsy's loss curve and maximum (${SECS}s per rate; 0 = unpaced)"
printf '%12s %12s %12s %12s %8s %14s\n' asked/s offered/s sent took_in/s loss% per_cpu_second
enode=$(pgrep -P "$epid" node || echo "$epid")
best=0; best_cpu=0
for rate in $ETSY_RATES; do
  before=$(etsy_total); c0=$(cpu_ticks "$enode")
  out=$(taskset -c 1 "$LOAD" "127.0.0.1:$ETSY_PORT" "$rate" "$SECS")
  e_got=$(( $(etsy_total) - before )); c1=$(cpu_ticks "$enode")
  line=$(python3 -c "
sent=$(field sent_metrics "$out"); got=$e_got; cpu=max(($c1-$c0)/$(getconf CLK_TCK), 0.01)
print('%12d %12d %12d %12.0f %8.2f %14.0f' % ($rate, $(field offered_per_sec "$out"), sent, got/$(field seconds "$out"), 100*(1-got/sent), got/cpu))")
  echo "$line"
  best=$(python3 -c "print(max($best, $(awk '{print $4}' <<<"$line")))")
  best_cpu=$(python3 -c "print(max($best_cpu, $(awk '{print $6}' <<<"$line")))")
done
python3 -c "
wall, cpu = map(float, open('$work/capacity').read().split())
print('etsy maximum: %.0f metrics/s, %.0f metrics per CPU second' % ($best, $best_cpu))
print('tally (2.) / etsy maximum: %.1fx per second of wall time, %.1fx per CPU second' % (wall / max($best, 1), cpu / max($best_cpu, 1)))"

echo "== 4. both at 50000 metrics/s for 10 s: CPU and RSS"
for who in tally etsy; do
  if [ $who = tally ]; then pid=$tpid; target=$TALLY_STATSD; else pid=$(pgrep -P "$epid" node || echo "$epid"); target=127.0.0.1:$ETSY_PORT; fi
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  taskset -c 1 "$LOAD" "$target" 50000 10 >/dev/null
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  python3 -c "print('%-5s CPU %.1f%% of one core, RSS %.1f MiB' % ('$who', 100*($c1-$c0)/$(getconf CLK_TCK)/($t1-$t0), $(rss_kib "$pid")/1024))"
done
