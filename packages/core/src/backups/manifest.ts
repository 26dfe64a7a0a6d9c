// What a metadata snapshot describes: every asset with its place in the backup and its hash.

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

/** What the snapshot lists of each asset (the copy worker reads it in the snapshot's transaction). */
export interface Row {
  id: string;
  library_id: string;
  path: string;
  sha256: string;
  size: number;
  offline_at: string | null;
  purged_at: string | null;
}

export interface LibraryRow {
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
