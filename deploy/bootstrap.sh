#!/usr/bin/env bash
# Set up groundseg on a Debian 12/13 machine: Debian packages, a venv made from
# /usr/bin/python3 (so GNU Radio's bindings and Debian's numpy are visible), the
# package in editable mode and its Cython kernels built in place.
#
#   deploy/bootstrap.sh [--dev] [--venv DIR]
#
# Idempotent: every step checks whether it is already done and skips if so.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
venv="$top/.venv"
dev=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) dev=1 ;;
    --venv) venv="$2"; shift ;;
    *) echo "bootstrap: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "bootstrap: $*" >&2; }

# 1. Debian packages ---------------------------------------------------------
lists=("$here/debian-packages.txt")
[ "$dev" = 1 ] && lists+=("$here/debian-packages-dev.txt")
wanted=$(sed -e 's/#.*//' -e '/^\s*$/d' "${lists[@]}" | tr -s ' \n' '\n' | sort -u)
missing=()
for p in $wanted; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. The venv ----------------------------------------------------------------
if [ ! -x "$venv/bin/python" ] || ! grep -q "include-system-site-packages = true" "$venv/pyvenv.cfg" 2>/dev/null \
   || ! grep -q "^home = /usr/bin" "$venv/pyvenv.cfg" 2>/dev/null; then
  log "creating venv $venv from /usr/bin/python3"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
py="$venv/bin/python"

# 3. Python packages (only when pyproject.toml, setup.py or the package list changed) ----------------------
stamp="$venv/.groundseg-deps"
# (and when the package list changed: the editable install's finder is a snapshot of it)
want=$( { cat "$top/pyproject.toml" "$top/setup.py"
          cd "$top" && find groundseg firmware_bridge flowgraphs -name __init__.py | LC_ALL=C sort; } \
        | sha256sum | cut -d' ' -f1)-$dev
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages"
  "$py" -m pip install -q "cython>=3.0" "setuptools>=61" wheel
  extra=""
  [ "$dev" = 1 ] && extra="[test]"
  (cd "$top" && "$py" -m pip install -q --no-build-isolation -e ".$extra")
  echo "$want" > "$stamp"
fi

# 4. Cython kernels (incremental) ---------------------------------------------
# (serialised with a lock: several builds in one tree must not interleave)
(cd "$top" && flock "$top/.venv/.build-lock" "$py" setup.py -q build_ext --inplace -j 2 >/dev/null)

# 5. Sanity: one numpy, Debian's, and GNU Radio importable --------------------
"$py" - <<'PY'
import sys
import numpy
if not numpy.__file__.startswith("/usr/lib/python3"):
    sys.exit(f"bootstrap: the venv has its own numpy ({numpy.__file__}); remove it: GNU Radio is built against Debian's")
from gnuradio import gr  # noqa: F401
PY
