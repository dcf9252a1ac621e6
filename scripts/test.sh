#!/usr/bin/env bash
# Runs every check and test tally has. Needs only the Rust toolchain: what the tests need
# beyond it is installed here. Used by CI (.ci/run) and by developers alike.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"

echo "== format"
cargo fmt --check
echo "== clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== tests (unit, property, integration with the real binary)"
cargo test --all-targets --locked
echo "== benches compile"
cargo bench --no-run --locked >/dev/null
echo "all tests passed"
