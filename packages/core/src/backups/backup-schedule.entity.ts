// A backup schedule: what to copy where, when (cron in a time zone), and how long snapshots are kept.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt } from '@mikro-orm/core';

/** What a backup run copies besides nothing: each part can be switched on or off per schedule. */
export interface BackupInclude {
  /** Originals uploaded into Nook (the household's only copy, usually). */
  uploads: boolean;
  /** Originals in watched folders and NAS shares (they often have a copy elsewhere already). */
  watchedLibraries: boolean;
  /** A consistent snapshot of nook.db plus a manifest of every asset. */
  metadata: boolean;
  /** Thumbnails and previews: jobs can make them again, so copying them is optional. */
  derived: boolean;
}

export const defaultInclude: BackupInclude = {
  uploads: true,
  watchedLibraries: false,
  metadata: true,
  derived: false,
};

export class BackupSchedule {
  id: string = randomUUID();
  name!: string;
  /** Five fields (minute hour day month weekday), read the way pg-boss reads them. */
  cron!: string;
  /** An IANA zone the cron is read in, e.g. Europe/Berlin. */
  timeZone: Opt<string> = 'UTC';
  targetDir!: string;
  include: Opt<BackupInclude> = { ...defaultInclude };
  /** Metadata snapshots to keep in the target; older ones are removed after a successful run. */
  keepSnapshots: Opt<number> = 14;
  /** Files gone from Nook are removed from the target too, but only after the grace period. */
  propagateDeletions: Opt<boolean> = false;
  deletionGraceDays: Opt<number> = 30;
  /** A second cron on which the target is re-hashed (a sample) to find bit rot; null for never. */
  verifyCron: string | null = null;
  /** Percent of the backed-up files a scheduled verify re-hashes. */
  verifySamplePercent: Opt<number> = 10;
  enabled: Opt<boolean> = true;
  /** When the scheduler next sends a run; recomputed whenever the cron or zone changes. */
  nextRunAt: Date | null = null;
  nextVerifyAt: Date | null = null;
  createdAt: Opt<Date> = new Date();
  updatedAt: Opt<Date> = new Date();
}

export const BackupScheduleSchema = new EntitySchema<BackupSchedule>({
  class: BackupSchedule,
  tableName: 'backup_schedules',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    name: { type: 'string', length: 128 },
    cron: { type: 'string', length: 128 },
    timeZone: { type: 'string', length: 64, default: 'UTC' },
    targetDir: { type: 'string', length: 4096 },
    include: { type: 'json' },
    keepSnapshots: { type: 'integer', default: 14 },
    propagateDeletions: { type: 'boolean', default: false },
    deletionGraceDays: { type: 'integer', default: 30 },
    verifyCron: { type: 'string', length: 128, nullable: true },
    verifySamplePercent: { type: 'integer', default: 10 },
    enabled: { type: 'boolean', default: true },
    nextRunAt: { type: 'datetime', nullable: true },
    nextVerifyAt: { type: 'datetime', nullable: true },
    createdAt: { type: 'datetime' },
    updatedAt: { type: 'datetime', onUpdate: () => new Date() },
  },
});
