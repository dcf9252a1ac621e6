#!/usr/bin/env bash
# Shipping benchmarks against real peers, all on 127.0.0.1 (install them as scripts/test.sh
# does: graphite-carbon, prometheus, victoria-metrics).
#
# 1. Throughput of each output type on one core: a spool of POINTS gauge buckets drained by the
#    output's sender (single-threaded runtime) to Prometheus, VictoriaMetrics, carbon-cache and
#    a second tally (benches/ship_peers.rs). Prints points/s (wall) and points per CPU-second.
# 2. Memory during an outage: a release tally takes RATE carbon lines/s (SERIES series, 10 s
#    tier) with a remote_write output whose peer is down, for OUTAGE_SECS; its RSS and spool
#    size are sampled every 10 s. The spool bound is SPOOL_MAX. PEER=up runs the same load with
#    the peer (VictoriaMetrics) up instead; HEAD_FLUSH sets the store's head_flush_interval.
#    Each row: RSS and anonymous memory (smaps_rollup), spool size, the store head's buckets,
#    records pending, buckets sent and dropped (over the bound) so far, carbon lines taken so far,
#    then tally's own view: heap in use (malloc, as of the last trim), the head's bytes, live
#    segments, and the 1-minute load average. HEAD_MAX sets storage.head_max_bytes.
#
#   POINTS=1000000 RATE=50000 SERIES=50000 OUTAGE_SECS=600 SPOOL_MAX=256MiB scripts/bench-ship.sh
#   (SKIP_THROUGHPUT=1 runs only the memory part; HOST_LOG=<file> keeps tally's log.)
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS=${POINTS:-1000000}
RATE=${RATE:-50000}
SERIES=${SERIES:-50000}
OUTAGE_SECS=${OUTAGE_SECS:-600}
SPOOL_MAX=${SPOOL_MAX:-256MiB}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 not open" >&2; exit 1; }

cargo build --release --locked --bin tally
tally=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/tally
echo "== machine: $(nproc) cores, $(date -u +%F)"

if [ -z "${SKIP_THROUGHPUT:-}" ]; then
echo "== 1. throughput per peer ($POINTS gauge buckets, one core)"
pp=$(port); /usr/bin/prometheus --config.file=<(echo 'global: {scrape_interval: 1m}') \
  --storage.tsdb.path="$work/prom" --web.listen-address=127.0.0.1:$pp --web.enable-remote-write-receiver \
  >"$work/prom.log" 2>&1 & pids+=($!)
vp=$(port); /usr/bin/victoria-metrics -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:$vp >"$work/vm.log" 2>&1 & pids+=($!)
cp=$(port); mkdir -p "$work/carbon/conf"
cat >"$work/carbon/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $work/carbon
LOCAL_DATA_DIR = $work/carbon/whisper
LOG_DIR = $work/carbon/log
PID_DIR = $work/carbon
USER =
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $cp
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $(port)
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $(port)
EOF
printf '[all]\npattern = .*\nretentions = 10s:1d\n' >"$work/carbon/conf/storage-schemas.conf"
/usr/bin/carbon-cache --config="$work/carbon/conf/carbon.conf" --nodaemon start >"$work/carbon.log" 2>&1 & pids+=($!)
tp=$(port)
cat >"$work/central.yaml" <<EOF
data_dir: $work/central
http: { listen: 127.0.0.1:$tp, max_body_bytes: 67108864 }
inputs: { system: { enabled: false }, carbon: { enabled: false } }
EOF
"$tally" run -c "$work/central.yaml" >"$work/central.log" 2>&1 & pids+=($!)
for p in $pp $vp $cp $tp; do wait_port "$p"; done
sleep 1
cargo bench --locked --bench ship_peers -- remote_write "http://127.0.0.1:$pp/api/v1/write" "$POINTS" 2>/dev/null | grep points | sed 's/^/prometheus     /'
cargo bench --locked --bench ship_peers -- remote_write "http://127.0.0.1:$vp/api/v1/write" "$POINTS" 2>/dev/null | grep points | sed 's/^/victoria       /'
cargo bench --locked --bench ship_peers -- carbon "127.0.0.1:$cp" "$POINTS" 2>/dev/null | grep points | sed 's/^/carbon-cache   /'
cargo bench --locked --bench ship_peers -- tally "http://127.0.0.1:$tp" "$POINTS" 2>/dev/null | grep points | sed 's/^/tally          /'
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
fi

echo "== 2. memory at $RATE lines/s over $SERIES series for ${OUTAGE_SECS}s, peer ${PEER:-down} (spool bound $SPOOL_MAX, head flush ${HEAD_FLUSH:-10m})"
# PEER=down: nothing listens at the output's address, every delivery fails and is retried (the
# outage). PEER=up: a VictoriaMetrics receives the same output (the same load without an
# outage), to tell the outage's memory from the store head's.
target=$(port)
if [ "${PEER:-down}" = up ]; then
  /usr/bin/victoria-metrics -storageDataPath="$work/vm2" -httpListenAddr=127.0.0.1:$target >"$work/vm2.log" 2>&1 & pids+=($!)
  wait_port "$target"
fi
hp=$(port); hc=$(port)
cat >"$work/host.yaml" <<EOF
data_dir: $work/host
http: { listen: 127.0.0.1:$hp }
inputs: { system: { enabled: false }, carbon: { listen: 127.0.0.1:$hc } }
storage: { head_flush_interval: ${HEAD_FLUSH:-10m}, head_max_bytes: ${HEAD_MAX:-128MiB} }
outputs:
  - { type: remote_write, url: 'http://127.0.0.1:$target/api/v1/write', spool_max_bytes: $SPOOL_MAX, exclude: [tally] }
EOF
"$tally" run -c "$work/host.yaml" >"$work/host.log" 2>&1 & host=$!; pids+=($host)
wait_port "$hc"; wait_port "$hp"
python3 - "$hc" "$RATE" "$SERIES" "$OUTAGE_SECS" <<'EOF' & feeder=$!; pids+=($feeder)
import socket, sys, time
port, rate, series, secs = (int(a) for a in sys.argv[1:])
names = [f"bench.host{i % 100}.m{i}" for i in range(series)]
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time(); k = 0
while time.time() - t0 < secs:
    now = int(time.time())
    lines = "".join(f"{names[(k + j) % series]} {j % 1000} {now}\n" for j in range(rate))
    k += rate
    s.sendall(lines.encode())
    time.sleep(max(0, 1 - (time.time() - t0) % 1))
EOF
# The sum (counters) or newest value (gauges) of one of the host's own series.
own() { curl -s "http://127.0.0.1:$hp/render?target=$1&from=-1h&format=json" | python3 -c '
import json, sys
v = [p[0] for s in json.load(sys.stdin) for p in s["datapoints"] if p[0] is not None]
print(int(sum(v)) if sys.argv[1] == "sum" else (int(v[-1]) if v else 0))' "$2"; }
max_rss=0
t0=$(date +%s)
echo "t rss_MiB anon_MiB spool_MiB head_buckets pending_records sent dropped lines_in heap_MiB head_MiB segments load1"
# A row about every 10 s; t is the real time since the feeder started.
while (( $(date +%s) - t0 < OUTAGE_SECS )); do
  sleep 10
  t=$(( $(date +%s) - t0 ))
  rss=$(awk '/^Rss:/ {print $2}' /proc/$host/smaps_rollup)
  anon=$(awk '/^Anonymous:/ {print $2}' /proc/$host/smaps_rollup)
  spool=$(du -sk "$work/host/spool" | cut -f1)
  (( rss > max_rss )) && max_rss=$rss
  echo "${t}s $((rss / 1024)) $((anon / 1024)) $((spool / 1024)) $(own tally.store.head_buckets last) $(own tally.ship.remote_write.pending_records last) $(own tally.ship.remote_write.sent:sum sum) $(own tally.ship.remote_write.dropped:sum sum) $(own tally.carbon.lines:sum sum) $(( $(own tally.memory.heap_bytes last) >> 20 )) $(( $(own tally.store.head_bytes last) >> 20 )) $(own tally.store.segments last) $(cut -d' ' -f1 /proc/loadavg)"
done
kill "$feeder" 2>/dev/null || true
echo "max RSS $((max_rss / 1024)) MiB; spool bound $SPOOL_MAX"
grep -c "Delivery failed" "$work/host.log" | sed 's/^/delivery-failure log lines (rate-limited): /' || true
# HOST_LOG=<file> keeps tally's log (with TALLY_LOG=info,tally::agent::pipeline=debug it has a
# "Heap trimmed." line with RSS and heap in use at the same moment every 30 s).
if [ -n "${HOST_LOG:-}" ]; then cp "$work/host.log" "$HOST_LOG"; fi
