// The numbers behind the stats page: storage by kind, library and user, growth, disks, queues.
import { statfs } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/sqlite';
import { isAdministrator } from '../auth/access';
import { BackupService } from '../backups/backup.service';
import { Library } from '../libraries/library.entity';
import type { JobQueue } from '../queue/job-queue';
import { VersionedCache, type ReadDb } from '../sql/read-db';
import { storageTotalsSql } from '../sql/totals';
import type { DataDir } from '../storage/data-dir';
import type { User } from '../users/user.entity';

export interface DiskUsage {
  label: string;
  /** Where the disk is mounted in the server: for administrators only, members see the label. */
  path: string | null;
  totalBytes: number | null;
  freeBytes: number | null;
}

async function disk(label: string, path: string): Promise<DiskUsage> {
  try {
    const fs = await statfs(path);
    return { label, path, totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  } catch {
    // A NAS share that is offline has no size; the page shows it as unavailable.
    return { label, path, totalBytes: null, freeBytes: null };
  }
}

/** Disk, queue and backup figures may be served from memory, but never older than this. */
export const STATS_MAX_AGE_MS = 5000;

type Storage = Awaited<ReturnType<StatsService['storage']>>;
type Live = Awaited<ReturnType<StatsService['live']>>;

/**
 * Summaries per user, owned by the server so they outlive a request. Storage totals are exact: they
 * are read again whenever anything committed. Disks, queues and backups change without SQLite
 * knowing, so they follow age.
 */
export class StatsCache {
  readonly storage: VersionedCache<Storage>;
  readonly db: ReadDb;
  private readonly live = new Map<string, { at: number; value: Promise<Live> }>();

  constructor(db: ReadDb) {
    this.db = db;
    this.storage = new VersionedCache(db);
  }

  liveFor(key: string, compute: () => Promise<Live>): Promise<Live> {
    const entry = this.live.get(key);
    if (entry && Date.now() - entry.at < STATS_MAX_AGE_MS) return entry.value;
    const fresh = { at: Date.now(), value: compute() };
    this.live.set(key, fresh);
    fresh.value.catch(() => this.live.get(key) === fresh && this.live.delete(key));
    return fresh.value;
  }
}

export class StatsService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly queue: Pick<JobQueue, 'stats' | 'enqueue'>,
  ) {}

  async summary(user: User, cache: StatsCache) {
    const key = `${user.id}:${user.role}`;
    const [storage, live] = await Promise.all([
      cache.storage.get(key, () => this.storage(cache.db, user)),
      cache.liveFor(key, () => this.live(user)),
    ]);
    return { ...storage, ...live };
  }

  async live(user: User) {
    const admin = isAdministrator(user);
    const folders = await this.em.find(Library, { type: 'folder', ...(admin ? {} : { owner: user }) });
    const disks = await Promise.all([
      disk('Data', this.dataDir.root),
      ...folders.map((library) => disk(library.name, this.dataDir.resolveLibraryRoot(library.rootPath))),
    ]);
    return {
      disks: admin ? disks : disks.map((usage) => ({ ...usage, path: null })),
      // The queues hold every account's work: their depths are the administrator's to see.
      queues: admin ? await this.queue.stats() : null,
      lastBackup: admin ? await this.lastBackup() : null,
    };
  }

  /** From the totals the triggers keep (sql/totals.ts): a few rows per library and month. */
  storage(db: ReadDb, user: User) {
    const everyone = isAdministrator(user);
    type Row = { count: number; bytes: number };
    const byKind = db.all<Row & { kind: string }>(storageTotalsSql.byKind, [user.id]);
    const count = byKind.reduce((sum, row) => sum + row.count, 0);
    const bytes = byKind.reduce((sum, row) => sum + row.bytes, 0);
    return {
      count,
      bytes,
      byKind,
      byLibrary: db.all<Row & { id: string; name: string; type: string }>(storageTotalsSql.byLibrary, [
        user.id,
      ]),
      byUser: everyone ? db.all<Row & { id: string; username: string }>(storageTotalsSql.byUser) : null,
      /** Uploads answered with the copy already stored: bytes never written twice. */
      deduplicated: db.get<Row>(storageTotalsSql.uploadSavings, [user.id])!,
      /** Bytes in identical copies beyond the first, across libraries (a watched file and its upload). */
      duplicateCopyBytes: db.get<{ bytes: number }>(storageTotalsSql.duplicateBytes, [user.id])!.bytes,
      growth: db.all<Row & { month: string }>(storageTotalsSql.byMonth, [user.id]),
    };
  }

  /** Administrators see how old the newest successful backup is, and a warning when one is overdue. */
  private async lastBackup() {
    const { last, warnings } = await new BackupService(this.em, this.dataDir, this.queue).freshness();
    return {
      scheduleId: last?.scheduleId ?? null,
      scheduleName: last?.scheduleName ?? null,
      finishedAt: last?.finishedAt.toISOString() ?? null,
      ageSeconds: last?.ageSeconds ?? null,
      warnings,
    };
  }
}
