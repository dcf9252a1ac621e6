#!/bin/bash
# Writes link/hot-code.ld: the functions an idle tally runs (the default system collectors every
# second, the aggregation loop, the 10 s commit of their buckets, self-metrics), which build.rs
# hands lld as a linker script so they sit together at the start of `.text`. Why: the
# kernel maps a program's code 64 KiB around every page that runs, so ~300 hot functions spread
# over 12 MiB of text kept ~4.5 MiB resident; packed together they take a few hundred KiB
# (BENCHMARKS.md, "Issue 13: resident code").
#
# How: a release tally with the default system input runs under valgrind's callgrind; 20 s after
# it is up (just before agent/memory.rs pages out the startup code at 30 s, so what runs after
# that page-out counts) the counters are zeroed, and every function of the tally binary that runs
# in the next SECONDS is listed (mangled). Re-run
# after changes to the code an idle daemon runs; a stale list only costs memory (a name the new
# binary lacks is skipped), never a build.
#
#   scripts/hot-code.sh [SECONDS]     # default 240; needs valgrind (apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-240}
command -v valgrind >/dev/null || { echo "hot-code.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# The list must come from a binary linked without it, or the names would come out the same anyway;
# the order does not change the names, so any release build will do.
cargo build --release -q --bin tally
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp target/release/tally "$work/tally"
cat > "$work/tally.yaml" <<YAML
data_dir: $work/data
http: { listen: 127.0.0.1:0 }
inputs:
  carbon: { listen: 127.0.0.1:0 }
  system: { interval: 1s }
YAML
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.%p" \
  "$work/tally" run --config "$work/tally.yaml" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q "tally is running" "$work/log" && break; sleep 0.2; done
grep -q "tally is running" "$work/log" || { cat "$work/log" >&2; exit 1; }
sleep 20
callgrind_control -z "$pid" >/dev/null 2>&1
sleep "$seconds"
callgrind_control -d "$pid" >/dev/null 2>&1
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
dump=$(ls "$work"/callgrind.*.1 | head -1)
python3 - "$dump" "$work/tally" > link/hot-code.ld <<'PY'
import re, sys
dump, binary = sys.argv[1], sys.argv[2]
objects, names, hot, current = {}, {}, set(), None
for line in open(dump, errors="replace"):
    m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if not m:
        continue
    key, ident, name = m.groups()
    table = objects if key.endswith("ob") else names
    if name:
        table[ident] = name
    if key == "ob":
        current = objects[ident]
    elif key == "fn" and current in (binary, "???"):  # ??? = code outside the sections valgrind knows
        hot.add(names[ident])
# Two patterns per function. First the exact name (less ThinLTO's .llvm.N suffix), so what runs
# is packed densely; it goes stale when a dependency or the compiler changes (legacy symbol
# hashes, 17h…E, and v0 crate disambiguators, Cs…_, follow the crates' metadata). Then the name
# without those, which still matches after such a change but also takes in every instance of a
# generic function (legacy names do not spell the type arguments). Cold functions (#[cold]:
# growing a Vec, a contended lock) sit in .text.unlikely.*.
exact, loose = set(), set()
for name in hot:
    if not (name.startswith("_ZN") or name.startswith("_R")):
        continue
    name = re.sub(r"\.llvm\.\d+$", "", name)
    exact.add(name + "*")
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h", name)
    loose.add(re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name) + "*")
patterns = sorted(exact) + sorted(loose - exact)
print("/* The functions an idle tally runs, placed first by lld (see build.rs).")
print(f"   Written by scripts/hot-code.sh ({len(exact)} functions); do not edit by hand. */")
print("SECTIONS {")
print("  .text.hot : {")
for p in patterns:
    print(f"    *(.text.{p} .text.unlikely.{p})")
print("  }")
print("} INSERT BEFORE .text;")
PY
sed -n 2p link/hot-code.ld
