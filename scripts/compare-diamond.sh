#!/usr/bin/env bash
# Side by side: the real Diamond collectors against `tally collect --root`, over the same
# generated /proc snapshot pairs (cpu with 1–64 CPUs and 4–10 columns, hotplug, Xen, counters
# going back; meminfo of old and new kernels, every byte unit; vmstat variants and wraps;
# net/dev with many interfaces, 32/64-bit wraps, resets, 2.6's `eth0:123`; diskstats with 14, 18
# and 20 fields, partitions, dm/md/loop/ram/nvme/cciss devices, Diamond's device filters,
# sector sizes and units; sockstat, tcp netstat/snmp of several column sets; uptime units;
# diskspace over this machine's mounts; whitelists and blacklists). Names and values are
# compared (equal to 1e-9, or alike at Diamond's precision); known differences are printed with
# their reason (KNOWN in compare-diamond/main.py); any other difference exits 1.
#
#   scripts/compare-diamond.sh [-v] [--case SUBSTR] [--keep DIR]
#
# Oracles: Diamond 4.0.515 from PyPI (Python 2 only; run with pyenv's 2.7.18, or $PYTHON2),
# installed with configobj and mock into target/peers/diamond, and, when present, Diamond's last
# master (python-diamond/Diamond e1e4b5a5, 2023: nvme devices, MemUsedPercentage,
# exclude_devices, which tally follows) unpacked in target/peers/diamond-git (its `src/`; get it
# with `git clone https://github.com/python-diamond/Diamond target/peers/diamond-git`).
# Needs python3 and cargo. Takes about 20 s after the build. scripts/test.sh runs it when
# Python 2.7 is there (pyenv's, as on the CI machine; it cannot be installed from a registry),
# and fails under CI=true when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
py2=${PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python}
[ -x "$py2" ] || { echo "Python 2.7 is needed (pyenv install 2.7.18, or set PYTHON2)" >&2; exit 2; }
peer=target/peers/diamond
if [ ! -f "$peer/share/diamond/collectors/cpu/cpu.py" ]; then
  echo "== installing Diamond 4.0.515 (PyPI) into $peer"
  "$py2" -m pip install -q --disable-pip-version-check --target "$peer" \
    'diamond==4.0.515' 'configobj==5.0.8' 'mock==3.0.5' 2>&1 | grep -v DEPRECATION || true
fi
cargo build -q
oracles=("pypi=$PWD/$peer")
if [ -d target/peers/diamond-git/src/collectors ]; then
  oracles+=("git=$PWD/target/peers/diamond-git")
else
  echo "(no target/peers/diamond-git: comparing with Diamond 4.0.515 only)"
fi
DIAMOND_DEPS="$PWD/$peer" exec python3 scripts/compare-diamond/main.py target/debug/tally "$py2" \
  "${oracles[@]}" "$@"
