#!/usr/bin/env bash
# Runs every check and test tally has. Needs only the Rust toolchain: what the tests need
# beyond it is installed here. Used by CI (.ci/run) and by developers alike.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"

# Real peers the tests use instead of mocks (Debian packages).
need_apt=()
command -v logrotate >/dev/null || [ -x /usr/sbin/logrotate ] || need_apt+=(logrotate)
command -v npm >/dev/null || need_apt+=(nodejs npm)
# The chaos matrix (scripts/chaos.sh) is driven by python3 (standard library only).
command -v python3 >/dev/null || need_apt+=(python3)
# graphite-web's venv (below) needs venv and ensurepip.
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# Shipping peers: carbon-cache + whisper-fetch, Prometheus, VictoriaMetrics.
[ -x /usr/bin/carbon-cache ] || need_apt+=(graphite-carbon)
[ -x /usr/bin/whisper-fetch ] || need_apt+=(python3-whisper)
[ -x /usr/bin/prometheus ] || need_apt+=(prometheus)
[ -x /usr/bin/victoria-metrics ] || need_apt+=(victoria-metrics)
# The web UI's browser tests (tests/browser.rs): headless Chromium through chromedriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# TLS to Prometheus (tests/ship_fleet.rs): certificates made by openssl, read back by curl.
[ -x /usr/bin/openssl ] || need_apt+=(openssl)
[ -x /usr/bin/curl ] || need_apt+=(curl)
# Debian's python3 with msgpack decodes /render's pickle and msgpack answers (tests/render_formats.rs).
/usr/bin/python3 -c 'import msgpack' 2>/dev/null || need_apt+=(python3-msgpack)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need_apt[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"; }
  else
    echo "missing ${need_apt[*]}: install them (sudo apt-get install ${need_apt[*]})" >&2
    [ "$CI" = true ] && exit 1
  fi
fi

# graphite-web 1.1.10 from PyPI, for the cluster test (tests/graphite_cluster.rs: two tallies as
# its CLUSTER_SERVERS); the same venv and pins as scripts/compare-graphite-web.sh.
gw=target/peers/graphite-web
if [ ! -x "$gw/bin/waitress-serve" ]; then
  echo "== installing graphite-web 1.1.10 (PyPI) into $gw"
  { python3 -m venv "$gw" && "$gw/bin/pip" install -q 'graphite-web==1.1.10' 'whisper==1.1.10' \
      'Django==2.2.28' 'django-tagging==0.4.3' 'cairocffi==1.7.1' 'pyparsing==3.3.3' 'waitress==3.0.2'; } \
    || { echo "installing graphite-web failed" >&2; [ "$CI" = true ] && exit 1; }
fi

# etsy statsd from npm, for the side-by-side StatsD test (tests/statsd_etsy.rs).
etsy=target/peers/statsd
if [ ! -f "$etsy/node_modules/statsd/stats.js" ] && command -v npm >/dev/null; then
  echo "== installing etsy statsd (npm statsd@0.9.0) into $etsy"
  mkdir -p "$etsy"
  npm install --silent --no-audit --no-fund --prefix "$etsy" statsd@0.9.0 >/dev/null \
    || { echo "npm install statsd failed" >&2; [ "$CI" = true ] && exit 1; }
fi

echo "== format"
cargo fmt --check
# Dependency policy (deny.toml): licenses, bans (duplicate versions), sources, and advisories
# when the RustSec database can be had: fetched from GitHub, or from a local clone or mirror
# named by ADVISORY_DB (this workplace cannot reach GitHub; see deny.toml).
if ! command -v cargo-deny >/dev/null; then
  echo "== installing cargo-deny (cargo install --locked cargo-deny@0.20.2, from crates.io)"
  cargo install --locked --quiet cargo-deny@0.20.2
fi
echo "== cargo deny (licenses, bans, sources)"
cargo deny --locked check licenses bans sources
scripts/deny-advisories.sh
echo "== web UI unit tests (node --test: URL state, YAML, target tokenizer, views, times)"
if command -v node >/dev/null; then
  node --test ui/test/
else
  echo "node is missing: the UI's unit tests need it (apt-get install nodejs)" >&2
  [ "$CI" = true ] && exit 1
fi
echo "== clippy"
cargo clippy --all-targets --locked -- -D warnings
# --all-targets also builds the criterion benches and runs each once in test mode (small sizes),
# so they are known to work without a second, optimized build here.
echo "== tests (unit, property, integration with the real binary, benches in test mode)"
cargo test --all-targets --locked
# Diamond 4.0.515 (PyPI, Python 2 only) side by side with `tally collect` over generated /proc
# snapshots (~10 s); scripts/compare-diamond.sh installs it into target/peers/diamond.
echo "== side by side with Diamond's collectors (scripts/compare-diamond.sh)"
if [ -x "${PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python}" ]; then
  scripts/compare-diamond.sh
else
  echo "Python 2.7 is missing (pyenv install 2.7.18, or set PYTHON2): Diamond cannot run" >&2
  [ "$CI" = true ] && exit 1
fi
echo "== chaos matrix, quick cases (real daemons; the disk cases mount a small tmpfs)"
if [ "$(id -u)" = 0 ]; then
  scripts/chaos.sh --quick
else
  echo "the chaos disk cases need root (mount a tmpfs); running the others" >&2
  [ "$CI" = true ] && exit 1
  CHAOS_SKIP=disk scripts/chaos.sh --quick
fi
echo "== packages (deb and rpm: build, inspect, install, upgrade over data, remove, purge)"
if [ "$(id -u)" = 0 ]; then
  ./packaging/test.sh
else
  echo "the packaging test needs root (dpkg -i); run: sudo packaging/test.sh" >&2
  [ "$CI" = true ] && exit 1
fi
echo "all tests passed"
