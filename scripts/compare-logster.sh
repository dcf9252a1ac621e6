#!/usr/bin/env bash
# Side by side: etsy Logster's bundled parsers against tally's equivalent YAML parsers
# (`tally parse`), over the same generated logs: Apache access logs (common, combined,
# vhost_combined, IPv6, %D, HTTP/2, escaped quotes, odd statuses, missing requests, a 70 kB
# line, cut, empty and non-UTF-8 lines) against SampleLogster, nginx's against SampleLogster,
# Squid's native log against SquidLogster, log4j/logback/Spring Boot lines against
# Log4jLogster (every level), Apache 2.2 and 2.4 error logs against ErrorLogLogster, Postfix
# deliveries (smtp, local, lmtp, virtual, pipe, multi-instance, several syslog prefixes)
# against PostfixLogster and JSON lines against JsonLogster. Logster runs as cron runs it
# (`--dry-run --output=stdout --tailer=pygtail`, a first run that records the offset, then
# the lines); its rates times its duration are compared with tally's counts. Known
# differences are listed with their reasons (scripts/logster_known.py); their lines are
# replayed apart and shown; any other difference exits 1.
#
#   scripts/compare-logster.sh [-v] [--case LOG] [--keep DIR] [--random N [--seed S]]
#                              [--file LOG=PATH ...]
#
# --random N: instead of the fixed logs, N random lines of each kind (access, nginx, postfix,
# log4j, squid, error, json) from scripts/logster_random.py: realistic lines with varied
# fields (IPv6 and X-Forwarded-For clients, user names, odd methods, URLs with quotes, spaces,
# percent escapes and backslashes, HTTP/0.9 to 3, every status class and 000/6xx/999, %D and
# $request_time, RFC 3164/5424/ISO syslog prefixes, multi-instance Postfix, log4j/logback/
# Spring Boot layouts, padded and odd-case levels, Squid result and hierarchy codes, Apache
# 2.2/2.4/compact error lines, nested JSON with floats, big ints, strings, bools, unicode and
# invalid JSON) and damage (cut lines, CRLF, blank lines, doubled spaces, non-UTF-8 bytes,
# lower-cased lines). Deterministic: the same N and seed (any text; default 1) give the same
# lines, so a run can be replayed (`--keep DIR` keeps its logs). A difference in the lines no
# KNOWN rule explains is narrowed down by halving to the lines that cause it ("culprit").
# JSON lines are compared one by one (JsonLogster reports only the last line of a run).
# 300 lines a kind take about 1.5 min; `python3 scripts/logster_random.py KIND N SEED` prints
# one kind's lines. --file LOG=PATH compares a real log as that kind (e.g. nginx=access.log).
#
# Logster is not on PyPI (PyPI's `logster` is another project): unpack etsy/logster in
# target/peers/logster first (`git clone https://github.com/etsy/logster target/peers/logster`,
# or `git archive` of a mirror into it; never commit it).
# pygtail (PyPI) is installed into target/peers/logster-venv. Takes about 15 s after the build.
# Not in scripts/test.sh: it needs the GitHub checkout, which the test script cannot fetch.
set -euo pipefail
cd "$(dirname "$0")/.."
logster=target/peers/logster
if [ ! -f "$logster/bin/logster" ]; then
  echo "etsy Logster is missing: git clone https://github.com/etsy/logster $logster" >&2
  exit 2
fi
venv=target/peers/logster-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pygtail' 2>/dev/null; then
  echo "== installing pygtail 0.14.0 (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'pygtail==0.14.0'
fi
cargo build -q
exec python3 scripts/compare-logster.py target/debug/tally "$PWD/$logster" "$venv/bin/python" "$@"
