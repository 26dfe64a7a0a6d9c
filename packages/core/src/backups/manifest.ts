// What a metadata snapshot describes: every asset with its place in the backup and its hash.
import Database from 'better-sqlite3';

export interface ManifestLibrary {
  id: string;
  name: string;
  type: 'upload' | 'folder';
  /** As stored in nook.db: relative to the data dir for uploads, absolute for watched folders. */
  rootPath: string;
  /** Where its originals are in the backup, relative to the target; null when not backed up. */
  backupPath: string | null;
}

export interface ManifestAsset {
  id: string;
  libraryId: string;
  /** Relative to its library root. */
  path: string;
  sha256: string;
  size: number;
  /** Relative to the target; null when its library is not backed up or the file was offline. */
  backupPath: string | null;
}

export interface Manifest {
  format: number;
  snapshot: string;
  createdAt: string;
  database: { file: 'nook.db'; sha256: string; size: number };
  libraries: ManifestLibrary[];
  assets: ManifestAsset[];
  /** Files this run could not copy: the snapshot describes them, the backup lacks them. */
  missing: string[];
}

interface Row {
  id: string;
  library_id: string;
  path: string;
  sha256: string;
  size: number;
  offline_at: string | null;
  purged_at: string | null;
}

interface LibraryRow {
  id: string;
  name: string;
  type: 'upload' | 'folder';
  root_path: string;
  offline_at: string | null;
}

export interface SnapshotListing {
  libraries: LibraryRow[];
  assets: Row[];
}

/** Steps after the first are taken whole: writers meanwhile never make the copy start over. */
const ALL_PAGES = 2 ** 30;

/**
 * Copies the live database to `snapshotFile` with SQLite's online backup and lists its libraries and
 * assets in the same read transaction, so the files mirrored are exactly the ones the snapshot
 * describes. A connection of its own: Nook's stays free for the server meanwhile, and WAL lets writers
 * go on beside it. The copy is then switched to a rollback journal, a plain file that opens without
 * -wal or -shm beside it.
 */
export async function takeSnapshot(databaseFile: string, snapshotFile: string): Promise<SnapshotListing> {
  const source = new Database(databaseFile, { readonly: true, fileMustExist: true, timeout: 10_000 });
  let listing: SnapshotListing;
  try {
    source.exec('BEGIN');
    try {
      listing = {
        libraries: source
          .prepare('SELECT id, name, type, root_path, offline_at FROM libraries')
          .all() as LibraryRow[],
        assets: source
          .prepare(
            'SELECT id, library_id, path, sha256, size, offline_at, purged_at FROM assets ORDER BY library_id, path',
          )
          .all() as Row[],
      };
      await source.backup(snapshotFile, { progress: () => ALL_PAGES });
    } finally {
      source.exec('COMMIT');
    }
  } finally {
    source.close();
  }
  const copy = new Database(snapshotFile, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  return listing;
}
