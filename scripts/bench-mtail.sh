#!/usr/bin/env bash
# tally vs mtail on the same nginx access log, in one run: lines/s and peak memory.
#
# Generates an nginx log in the `combined` format plus $request_time (default ~1 GB), then
# replays it once through tally's shipped nginx_access parser (`tally parse`: read, parse,
# aggregate into per-series totals) and through an equivalent mtail program
# (scripts/bench/nginx.mtail, `mtail --one_shot`), timing both with /usr/bin/time.
#   scripts/bench-mtail.sh [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES="${1:-7000000}"
command -v mtail >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mtail >/dev/null; }
[ -x /usr/bin/time ] || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$LINES" > "$work/access.log" <<'PY'
import random, sys
random.seed(7)
n = int(sys.argv[1])
ips = [f"10.{random.randint(0,255)}.{random.randint(0,255)}.{random.randint(1,254)}" for _ in range(500)]
paths = ["/", "/index.html", "/api/v1/users", "/api/v1/orders?id=42", "/static/app.js", "/health", "/login"]
methods = ["GET"] * 8 + ["POST", "PUT", "DELETE", "HEAD"]
statuses = [200] * 20 + [201, 204, 301, 302, 304, 400, 401, 403, 404, 404, 500, 502, 503]
agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "curl/8.5.0", "kube-probe/1.28", "Go-http-client/1.1"]
out = sys.stdout
t = 1705300000
for i in range(n):
    if i % 50 == 0:
        t += 1
    sec = t % 86400
    ts = f"15/Jan/2024:{sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0000"
    out.write(f'{random.choice(ips)} - - [{ts}] "{random.choice(methods)} {random.choice(paths)} HTTP/1.1" '
              f'{random.choice(statuses)} {random.randint(0, 50000)} "https://example.com/" "{random.choice(agents)}" '
              f'{random.randint(1, 3000) / 1000:.3f}\n')
PY
bytes=$(stat -c %s "$work/access.log")
echo "log: $LINES lines, $bytes bytes"
# Warm the page cache so both read from memory.
cat "$work/access.log" > /dev/null

run() { # name, command...: prints "name seconds maxrss_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.$name" "$@" > "$work/out.$name" 2> "$work/err.$name" || { cat "$work/err.$name"; exit 1; }
  read -r secs rss < "$work/time.$name"
  echo "$name $secs $rss"
}
t=$(run tally ./target/release/tally parse --parser nginx_access --parser-file parsers "$work/access.log")
m=$(run mtail mtail --one_shot --one_shot_format prometheus --progs scripts/bench/nginx.mtail --logs "$work/access.log" --logtostderr=false)
grep -E '^requests.total ' "$work/out.tally" | sed 's/^/tally:  /'
grep -E '^requests_total' "$work/out.mtail" | head -1 | sed 's/^/mtail:  /'
echo "$t" "$m" | awk -v n="$LINES" '{
  printf "tally: %7.2f s  %10.0f lines/s  max RSS %7.1f MiB\n", $2, n/$2, $3/1024
  printf "mtail: %7.2f s  %10.0f lines/s  max RSS %7.1f MiB\n", $5, n/$5, $6/1024
  printf "ratio tally/mtail lines/s = %.2f, memory mtail/tally = %.2f\n", ($5/$2), ($6/$3)
}'
