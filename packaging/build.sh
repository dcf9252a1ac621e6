#!/usr/bin/env bash
# Builds tally's packages: target/package/tally_<version>-1_<arch>.deb (cargo-deb) and
# target/package/tally-<version>-1.<arch>.rpm (cargo-generate-rpm), from one stripped release
# binary. The version comes from Cargo.toml. Needs only the Rust toolchain; installs the two
# cargo subcommands (pinned) when missing.
#
#   packaging/build.sh                 # both packages
#   DEB_REVISION=2 packaging/build.sh  # another Debian revision of the same version
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
out=target/package
mkdir -p "$out"

cargo deb --version >/dev/null 2>&1 ||
  cargo install --locked --quiet "cargo-deb@$CARGO_DEB_VERSION"
cargo generate-rpm --version >/dev/null 2>&1 ||
  cargo install --locked --quiet "cargo-generate-rpm@$CARGO_GENERATE_RPM_VERSION"

echo "== release build"
cargo build --release --locked --bin tally
cp target/release/tally "$out/tally"
strip --strip-unneeded "$out/tally"
# The manual page and shell completions come from the CLI definition itself.
"$out/tally" man | gzip -9n > "$out/tally.1.gz"
mkdir -p "$out/completions"
"$out/tally" completions bash > "$out/completions/tally"
"$out/tally" completions zsh > "$out/completions/_tally"
"$out/tally" completions fish > "$out/completions/tally.fish"

version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
revision=${DEB_REVISION:-1}
echo "== tally $version-$revision: deb"
cargo deb --no-build --no-strip --deb-revision "$revision" --output "$out/"
echo "== tally $version-$revision: rpm"
cargo generate-rpm --set-metadata "release = \"$revision\"" --output "$out/"
ls -l "$out"/*.deb "$out"/*.rpm
