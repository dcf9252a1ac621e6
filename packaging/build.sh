#!/usr/bin/env bash
# Builds tally's packages: target/package/tally_<version>-1_<arch>.deb (cargo-deb) and
# target/package/tally-<version>-1.<arch>.rpm (rpmbuild, packaging/rpm/tally.spec), from one
# stripped release binary. The version comes from Cargo.toml. Needs the Rust toolchain, python3
# and rpmbuild (Debian: the `rpm` package); installs cargo-deb (pinned) when missing. Also
# written here: the third-party notices (packaging/third-party-notices.py, from `cargo
# metadata` and the crates' own license files) and the Debian changelog.
#
#   packaging/build.sh                 # both packages
#   DEB_REVISION=2 packaging/build.sh  # another Debian revision of the same version
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
out=target/package
mkdir -p "$out"

cargo deb --version >/dev/null 2>&1 ||
  cargo install --locked --quiet "cargo-deb@$CARGO_DEB_VERSION"

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
echo "== third-party notices"
packaging/third-party-notices.py >"$out/THIRD-PARTY-NOTICES"
grep -c '^  License: ' "$out/THIRD-PARTY-NOTICES" | sed 's/$/ crates/'
# A Debian changelog for the version being built, dated by the last commit (reproducible).
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
maintainer=$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' Cargo.toml)
cat >"$out/changelog" <<EOF
tally ($version-$revision) unstable; urgency=medium

  * Package of tally $version, built from the repository by packaging/build.sh.
    Changes are in the project's history.

 -- $maintainer  $when
EOF
# The synopsis and description, for the rpm (the deb takes them from Cargo.toml itself).
summary=$(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -1)
sed -n '/^extended-description = """/,/"""$/p' Cargo.toml |
  sed '1d; s/""".*$//; s/ *\\$//' >"$out/description"
echo "== tally $version-$revision: deb"
cargo deb --no-build --no-strip --deb-revision "$revision" --output "$out/"
echo "== tally $version-$revision: rpm"
rm -rf "$out/rpmbuild"
rpmbuild -bb --quiet packaging/rpm/tally.spec --target "$(uname -m)" \
  --define "_topdir $PWD/$out/rpmbuild" --define "tally_src $PWD" \
  --define "tally_version $version" --define "tally_release $revision" \
  --define "tally_summary $summary"
mv "$out/rpmbuild/RPMS/"*/*.rpm "$out/"
rm -rf "$out/rpmbuild"
ls -l "$out"/*.deb "$out"/*.rpm
