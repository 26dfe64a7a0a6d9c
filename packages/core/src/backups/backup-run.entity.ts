// One backup or verify run of a schedule: when, how it ended, what it copied or checked, and why not.
import { randomUUID } from 'node:crypto';
import { BigIntType, EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { BackupSchedule } from './backup-schedule.entity';

export type BackupRunKind = 'backup' | 'verify';
/** `partial`: finished, but some files could not be copied (see errors); `interrupted`: the process died. */
export type BackupRunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

export interface BackupFileError {
  path: string;
  reason: string;
}

export interface BackupProgress {
  phase: 'preparing' | 'snapshot' | 'copying' | 'deleting' | 'verifying' | 'finishing';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** The file being worked on, relative to the target. */
  current: string | null;
}

/** Errors kept per run: a broken disk could otherwise fill the database with one line per file. */
export const MAX_RUN_ERRORS = 200;

export class BackupRun {
  id: string = randomUUID();
  schedule!: Ref<BackupSchedule>;
  kind: Opt<BackupRunKind> = 'backup';
  status: Opt<BackupRunStatus> = 'running';
  /** `manual` or `scheduled`. */
  trigger: Opt<string> = 'manual';
  startedAt: Opt<Date> = new Date();
  finishedAt: Date | null = null;
  /** The run-level reason when it failed (target missing, read-only, full, …). */
  error: string | null = null;
  filesCopied: Opt<number> = 0;
  bytesCopied: Opt<number> = 0;
  filesSkipped: Opt<number> = 0;
  bytesSkipped: Opt<number> = 0;
  filesDeleted: Opt<number> = 0;
  filesFailed: Opt<number> = 0;
  /** Verify runs: files re-hashed, and those whose content no longer matches (bit rot). */
  filesChecked: Opt<number> = 0;
  filesCorrupt: Opt<number> = 0;
  errors: Opt<BackupFileError[]> = [];
  progress: BackupProgress | null = null;
  /** The metadata snapshot's folder name in the target, when one was written. */
  snapshot: string | null = null;
  /** Which process runs it, so a run whose process died can be told from one still going. */
  host: string | null = null;
  pid: number | null = null;
  /** The target written, as the schedule named it then (null for runs from before it was kept). */
  targetDir: string | null = null;
}

export const BackupRunSchema = new EntitySchema<BackupRun>({
  class: BackupRun,
  tableName: 'backup_runs',
  indexes: [{ name: 'backup_runs_schedule_started_idx', properties: ['schedule', 'startedAt'] }],
  properties: {
    id: { type: 'string', length: 36, primary: true },
    schedule: { kind: 'm:1', entity: 'BackupSchedule', ref: true, deleteRule: 'cascade' },
    kind: { type: 'string', length: 8 },
    status: { type: 'string', length: 16 },
    trigger: { type: 'string', length: 16 },
    startedAt: { type: 'datetime' },
    finishedAt: { type: 'datetime', nullable: true },
    error: { type: 'text', nullable: true },
    filesCopied: { type: 'integer' },
    bytesCopied: { type: new BigIntType('number') },
    filesSkipped: { type: 'integer' },
    bytesSkipped: { type: new BigIntType('number') },
    filesDeleted: { type: 'integer' },
    filesFailed: { type: 'integer' },
    filesChecked: { type: 'integer' },
    filesCorrupt: { type: 'integer' },
    errors: { type: 'json' },
    progress: { type: 'json', nullable: true },
    snapshot: { type: 'string', length: 64, nullable: true },
    host: { type: 'string', length: 255, nullable: true },
    pid: { type: 'integer', nullable: true },
    targetDir: { type: 'text', nullable: true },
  },
});
