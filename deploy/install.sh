#!/usr/bin/env bash
# Installs, upgrades or removes Nook on Debian, Raspberry Pi OS or Ubuntu (arm64, amd64) with systemd.
#
#   sudo deploy/install.sh                       install or upgrade from this checkout
#   sudo deploy/install.sh --source nook.tar.gz  … from a release made by deploy/build-release.sh
#   sudo deploy/install.sh --library /mnt/photos --library /srv/nas/family
#   sudo deploy/install.sh --backup-target /mnt/usb-backup
#   sudo deploy/install.sh --uninstall           remove Nook, keep its data and settings
#   sudo deploy/install.sh --uninstall --purge   remove Nook and everything it stored
#
# Safe to run again: what is already in place is left alone. An upgrade stops Nook, swaps the release,
# migrates the metadata and starts it again; the data dir is never touched. See docs/install.md.
set -euo pipefail
trap 'echo "install.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

readonly OPT=/opt/nook
readonly ETC=/etc/nook
readonly UNIT_DIR=/etc/systemd/system
readonly DEFAULT_DATA_DIR=/var/lib/nook
readonly NODE_MIN=20.19
readonly KEEP_RELEASES=2
# Units that read library roots (the database does not).
readonly READER_UNITS=(nook nook-server nook-worker nook-ingest)
readonly ALL_UNITS=(nook.service nook-db.service nook-server.service nook-worker.service nook-ingest.service nook.target)

say() { printf '%s\n' "$*"; }
step() { printf '== %s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

Options:
  --source DIR|TARBALL  release or checkout to install (default: the checkout holding this script)
  --library PATH        a folder library or NAS share Nook may read (repeatable; remembered)
  --backup-target PATH  a folder backup schedules may write to, e.g. a USB disk (repeatable; remembered)
  --data-dir PATH       keep Nook's data here instead of /var/lib/nook (e.g. on an SSD)
  --port N              HTTP port (default 8080)
  --split               run database, server, workers and ingest as separate units (nook.target)
  --no-apt              do not install packages; fail if something is missing
  --no-start            install and enable, but do not start
  --uninstall           remove Nook; keeps data, settings and the nook user
  --purge               with --uninstall: also delete the data dir, /etc/nook and the nook user
  --print-dropin PATH…  print the systemd drop-in that --library PATH… (and any --backup-target
                        before it) writes, and exit
EOF
}

source_arg=""
data_dir=""
port=""
split=0
use_apt=1
start=1
uninstall=0
purge=0
libraries=()
backup_targets=()
known_targets=()

# The drop-in that lets the units read library roots (and wait for their mounts) and write backup
# targets (without waiting: an unplugged backup disk must not keep Nook from starting).
print_dropin() {
  local data=$1
  shift
  say "# Written by install.sh from $ETC/libraries and $ETC/backup-targets. Edit those files, not this one."
  say "[Unit]"
  local path
  for path in "$@"; do say "RequiresMountsFor=$path"; done
  [ "$data" = "$DEFAULT_DATA_DIR" ] || say "RequiresMountsFor=$data"
  say ""
  say "[Service]"
  # '-': a share that is not mounted yet must not keep Nook from starting; ingest reports it offline.
  for path in "$@"; do say "ReadOnlyPaths=-$path"; done
  for path in "${known_targets[@]}"; do say "ReadWritePaths=-$path"; done
  if [ "$data" != "$DEFAULT_DATA_DIR" ]; then
    say "ReadWritePaths=$data"
    say "Environment=NOOK_DATA_DIR=$data"
  fi
}

while (($#)); do
  case $1 in
    --source) source_arg=${2:?--source needs a path}; shift 2 ;;
    --library) libraries+=("${2:?--library needs a path}"); shift 2 ;;
    --backup-target) backup_targets+=("${2:?--backup-target needs a path}"); shift 2 ;;
    --data-dir) data_dir=${2:?--data-dir needs a path}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --split) split=1; shift ;;
    --no-apt) use_apt=0; shift ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    --print-dropin) shift; known_targets=("${backup_targets[@]}"); print_dropin "$DEFAULT_DATA_DIR" "$@"; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"
((purge == 0 || uninstall == 1)) || die "--purge goes with --uninstall"
[[ -z "$port" || "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]] || die "--port: expected 1-65535, got $port"
for path in "${libraries[@]}" "${backup_targets[@]}" ${data_dir:+"$data_dir"}; do
  [[ "$path" == /* ]] || die "paths must be absolute: $path"
  [[ "$path" != *[[:space:]]* ]] || die "paths with spaces are not supported by systemd's path settings: $path"
done
for path in "${libraries[@]}"; do
  # ':' separates NOOK_LIBRARY_ROOTS; '|', '&' and '\' would end set_env's sed expression.
  [[ "$path" != *[:\|\&\\]* ]] || die "--library: paths with ':', '|', '&' or '\\' are not supported: $path"
done

systemd_running() { [ -d /run/systemd/system ]; }

# The value of KEY in the env file, or empty.
env_value() { sed -n "s/^$1=//p" "$ETC/nook.env" 2>/dev/null | tail -n1; }

# Sets KEY=value in the env file, replacing an earlier value.
set_env() {
  local key=$1 value=$2
  if grep -q "^$key=" "$ETC/nook.env"; then
    [ "$(env_value "$key")" = "$value" ] || sed -i "s|^$key=.*|$key=$value|" "$ETC/nook.env"
  else
    printf '%s=%s\n' "$key" "$value" >>"$ETC/nook.env"
  fi
}

installed_data_dir() {
  local value
  value=$(env_value NOOK_DATA_DIR)
  printf '%s\n' "${value:-$DEFAULT_DATA_DIR}"
}

stop_units() {
  systemd_running || return 0
  local unit active=()
  for unit in "${ALL_UNITS[@]}"; do
    systemctl is-active --quiet "$unit" && active+=("$unit")
  done
  if ((${#active[@]})); then
    step "stopping ${active[*]}"
    systemctl stop "${active[@]}"
  fi
}

uninstall_nook() {
  local data
  data=$(installed_data_dir)
  stop_units
  step "removing the units"
  local unit
  for unit in "${ALL_UNITS[@]}"; do
    if [ -e "$UNIT_DIR/$unit" ]; then systemctl disable --quiet "$unit" 2>/dev/null || true; fi
    rm -f "$UNIT_DIR/$unit"
    rm -rf "$UNIT_DIR/$unit.d"
  done
  if systemd_running; then systemctl daemon-reload; fi
  step "removing $OPT"
  rm -rf "$OPT"
  rm -f /usr/local/bin/nook
  if ((purge)); then
    step "deleting the data in $data, the settings in $ETC and the nook user"
    rm -rf "$data" "$ETC"
    if getent passwd nook >/dev/null; then userdel nook; fi
    if getent group nook >/dev/null; then groupdel nook; fi
    say "Nook is removed, with everything it stored."
  else
    say "Nook is removed. Kept: the data in $data, the settings in $ETC and the nook user."
    say "Installing again picks them up; --uninstall --purge deletes them."
  fi
}

if ((uninstall)); then
  uninstall_nook
  exit 0
fi

# ---------------------------------------------------------------------------------------------
step "checking the system"
[ -r /etc/os-release ] || die "no /etc/os-release: this script is for Debian, Raspberry Pi OS and Ubuntu"
# shellcheck source=/dev/null
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "* | *" ubuntu "* | *" raspbian "*) ;;
  *) die "${PRETTY_NAME:-this system} is not Debian, Raspberry Pi OS or Ubuntu" ;;
esac
arch=$(dpkg --print-architecture)
case $arch in
  amd64 | arm64) ;;
  armhf) die "32-bit Raspberry Pi OS (armhf) is not supported: install the 64-bit (arm64) edition" ;;
  *) die "architecture $arch is not supported (amd64 and arm64 are)" ;;
esac
say "${PRETTY_NAME:-$ID} on $arch"

node_ok() { "$1" -e "const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)" 2>/dev/null; }

find_node() {
  local candidate
  for candidate in "$(command -v node || true)" /usr/local/bin/node /usr/bin/node; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && node_ok "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

apt_updated=0
apt_install() {
  (($#)) || return 0
  ((use_apt)) || die "missing packages: $* (run without --no-apt, or install them)"
  if ((apt_updated == 0)); then
    step "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
for pkg in ffmpeg libheif-examples libimage-exiftool-perl ca-certificates; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
apt_install "${missing[@]}"

if ! node=$(find_node); then
  # Debian 13, Ubuntu 24.10 and later package a new enough Node.js; Debian 12 and Raspberry Pi OS 12 ship 18.
  if ((use_apt && !apt_updated)); then
    apt-get update -qq
    apt_updated=1
  fi
  candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: //p')
  if ((use_apt)) && [ -n "$candidate" ] && [ "$candidate" != "(none)" ] &&
    dpkg --compare-versions "$candidate" ge "$NODE_MIN"; then
    apt_install nodejs
  fi
  node=$(find_node) || die "Nook needs Node.js >= $NODE_MIN, and this system's packages offer ${candidate:-none}.
  Install Node.js 20 or 22 (on Debian 12 / Raspberry Pi OS: https://github.com/nodesource/distributions,
  or the official tarball into /usr/local), then run this script again."
fi
say "Node.js $("$node" --version) at $node"

# ---------------------------------------------------------------------------------------------
step "user and directories"
# What the units run with, before this run changes it: a re-run that changes nothing restarts nothing.
units_digest() {
  { cat "$UNIT_DIR"/nook*.service "$UNIT_DIR"/nook.target "$UNIT_DIR"/nook*.d/* "$ETC/nook.env" 2>/dev/null || true; } | sha256sum
}
units_before=$(units_digest)
if ! getent passwd nook >/dev/null; then
  useradd --system --user-group --home-dir "$DEFAULT_DATA_DIR" --no-create-home --shell /usr/sbin/nologin \
    --comment "Nook personal cloud" nook
  say "created the system user nook"
fi

install -d -m 0755 "$ETC"
if [ ! -e "$ETC/nook.env" ]; then
  install -m 0640 -o root -g nook /dev/null "$ETC/nook.env"
  cat >"$ETC/nook.env" <<EOF
# Nook's settings (NOOK_* keys; every key and its default: .env.example in the release).
# After a change: sudo systemctl restart nook (or nook.target in split mode).
NOOK_DATA_DIR=$DEFAULT_DATA_DIR
NOOK_PORT=8080
EOF
fi
[ -z "$data_dir" ] || set_env NOOK_DATA_DIR "$data_dir"
[ -z "$port" ] || set_env NOOK_PORT "$port"
data=$(installed_data_dir)
install -d -m 0750 -o nook -g nook "$data"

touch "$ETC/libraries"
for path in "${libraries[@]}"; do
  grep -qxF "$path" "$ETC/libraries" || printf '%s\n' "$path" >>"$ETC/libraries"
done
mapfile -t known_libraries < <(grep -v '^[[:space:]]*\(#\|$\)' "$ETC/libraries")
# Nook makes folder libraries only inside NOOK_LIBRARY_ROOTS (':'-separated): every remembered
# library is added to it, beside any root set there by hand.
roots=$(env_value NOOK_LIBRARY_ROOTS)
for path in "${known_libraries[@]}"; do
  case ":$roots:" in
    *":$path:"*) ;;
    *) roots=${roots:+$roots:}$path ;;
  esac
done
[ -z "$roots" ] || set_env NOOK_LIBRARY_ROOTS "$roots"
touch "$ETC/backup-targets"
for path in "${backup_targets[@]}"; do
  grep -qxF "$path" "$ETC/backup-targets" || printf '%s\n' "$path" >>"$ETC/backup-targets"
done
mapfile -t known_targets < <(grep -v '^[[:space:]]*\(#\|$\)' "$ETC/backup-targets")

# ---------------------------------------------------------------------------------------------
step "release"
script_repo=$(cd "$(dirname "$0")/.." && pwd)
source_dir=${source_arg:-$script_repo}
unpacked=""
# shellcheck disable=SC2317 # called by the trap
cleanup() { [ -z "$unpacked" ] || rm -rf "$unpacked"; }
trap cleanup EXIT
if [ -f "$source_dir" ]; then
  unpacked=$(mktemp -d /tmp/nook-source.XXXXXX)
  tar -C "$unpacked" -xzf "$source_dir"
  source_dir=$unpacked
fi
if [ ! -f "$source_dir/package.json" ] || [ ! -d "$source_dir/apps/cli" ]; then
  die "$source_dir is not a Nook release or checkout"
fi
if [ ! -f "$source_dir/RELEASE" ]; then
  # A checkout: make a release from it first (needs npm and, for sqlite3, a C++ toolchain).
  command -v npm >/dev/null || apt_install npm
  missing=()
  for pkg in python3 make g++; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  apt_install "${missing[@]}"
  built=$(mktemp -d /tmp/nook-built.XXXXXX)
  [ -n "$unpacked" ] && rm -rf "$unpacked"
  unpacked=$built
  "$source_dir/deploy/build-release.sh" "$built/release"
  source_dir=$built/release
fi
release=$(cat "$source_dir/RELEASE")
current=""
[ -L "$OPT/current" ] && current=$(basename "$(readlink "$OPT/current")")

install -d -m 0755 "$OPT" "$OPT/releases" "$OPT/bin"
if [ ! -f "$OPT/releases/$release/.complete" ]; then
  say "copying release $release"
  rm -rf "$OPT/releases/$release.partial" "$OPT/releases/$release"
  cp -a "$source_dir" "$OPT/releases/$release.partial"
  chown -R root:root "$OPT/releases/$release.partial"
  chmod -R u+rwX,go+rX,go-w "$OPT/releases/$release.partial"
  touch "$OPT/releases/$release.partial/.complete"
  mv "$OPT/releases/$release.partial" "$OPT/releases/$release"
  # Newest first when old releases are pruned below (cp -a kept the source's time).
  touch "$OPT/releases/$release"
else
  say "release $release is already in $OPT/releases"
fi

# The `nook` command: the current release on the Node.js found above, as the nook user.
cat >"$OPT/bin/nook.partial" <<EOF
#!/bin/sh
# Written by install.sh. Runs the current Nook release as the nook user, with /etc/nook/nook.env.
# setpriv execs in place (runuser would stay as a parent that SIGKILLs Nook 2 s after a SIGTERM).
if [ "\$(id -u)" = 0 ]; then HOME=$DEFAULT_DATA_DIR exec setpriv --reuid=nook --regid=nook --init-groups -- "\$0" "\$@"; fi
if [ -z "\${NOOK_DATA_DIR:-}" ] && [ -r $ETC/nook.env ]; then set -a; . $ETC/nook.env; set +a; fi
export NOOK_DATA_DIR="\${NOOK_DATA_DIR:-$DEFAULT_DATA_DIR}" NODE_ENV="\${NODE_ENV:-production}"
exec $node $OPT/current/apps/cli/bin/nook.js "\$@"
EOF
chmod 0755 "$OPT/bin/nook.partial"
mv "$OPT/bin/nook.partial" "$OPT/bin/nook"
ln -sfn "$OPT/bin/nook" /usr/local/bin/nook

upgrade=0
if [ "$current" != "$release" ]; then
  if [ -n "$current" ]; then
    upgrade=1
    step "upgrading $current → $release"
    stop_units
  fi
  ln -sfn "releases/$release" "$OPT/current.new"
  mv -T "$OPT/current.new" "$OPT/current"
fi

step "migrating the metadata in $data"
"$OPT/bin/nook" migrate

# Older releases beyond the last few go; the previous one stays for a manual rollback.
mapfile -t old < <(find "$OPT/releases" -mindepth 1 -maxdepth 1 -type d ! -name "$release" ! -name '*.partial' \
  -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2- | tail -n +"$KEEP_RELEASES")
for dir in "${old[@]}"; do rm -rf "$dir"; done

# ---------------------------------------------------------------------------------------------
step "systemd units"
for unit in "${ALL_UNITS[@]}"; do
  install -m 0644 "$OPT/current/systemd/$unit" "$UNIT_DIR/$unit"
done
dropin=$(print_dropin "$data" "${known_libraries[@]}")
for unit in "${READER_UNITS[@]}"; do
  install -d -m 0755 "$UNIT_DIR/$unit.service.d"
  printf '%s\n' "$dropin" >"$UNIT_DIR/$unit.service.d/libraries.conf"
done
if [ "$data" != "$DEFAULT_DATA_DIR" ]; then
  install -d -m 0755 "$UNIT_DIR/nook-db.service.d"
  print_dropin "$data" >"$UNIT_DIR/nook-db.service.d/libraries.conf"
else
  rm -rf "$UNIT_DIR/nook-db.service.d"
fi

if ((split)) || systemctl is-enabled --quiet nook.target 2>/dev/null; then
  main_unit=nook.target
  systemctl disable --quiet nook.service 2>/dev/null || true
  systemctl enable --quiet nook.target nook-db.service nook-server.service nook-worker.service nook-ingest.service
else
  main_unit=nook.service
  systemctl enable --quiet nook.service
fi
say "enabled $main_unit"

port=$(env_value NOOK_PORT)
port=${port:-8080}
address=$(hostname -I 2>/dev/null | awk '{print $1}')
url="http://${address:-$(hostname)}:$port/"

if ! systemd_running; then
  say "systemd is not running here (a container or chroot?): Nook starts at the next boot."
  say "Then open $url"
  exit 0
fi
systemctl daemon-reload
if ((start == 0)); then
  say "Installed. Start it with: sudo systemctl start $main_unit — then open $url"
  exit 0
fi
if ((upgrade)) || [ "$(units_digest)" != "$units_before" ]; then
  step "(re)starting $main_unit"
  systemctl restart "$main_unit"
else
  step "starting $main_unit (unchanged; left running if it is)"
  systemctl start "$main_unit"
fi
for _ in $(seq 1 90); do
  if "$node" -e "fetch('http://127.0.0.1:$port/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    say "Nook $release is running: open $url"
    exit 0
  fi
  sleep 1
done
die "Nook did not answer on port $port within 90 s; see: journalctl -u '$main_unit' -u 'nook*' -n 50 --no-pager"
