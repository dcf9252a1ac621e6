#!/usr/bin/env bash
# tally's StatsD input vs etsy statsd (npm statsd@0.9.0) in one run, each pinned to one core
# (CPU 0), the load generator (examples/statsd_load.rs, 20 counters per UDP packet) on CPU 1.
#  1. tally's loss curve: offered rate → metrics into buckets (tally.statsd.metrics minus
#     tally.statsd.dropped) and kernel receive-buffer drops (/proc/net/snmp RcvbufErrors).
#  2. the same high load into both: metrics each one took in per second, and the ratio.
#  3. both at 50k metrics/s: CPU (% of one core) and RSS.
#   scripts/bench-statsd.sh            (env: SECS=5 RATES="250000 500000 …" RCVBUF=8388608)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${SECS:-5}"
RATES="${RATES:-250000 500000 1000000 1500000 2000000 3000000 4000000}"
HIGH="${HIGH:-2000000}"
RCVBUF="${RCVBUF:-8388608}"
ETSY=target/peers/statsd/node_modules/statsd/stats.js
if [ ! -f "$ETSY" ]; then
  mkdir -p target/peers/statsd
  npm install --silent --no-audit --no-fund --prefix target/peers/statsd statsd@0.9.0 >/dev/null
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q --locked --bin tally --example statsd_load
LOAD=target/release/examples/statsd_load
work=$(mktemp -d)
base=$((20000 + ($$ % 2000) * 10))
TALLY_STATSD=127.0.0.1:$((base + 1)); TALLY_HTTP=127.0.0.1:$((base + 2))
ETSY_PORT=$((base + 3)); ETSY_MGMT=$((base + 4)); GRAPHITE=$((base + 5))
tpid=""; epid=""; gpid=""
cleanup() { for p in $tpid $epid $gpid; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
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

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ)"
echo "== tally SO_RCVBUF granted: $(grep -o 'recv_buffer_bytes=[0-9]*' "$work/tally.log" | head -1)"
echo "== 1. tally loss curve (${SECS}s per rate, 20 metrics/packet, 1000 keys)"
printf '%12s %12s %12s %8s %12s\n' offered/s sent into_buckets loss% kernel_drops
for rate in $RATES; do
  before=$(into_tally); kb=$(rcvbuf_errors)
  out=$(taskset -c 1 "$LOAD" "$TALLY_STATSD" "$rate" "$SECS")
  sleep 3
  after=$(into_tally); ka=$(rcvbuf_errors)
  sent=$(sed 's/.*sent_metrics=\([0-9]*\).*/\1/' <<<"$out")
  offered=$(sed 's/.*offered_per_sec=\([0-9]*\).*/\1/' <<<"$out")
  got=$((after - before))
  python3 -c "print('%12d %12d %12d %8.2f %12d' % ($offered, $sent, $got, 100*(1-$got/$sent), ($ka-$kb)*20))"
done

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
# The UDP socket's buffer: etsy uses the system default; raise it the same way is not possible
# from its config, so it runs with $(cat /proc/sys/net/core/rmem_default) bytes.
etsy_total() { sleep 2.5; cat "$work/etsy_total"; }

echo "== 2. the same load into both: ${HIGH} metrics/s offered for ${SECS}s"
before=$(into_tally); out=$(taskset -c 1 "$LOAD" "$TALLY_STATSD" "$HIGH" "$SECS"); sleep 3
t_got=$(( $(into_tally) - before ))
t_off=$(sed 's/.*offered_per_sec=\([0-9]*\).*/\1/' <<<"$out")
t_sec=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$out"); t_sent=$(sed 's/.*sent_metrics=\([0-9]*\).*/\1/' <<<"$out")
before=$(etsy_total); out=$(taskset -c 1 "$LOAD" "127.0.0.1:$ETSY_PORT" "$HIGH" "$SECS")
e_got=$(( $(etsy_total) - before ))
e_off=$(sed 's/.*offered_per_sec=\([0-9]*\).*/\1/' <<<"$out")
e_sec=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$out"); e_sent=$(sed 's/.*sent_metrics=\([0-9]*\).*/\1/' <<<"$out")
python3 -c "
t=$t_got/$t_sec; e=$e_got/$e_sec
print('tally: offered %d/s, took in %d of %d = %.0f metrics/s' % ($t_off, $t_got, $t_sent, t))
print('etsy:  offered %d/s, took in %d of %d = %.0f metrics/s' % ($e_off, $e_got, $e_sent, e))
print('ratio tally/etsy: %.1fx' % (t / max(e, 1)))"

echo "== 3. both at 50000 metrics/s for 10 s: CPU and RSS"
for who in tally etsy; do
  if [ $who = tally ]; then pid=$tpid; target=$TALLY_STATSD; else pid=$(pgrep -P "$epid" node || echo "$epid"); target=127.0.0.1:$ETSY_PORT; fi
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  taskset -c 1 "$LOAD" "$target" 50000 10 >/dev/null
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  python3 -c "print('%-5s CPU %.1f%% of one core, RSS %.1f MiB' % ('$who', 100*($c1-$c0)/$(getconf CLK_TCK)/($t1-$t0), $(rss_kib "$pid")/1024))"
done
