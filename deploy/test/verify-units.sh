#!/usr/bin/env bash
# CI: `systemd-analyze verify` on every unit in systemd/, with a library drop-in as install.sh writes
# it. Verify only warns (exit 0) about unknown keys and bad values, so any output fails the check.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=$(mktemp -d /tmp/nook-units.XXXXXX)
trap 'rm -rf "$root"' EXIT

# Verify checks that ExecStart's program exists and that the units it names resolve, inside --root.
mkdir -p "$root/opt/nook/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/mnt/photos"
printf '#!/bin/sh\n' >"$root/opt/nook/bin/nook"
chmod +x "$root/opt/nook/bin/nook"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$repo"/systemd/*.service "$repo"/systemd/*.target "$root/etc/systemd/system/"
"$repo/deploy/install.sh" --print-dropin /mnt/photos >"$root/dropin.conf"
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
