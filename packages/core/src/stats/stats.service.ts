// The numbers behind the stats page: storage by kind, library and user, growth, disks, queues.
import { statfs } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/sqlite';
import { BackupService } from '../backups/backup.service';
import { Library } from '../libraries/library.entity';
import type { JobQueue } from '../queue/job-queue';
import { storageByUser, storageTotals } from '../sql/reads';
import type { DataDir } from '../storage/data-dir';
import type { User } from '../users/user.entity';

export interface DiskUsage {
  label: string;
  path: string;
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

export class StatsService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly queue: Pick<JobQueue, 'stats' | 'enqueue'>,
  ) {}

  async summary(user: User) {
    const everyone = user.role === 'admin';
    const totals = await storageTotals(this.em, user.id);
    const count = totals.byKind.reduce((sum, row) => sum + Number(row.count), 0);
    const bytes = totals.byKind.reduce((sum, row) => sum + Number(row.bytes), 0);
    const folders = await this.em.find(Library, { type: 'folder', ...(everyone ? {} : { owner: user }) });
    return {
      count,
      bytes,
      byKind: totals.byKind.map((row) => ({
        kind: row.kind,
        count: Number(row.count),
        bytes: Number(row.bytes),
      })),
      byLibrary: totals.byLibrary.map((row) => ({
        ...row,
        count: Number(row.count),
        bytes: Number(row.bytes),
      })),
      byUser: everyone
        ? (await storageByUser(this.em)).map((row) => ({
            ...row,
            count: Number(row.count),
            bytes: Number(row.bytes),
          }))
        : null,
      /** Bytes that identical copies would take again; each content is stored and thumbnailed once. */
      deduplicatedBytes: bytes - totals.uniqueBytes,
      growth: totals.byMonth.map((row) => ({
        month: row.month,
        count: Number(row.count),
        bytes: Number(row.bytes),
      })),
      disks: await Promise.all([
        disk('Data', this.dataDir.root),
        ...folders.map((library) => disk(library.name, this.dataDir.resolveLibraryRoot(library.rootPath))),
      ]),
      queues: await this.queue.stats(),
      lastBackup: everyone ? await this.lastBackup() : null,
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
