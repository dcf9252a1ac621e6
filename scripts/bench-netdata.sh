#!/usr/bin/env bash
# tally vs Netdata, idle, side by side in one run, for DURATION seconds (default 300): prints each
# one's CPU time (% of one core) and memory, and tally's share of Netdata's.
#
#   tally 1 s  — the default config's system input (collectors sample every second, folded into
#                the 10 s buckets), its store, HTTP and carbon on loopback.
#   tally 10 s — the same with `inputs.system.interval: 10s` (what tally sampled before).
#   tally 1 s, commit 10 s — 1 s samples with `storage.commit_interval: 10s`: what the durable
#                commit every second (WAL write + fdatasync) costs. Not a recommended setting.
#   floor — the kernel's cost of only reading the /proc files tally 1 s holds open, once
#                (examples/proc_floor.rs): no agent that reads them can cost less.
#   netdata, same kinds — Debian's netdata, update every 1 s, its dbengine store, web server on
#                a free loopback port, collecting the same kinds of metrics as tally: proc.plugin
#                (cpu, memory, load, vmstat, disks, network, sockets, tcp, uptime, pressure …) and
#                diskspace; apps, cgroups, tc, idlejitter, statsd, ML, health and the external
#                plugins (go.d, python.d, charts.d, ebpf) off — each would only add to its cost.
#   netdata, stock — the same netdata with Debian's defaults (only its directories, port and
#                user set): what an operator who installs the package runs.
#   Each netdata's CPU and memory are the sum over its process tree (plugins included).
#
#   CPU is given twice: in clock ticks (utime+stime, 1/100 s: coarse over a few minutes) and in
#   nanoseconds of run time from /proc/PID/task/*/schedstat (summed over the threads of the tree).
#   Caveat of the second: a task that exits during the run takes its run time with it (netdata's
#   short-lived helpers, tally's blocking-pool threads that retire after 10 s idle); the tick
#   figure keeps it (cutime/cstime). As root, each measured process tree is also moved into a
#   cgroup v1 cpuacct group of its own (/sys/fs/cgroup/cpuacct/tally-bench.*, removed at the
#   end), whose cpuacct.usage counts every task's run time in ns, exited ones included: the
#   precise figure. Then, per thread name (comm), the run time and the context switches a second
#   (voluntary + involuntary, from /proc/PID/task/*/status): every wake-up has an owner.
#
#   scripts/bench-netdata.sh [DURATION]
#   nice -n -15 scripts/bench-netdata.sh    # on a shared machine (root): every process measured niced
#   TALLY=path/to/tally scripts/bench-netdata.sh    # measure another build of tally
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-300}"
NETDATA=$(command -v netdata || echo /usr/sbin/netdata)
[ -x "$NETDATA" ] || { echo "netdata not installed (apt-get install netdata)" >&2; exit 1; }
if [ -z "${TALLY:-}" ]; then
  cargo build --release -q --bin tally
  TALLY=./target/release/tally
fi
cargo build --release -q --example proc_floor
FLOOR=./target/release/examples/proc_floor
work=$(mktemp -d)
chmod 755 "$work"
pids=()
CG=/sys/fs/cgroup/cpuacct
cgroups=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for g in "${cgroups[@]}"; do # empty once every process in it exited (netdata takes seconds)
    for _ in $(seq 30); do rmdir "$g" 2>/dev/null && break; sleep 1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for v in 1 10 c; do
  interval=$v; [ "$v" = c ] && interval=1
  cat > "$work/tally$v.yaml" <<YAML
data_dir: $work/tally$v
http: { listen: 127.0.0.1:0 }
inputs:
  carbon: { listen: 127.0.0.1:0 }
  system: { interval: ${interval}s }
YAML
  [ "$v" = c ] && echo "storage: { commit_interval: 10s }" >> "$work/tallyc.yaml"
done

user=$(id -un)
netdata_conf() { # $1 = name, $2 = extra sections; prints the port
  local nd="$work/$1" port
  port=$(free_port)
  mkdir -p "$nd/etc" "$nd/cache" "$nd/lib" "$nd/log" "$nd/run"
  touch "$nd/etc/.opt-out-from-anonymous-statistics"
  cat > "$nd/etc/netdata.conf" <<CONF
[global]
    run as user = $user
    hostname = $1
[db]
    update every = 1
    mode = dbengine
[directories]
    config = $nd/etc
    stock config = /usr/lib/netdata/conf.d
    log = $nd/log
    cache = $nd/cache
    lib = $nd/lib
    home = $nd
    run = $nd/run
[logs]
    debug log = none
    error log = $nd/log/error.log
    access log = none
[web]
    bind to = 127.0.0.1:$port
$2
CONF
  [ "$(id -u)" = 0 ] && chown -R "$user" "$nd"
  echo "$port"
}
port=$(netdata_conf same "[plugins]
    proc = yes
    diskspace = yes
    apps = no
    cgroups = no
    tc = no
    idlejitter = no
    statsd = no
    enable running new plugins = no
[statsd]
    enabled = no
[ml]
    enabled = no
[health]
    enabled = no
[registry]
    enabled = no")
sport=$(netdata_conf stock "")

# Each tally from its own copy of the binary: on a host one tally runs, and two processes
# mapping one file share its pages, which MADV_PAGEOUT then leaves resident (agent/memory.rs).
cp "$TALLY" "$work/tally-a"; cp "$TALLY" "$work/tally-b"; cp "$TALLY" "$work/tally-c"
sync "$work/tally-a" "$work/tally-b" "$work/tally-c" # dirty page-cache pages cannot be paged out
"$work/tally-a" run -c "$work/tally1.yaml" 2> "$work/tally1.log" & t1pid=$!; pids+=("$t1pid")
"$work/tally-b" run -c "$work/tally10.yaml" 2> "$work/tally10.log" & t10pid=$!; pids+=("$t10pid")
"$work/tally-c" run -c "$work/tallyc.yaml" 2> "$work/tallyc.log" & tcpid=$!; pids+=("$tcpid")
DO_NOT_TRACK=1 "$NETDATA" -D -c "$work/same/etc/netdata.conf" -P "$work/same/run/netdata.pid" \
  > "$work/same.log" 2>&1 & npid=$!; pids+=("$npid")
DO_NOT_TRACK=1 "$NETDATA" -D -c "$work/stock/etc/netdata.conf" -P "$work/stock/run/netdata.pid" \
  > "$work/stock.log" 2>&1 & spid=$!; pids+=("$spid")
# Warm-up: tally pages out its startup code 30 s after start; netdata starts its plugins.
sleep 40
for n in "same $npid $port" "stock $spid $sport"; do
  set -- $n
  kill -0 "$2" || { echo "netdata ($1) died:"; cat "$work/$1.log" "$work/$1/log/error.log"; exit 1; }
  curl -sf "http://127.0.0.1:$3/api/v1/info" > /dev/null || { echo "netdata ($1) not answering" >&2; exit 1; }
done

tree() { # the pid and its descendants
  local p=$1; echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
ticks() { # utime+stime of a process tree, plus the reaped children of its root (cutime+cstime)
  local root=$1 sum=0
  for p in $(tree "$root"); do
    [ -r "/proc/$p/stat" ] || continue
    sum=$((sum + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo $((sum + $(sed 's/.*) //' "/proc/$root/stat" | awk '{print $14 + $15}')))
}
mem() { # RSS, PSS and anonymous memory (kB) summed over a process tree
  local rss=0 pss=0 anon=0
  for p in $(tree "$1"); do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    read -r r q a < <(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Anonymous:/ {a=$2} END {print r, p, a}' \
      "/proc/$p/smaps_rollup")
    rss=$((rss + r)); pss=$((pss + q)); anon=$((anon + a))
  done
  echo "$rss $pss $anon"
}

threads() { # one line per task of a process tree: tid comm run_ns voluntary involuntary
  local p t
  for p in $(tree "$1"); do
    for t in /proc/"$p"/task/*; do
      [ -r "$t/schedstat" ] || continue
      awk -v tid="${t##*/}" -v comm="$(tr ' ' '_' < "$t/comm" 2>/dev/null)" -v run="$(cut -d' ' -f1 "$t/schedstat")" \
        '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2}
         END {print tid, comm, run, v, n}' "$t/status" 2>/dev/null || true
    done
  done
}
snap() { for n in 1:$t1pid 10:$t10pid c:$tcpid same:$npid stock:$spid; do threads "${n#*:}" > "$work/$1.${n%%:*}"; done; }
cgroup_of() { echo "$CG/tally-bench.$$.$1"; }
acct() { # moves a process tree into a cpuacct group of its own (root, cgroup v1 only)
  local g; g=$(cgroup_of "$1")
  [ -w "$CG" ] && mkdir -p "$g" 2>/dev/null || return 0
  cgroups+=("$g")
  for p in $(tree "$2"); do echo "$p" > "$g/cgroup.procs" 2>/dev/null || true; done
}
usage() { cat "$(cgroup_of "$1")/cpuacct.usage" 2>/dev/null || echo 0; }
for n in 1:$t1pid 10:$t10pid c:$tcpid same:$npid stock:$spid; do acct "${n%%:*}" "${n#*:}"; done
declare -A u0
for n in 1 10 c same stock; do u0[$n]=$(usage $n); done
snap before
a1=$(ticks $t1pid); a10=$(ticks $t10pid); ac=$(ticks $tcpid); an=$(ticks $npid); as=$(ticks $spid)
start=$(date -u +%H:%M:%S)
# Memory: the mean of a sample every 10 s over the run (RSS moves with the head and the caches).
samples=0; rc=0; pc=0; xc=0; r1=0; p1=0; r10=0; p10=0; rn=0; pn=0; rs=0; ps=0; x1=0; x10=0; xn=0; xs=0
for ((i = 0; i < DURATION / 10; i++)); do
  sleep 10
  read -r r p x < <(mem $t1pid); r1=$((r1 + r)); p1=$((p1 + p)); x1=$((x1 + x))
  read -r r p x < <(mem $t10pid); r10=$((r10 + r)); p10=$((p10 + p)); x10=$((x10 + x))
  read -r r p x < <(mem $tcpid); rc=$((rc + r)); pc=$((pc + p)); xc=$((xc + x))
  read -r r p x < <(mem $npid); rn=$((rn + r)); pn=$((pn + p)); xn=$((xn + x))
  read -r r p x < <(mem $spid); rs=$((rs + r)); ps=$((ps + p)); xs=$((xs + x))
  samples=$((samples + 1))
done
sleep $((DURATION % 10))
b1=$(ticks $t1pid); b10=$(ticks $t10pid); bc=$(ticks $tcpid); bn=$(ticks $npid); bs=$(ticks $spid)
snap after
declare -A u1
for n in 1 10 c same stock; do u1[$n]=$(usage $n); done
hz=$(getconf CLK_TCK)
nprocs=$(tree $npid | wc -l); sprocs=$(tree $spid | wc -l)

echo "$(date -u +%F) $start–$(date -u +%H:%M:%S) UTC, $DURATION s, $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), $("$TALLY" --version 2>/dev/null || echo tally)," \
  "$("$NETDATA" -V 2>&1 | head -1)"
line() { # name ticks rss_sum pss_sum anon_sum
  awk -v n="$1" -v t="$2" -v r="$3" -v p="$4" -v x="$5" -v s="$samples" -v d="$DURATION" -v hz="$hz" \
    'BEGIN {printf "%-34s CPU %.3f%% of one core (%4d ticks)  RSS %6.1f MiB  PSS %6.1f MiB  anon %6.1f MiB\n",
            n, 100 * t / hz / d, t, r / s / 1024, p / s / 1024, x / s / 1024}'
}
line "tally, 1 s samples" $((b1 - a1)) $r1 $p1 $x1
line "tally, 10 s samples" $((b10 - a10)) $r10 $p10 $x10
line "tally, 1 s samples, commit 10 s" $((bc - ac)) $rc $pc $xc
line "netdata same kinds ($nprocs processes)" $((bn - an)) $rn $pn $xn
line "netdata stock ($sprocs processes)" $((bs - as)) $rs $ps $xs
ratio() { # name tally_ticks netdata_ticks tally_rss netdata_rss tally_pss netdata_pss tally_anon netdata_anon
  awk -v n="$1" -v t="$2" -v d="$3" -v r="$4" -v rd="$5" -v p="$6" -v pd="$7" -v x="$8" -v xd="$9" 'BEGIN {
    printf "tally 1 s / %s: CPU %.3f, RSS %.3f, PSS %.3f, anon %.3f (target: at most 0.1)\n",
           n, (d ? t / d : 0), r / rd, p / pd, x / xd }'
}
ratio "netdata same kinds" $((b1 - a1)) $((bn - an)) "$r1" "$rn" "$p1" "$pn" "$x1" "$xn"
ratio "netdata stock" $((b1 - a1)) $((bs - as)) "$r1" "$rs" "$p1" "$ps" "$x1" "$xs"
awk -v t=$((b1 - a1)) -v t10=$((b10 - a10)) -v r="$r1" -v r10="$r10" 'BEGIN {
  printf "tally 1 s / tally 10 s: CPU %.2f, RSS %.3f\n", (t10 ? t / t10 : 0), r / r10 }'
# The floor: CPU per second of only reading the /proc files tally 1 s reads (warm caches, so a
# lower bound), against netdata same kinds.
floor_us=$("$FLOOR" "$t1pid" 3000 | awk '{print $(NF-3)}')
awk -v f="$floor_us" -v n=$((bn - an)) -v hz="$hz" -v d="$DURATION" 'BEGIN {
  nd = 100 * n / hz / d
  printf "floor (reading the same /proc files once a second): %.4f%% of one core = %.3f of netdata same kinds\n",
         f / 1e4, (nd ? f / 1e4 / nd : 0) }'
# Run time (schedstat) of each process tree over the run, and per thread name the run time and
# context switches a second. A task absent from the first snapshot counts from zero.
schedline() { # name file-suffix
  awk -v n="$1" -v d="$DURATION" 'FNR == NR {r[$1] = $3; v[$1] = $4 + $5; next}
    {cr = $3 - r[$1]; cv = $4 + $5 - v[$1]; run += cr; cs += cv; tr[$2] += cr; tc[$2] += cv; k[$2]++}
    END {printf "%-34s CPU %.4f%% of one core (schedstat: %.0f us/s), %.2f context switches/s\n", n, run / d / 1e7, run / d / 1e3, cs / d
         for (c in tr) printf "    %-20s x%-2d %8.1f us/s  %6.2f switches/s\n", c, k[c], tr[c] / d / 1e3, tc[c] / d}' \
    "$work/before.$2" "$work/after.$2"
}
if [ "${#cgroups[@]}" -gt 0 ]; then
  echo "CPU from cgroup cpuacct.usage (every task, exited ones included):"
  for n in "1:tally, 1 s samples" "10:tally, 10 s samples" "c:tally, 1 s samples, commit 10 s" \
    "same:netdata same kinds" "stock:netdata stock"; do
    k=${n%%:*}
    awk -v n="${n#*:}" -v u=$((${u1[$k]} - ${u0[$k]})) -v d="$DURATION" \
      'BEGIN {printf "  %-34s CPU %.4f%% of one core (%.0f us/s)\n", n, u / d / 1e7, u / d / 1e3}'
  done
  awk -v t=$((${u1[1]} - ${u0[1]})) -v n=$((${u1[same]} - ${u0[same]})) -v s=$((${u1[stock]} - ${u0[stock]})) \
    'BEGIN {printf "  tally 1 s / netdata same kinds: CPU %.3f; / netdata stock: CPU %.3f (target: at most 0.1)\n",
            (n ? t / n : 0), (s ? t / s : 0)}'
fi
echo "CPU from /proc/PID/task/*/schedstat (live tasks only), per thread name:"
schedline "tally, 1 s samples" 1
schedline "tally, 10 s samples" 10
schedline "tally, 1 s samples, commit 10 s" c
schedline "netdata same kinds" same
schedline "netdata stock" stock
series() {
  local http; http=$(sed -n 's/.*HTTP listening\. addr=\([0-9.:]*\).*/\1/p' "$1" | head -1)
  curl -s "http://$http/metrics/index.json" | tr ',' '\n' | grep -c servers || true
}
echo "series: tally $(series "$work/tally1.log") system series;" \
  "netdata same kinds $(curl -s "http://127.0.0.1:$port/api/v1/charts" | grep -o '"id"' | wc -l) charts," \
  "stock $(curl -s "http://127.0.0.1:$sport/api/v1/charts" | grep -o '"id"' | wc -l) charts"
