#!/usr/bin/env bash
# Makes a Nook release from this checkout: the sources, the web build and production node_modules,
# ready for install.sh --source. Native modules (sqlite3, sharp, PostgreSQL) are for this machine's
# CPU, so build on (or for) the architecture you install on.
#   deploy/build-release.sh OUT_DIR            a release directory
#   deploy/build-release.sh OUT.tar.gz         a tarball of one
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-release.sh OUT_DIR | OUT.tar.gz}

cd "$repo"
if [ ! -d node_modules ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
echo "== web build"
TURBO_TELEMETRY_DISABLED=1 npx turbo run build --filter=@nook/web --output-logs=errors-only

# The release id names the sources exactly: the same checkout gives the same id, so install.sh can
# tell a re-run (nothing to do) from an upgrade.
version=$(node -p "require('./package.json').version")
digest=$(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  --exclude=node_modules --exclude=.svelte-kit --exclude=build --exclude=.turbo \
  -cf - package.json package-lock.json apps packages systemd | sha256sum | cut -c1-12)
id="$version-$digest"

stage=$(mktemp -d "${TMPDIR:-/tmp}/nook-release.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
tar -C "$repo" --exclude=.svelte-kit --exclude=.turbo --exclude='*.test.ts' -cf - \
  package.json package-lock.json README.md .env.example apps packages systemd deploy docs node_modules |
  tar -C "$stage" -xf -
echo "== npm prune --omit=dev"
(cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error)
echo "$id" >"$stage/RELEASE"

if [[ "$out" == *.tar.gz ]]; then
  mkdir -p "$(dirname "$out")"
  tar -C "$stage" -czf "$out" .
else
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  cp -a "$stage" "$out"
fi
echo "release $id → $out ($(du -sh "$stage" | cut -f1))"
