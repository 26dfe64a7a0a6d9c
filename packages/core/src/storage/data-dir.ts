// The layout of Nook's data directory; every path Nook writes is computed here.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

export type DerivedVariant = 'thumb' | 'preview';

const derivedExtensions: Record<DerivedVariant, string> = { thumb: 'webp', preview: 'jpg' };

export class DataDir {
  readonly root: string;
  /** NOOK_LIBRARY_ROOTS: the folders a folder library may lie in, checked again whenever one is read. */
  readonly libraryRoots: readonly string[];

  constructor(root: string, libraryRoots: readonly string[] = []) {
    this.root = path.resolve(root);
    this.libraryRoots = libraryRoots.map((libraryRoot) => path.resolve(libraryRoot));
  }

  /** The metadata database (SQLite; `-wal` beside it). */
  get database(): string {
    return path.join(this.root, 'nook.db');
  }

  get tmp(): string {
    return path.join(this.root, 'tmp');
  }

  get library(): string {
    return path.join(this.root, 'library');
  }

  get derived(): string {
    return path.join(this.root, 'derived');
  }

  get postgres(): string {
    return path.join(this.root, 'pg');
  }

  /** Derived files are keyed by content, so duplicates share them. */
  derivedPath(sha256: string, variant: DerivedVariant): string {
    return path.join(
      this.derived,
      sha256.slice(0, 2),
      sha256.slice(2, 4),
      `${sha256}-${variant}.${derivedExtensions[variant]}`,
    );
  }

  /** Resolves a library root stored relative to the data dir (uploads) or absolute (watched folders). */
  resolveLibraryRoot(rootPath: string): string {
    return path.resolve(this.root, rootPath);
  }

  async ensure(): Promise<void> {
    await Promise.all([this.tmp, this.library, this.derived].map((dir) => mkdir(dir, { recursive: true })));
  }
}
