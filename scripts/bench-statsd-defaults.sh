#!/usr/bin/env bash
# StatsD at the packaged defaults (issue 18): loss at 1 M metrics/s and whether every counter
# is exact. tally runs with the StatsD section of config/tally.yaml as packaged (16 MiB
# receive buffer asked, queue_batches 1024), as an unprivileged user (so the kernel caps the
# buffer at net.core.rmem_max, as for the service) after `sysctl -p` of the packages'
# packaging/sysctl.d/60-tally.conf. The sender (examples/statsd_load) sends RATE metrics/s
# for SECS seconds, 20 counters `load.k<i>:1|c` a packet over 1000 keys, cycling through 50
# distinct packets: a whole number of cycles gives every key exactly sent/1000 counts, the
# ground truth. Both run under nice -n -15. Afterwards: metrics taken in, loss, the kernel's
# drops (tally.statsd.kernel_drops and /proc/net/snmp RcvbufErrors), tally's own queue drops,
# and the sum of every key's counter over the run compared with the truth.
#   scripts/bench-statsd-defaults.sh       (root; env: RATE=1000000 SECS=30 SKIP_BUILD=1
#                                           LOAD=<a statsd_load binary> TALLY=<a tally binary>)
# CONTROL=1 runs the same without the drop-in (rmem_max at the kernel's default 212992).
# rmem_max is put back as it was when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-1000000}"
SECS="${SECS:-30}"
[ "$(id -u)" = 0 ] || { echo "needs root (sysctl, nice -n -15)" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q --locked --bin tally --example statsd_load
LOAD="${LOAD:-target/release/examples/statsd_load}"
TALLY="${TALLY:-target/release/tally}"
work=$(mktemp -d)
chmod 755 "$work"
mkdir "$work/data" && chown nobody "$work/data"
old_rmem=$(sysctl -n net.core.rmem_max)
tpid=""
cleanup() {
  [ -n "$tpid" ] && kill "$tpid" 2>/dev/null || true
  sysctl -q -w net.core.rmem_max="$old_rmem"
  [ -n "${KEEP:-}" ] && cp "$work/tally.log" "$work/tally.yaml" /tmp/pkgrepro/ 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${CONTROL:-}" ]; then
  sysctl -w net.core.rmem_max=212992 # the kernel's default cap: what tally gets without the drop-in
else
  sysctl -p packaging/sysctl.d/60-tally.conf
fi

read -r http_port statsd_port < <(python3 -c 'import socket
s = [socket.socket(socket.AF_INET, t) for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
# The packaged StatsD section, verbatim (listen address aside).
statsd=$(sed -n '/^  statsd:$/,/^$/p' config/tally.yaml | grep -v '^ *#' |
  sed "s/127.0.0.1:8125/127.0.0.1:$statsd_port/")
cat >"$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:$http_port }
self_metrics: { interval: 1s }
inputs:
  system: { enabled: false }
$statsd
YAML
grep -q "recv_buffer_bytes: 16777216" "$work/tally.yaml" || { echo "no packaged statsd section" >&2; exit 1; }
nice -n -15 setpriv --reuid=nobody --regid=nogroup --clear-groups \
  "$TALLY" run -c "$work/tally.yaml" 2>"$work/tally.log" &
tpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/version" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$http_port/version" >/dev/null || { cat "$work/tally.log"; exit 1; }
granted=$(grep -o 'recv_buffer_bytes[^,]*' "$work/tally.log" | head -1 || true)

total() {
  curl -sf "http://127.0.0.1:$http_port/render?target=$1&from=-1h&until=now&format=json" |
    python3 -c 'import json,sys
d = json.load(sys.stdin)
print(int(sum(p[0] for s in d for p in s["datapoints"] if p[0] is not None)))'
}
rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h=1 }' /proc/net/snmp; }
rx_queue() { echo $((16#$(awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { split($5, q, ":"); print q[2]; exit }' /proc/net/udp))); }

echo "== $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== net.core.rmem_max $(sysctl -n net.core.rmem_max); tally (as nobody): $granted"
k0=$(rcvbuf_errors)
out=$(nice -n -15 "$LOAD" "127.0.0.1:$statsd_port" "$RATE" "$SECS")
echo "== load average after sending: $(cut -d' ' -f1-3 /proc/loadavg)"
k1=$(rcvbuf_errors)
for _ in $(seq 100); do [ "$(rx_queue "$statsd_port")" = 0 ] && break; sleep 0.1; done
sleep 3 # the last feed folded and committed (commit interval 1 s)
field() { sed "s/.*$1=\([0-9.]*\).*/\1/" <<<"$out"; }
sent=$(field sent_metrics); packets=$(field sent_packets); errors=$(field send_errors)
got=$(total 'load.k*:sum')
kdrops=$(total 'tally.statsd.kernel_drops:sum')
qdrops=$(total 'tally.statsd.dropped:sum')
curl -sf "http://127.0.0.1:$http_port/render?target=load.k*:sum&from=-1h&until=now&format=json" >"$work/keys.json"
python3 - "$work/keys.json" "$sent" "$packets" "$errors" "$got" "$kdrops" "$qdrops" \
  "$((k1 - k0))" "$out" <<'PY'
import json, sys
keys_json, sent, packets, errors, got, kdrops, qdrops, snmp, out = sys.argv[1:]
sent, packets, errors, got = int(sent), int(packets), int(errors), int(got)
per_key = {s["target"]: int(sum(p[0] for p in s["datapoints"] if p[0] is not None))
           for s in json.load(open(keys_json))}
print(f"sender: {out}")
cycles_whole = packets % 50 == 0 and errors == 0
truth = sent // 1000 if cycles_whole else None
print(f"sent {sent} metrics in {packets} packets ({errors} send errors); "
      f"ground truth per key: {truth if truth is not None else 'not exact (partial cycle or send errors)'}")
print(f"taken in (sum of every load.k* counter): {got}; loss {100 * (1 - got / sent):.4f} %")
print(f"kernel drops: tally.statsd.kernel_drops {kdrops} datagrams, /proc/net/snmp RcvbufErrors +{snmp}; "
      f"tally's queue drops (tally.statsd.dropped): {qdrops}")
if truth is not None:
    exact = sum(1 for v in per_key.values() if v == truth)
    off = sorted((v - truth) for v in per_key.values() if v != truth)
    print(f"keys: {len(per_key)} of 1000 present, {exact} exact"
          + (f", off by {off[:5]}…{off[-5:]}" if off else ""))
PY
