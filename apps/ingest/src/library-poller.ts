// Follows a library on a network filesystem by reconciling it every poll interval.
import type { Library, LibraryIndexer, Logger } from '@nook/core';

/**
 * chokidar's polling keeps one stat timer per file and compares mtimes, which network filesystems
 * often report in whole seconds, so a folder changed twice within a second can be missed for good.
 * A reconcile per interval lists every folder instead, costs one readdir per folder and one stat per
 * file, and hashes only what changed and has settled.
 */
export class LibraryPoller {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;

  constructor(
    private readonly library: Library,
    private readonly indexer: LibraryIndexer,
    private readonly logger: Logger,
    private readonly stabilityMs: number,
  ) {
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.poll(), this.library.pollIntervalSeconds * 1000);
  }

  private async poll(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      const stats = await this.indexer.reconcile(this.library.id, { settleMs: this.stabilityMs });
      if (stats && stats.added + stats.changed + stats.moved + stats.missing + stats.restored > 0)
        this.logger.debug({ library: this.library.id, ...stats }, 'poll found changes');
    } catch (error) {
      this.logger.warn({ err: error, library: this.library.id }, 'poll failed');
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
