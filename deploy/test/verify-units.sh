#!/usr/bin/env bash
# CI: `systemd-analyze verify` on every unit in systemd/, with a library drop-in as install.sh writes
# it. Verify only warns (exit 0) about unknown keys and bad values, so any output fails the check.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=$(mktemp -d /tmp/nook-units.XXXXXX)
trap 'rm -rf "$root"' EXIT

# Verify checks that ExecStart's program exists and that the units it names resolve, inside --root.
mkdir -p "$root/opt/nook/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/mnt/photos" "$root/mnt/backup"
printf '#!/bin/sh\n' >"$root/opt/nook/bin/nook"
chmod +x "$root/opt/nook/bin/nook"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$repo"/systemd/*.service "$repo"/systemd/*.target "$root/etc/systemd/system/"
"$repo/deploy/install.sh" --backup-target /mnt/backup --print-dropin /mnt/photos >"$root/dropin.conf"
grep -qx 'ReadWritePaths=-/mnt/backup' "$root/dropin.conf" || {
  echo "the drop-in does not let Nook write the backup target"
  exit 1
}
for unit in nook nook-server nook-worker nook-ingest; do
  mkdir -p "$root/etc/systemd/system/$unit.service.d"
  cp "$root/dropin.conf" "$root/etc/systemd/system/$unit.service.d/libraries.conf"
done

units=()
for file in "$repo"/systemd/*.service "$repo"/systemd/*.target; do units+=("$(basename "$file")"); done
output=$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1) || {
  echo "$output"
  exit 1
}
if [ -n "$output" ]; then
  echo "systemd-analyze verify warned:"
  echo "$output"
  exit 1
fi
echo "systemd-analyze verify: ${units[*]} — clean"

# The user unit for `nook watch`, under a user manager; its command is where npm would put `nook`,
# so the copy verified points at the stand-in instead.
mkdir -p "$root/user" "$root/runtime"
sed "s|ExecStart=/usr/local/bin/nook |ExecStart=$root/opt/nook/bin/nook |" "$repo/systemd/user/nook-watch.service" \
  >"$root/user/nook-watch.service"
output=$(XDG_RUNTIME_DIR="$root/runtime" systemd-analyze --user verify "$root/user/nook-watch.service" 2>&1) || {
  echo "$output"
  exit 1
}
if [ -n "$output" ]; then
  echo "systemd-analyze --user verify warned:"
  echo "$output"
  exit 1
fi
echo "systemd-analyze --user verify: nook-watch.service — clean"
