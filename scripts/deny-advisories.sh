#!/usr/bin/env bash
# `cargo deny check advisories` against the RustSec database (deny.toml lists the one allowed
# advisory with its reason). The database is a git repository on GitHub:
#   - if `cargo deny fetch` reaches it, the fresh database is checked;
#   - else, if ADVISORY_DB names a local clone or mirror of github.com/rustsec/advisory-db,
#     that snapshot is checked offline (its date is printed);
#   - else the check cannot run: said loudly, with the reason, and the script goes on.
#   ADVISORY_DB=/path/to/advisory-db scripts/deny-advisories.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dbs="$PWD/target/advisory-dbs"
# cargo-deny 0.20's directory for https://github.com/rustsec/advisory-db under db-path.
dir="$dbs/advisory-db-3157b0e258782691"
config="$PWD/target/deny-advisories.toml"
rm -rf "$dir"
mkdir -p "$dbs"
sed "s|^\\[advisories\\]|[advisories]\\ndb-path = \"$dbs\"|" deny.toml > "$config"
if cargo deny --locked --config "$config" fetch db >/dev/null 2>&1; then
  echo "== cargo deny (advisories, database fetched $(date -u +%F))"
  cargo deny --locked --config "$config" check advisories
elif [ -n "${ADVISORY_DB:-}" ]; then
  git clone -q "$ADVISORY_DB" "$dir"
  echo "== cargo deny (advisories, offline, database of $(git -C "$dir" log -1 --format=%cs) from $ADVISORY_DB)"
  cargo deny --locked --offline --config "$config" check advisories
else
  echo "== cargo deny (advisories): NOT CHECKED — the RustSec database (github.com) is not" \
    "reachable from here and ADVISORY_DB names no local copy of it"
fi
