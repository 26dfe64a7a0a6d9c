// One chokidar watcher (inotify events) over a folder library: settled writes are indexed, removals batched.
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Library, LibraryIndexer, Logger } from '@nook/core';

export interface WatcherOptions {
  /** How long size and mtime must stay put before a write counts as finished. */
  stabilityMs: number;
  /** Called when the OS runs out of inotify watches, so the library can be polled instead. */
  onWatchLimit(): void;
}

/** A file still changing while it was hashed is tried again this many times, a stability period apart. */
const UNSTABLE_RETRIES = 10;
/** Removals arriving together (a folder deleted, an unmount) are checked as one batch. */
const REMOVAL_BATCH_MS = 300;

export class LibraryWatcher {
  private readonly watcher: FSWatcher;
  private readonly removedFiles = new Set<string>();
  private readonly removedFolders = new Set<string>();
  private removalTimer: NodeJS.Timeout | null = null;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly library: Library,
    private readonly indexer: LibraryIndexer,
    private readonly logger: Logger,
    private readonly options: WatcherOptions,
  ) {
    const root = library.rootPath;
    const filter = indexer.filterFor(library);
    this.watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      // Settled means the size held still this long; the indexer then checks size and mtime around the hash.
      awaitWriteFinish: {
        stabilityThreshold: options.stabilityMs,
        pollInterval: Math.min(100, options.stabilityMs),
      },
      ignored: (absolute, stats) => {
        const relative = this.relative(absolute);
        if (!relative) return false;
        if (stats?.isFile()) return filter.skipsFile(relative);
        return filter.skipsDirectory(relative);
      },
    });
    this.watcher.on('add', (file) => this.index(this.relative(file), 0));
    this.watcher.on('change', (file) => this.index(this.relative(file), 0));
    this.watcher.on('unlink', (file) => this.removed(this.relative(file), this.removedFiles));
    this.watcher.on('unlinkDir', (folder) => this.removed(this.relative(folder), this.removedFolders));
    this.watcher.on('error', (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EMFILE') options.onWatchLimit();
      else logger.warn({ err: error, library: library.id }, 'watcher error');
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve) => this.watcher.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.removalTimer) clearTimeout(this.removalTimer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    await this.watcher.close();
  }

  private relative(absolute: string): string {
    return path.relative(this.library.rootPath, absolute).split(path.sep).join('/');
  }

  private index(relative: string, attempt: number): void {
    if (this.closed || !relative) return;
    this.indexer.indexFile(this.library.id, relative).then(
      (outcome) => {
        if (outcome === 'unstable' && attempt < UNSTABLE_RETRIES) {
          const timer = setTimeout(() => {
            this.retryTimers.delete(timer);
            this.index(relative, attempt + 1);
          }, this.options.stabilityMs);
          this.retryTimers.add(timer);
        }
        this.logger.debug({ library: this.library.id, path: relative, outcome }, 'file indexed');
      },
      (error: unknown) =>
        this.logger.warn(
          { err: error, library: this.library.id, path: relative },
          'file could not be indexed',
        ),
    );
  }

  private removed(relative: string, into: Set<string>): void {
    if (this.closed || !relative) return;
    into.add(relative);
    if (this.removalTimer) return;
    this.removalTimer = setTimeout(() => {
      this.removalTimer = null;
      const files = [...this.removedFiles];
      const folders = [...this.removedFolders];
      this.removedFiles.clear();
      this.removedFolders.clear();
      this.indexer.removePaths(this.library.id, files, folders).then(
        (result) => this.logger.debug({ library: this.library.id, result }, 'removals recorded'),
        (error: unknown) => this.logger.warn({ err: error, library: this.library.id }, 'removals failed'),
      );
    }, REMOVAL_BATCH_MS);
  }
}
