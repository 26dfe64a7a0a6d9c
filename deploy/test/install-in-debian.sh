#!/usr/bin/env bash
# CI: deploy/install.sh for real in a Debian 12 root made by debootstrap: packages from apt, the nook
# user, the layout under /opt/nook, /var/lib/nook and /etc/nook, the units (systemd-analyze verify on
# the installed files), Nook started from the installed wrapper as the nook user, a re-run that changes
# nothing, an upgrade that keeps the data, --uninstall that keeps it and --uninstall --purge.
#
# In the chroot systemd is not PID 1, so install.sh takes its "not running" path (units enabled,
# started at the next boot); then the root is booted with systemd-nspawn and the units run for real,
# all-in-one and split. The debootstrapped root is cached in $NOOK_CI_CACHE (default
# /var/cache/nook-ci), as are the .debs apt downloads into it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${NOOK_CI_CACHE:-/var/cache/nook-ci}
suite=bookworm
arch=$(dpkg --print-architecture)
base="$cache/$suite-$arch"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
check() {
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mounts)"

if [ ! -d "$base" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  echo "== debootstrap $suite ($arch) into $base (once; cached)"
  mkdir -p "$cache"
  rm -rf "$base.partial"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,procps \
    "$suite" "$base.partial" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; fail "debootstrap"; }
  mv "$base.partial" "$base"
fi

work=$(mktemp -d /tmp/nook-install-test.XXXXXX)
root="$work/root"
mounts=()
nook_pid=""
nspawn_pid=""
cleanup() {
  set +e
  [ -z "$nook_pid" ] || { kill "$nook_pid" 2>/dev/null; wait "$nook_pid" 2>/dev/null; }
  [ -z "$nspawn_pid" ] || { kill "$nspawn_pid" 2>/dev/null; wait "$nspawn_pid" 2>/dev/null; }
  if [ -n "${NOOK_TEST_KEEP:-}" ]; then
    echo "kept $work (mounts: ${mounts[*]})"
    return
  fi
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
mount_into() { # mount_into TARGET mount-args…
  local target=$1
  shift
  mkdir -p "$target"
  mount "$@" "$target" || return 1
  mounts+=("$target")
}

echo "== a fresh copy of the Debian root ($(date +%T))"
mkdir -p "$root" "$work/upper" "$work/ovl"
if ! mount_into "$root" -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovl" 2>/dev/null; then
  mounts=()
  cp -a "$base/." "$root/"
fi
mount_into "$root/proc" -t proc proc
mount_into "$root/sys" -t sysfs sysfs
mount_into "$root/dev" --rbind /dev
mkdir -p "$cache/apt-archives/partial"
mount_into "$root/var/cache/apt/archives" --bind "$cache/apt-archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Debian 12 packages Node.js 18; users install 20+ themselves (NodeSource or a tarball in /usr/local).
cp "$(command -v node)" "$root/usr/local/bin/node"

echo "== releases A, B and C (B and C: A with other ids, as upgrades bring) ($(date +%T))"
"$repo/deploy/build-release.sh" "$work/release-a" >/dev/null 2>&1 || fail "build-release.sh"
cp -a "$work/release-a" "$work/release-b"
echo "$(cat "$work/release-a/RELEASE")-next" >"$work/release-b/RELEASE"
cp -a "$work/release-a" "$work/release-c"
echo "$(cat "$work/release-a/RELEASE")-third" >"$work/release-c/RELEASE"
mount_into "$root/src" --bind "$repo" -o ro
mount_into "$root/mnt/release-a" --bind "$work/release-a" -o ro
mount_into "$root/mnt/release-b" --bind "$work/release-b" -o ro
mkdir -p "$root/srv/photos" "$root/mnt/usb-backup"
# A photo in the watched folder, for the library scan under the hardened units.
ffmpeg -loglevel error -f lavfi -i testsrc=size=640x480 -frames:v 1 "$root/srv/photos/holiday.jpg"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
has_admin() { in_root /opt/nook/bin/nook user list | grep -q '^admin'; }
has_admin_booted() { in_boot /opt/nook/bin/nook user list | grep -q '^admin'; }
not() { ! "$@"; }
# A process with the root's nook uid whose command line holds the text.
runs_as_nook() { pgrep -u "$nook_uid" -f -- "$1" >/dev/null; }
digest() { (cd "$root" && find opt/nook etc/nook etc/systemd/system -path '*/releases/*/*' -prune -o -printf '%p %m %u %s %l\n' | sort | sha256sum); }

echo "== install ($(date +%T))"
in_root /src/deploy/install.sh --source /mnt/release-a --library /srv/photos --backup-target /mnt/usb-backup \
  --port "$port" | tee "$work/install-1.log"
release_a=$(cat "$work/release-a/RELEASE")

check "apt installed ffmpeg, heif-convert and exiftool" in_root sh -c "command -v ffmpeg && command -v heif-convert && command -v exiftool >/dev/null"
check "nook is a system user without a login shell" \
  test "$(in_root getent passwd nook | cut -d: -f7)" = /usr/sbin/nologin
check "nook's uid is a system uid" test "$(in_root id -u nook)" -lt 1000
check "/var/lib/nook belongs to nook, mode 750" test "$(in_root stat -c '%U %a' "/var/lib/nook")" = "nook 750"
check "/opt/nook/current is release A" test "$(readlink "$root/opt/nook/current")" = "releases/$release_a"
check "the release belongs to root" test "$(in_root stat -c %U "/opt/nook/releases/$release_a/apps")" = root
check "/usr/local/bin/nook runs the wrapper" test "$(readlink "$root/usr/local/bin/nook")" = /opt/nook/bin/nook
check "nook.env keeps the port" grep -qx "NOOK_PORT=$port" "$root/etc/nook/nook.env"
check "nook.env is readable by nook only" test "$(in_root stat -c '%G %a' "/etc/nook/nook.env")" = "nook 640"
check "the metadata was migrated as nook" test "$(in_root stat -c %U "/var/lib/nook/nook.db")" = nook
check "nook.service is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/nook.service"
check "the library drop-in lets the units read /srv/photos" \
  grep -qx 'ReadOnlyPaths=-/srv/photos' "$root/etc/systemd/system/nook-worker.service.d/libraries.conf"
check "--library /srv/photos is an allowed library root" \
  grep -qx 'NOOK_LIBRARY_ROOTS=/srv/photos' "$root/etc/nook/nook.env"
check "the drop-in lets the worker write the backup target" \
  grep -qx 'ReadWritePaths=-/mnt/usb-backup' "$root/etc/systemd/system/nook-worker.service.d/libraries.conf"
check "install.sh said systemd is not running" grep -q 'systemd is not running here' "$work/install-1.log"
check "install.sh printed the URL" grep -q "http://.*:$port/" "$work/install-1.log"

echo "== systemd-analyze verify on the installed units ($(date +%T))"
verify=$(systemd-analyze verify --root="$root" nook.service nook-db.service nook-server.service \
  nook-worker.service nook-ingest.service nook.target 2>&1) || fail "verify: $verify"
[ -z "$verify" ] || fail "verify warned: $verify"
echo "ok: installed units verify clean"

echo "== Nook started by the installed wrapper (as nook), in the root ($(date +%T))"
# Not through in_root: $! must be the process that becomes Node (chroot, env, the wrapper all exec).
chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin /opt/nook/bin/nook start >"$work/nook.log" 2>&1 &
nook_pid=$!
healthy=0
for _ in $(seq 1 90); do
  if node -e "fetch('http://127.0.0.1:$port/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    healthy=1
    break
  fi
  kill -0 "$nook_pid" 2>/dev/null || break
  sleep 1
done
((healthy)) || { cat "$work/nook.log"; fail "nook start answered /api/health"; }
echo "ok: /api/health answers"
nook_uid=$(in_root id -u nook)
check "PostgreSQL runs as nook" runs_as_nook 'postgres -D /var/lib/nook/pg'
check "Node runs as nook" runs_as_nook 'nook.js start'
printf 'correct horse battery\n' | in_root /opt/nook/bin/nook user create admin >/dev/null
kill "$nook_pid"
wait "$nook_pid" || true
nook_pid=""
check "Nook stopped on SIGTERM and logged it" grep -q 'shutting down' "$work/nook.log"
check "the embedded PostgreSQL stopped with Nook" not runs_as_nook 'postgres -D /var/lib/nook/pg'

echo "== re-run: nothing changes ($(date +%T))"
before=$(digest)
in_root /src/deploy/install.sh --source /mnt/release-a | tee "$work/install-2.log"
check "a second run leaves every file as it was" test "$(digest)" = "$before"
check "a second run copies no release" grep -q "already in /opt/nook/releases" "$work/install-2.log"

echo "== upgrade to release B, over metadata one migration behind ($(date +%T))"
# As if release A predated the newest migration: its change and its record are taken back.
as_nook_node() { in_root setpriv --reuid=nook --regid=nook --init-groups /usr/local/bin/node -e "$1"; }
open_db="const db = new (require('/opt/nook/current/node_modules/better-sqlite3'))('/var/lib/nook/nook.db');"
as_nook_node "$open_db
  db.exec('alter table backup_runs drop column target_dir');
  db.prepare('delete from mikro_orm_migrations where name = ?').run('Migration20261130203000');"
has_newest_migration() {
  as_nook_node "$open_db
    const column = db.prepare(\"select count(*) as n from pragma_table_info('backup_runs') where name = 'target_dir'\").get().n;
    const record = db.prepare('select count(*) as n from mikro_orm_migrations where name = ?').get('Migration20261130203000').n;
    process.exit(column === 1 && record === 1 ? 0 : 1);"
}
check "the metadata is one migration behind before the upgrade" not has_newest_migration
in_root /src/deploy/install.sh --source /mnt/release-b | tee "$work/install-3.log"
check "current is release B" test "$(readlink "$root/opt/nook/current")" = "releases/$release_a-next"
check "release A is kept for a rollback" test -d "$root/opt/nook/releases/$release_a"
check "the upgrade applied the missing migration" has_newest_migration
check "the account survived the upgrade" has_admin
check "the library list survived the upgrade" grep -qx 'ReadOnlyPaths=-/srv/photos' "$root/etc/systemd/system/nook.service.d/libraries.conf"

echo "== --uninstall keeps the data ($(date +%T))"
in_root /src/deploy/install.sh --uninstall
check "/opt/nook is gone" test ! -e "$root/opt/nook"
check "the units are gone" test ! -e "$root/etc/systemd/system/nook.service"
check "the enablement is gone" test ! -e "$root/etc/systemd/system/multi-user.target.wants/nook.service"
check "the data is kept" test -s "$root/var/lib/nook/nook.db"
check "the settings are kept" test -f "$root/etc/nook/nook.env"
check "the nook user is kept" in_root getent passwd nook >/dev/null

echo "== installing again picks the data up ($(date +%T))"
in_root /src/deploy/install.sh --source /mnt/release-b >/dev/null
check "the account is still there" has_admin

echo "== systemd for real: the root booted with systemd-nspawn ($(date +%T))"
# nspawn keeps state under /run/systemd/nspawn and removes it only from a tmpfs; with no systemd on
# the host it can neither register the machine nor make a scope for it.
if [ ! -d /run/systemd/nspawn ] || ! findmnt /run/systemd/nspawn >/dev/null; then
  mount_into /run/systemd/nspawn -t tmpfs tmpfs
fi
for dir in proc sys dev; do umount -l "$root/$dir"; done
systemd-nspawn -D "$root" --register=no --keep-unit --machine="nook-ci-$$" -b --console=pipe \
  --bind-ro="$repo:/src" --bind-ro="$work/release-b:/mnt/release-b" --bind-ro="$work/release-c:/mnt/release-c" \
  >"$work/boot.log" 2>&1 &
nspawn_pid=$!
# The container's PID 1: nspawn's child, once it has become systemd and answers on its bus.
init=""
state=""
for _ in $(seq 1 120); do
  init=$(pgrep -P "$nspawn_pid" || true)
  if [ -n "$init" ] && [ "$(cat "/proc/$init/comm" 2>/dev/null)" = systemd ]; then
    state=$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
  fi
  sleep 1
done
in_boot() { nsenter -t "$init" -a /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@"; }
echo "system state: ${state:-none}"
[ "$state" = running ] || { cat "$work/boot.log"; in_boot systemctl --failed --no-pager; fail "systemd came up"; }
healthy() { node -e "fetch('http://127.0.0.1:$port/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; }
wait_healthy() {
  local _
  for _ in $(seq 1 90); do healthy && return 0; sleep 1; done
  return 1
}
check "nook.service started at boot and answers" wait_healthy
check "nook.service is active" in_boot systemctl is-active --quiet nook.service
check "Nook runs as nook under systemd" in_boot pgrep -u nook -f 'nook.js start'
check "its log is in the journal" sh -c "nsenter -t $init -a journalctl -u nook.service --no-pager | grep -q 'is listening on'"

echo "== split mode, with systemd running: install.sh --split restarts into nook.target"
in_boot /src/deploy/install.sh --source /mnt/release-b --split | tee "$work/install-split.log"
check "install.sh waited for the server and printed the URL" grep -q "is running: open http://" "$work/install-split.log"
for unit in nook-db nook-server nook-worker nook-ingest; do
  check "$unit.service is active" in_boot systemctl is-active --quiet "$unit.service"
done
check "nook.service gave way to nook.target" not in_boot systemctl is-active --quiet nook.service
check "the worker runs at Nice 10" test "$(in_boot ps -o ni= -p "$(in_boot systemctl show -p MainPID --value nook-worker.service)" | tr -d ' ')" = 10
check "the account is still there" has_admin_booted

echo "== real work under the hardened units: a watched folder and an upload, thumbnailed ($(date +%T))"
in_boot /opt/nook/bin/nook library add /srv/photos >/dev/null
check "the worker read /srv/photos and made thumbnails (sharp under the system-call filter)" \
  sh -c "cd '$repo' && node deploy/test/smoke.mjs http://127.0.0.1:$port admin 'correct horse battery' 2"

echo "== upgrade under systemd: stop, swap, migrate, start ($(date +%T))"
in_boot /src/deploy/install.sh --source /mnt/release-c | tee "$work/install-upgrade.log"
check "install.sh upgraded to release C" grep -q "upgrading $release_a-next → $release_a-third" "$work/install-upgrade.log"
check "it stopped the running units first" grep -q "stopping .*nook-server.service" "$work/install-upgrade.log"
check "release C answers" grep -q "Nook $release_a-third is running" "$work/install-upgrade.log"
for unit in nook-db nook-server nook-worker nook-ingest; do
  check "$unit.service is active after the upgrade" in_boot systemctl is-active --quiet "$unit.service"
done
check "the photos are still there after the upgrade" \
  sh -c "cd '$repo' && node deploy/test/smoke.mjs http://127.0.0.1:$port admin 'correct horse battery' 3"
in_boot systemctl poweroff || true
for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
kill "$nspawn_pid" 2>/dev/null || true
wait "$nspawn_pid" || true
mount_into "$root/proc" -t proc proc
mount_into "$root/sys" -t sysfs sysfs
mount_into "$root/dev" --rbind /dev

echo "== --uninstall --purge deletes everything ($(date +%T))"
in_root /src/deploy/install.sh --uninstall --purge
check "the data is gone" test ! -e "$root/var/lib/nook"
check "the settings are gone" test ! -e "$root/etc/nook"
check "the nook user is gone" not in_root getent passwd nook

echo "install.sh in Debian $suite ($arch): all checks passed"
