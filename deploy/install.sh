#!/usr/bin/env bash
# Install groundseg as a station service on Debian 12/13, or remove it.
#
#   sudo deploy/install.sh [install] [--prefix /opt/groundseg] [--enable]
#   sudo deploy/install.sh uninstall [--purge]
#   deploy/install.sh install --destdir /tmp/root      # stage into a directory, touch nothing else
#   deploy/install.sh --dry-run ...                     # print what would change, change nothing
#
# install:
#   1. Debian packages of deploy/debian-packages.txt (apt-get, only the missing ones)
#   2. the service user `groundseg` (deploy/systemd/groundseg.sysusers, in dialout and plugdev)
#   3. the source in PREFIX/src, a venv in PREFIX/venv made from /usr/bin/python3 with
#      --system-site-packages (GNU Radio and numpy are Debian's), the package installed
#      in it (editable, from PREFIX/src) and its Cython kernels built for this CPU
#   4. /etc/groundseg/station.toml from deploy/groundseg.example.toml if there is none
#      (an existing one is never touched; the example is kept up to date next to it as
#      station.toml.example), /etc/groundseg/keys for the control plane's CURVE keys
#   5. systemd units (/etc/systemd/system), udev rules (/etc/udev/rules.d), the RTL-SDR
#      DVB driver blacklist (/etc/modprobe.d); systemctl daemon-reload, udev reload
#   6. with --enable: systemctl enable --now groundseg-station
#
# Idempotent: a file is written only when its content or mode differs, a step only
# runs when needed; a second run reports "nothing changed".
#
# uninstall: stops and disables the units, removes them, the udev/modprobe/sysusers
# files and PREFIX. The configuration (/etc/groundseg), the station's data
# (/var/lib/groundseg) and the user stay unless --purge.
#
# --destdir DIR: every path goes under DIR, and nothing outside it is touched (no
# packages, users, ownership, systemctl or udevadm); the venv step is skipped unless
# --with-venv. For tests and packaging.
set -euo pipefail

trap 'echo "install.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
src_top=$(cd "$here/.." && pwd)

action=install
prefix=/opt/groundseg
destdir=""
dry=0
packages=1
venv_step=auto
enable=0
purge=0
example="$here/groundseg.example.toml"

usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    install|uninstall) action="$1" ;;
    --prefix) prefix="${2:?--prefix needs a directory}"; shift ;;
    --prefix=*) prefix="${1#*=}" ;;
    --destdir) destdir="${2:?--destdir needs a directory}"; shift ;;
    --destdir=*) destdir="${1#*=}" ;;
    --dry-run|-n) dry=1 ;;
    --no-packages) packages=0 ;;
    --no-venv) venv_step=no ;;
    --with-venv) venv_step=yes ;;
    --enable) enable=1 ;;
    --purge) purge=1 ;;
    --config) example="${2:?--config needs a file}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

case "$prefix" in
  /|/usr|/usr/local|/opt|/etc|/var|/home|/srv|/root|/tmp) echo "install.sh: --prefix $prefix: give groundseg a directory of its own (/opt/groundseg)" >&2; exit 2 ;;
  /*) prefix="${prefix%/}" ;;
  *) echo "install.sh: --prefix must be an absolute path, not '$prefix'" >&2; exit 2 ;;
esac
[ -f "$example" ] || { echo "install.sh: no such config file: $example" >&2; exit 2; }
if [ -n "$destdir" ]; then
  mkdir -p "$destdir"
  destdir=$(cd "$destdir" && pwd)
  packages=0
  [ "$venv_step" = auto ] && venv_step=no
fi
[ "$venv_step" = auto ] && venv_step=yes

D="$destdir"
SVC_USER=groundseg
ETC=/etc/groundseg
UNITS=(groundseg-station.service groundseg-rotator-bridge.service)
changed=0
changed_units=0
changed_udev=0

log() { echo "install.sh: $*" >&2; }
system() { [ -z "$D" ]; }                    # acting on the real machine?
systemd_running() { system && [ -d /run/systemd/system ]; }
need_root() {
  if system && [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo), or use --destdir DIR / --dry-run" >&2
    exit 1
  fi
}

# run CMD...: a command that changes the machine (printed; skipped in --dry-run)
run() {
  echo "+ $*" >&2
  [ "$dry" = 1 ] || "$@"
}

# put SRC DST MODE: install a file when its content or mode differs
put() {
  local src="$1" dst="$D$2" mode="$3"
  if [ -f "$dst" ] && cmp -s "$src" "$dst" && [ "$(stat -c %a "$dst")" = "$mode" ]; then
    return 0
  fi
  changed=$((changed + 1))
  echo "  install $2 ($mode)" >&2
  if [ "$dry" = 0 ]; then
    mkdir -p "$(dirname "$dst")"
    install -m "$mode" "$src" "$dst.tmp-install"
    mv -f "$dst.tmp-install" "$dst"
  fi
  return 1
}

# mkd DIR MODE [OWNER:GROUP]: a directory with this mode (owner only on the real machine)
mkd() {
  local dst="$D$1" mode="$2" owner="${3:-}"
  if [ ! -d "$dst" ] || [ "$(stat -c %a "$dst")" != "$mode" ]; then
    changed=$((changed + 1))
    echo "  mkdir $1 ($mode)" >&2
    [ "$dry" = 1 ] || { mkdir -p "$dst"; chmod "$mode" "$dst"; }
  fi
  if [ -n "$owner" ] && system && [ "$dry" = 0 ] && [ "$(stat -c %U:%G "$dst")" != "$owner" ]; then
    changed=$((changed + 1))
    run chown "$owner" "$dst"
  fi
}

# rm_path PATH: remove a file or directory if present
rm_path() {
  if [ -e "$D$1" ] || [ -L "$D$1" ]; then
    changed=$((changed + 1))
    run rm -rf "$D$1"
  fi
}

# a unit as installed: the default prefix replaced by --prefix
render_unit() {
  sed -e "s#/opt/groundseg/#$prefix/#g" "$1"
}

# the source files of a station install (no build outputs, tests or local state)
source_files() {
  (cd "$src_top" && find groundseg firmware_bridge flowgraphs seeds tools deploy \
      \( -name __pycache__ -o -name '*.egg-info' \) -prune -o -type f \
      ! -name '*.so' ! -name '*.pyc' ! -name '*.tmp-install' -print 2>/dev/null
   cd "$src_top" && for f in setup.py pyproject.toml README.md Makefile LICENSE COPYING; do
     if [ -f "$f" ]; then echo "$f"; fi; done) \
  | while read -r f; do
      # Cython's generated C next to its .pyx is a build output
      case "$f" in *.c) if [ -f "$src_top/${f%.c}.pyx" ]; then continue; fi ;; esac
      echo "$f"
    done | LC_ALL=C sort
}

# --- install ----------------------------------------------------------------------------

do_packages() {
  [ "$packages" = 1 ] || { log "Debian packages: skipped"; return 0; }
  local wanted missing=() p st
  wanted=$(sed -e 's/#.*//' -e '/^\s*$/d' "$here/debian-packages.txt" | tr -s ' \n' '\n' | sort -u)
  for p in $wanted; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    changed=$((changed + 1))
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -q
    run apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

do_user() {
  put "$here/systemd/groundseg.sysusers" /etc/sysusers.d/groundseg.conf 644 || true
  system || { log "user $SVC_USER: not created (--destdir)"; return 0; }
  if id "$SVC_USER" >/dev/null 2>&1 && id -nG "$SVC_USER" | tr ' ' '\n' | grep -qx dialout \
     && id -nG "$SVC_USER" | tr ' ' '\n' | grep -qx plugdev; then
    return 0
  fi
  changed=$((changed + 1))
  if command -v systemd-sysusers >/dev/null; then
    run systemd-sysusers /etc/sysusers.d/groundseg.conf
  else
    id "$SVC_USER" >/dev/null 2>&1 || run useradd --system --user-group --home-dir /var/lib/groundseg \
        --no-create-home --shell /usr/sbin/nologin --comment "groundseg ground station" "$SVC_USER"
    run usermod -a -G dialout,plugdev "$SVC_USER"
  fi
}

do_source() {
  local list old f n0=$changed
  list=$(source_files)
  mkd "$prefix" 755
  mkd "$prefix/src" 755
  while read -r f; do
    local mode=644
    [ -x "$src_top/$f" ] && mode=755
    put "$src_top/$f" "$prefix/src/$f" "$mode" || true
  done <<< "$list"
  # files of an earlier install that the source no longer has
  old="$D$prefix/src/.groundseg-files"
  if [ -f "$old" ]; then
    while read -r f; do
      grep -qxF -- "$f" <<< "$list" || rm_path "$prefix/src/$f"
    done < "$old"
  fi
  if [ ! -f "$old" ] || [ "$(cat "$old")" != "$list" ]; then
    changed=$((changed + 1))
    [ "$dry" = 1 ] || printf '%s\n' "$list" > "$old"
  fi
  [ "$changed" = "$n0" ] || log "source: $((changed - n0)) change(s) in $prefix/src"
}

do_venv() {
  [ "$venv_step" = yes ] || { log "venv and package: skipped"; return 0; }
  local venv="$D$prefix/venv" top="$D$prefix/src" py stamp want
  py="$venv/bin/python"
  if [ ! -x "$py" ] || ! grep -q "include-system-site-packages = true" "$venv/pyvenv.cfg" 2>/dev/null \
     || ! grep -q "^home = /usr/bin" "$venv/pyvenv.cfg" 2>/dev/null; then
    changed=$((changed + 1))
    run rm -rf "$venv"
    run /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  # the package (editable: PREFIX/src is the code) and its kernels, when the source changed
  stamp="$venv/.groundseg-installed"
  want=$(cd "$top" && sha256sum $(cat .groundseg-files) 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    changed=$((changed + 1))
    run "$py" -m pip install -q "cython>=3.0" "setuptools>=61" wheel
    run "$py" -m pip install -q --no-build-isolation -e "$top"
    (cd "$top" && run "$py" setup.py -q build_ext --inplace -j 2 >/dev/null)
    # bytecode now: the service cannot write it later (ProtectSystem=strict)
    run "$py" -m compileall -q "$top/groundseg" "$top/firmware_bridge" "$top/flowgraphs" >/dev/null
    run "$py" -c 'import sys, numpy; from gnuradio import gr
if not numpy.__file__.startswith("/usr/lib/python3"):
    sys.exit(f"install.sh: the venv has its own numpy ({numpy.__file__}): GNU Radio is built against Debian'"'"'s")'
    [ "$dry" = 1 ] || echo "$want" > "$stamp"
  fi
}

do_config() {
  mkd "$ETC" 750 "root:$SVC_USER"
  put "$example" "$ETC/station.toml.example" 644 || true
  if [ ! -e "$D$ETC/station.toml" ]; then
    put "$example" "$ETC/station.toml" 640 || true
    if system && [ "$dry" = 0 ]; then run chown "root:$SVC_USER" "$ETC/station.toml"; fi
  fi
  # CURVE keys: the station reads its secret key, so the directory is the service user's
  mkd "$ETC/keys" 700 "$SVC_USER:$SVC_USER"
}

do_units() {
  local u tmp
  tmp=$(mktemp)
  for u in "${UNITS[@]}"; do
    render_unit "$here/systemd/$u" > "$tmp"
    put "$tmp" "/etc/systemd/system/$u" 644 || changed_units=1
  done
  rm -f "$tmp"
  put "$here/udev/60-groundseg-sdr.rules" /etc/udev/rules.d/60-groundseg-sdr.rules 644 || changed_udev=1
  put "$here/modprobe/groundseg-rtl-sdr.conf" /etc/modprobe.d/groundseg-rtl-sdr.conf 644 || true
}

do_reload() {
  if [ "$changed_units" = 1 ]; then
    if systemd_running; then run systemctl daemon-reload; else log "systemd not running here: no daemon-reload"; fi
  fi
  if [ "$changed_udev" = 1 ] && system && command -v udevadm >/dev/null && [ -d /run/udev ]; then
    run udevadm control --reload
    run udevadm trigger --action=change --subsystem-match=usb
  fi
  if [ "$enable" = 1 ]; then
    if systemd_running; then
      systemctl is-enabled -q groundseg-station.service 2>/dev/null || { changed=$((changed + 1)); run systemctl enable groundseg-station.service; }
      systemctl is-active -q groundseg-station.service 2>/dev/null || { changed=$((changed + 1)); run systemctl start groundseg-station.service; }
    else
      log "--enable: systemd is not running here (or --destdir): not enabled"
    fi
  fi
}

do_install() {
  need_root
  do_packages
  do_user
  do_source
  do_venv
  do_config
  do_units
  do_reload
  if [ "$changed" = 0 ]; then
    log "nothing changed"
  else
    log "$changed change(s)$([ "$dry" = 1 ] && echo ' (dry run: none made)')"
  fi
  if system && [ "$dry" = 0 ] && [ ! -e "$ETC/keys/server.key_secret" ]; then
    cat >&2 <<EOF
install.sh: next steps:
  1. edit $ETC/station.toml (station position, SDR serials, rotator port), then
       $prefix/venv/bin/groundseg config check $ETC/station.toml
  2. the control plane's keys:
       runuser -u $SVC_USER -- $prefix/venv/bin/groundseg keys init --config $ETC/station.toml
  3. systemctl enable --now groundseg-station; journalctl -u groundseg-station -f
EOF
  fi
}

# --- uninstall --------------------------------------------------------------------------------

do_uninstall() {
  need_root
  local u
  if systemd_running; then
    for u in "${UNITS[@]}"; do
      if systemctl is-active -q "$u" 2>/dev/null || systemctl is-enabled -q "$u" 2>/dev/null; then
        changed=$((changed + 1))
        run systemctl disable --now "$u"
      fi
    done
  fi
  for u in "${UNITS[@]}"; do
    [ -e "$D/etc/systemd/system/$u" ] && changed_units=1
    rm_path "/etc/systemd/system/$u"
    rm_path "/etc/systemd/system/$u.d"
  done
  [ -e "$D/etc/udev/rules.d/60-groundseg-sdr.rules" ] && changed_udev=1
  rm_path /etc/udev/rules.d/60-groundseg-sdr.rules
  rm_path /etc/modprobe.d/groundseg-rtl-sdr.conf
  rm_path /etc/sysusers.d/groundseg.conf
  # only what install made: the prefix itself goes only if nothing else is left in it
  rm_path "$prefix/venv"
  rm_path "$prefix/src"
  if [ -d "$D$prefix" ] && [ -z "$(ls -A "$D$prefix")" ]; then
    changed=$((changed + 1))
    run rmdir "$D$prefix"
  fi
  if [ "$purge" = 1 ]; then
    rm_path "$ETC"
    rm_path /var/lib/groundseg
    rm_path /var/cache/groundseg
    if system && id "$SVC_USER" >/dev/null 2>&1; then
      changed=$((changed + 1))
      run userdel "$SVC_USER"
    fi
  elif [ -e "$D$ETC" ] || [ -e "$D/var/lib/groundseg" ]; then
    log "kept $ETC and /var/lib/groundseg (and the user $SVC_USER): --purge removes them"
  fi
  do_reload
  if [ "$changed" = 0 ]; then log "nothing changed"; else log "$changed change(s)"; fi
}

case "$action" in
  install) do_install ;;
  uninstall) do_uninstall ;;
esac
