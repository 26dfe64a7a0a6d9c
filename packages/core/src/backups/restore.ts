// Restoring: a backup target back into a working data dir (metadata and originals, each verified).
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase } from '../db/orm';
import { NookError } from '../errors';
import { CopyPool, copyVerified, syncDirectories } from './copy';
import type { Manifest, ManifestLibrary } from './manifest';
import { readIndex } from './mirror-index';
import { SNAPSHOT_NAME } from './runner';
import { TargetError, describeTargetError, targetLayout } from './target';

export interface RestoreOptions {
  /** A snapshot folder name; the newest by default. */
  snapshot?: string | undefined;
  /**
   * Where watched libraries' backed-up originals go. Without it, watched libraries keep pointing
   * at their original folders (the NAS share is usually still there).
   */
  watchedTo?: string | undefined;
  onProgress?: (done: number, total: number, current: string) => void;
}

export interface RestoreReport {
  snapshot: string;
  assets: number;
  filesRestored: number;
  bytesRestored: number;
  /** Assets whose original the backup lacks (not backed up, or it failed to copy). */
  notInBackup: number;
  /** Originals the backup lists but that could not be restored (damaged or gone from the backup). */
  failed: { path: string; reason: string }[];
  /** Watched libraries, with where their originals are expected after the restore. */
  watchedLibraries: { id: string; name: string; rootPath: string; restoredFrom: string | null }[];
}

/** Snapshot folder names in a target, oldest first. */
export async function listSnapshots(targetDir: string): Promise<string[]> {
  try {
    return (await readdir(path.join(targetDir, targetLayout.snapshots)))
      .filter((name) => SNAPSHOT_NAME.test(name))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Rebuilds a data dir from a backup: every original the manifest lists, then secret, config and
 * nook.db from the snapshot. Each file is hash-checked as it is written; one that fails is reported
 * and the rest still come back. nook.db comes last, so an interrupted restore can simply be run
 * again. Derived files are not restored (`nook jobs make-missing` regenerates them). The data dir
 * must not hold a Nook already.
 */
export async function restoreBackup(
  targetDir: string,
  toDir: string,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const target = path.resolve(targetDir);
  const to = path.resolve(toDir);
  try {
    await stat(target);
  } catch (error) {
    throw new TargetError(describeTargetError(error, target));
  }
  const snapshots = await listSnapshots(target);
  const snapshot = options.snapshot ?? snapshots.at(-1);
  if (!snapshot) throw new NookError('NOT_FOUND', `${target} holds no metadata snapshot to restore from`);
  if (!snapshots.includes(snapshot))
    throw new NookError(
      'NOT_FOUND',
      `no snapshot ${snapshot} in ${target} (have: ${snapshots.join(', ') || 'none'})`,
    );
  const exists = await stat(path.join(to, 'nook.db')).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new NookError(
      'CONFLICT',
      `${to} already holds a Nook data dir (nook.db); restore into an empty folder`,
    );

  const snapshotDir = path.join(target, targetLayout.snapshots, snapshot);
  const manifest = JSON.parse(await readFile(path.join(snapshotDir, 'manifest.json'), 'utf8')) as Manifest;
  const index = await readIndex(target);
  const partial = path.join(to, 'tmp', 'restore');
  await mkdir(partial, { recursive: true });
  const touched = new Set<string>([to]);
  let filesRestored = 0;
  let bytesRestored = 0;
  const failed: RestoreReport['failed'] = [];

  const pool = new CopyPool({ tempDir: partial }, 1);
  const restore = async (rel: string, destination: string, expected: { sha256: string; size: number }) => {
    const copied = await copyVerified(pool, path.join(target, ...rel.split('/')), destination, {
      sha256: expected.sha256,
      size: expected.size,
    }).catch((error: Error) => {
      throw new NookError('BAD_REQUEST', `cannot restore ${rel}: ${error.message}`);
    });
    touched.add(path.dirname(destination));
    filesRestored++;
    bytesRestored += copied.size;
  };

  const libraries = new Map<string, ManifestLibrary>(
    manifest.libraries.map((library) => [library.id, library]),
  );
  const watchedRoot = options.watchedTo ? path.resolve(options.watchedTo) : null;
  const relocated = new Map<string, string>();
  const missing = new Set(manifest.missing);
  const restorable = manifest.assets.filter((asset) => {
    const library = libraries.get(asset.libraryId)!;
    if (asset.backupPath === null || missing.has(asset.backupPath)) return false;
    return library.type === 'upload' || watchedRoot !== null;
  });
  let done = 0;
  try {
    for (const asset of restorable) {
      const library = libraries.get(asset.libraryId)!;
      let root: string;
      if (library.type === 'upload') root = path.resolve(to, library.rootPath);
      else {
        root = path.join(watchedRoot!, library.id);
        relocated.set(library.id, root);
      }
      options.onProgress?.(done++, restorable.length, asset.backupPath!);
      try {
        await restore(asset.backupPath!, path.join(root, ...asset.path.split('/')), asset);
      } catch (error) {
        failed.push({ path: asset.backupPath!, reason: (error as Error).message });
      }
    }
    for (const extra of ['secret.key', 'config.json']) {
      const rel = `${targetLayout.snapshots}/${snapshot}/${extra}`;
      const entry = index.get(rel);
      if (entry) await restore(rel, path.join(to, extra), entry);
    }
    await syncDirectories(touched);
    await restore(
      `${targetLayout.snapshots}/${snapshot}/nook.db`,
      path.join(to, 'nook.db'),
      manifest.database,
    );
    await syncDirectories([to]);
  } finally {
    await pool.close();
  }
  await rm(path.join(to, 'tmp'), { recursive: true, force: true });

  await settleRestoredDatabase(to, relocated);
  return {
    snapshot,
    assets: manifest.assets.length,
    filesRestored,
    bytesRestored,
    notInBackup:
      manifest.assets.filter((asset) => asset.backupPath === null).length + manifest.missing.length,
    failed,
    watchedLibraries: manifest.libraries
      .filter((library) => library.type === 'folder')
      .map((library) => ({
        id: library.id,
        name: library.name,
        rootPath: relocated.get(library.id) ?? library.rootPath,
        restoredFrom: relocated.has(library.id) ? library.backupPath : null,
      })),
  };
}

/**
 * Brings the restored schema up to date, points restored watched libraries at their new folders,
 * and ends the backup run the snapshot caught in progress (its own): nothing runs it any more.
 */
async function settleRestoredDatabase(dataDir: string, roots: Map<string, string>): Promise<void> {
  const orm = await openDatabase(dataDir);
  try {
    const connection = orm.em.getConnection();
    for (const [id, root] of roots)
      await connection.execute('UPDATE libraries SET root_path = ? WHERE id = ?', [root, id]);
    await connection.execute(
      `UPDATE backup_runs SET status = 'interrupted', progress = NULL, finished_at = ?,
         error = 'caught in progress by the snapshot this data dir was restored from'
       WHERE status = 'running'`,
      [Date.now()],
    );
  } finally {
    await orm.close();
  }
}
