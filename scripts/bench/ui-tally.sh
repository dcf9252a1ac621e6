# Sourced by bench-ui-netdata.sh and bench-ui-variants.sh: starts the release tally they measure
# and its feed, with $work, $http, $statsd, $TALLY, NICE and pids set by the caller.
# tally: 16 panels × 4 gauges, live, 40 s in view (a pixel of a ~500 px plot is under 100 ms, so
# every 100 ms slot is drawn); a feeder sends the 64 gauges every 100 ms.
start_ui_bench_tally() {
  mkdir -p "$work/dash"
  {
    printf 'title: Bench\nfrom: -40s\nuntil: now\nlive: true\npanels:\n'
    for p in $(seq 0 15); do echo "  - { title: panel $p, height: 150, targets: ['bench.p$p.s{0,1,2,3}'] }"; done
  } > "$work/dash/bench.yaml"
  cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:$http }
dashboard_dirs: [$work/dash]
inputs:
  statsd: { listen: 127.0.0.1:$statsd }
  system: { enabled: false }
YAML
  "${NICE[@]}" "$TALLY" run -c "$work/tally.yaml" > "$work/tally.log" 2>&1 & pids+=($!)
  python3 - "$statsd" > /dev/null 2>&1 <<'PY' & pids+=($!)
import math, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port, k = int(sys.argv[1]), 0
while True:
    k += 1
    lines = [f"bench.p{p}.s{i}:{50 + 40 * math.sin(k / 20 + p + i):.3f}|g" for p in range(16) for i in range(4)]
    s.sendto("\n".join(lines).encode(), ("127.0.0.1", port))
    time.sleep(0.1 - time.time() % 0.1)
PY
}
