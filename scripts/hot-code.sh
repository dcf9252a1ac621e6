#!/bin/bash
# Writes link/hot-code.ld: the functions an idle tally runs (the default system collectors every
# second, the aggregation loop, the 10 s commit of their buckets, self-metrics), which build.rs
# hands lld as a linker script so they sit together at the start of `.text`. Why: the
# kernel maps a program's code 64 KiB around every page that runs, so ~300 hot functions spread
# over 12 MiB of text kept ~4.5 MiB resident; packed together they take a few hundred KiB
# (BENCHMARKS.md, "Issue 13: resident code").
#
# How: a release tally with the default system input runs under valgrind's callgrind; after it
# has settled (startup code paged out, see agent/memory.rs) the counters are zeroed, and every
# function of the tally binary that runs in the next SECONDS is listed (mangled, sorted). Re-run
# after changes to the code an idle daemon runs; a stale list only costs memory (a name the new
# binary lacks is skipped), never a build.
#
#   scripts/hot-code.sh [SECONDS]     # default 150; needs valgrind (apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-150}
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
sleep 40
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
# A pattern per function without what a rebuild changes: the legacy hash (17h…E) and the v0 crate
# disambiguators (Cs…_), and ThinLTO's .llvm.N suffix; cold functions (#[cold]: growing a Vec,
# a contended lock) sit in .text.unlikely.*.
patterns = set()
for name in hot:
    if not (name.startswith("_ZN") or name.startswith("_R")):
        continue
    name = re.sub(r"\.llvm\.\d+$", "", name)
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h", name)
    name = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)
    patterns.add(name + "*")
print("/* The functions an idle tally runs, placed first by lld (see build.rs).")
print(f"   Written by scripts/hot-code.sh ({len(patterns)} functions); do not edit by hand. */")
print("SECTIONS {")
print("  .text.hot : {")
for p in sorted(patterns):
    print(f"    *(.text.{p} .text.unlikely.{p})")
print("  }")
print("} INSERT BEFORE .text;")
PY
echo "link/hot-code.ld: $(grep -c '^    \*(' link/hot-code.ld) functions"
