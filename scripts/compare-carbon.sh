#!/usr/bin/env bash
# Side by side: Debian's carbon-cache 1.1.7 (graphite-carbon) and tally's carbon plaintext input
# over the same bytes. Both run on loopback ports picked free, in a temp dir, with 10 s points
# kept an hour (carbon's storage-schemas `10s:1h`, a tally schema `10s:1h`); tags on in carbon,
# as by default. scripts/carbon_random.py makes seeded random traffic of what collectd,
# Diamond, scripts and relays send, with the damage they produce: tabs, runs of spaces, `\r`,
# Unicode spaces, empty lines, missing and extra fields; values `1e3` `.5` `5.` `-0` `1_000`
# `0x10` `inf` `-Infinity` `nan` `1e400` and non-ASCII digits; timestamps as floats, `1.7e9`
# forms, `-1`, `-1.5`, `-0.5`, 0, past within and beyond the hour, a little and far in the
# future, in milliseconds, with underscores; names with `..`, leading and trailing dots, `~`,
# Unicode, `-_:#@%+=~&!$^[]*?<>` and characters tally refuses, nodes over 255 bytes, names over
# 1024 bytes, lines over 4096 bytes, bytes that are not UTF-8; tagged names (unsorted,
# duplicate keys, empty values, `name=`, bad tags); several points of a series in one step
# (whole seconds, fractions, `-1`). It is sent to both as TCP connections written in random
# pieces and UDP datagrams (one over 8 KiB). carbon's Whisper files are read slot by slot,
# tally's series through /api/series and /render?target=NAME:last. Every stored name holds its
# group's token (idNNNNN), so each difference is traced to the few lines that caused it;
# known ones are explained by scripts/carbon_known.py (printed with -v), any other is printed
# with its lines and exits 1.
#
#   scripts/compare-carbon.sh [--groups N] [--seed S] [--keep DIR] [-v]
#
# N groups (default 600: about 1,200 lines) take about 25 s after the build. --keep DIR keeps
# both daemons' files and the lines sent (DIR/sent.txt). `python3 scripts/carbon_random.py N S`
# prints a seed's lines. Needs `apt-get install graphite-carbon python3-whisper`. Not in
# scripts/test.sh: it needs graphite-carbon and waits on carbon's writer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/carbon-cache ] || ! /usr/bin/python3 -c 'import carbon, whisper' 2>/dev/null; then
  echo "carbon-cache is missing: apt-get install graphite-carbon python3-whisper" >&2
  exit 2
fi
if [ -n "${TALLY:-}" ]; then tally="$TALLY"; else cargo build -q; tally=target/debug/tally; fi
exec /usr/bin/python3 scripts/compare-carbon.py "$tally" "$@"
