#!/usr/bin/env bash
# Builds the deb and the rpm, inspects both, then installs the deb on this machine and checks
# the user, paths, permissions, the config, the unit, an upgrade over data, remove and purge.
# Needs root (dpkg -i). Where systemd is not PID 1 (containers, CI), the service cannot start:
# the unit is checked with `systemd-analyze verify` / `security --offline` instead, and the
# daemon is run by hand as the service user to check the packaged config, paths and upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "packaging test FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"

# Peers: rpm (rpmbuild builds the rpm, rpm inspects it), lintian (judges the deb).
for tool in rpm lintian; do
  if ! command -v "$tool" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; }
  fi
done
if dpkg -s tally >/dev/null 2>&1; then
  fail "a tally package is already installed here; purge it first (dpkg -P tally)"
fi

# Whatever happens below, leave the machine without the package.
trap '[ -n "${pid:-}" ] && { kill "$pid" 2>/dev/null || true; }; dpkg -P tally >/dev/null 2>&1 || true' EXIT

packaging/build.sh
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
deb=$(ls target/package/tally_"$version"-1_*.deb)
rpmf=$(ls target/package/tally-"$version"-1.*.rpm)

echo "== inspect $deb"
info=$(dpkg-deb -I "$deb")
grep -q "^ Version: $version-1$" <<<"$info" || fail "deb version is not $version-1"
grep -q "^ Package: tally$" <<<"$info" || fail "deb package name"
for s in postinst prerm postrm conffiles; do
  grep -qw "$s" <<<"$info" || fail "deb has no $s"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/tally/tally.yaml ||
  fail "/etc/tally/tally.yaml is not a conffile"
ctrl() { dpkg-deb --ctrl-tarfile "$deb" | tar -xO "./$1"; }
ctrl postinst | grep -q "deb-systemd-helper enable" || fail "postinst does not enable the unit"
ctrl postinst | grep -q "_dh_action=restart" || fail "postinst does not (re)start the unit"
ctrl postinst | grep -q "usermod --append --groups adm tally" || fail "postinst: tally not put in adm"
ctrl postinst | grep -q "systemd-sysusers .*tally.conf" || fail "postinst does not run systemd-sysusers"
ctrl postinst | grep -q "useradd" && fail "postinst still creates the user by hand"
synopsis=$(echo "$info" | sed -n 's/^ Description: //p')
[ "${#synopsis}" -le 80 ] && [ "${synopsis%.}" = "$synopsis" ] ||
  fail "synopsis is not one line of at most 80 characters: $synopsis"
grep -qx "description = \"$synopsis\"" Cargo.toml || fail "synopsis cut: $synopsis"

echo "== lintian $deb"
# Errors and warnings fail; overrides (each with its reason) are in packaging/debian/lintian/.
lintian --fail-on error,warning --display-level ">=warning" "$deb" ||
  fail "lintian reports errors or warnings"
copyright=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/tally/copyright)
grep -q "^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" <<<"$copyright" ||
  fail "copyright is not in Debian's format"
grep -q "/usr/share/common-licenses/Apache-2.0" <<<"$copyright" ||
  fail "copyright does not point to common-licenses"
grep -q "TERMS AND CONDITIONS" <<<"$copyright" && fail "copyright carries the full Apache text"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/tally/changelog.Debian.gz | zcat |
  head -1 | grep -q "^tally ($version-1) " || fail "no Debian changelog for $version-1"

echo "== third-party notices"
# Crates linked into the binary, each with its license and the texts it ships: tokio (MIT) and
# serde (MIT OR Apache-2.0) among them, with their texts; proc-macros (serde_derive, syn) are not
# linked and not listed.
notices=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/tally/THIRD-PARTY-NOTICES)
for crate in tokio serde; do
  grep -A3 "^$crate [0-9]" <<<"$notices" | grep -q "^  Texts: \[text [0-9]" ||
    fail "notices: $crate has no license text"
  grep -q "^\[text [0-9]*\] shipped by: .*\b$crate [0-9][^ ]* (LICENSE" <<<"$notices" ||
    fail "notices: no text shipped by $crate"
done
grep -q "^syn [0-9]" <<<"$notices" && fail "notices list a proc-macro dependency (syn)"
grep -q "Permission is hereby granted, free of charge" <<<"$notices" || fail "notices: no MIT text"
grep -q "Apache License" <<<"$notices" || fail "notices: no Apache text"
echo "$notices" | sed -n 's/^The tally binary statically links the \([0-9]*\) .*/\1 crates/p'
ctrl prerm | grep -q "deb-systemd-invoke stop" || fail "prerm does not stop the unit on remove"
ctrl postrm | grep -q "rm -rf /var/lib/tally" || fail "postrm does not delete data on purge"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/tally ./etc/tally/tally.yaml ./etc/tally/parsers.d/README \
  ./usr/share/tally/parsers/nginx_access.yaml ./usr/share/doc/tally/copyright \
  ./usr/share/doc/tally/README.md ./usr/lib/systemd/system/tally.service \
  ./usr/share/man/man1/tally.1.gz ./usr/share/bash-completion/completions/tally \
  ./usr/share/zsh/vendor-completions/_tally ./usr/share/fish/vendor_completions.d/tally.fish \
  ./usr/share/tally/dashboards/host.yaml ./etc/tally/dashboards.d/README \
  ./usr/lib/sysctl.d/60-tally.conf ./usr/lib/sysusers.d/tally.conf \
  ./usr/share/doc/tally/THIRD-PARTY-NOTICES ./usr/share/doc/tally/changelog.Debian.gz \
  ./usr/share/lintian/overrides/tally; do
  grep -q " $path$" <<<"$contents" || fail "deb lacks $path"
done
grep -q "^-rwxr-xr-x.* ./usr/bin/tally$" <<<"$contents" || fail "tally not 0755"

echo "== inspect $rpmf"
rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE}\n' "$rpmf" 2>/dev/null | grep -qx "tally $version 1" ||
  fail "rpm name/version"
files=$(rpm -qlp "$rpmf" 2>/dev/null)
for path in /usr/bin/tally /etc/tally/tally.yaml /usr/share/tally/parsers/nginx_access.yaml \
  /usr/lib/systemd/system/tally.service \
  /usr/share/man/man1/tally.1.gz /usr/share/bash-completion/completions/tally \
  /usr/share/tally/dashboards/host.yaml /etc/tally/dashboards.d/README \
  /usr/lib/sysctl.d/60-tally.conf /usr/lib/sysusers.d/tally.conf \
  /usr/share/doc/tally/THIRD-PARTY-NOTICES /usr/share/licenses/tally/LICENSE; do
  grep -qx "$path" <<<"$files" || fail "rpm lacks $path"
done
flags=$(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpmf" 2>/dev/null)
grep -qx "/etc/tally/tally.yaml cn" <<<"$flags" || fail "tally.yaml is not %config(noreplace)"
grep -qx "/usr/share/licenses/tally/LICENSE l" <<<"$flags" || fail "LICENSE is not %license"
# The rpm owns its directories, with the modes and owners the daemon needs.
listing=$(rpm -qlvp "$rpmf" 2>/dev/null)
owns() { grep -Eq "^$1 +[0-9]+ +$2 +$3 .* $4$" <<<"$listing" || fail "rpm: $4 is not $1 $2:$3"; }
owns drwxr-xr-x root root /etc/tally
owns drwxr-xr-x root root /etc/tally/conf.d
owns drwxr-xr-x root root /etc/tally/parsers.d
owns drwxr-xr-x root root /usr/share/tally
owns drwxr-xr-x root root /usr/share/tally/parsers
owns drwxr-xr-x root root /usr/share/doc/tally
owns drwxr-x--- tally tally /var/lib/tally
owns -rw-r----- root tally /etc/tally/tally.yaml
summary=$(rpm -qp --qf '%{SUMMARY}' "$rpmf" 2>/dev/null)
[ "$summary" = "$synopsis" ] || fail "rpm summary '$summary'"
scripts=$(rpm -qp --scripts "$rpmf" 2>/dev/null)
for s in "preinstall scriptlet" "postinstall scriptlet" "preuninstall scriptlet" \
  "postuninstall scriptlet" "systemd-sysusers --replace=/usr/lib/sysusers.d/tally.conf" \
  'if \[ "$1" -eq 1 \] && getent group adm' "systemctl try-restart"; do
  grep -q "$s" <<<"$scripts" || fail "rpm scripts lack '$s'"
done
grep -q "useradd" <<<"$scripts" && fail "rpm scripts still create the user by hand"

echo "== install $deb"
dpkg -i "$deb"
getent passwd tally | grep -q ":/var/lib/tally:/usr/sbin/nologin$" || fail "tally user"
id -nG tally | grep -qw adm || fail "tally is not in adm"
[ "$(stat -c '%U:%G %a' /var/lib/tally)" = "tally:tally 750" ] || fail "/var/lib/tally owner/mode"
conffile_mode() {
  [ "$(stat -c '%U:%G %a' /etc/tally/tally.yaml)" = "root:tally 640" ] ||
    fail "/etc/tally/tally.yaml is $(stat -c '%U:%G %a' /etc/tally/tally.yaml), not root:tally 640"
}
conffile_mode
[ -d /etc/tally/conf.d ] || fail "/etc/tally/conf.d"
[ -d /etc/tally/parsers.d ] || fail "/etc/tally/parsers.d"
/usr/bin/tally --version | grep -q "$version" || fail "tally --version"
zcat /usr/share/man/man1/tally.1.gz | grep -q '^\.TH tally 1' || fail "man page tally(1)"
grep -q 'complete -F _tally' /usr/share/bash-completion/completions/tally ||
  fail "bash completion"
/usr/bin/tally check -c /etc/tally/tally.yaml || fail "the packaged config does not pass tally check"
/usr/bin/tally check -c /etc/tally/tally.yaml | grep -q " 1 dashboard(s)" ||
  fail "tally check does not see the shipped dashboard"
runuser -u tally -- /usr/bin/tally check -c /etc/tally/tally.yaml >/dev/null ||
  fail "the service user cannot read the config and parsers"
systemd-analyze verify /usr/lib/systemd/system/tally.service 2>&1 | grep "tally.service" &&
  fail "systemd-analyze verify reports problems"
score=$(systemd-analyze security --offline=true /usr/lib/systemd/system/tally.service 2>/dev/null |
  sed -n 's/.*Overall exposure level for tally.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || fail "exposure $score > 2.0"

echo "== diskspace names a filesystem alike with and without a private /dev (PrivateDevices=yes)"
# In a private mount namespace: a /dev and a udev database as udev makes them (a labelled root
# device), then, nested, a /dev as PrivateDevices=yes leaves it (no /dev/disk, no block devices).
root_dev=$(stat -c '%d' /)
maj=$((root_dev >> 8 & 0xfff)); min=$(((root_dev & 0xff) | (root_dev >> 12 & 0xfff00)))
names=$(unshare -m --propagation private sh -ec "
  mount -t tmpfs none /dev; mknod /dev/null c 1 3; chmod 666 /dev/null
  mknod /dev/rootdisk b $maj $min; mkdir -p /dev/disk/by-label
  ln -s ../../rootdisk /dev/disk/by-label/pkgroot
  mount -t tmpfs none /run; mkdir -p /run/udev/data
  printf 'E:ID_FS_USAGE=filesystem\nE:ID_FS_LABEL_ENC=pkgroot\n' >/run/udev/data/b$maj:$min
  /usr/bin/tally collect -c /etc/tally/tally.yaml --collectors diskspace --interval 0.1
  unshare -m sh -ec 'mount -t tmpfs none /dev; mknod /dev/null c 1 3; chmod 666 /dev/null
    /usr/bin/tally collect -c /etc/tally/tally.yaml --collectors diskspace --interval 0.1'
" | awk '$1 ~ /byte_used$/ { print $1 }')
if [ "$maj" != 0 ]; then
  [ "$(grep -c '\.diskspace\.pkgroot\.byte_used$' <<<"$names")" = 2 ] ||
    fail "diskspace names differ under a private /dev: $names"
else
  echo "note: / is on an anonymous device (overlayfs?): no labelled root to compare"
fi

echo "== the packaged daemon as the service user, then an upgrade over its data"
# The packaged config, on ports free now (asked of the kernel), as systemd would run it
# (User=tally).
work=$(mktemp -d)
read -r http_port carbon_port statsd_port < <(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
sed -e "s/127.0.0.1:8080/127.0.0.1:$http_port/; s/127.0.0.1:2003/127.0.0.1:$carbon_port/; s/127.0.0.1:8125/127.0.0.1:$statsd_port/" \
  /etc/tally/tally.yaml >"$work/tally.yaml"
# And a log tailed through a local parser in /etc/tally/parsers.d, to check offsets.
log="$work/app.log"
: >"$log"
sed -i "s|^inputs:|inputs:\n  tail:\n    - { paths: ['$log'], parsers: [pkgtest], prefix: pkg, start_at: beginning }|" \
  "$work/tally.yaml"
cat >/etc/tally/parsers.d/pkgtest.yaml <<'YAML'
name: pkgtest
rules:
  - regex: '^hit '
    metrics:
      - { name: hits, type: counter }
YAML
chmod 644 "$work/tally.yaml" "$log"; chmod 755 "$work"
hits() {
  curl -fsS "http://127.0.0.1:$http_port/render?target=pkg.hits:sum&from=-1h&format=json" |
    python3 -c 'import json,sys; print(int(sum(p[0] or 0 for s in json.load(sys.stdin) for p in s["datapoints"])))'
}
wait_hits() {
  for _ in $(seq 300); do
    [ "$(hits)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "expected $1 lines counted, got $(hits)"
}
start() {
  # setpriv execs tally itself (runuser would stay its parent), as systemd's User= does.
  setpriv --reuid=tally --regid=tally --init-groups /usr/bin/tally run -c "$work/tally.yaml" 2>"$work/log" &
  pid=$!
  for _ in $(seq 300); do
    grep -q "tally is running" "$work/log" && return 0
    sleep 0.1
  done
  cat "$work/log"; fail "the packaged daemon did not start"
}
start
now=$(date +%s)
printf 'pkg.test.value 42 %s\n' "$now" >/dev/tcp/127.0.0.1/$carbon_port
sleep 2
curl -fsS "http://127.0.0.1:$http_port/render?target=pkg.test.value&from=-5min&format=json" | grep -q '\[42' ||
  fail "value not served"
# The web UI and the shipped dashboard, from the packaged binary and paths.
curl -fsS "http://127.0.0.1:$http_port/" | grep -q '/ui/app.js' || fail "the web UI is not served"
curl -fsS "http://127.0.0.1:$http_port/api/dashboards/host" | grep -q '"title":"This host"' ||
  fail "the shipped dashboard is not served"
for i in $(seq 1000); do echo "hit $i"; done >>"$log"
wait_hits 1000
# What an upgrade does under systemd: prerm stops (SIGTERM), dpkg replaces, postinst restarts.
kill -TERM "$pid"; wait "$pid" || fail "daemon exit status on SIGTERM"
for i in $(seq 500); do echo "hit $i"; done >>"$log"   # written while the daemon is down
echo "# local edit" >>/etc/tally/tally.yaml
# An administrator took tally out of adm: no upgrade puts it back.
gpasswd -d tally adm >/dev/null
DEB_REVISION=2 packaging/build.sh >/dev/null
dpkg -i --force-confold target/package/tally_"$version"-2_*.deb
dpkg -s tally | grep -q "^Version: $version-2$" || fail "upgrade"
dpkg -i --force-confold target/package/tally_"$version"-2_*.deb   # and over itself
id -nG tally | grep -qw adm && fail "the upgrade put tally back into adm"
conffile_mode
grep -q "# local edit" /etc/tally/tally.yaml || fail "the upgrade replaced the edited conffile"
start
curl -fsS "http://127.0.0.1:$http_port/render?target=pkg.test.value&from=-5min&format=json" | grep -q '\[42' ||
  fail "data lost across the upgrade"
[ -f /etc/tally/parsers.d/pkgtest.yaml ] || fail "the upgrade removed a local parser"
wait_hits 1500   # resumed at the committed offset: nothing lost, nothing counted twice
sleep 1
[ "$(hits)" = 1500 ] || fail "lines counted twice after the upgrade: $(hits)"
kill -TERM "$pid"; wait "$pid" || fail "daemon exit status on SIGTERM"
[ "$(stat -c '%U' /var/lib/tally/MANIFEST 2>/dev/null || stat -c '%U' /var/lib/tally)" = tally ] ||
  fail "data files not owned by tally"

echo "== remove keeps data and config; purge deletes them"
dpkg -r tally
[ ! -e /usr/bin/tally ] || fail "binary left after remove"
[ -d /var/lib/tally ] && [ -f /etc/tally/tally.yaml ] || fail "remove deleted data or config"
dpkg -P tally
[ ! -e /var/lib/tally ] && [ ! -e /etc/tally ] || fail "purge left data or config"
rm -rf "$work"
echo "packaging test passed (exposure $score)"
