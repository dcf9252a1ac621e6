#!/usr/bin/env bash
# First paint of the web UI's overview on loopback: a tally with the system collectors (1 s,
# a minute of data) and headless Debian chromium through chromedriver. Each run loads `/` in a
# fresh tab and reads, from the page: first-contentful-paint, `tally:screen-ready` (app.js has
# built the overview and its panels) and the first animation frame after every panel holds its
# data (window.tally.panels[].panel.data). Prints the median and the worst of RUNS loads, cold
# (first load, empty cache) and warm (ETag revalidation).
#   scripts/bench-ui-paint.sh [RUNS] [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-15}"
PROFILE="${2:-release}"
if [ "$PROFILE" = release ]; then cargo build --release -q; else cargo build -q; fi
work=$(mktemp -d)
trap 'kill $pid $driver 2>/dev/null || true; rm -rf "$work"' EXIT
read -r http carbon statsd wd < <(python3 -c 'import socket
a=[socket.socket() for _ in range(4)]
[s.bind(("127.0.0.1",0)) for s in a]
print(*[s.getsockname()[1] for s in a])')
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
hostname: bench
http: { listen: 127.0.0.1:$http }
dashboard_dirs: [$PWD/dashboards]
self_metrics: { interval: 1s }
inputs:
  system: { interval: 1s }
  carbon: { listen: 127.0.0.1:$carbon }
  statsd: { listen: 127.0.0.1:$statsd }
YAML
"./target/$PROFILE/tally" run -c "$work/tally.yaml" > "$work/log" 2>&1 &
pid=$!
chromedriver --port="$wd" > "$work/driver.log" 2>&1 &
driver=$!
for _ in $(seq 100); do curl -s "127.0.0.1:$http/version" >/dev/null && curl -s "127.0.0.1:$wd/status" >/dev/null && break; sleep 0.1; done
echo "== a minute of collector data"
sleep 60
python3 - "$wd" "$http" "$RUNS" "$work" <<'PY'
import json, sys, urllib.request, statistics
wd, http, runs, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{wd}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=120))["value"]
flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding", "--window-size=1280,900", "--force-device-scale-factor=1",
    f"--user-data-dir={work}/profile"]
s = call("POST", "/session", {"capabilities": {"alwaysMatch": {"browserName": "chrome",
    "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": flags}}}})["sessionId"]
probe = """
const done = arguments[arguments.length - 1];
const t0 = performance.now();
(function wait() {
  const ps = (window.tally || {}).panels || [];
  if (window.tally && window.tally.ready && ps.length && ps.every(p => Array.isArray(p.panel.data))) {
    requestAnimationFrame(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const ready = performance.getEntriesByName('tally:screen-ready')[0];
      done({fcp: fcp ? fcp.startTime : null, ready: ready ? ready.startTime : null,
            drawn: performance.now(), panels: ps.length});
    });
  } else if (performance.now() - t0 > 20000) done(null);
  else setTimeout(wait, 2);
})();"""
results = {"cold": [], "warm": []}
for i in range(runs + 1):
    call("POST", f"/session/{s}/url", {"url": "about:blank"})
    if i == 0:
        call("POST", f"/session/{s}/goog/cdp/execute", {"cmd": "Network.clearBrowserCache", "params": {}})
    call("POST", f"/session/{s}/url", {"url": f"http://127.0.0.1:{http}/"})
    r = call("POST", f"/session/{s}/execute/async", {"script": probe, "args": []})
    if r is None:
        sys.exit("the overview did not finish drawing in 20 s")
    results["cold" if i == 0 else "warm"].append(r)
call("DELETE", f"/session/{s}")
for kind, rs in results.items():
    for key in ("fcp", "ready", "drawn"):
        v = [r[key] for r in rs if r[key] is not None]
        print(f"{kind:5} {key:6} median {statistics.median(v):7.1f} ms  worst {max(v):7.1f} ms  ({len(v)} loads, {rs[0]['panels']} panels)")
PY
