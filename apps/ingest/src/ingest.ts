// The ingest process: one watcher per folder library, reconcile scans from the queue, root health checks.
import { readFile } from 'node:fs/promises';
import {
  Library,
  LibraryIndexer,
  detectFilesystem,
  isNetworkFilesystem,
  type DataDir,
  type JobQueue,
  type Logger,
  type MikroORM,
  type WatchingWith,
} from '@nook/core';
import { LibraryPoller } from './library-poller';
import { LibraryWatcher } from './library-watcher';

export interface IngestDeps {
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  logger: Logger;
}

export interface IngestOptions {
  /** How often each root is checked for having gone away or come back. */
  rootCheckMs?: number;
  /** How long a write must be still before it counts as finished. */
  stabilityMs?: number;
  /** Overrides /proc/sys/fs/inotify/max_user_watches (tests use a small one). */
  inotifyWatchLimit?: number;
  /** How often the queue looks for libraries whose scheduled reconcile is due. */
  scheduleCron?: string;
  /** The server runs in this process too (`nook start`): rescans it asks for wake the scanner. */
  producersInProcess?: boolean;
}

interface Watched {
  watcher: LibraryWatcher | LibraryPoller | null;
  /** The settings the watcher was made for; a change makes a new watcher. */
  key: string;
}

const settingsKey = (library: Library) =>
  JSON.stringify([
    library.rootPath,
    library.watchMode,
    library.pollIntervalSeconds,
    library.exclude,
    library.includeExtensions,
  ]);

/** Leaves half of the per-user inotify budget to the desktop, editors and other services. */
const INOTIFY_SHARE = 0.5;

async function inotifyWatchLimit(): Promise<number | null> {
  try {
    return Number((await readFile('/proc/sys/fs/inotify/max_user_watches', 'utf8')).trim());
  } catch {
    return null;
  }
}

export class Ingest {
  private readonly indexer: LibraryIndexer;
  private readonly watched = new Map<string, Watched>();
  private readonly watching = new Map<string, Promise<void>>();
  /** Libraries whose event watcher ran out of inotify watches: polled until the process restarts. */
  private readonly forcedPolling = new Set<string>();
  private rootTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly rootCheckMs: number;
  private readonly stabilityMs: number;

  private constructor(
    private readonly deps: IngestDeps,
    private readonly options: IngestOptions,
  ) {
    this.indexer = new LibraryIndexer(deps.orm.em, deps.queue, deps.dataDir);
    // Removals check the root themselves before marking anything missing, so this only decides how
    // soon a status page says a root went away or came back; a longer pace keeps an idle Nook idle.
    this.rootCheckMs = options.rootCheckMs ?? 15_000;
    this.stabilityMs = options.stabilityMs ?? 500;
  }

  /**
   * Starts scanning from the `library-scan` queue, schedules the periodic check for due scans, starts
   * the watcher of every enabled folder library, and queues a reconcile of each.
   */
  static async start(deps: IngestDeps, options: IngestOptions = {}): Promise<Ingest> {
    const ingest = new Ingest(deps, options);
    await deps.queue.work(
      'library-scan',
      2,
      ({ libraryId }) => (libraryId ? ingest.scan(libraryId) : ingest.queueDueScans()),
      { producersInProcess: options.producersInProcess ?? false },
    );
    await deps.queue.schedule('library-scan', options.scheduleCron ?? '*/15 * * * *', {});
    const libraries = await deps.orm.em.fork().find(Library, { type: 'folder', enabled: true });
    for (const library of libraries) {
      await ingest.follow(library);
      await deps.queue.enqueue('library-scan', { libraryId: library.id }, library.id);
    }
    ingest.rootTimer = setInterval(() => void ingest.checkRoots(), ingest.rootCheckMs);
    deps.logger.info({ libraries: libraries.length }, 'ingest running');
    return ingest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rootTimer) clearInterval(this.rootTimer);
    await Promise.all([...this.watched.values()].map((entry) => entry.watcher?.close()));
    this.watched.clear();
  }

  /** Applies the library's current settings to its watcher, then reconciles it. */
  private async scan(libraryId: string): Promise<void> {
    if (this.stopped) return;
    const library = await this.deps.orm.em.fork().findOne(Library, { id: libraryId, type: 'folder' });
    if (!library || !library.enabled) {
      await this.unwatch(libraryId);
      return;
    }
    // Before any watcher: a library Nook may not read (one a member added at /etc before roots were
    // the administrator's decision) is neither watched nor walked.
    const refusal = await this.indexer.refusal(library);
    if (refusal) {
      await this.unwatch(libraryId);
      await this.indexer.markRefused(libraryId, refusal);
      this.deps.logger.warn(
        { library: library.name, root: library.rootPath, reason: refusal },
        'library refused',
      );
      return;
    }
    await this.watch(library);
    const stats = await this.indexer.reconcile(libraryId);
    if (!stats) {
      // Unreachable root: the watcher would only report its files gone.
      await this.unwatch(libraryId);
      this.watched.set(libraryId, { watcher: null, key: 'offline' });
      this.deps.logger.warn({ library: library.name, root: library.rootPath }, 'library root unavailable');
      return;
    }
    this.deps.logger.info({ library: library.name, ...stats }, 'library reconciled');
    await this.checkWatchBudget(library);
  }

  /**
   * Starts a library's watcher on its own, apart from any scan: a scan held up (left running by a
   * process that died, or queued behind a long one) must not leave the folder unwatched meanwhile. A
   * refused or unreachable library is left to its scan, which says why on its status.
   */
  private async follow(library: Library): Promise<void> {
    if (this.stopped || this.watched.has(library.id)) return;
    try {
      if (await this.indexer.refusal(library)) return;
      if (!(await this.indexer.checkRoot(library)).available) return;
      await this.watch(library);
    } catch (error) {
      this.deps.logger.warn({ err: error, library: library.name }, 'starting the watcher failed');
    }
  }

  private async queueDueScans(): Promise<void> {
    const libraries = await this.deps.orm.em.fork().find(Library, { type: 'folder', enabled: true });
    const now = Date.now();
    for (const library of libraries) {
      const last = library.lastScanFinishedAt?.getTime() ?? 0;
      if (now - last >= library.scanIntervalHours * 3600_000)
        await this.deps.queue.enqueue('library-scan', { libraryId: library.id }, library.id);
    }
  }

  /** One change of a library's watcher at a time: its scan and the root check may both ask at once. */
  private watch(library: Library): Promise<void> {
    const previous = this.watching.get(library.id) ?? Promise.resolve();
    const next = previous.then(() => this.watchNow(library));
    const settled = next.catch(() => undefined);
    this.watching.set(library.id, settled);
    void settled.then(() => {
      if (this.watching.get(library.id) === settled) this.watching.delete(library.id);
    });
    return next;
  }

  private async watchNow(library: Library): Promise<void> {
    if (this.stopped) return;
    const key = settingsKey(library);
    const current = this.watched.get(library.id);
    if (current && current.key === key) return;
    await this.unwatch(library.id);
    const filesystem = await detectFilesystem(library.rootPath);
    const mode = this.modeFor(library, filesystem);
    await this.indexer.recordWatching(library.id, { watchingWith: mode, filesystem });
    if (!mode) {
      this.watched.set(library.id, { watcher: null, key });
      return;
    }
    if (mode === 'poll') {
      this.watched.set(library.id, {
        watcher: new LibraryPoller(library, this.indexer, this.deps.logger, this.stabilityMs),
        key,
      });
    } else {
      const watcher = new LibraryWatcher(library, this.indexer, this.deps.logger, {
        stabilityMs: this.stabilityMs,
        onWatchLimit: () => void this.fallBackToPolling(library, 'the system ran out of inotify watches'),
      });
      this.watched.set(library.id, { watcher, key });
      await watcher.ready();
    }
    this.deps.logger.info({ library: library.name, filesystem, watchingWith: mode }, 'watching library');
  }

  private modeFor(library: Library, filesystem: string | null): WatchingWith | null {
    if (library.watchMode === 'off') return null;
    if (library.watchMode === 'events' || library.watchMode === 'poll') return library.watchMode;
    if (this.forcedPolling.has(library.id)) return 'poll';
    return isNetworkFilesystem(filesystem) ? 'poll' : 'events';
  }

  /** Each watched folder takes one inotify watch: a tree larger than our share of them is polled instead. */
  private async checkWatchBudget(library: Library): Promise<void> {
    const fresh = await this.deps.orm.em.fork().findOne(Library, { id: library.id });
    const folders = fresh?.lastScanStats?.directories ?? 0;
    const limit = this.options.inotifyWatchLimit ?? (await inotifyWatchLimit());
    if (fresh?.watchingWith !== 'events' || fresh.watchMode !== 'auto' || limit === null) return;
    if (folders > limit * INOTIFY_SHARE)
      await this.fallBackToPolling(
        fresh,
        `${folders} folders would take more than half of the ${limit} inotify watches (fs.inotify.max_user_watches)`,
      );
  }

  private async fallBackToPolling(library: Library, reason: string): Promise<void> {
    if (this.forcedPolling.has(library.id) || library.watchMode !== 'auto') return;
    this.deps.logger.warn(
      { library: library.name, reason },
      'falling back to polling; raise fs.inotify.max_user_watches to get events',
    );
    this.forcedPolling.add(library.id);
    await this.unwatch(library.id);
    await this.watch(library);
  }

  private async unwatch(libraryId: string): Promise<void> {
    const entry = this.watched.get(libraryId);
    this.watched.delete(libraryId);
    await entry?.watcher?.close();
  }

  /**
   * A root that went away puts its library offline (files untouched) and stops its watcher; a root
   * that came back gets a reconcile, which starts a fresh watcher. A library not watched yet (new,
   * enabled again) gets its watcher without waiting for its scan.
   */
  private async checkRoots(): Promise<void> {
    if (this.stopped) return;
    try {
      const libraries = await this.deps.orm.em.fork().find(Library, { type: 'folder', enabled: true });
      for (const library of libraries) {
        // Added, or enabled, while its first scan waits: watched from now on.
        if (!this.watched.has(library.id)) {
          await this.follow(library);
          continue;
        }
        if (library.watchMode === 'off' && !library.offlineAt) continue;
        const root = await this.indexer.checkRoot(library);
        if (!root.available) {
          if (!library.offlineAt) {
            await this.indexer.markRootOffline(library.id, root.reason);
            this.deps.logger.warn({ library: library.name, reason: root.reason }, 'library root went away');
          }
          // A watcher over a vanished root would report its files gone, or watch a stale folder later.
          if (this.watched.get(library.id)?.key !== 'offline') {
            await this.unwatch(library.id);
            this.watched.set(library.id, { watcher: null, key: 'offline' });
          }
        } else if (root.available && library.offlineAt) {
          this.deps.logger.info({ library: library.name }, 'library root is back: reconciling');
          await this.deps.queue.enqueue('library-scan', { libraryId: library.id }, library.id);
        }
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'root check failed');
    }
  }
}
