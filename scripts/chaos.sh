#!/usr/bin/env bash
# The chaos matrix of issue 17: real tally daemons on free loopback ports, each case bounded in
# time, one table row per case (case, result, seconds, expected, seen, data lost, daemon alive,
# error clear); exit 1 on any failure.
#
#   scripts/chaos.sh              every case, against a release build (built here)
#   scripts/chaos.sh --quick      the quick cases (scripts/test.sh runs these), debug build
#   scripts/chaos.sh --soak       the soaks only (CHAOS_SOAK_MINUTES, default 30; samples to
#                                 CHAOS_SOAK_OUT), release build
#   CHAOS_FLOOD=0 scripts/chaos.sh   every case but the 1M floods
#   scripts/chaos.sh body jsonp   only cases whose name contains one of the words
#   TALLY_BIN=path scripts/chaos.sh …   take that binary instead of building one
# Needs python3 (standard library only). CHAOS_TRACE=1 prints the traceback of a broken case.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TALLY_BIN:-}" ]; then
  if [[ " $* " == *" --quick "* ]]; then
    cargo build --quiet --bin tally
    TALLY_BIN=target/debug/tally
  else
    cargo build --quiet --release --bin tally
    TALLY_BIN=target/release/tally
  fi
fi
export TALLY_BIN
exec python3 scripts/chaos/run.py "$@"
