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
# differences are listed with their reasons (KNOWN in compare-logster.py); their lines are
# replayed apart and shown; any other difference exits 1.
#
#   scripts/compare-logster.sh [-v] [--case LOG] [--keep DIR]
#
# Logster is not on PyPI (PyPI's `logster` is another project): unpack etsy/logster in
# target/peers/logster first (`git clone https://github.com/etsy/logster target/peers/logster`).
# pygtail (PyPI) is installed into target/peers/logster-venv. Takes about 10 s after the build.
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
