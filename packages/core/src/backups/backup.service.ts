// Backup schedules: editing them, sending their runs to the queue, and the history the dashboard shows.
import { cleanName } from '../names';
import type { EntityManager } from '@mikro-orm/sqlite';
import { NookError } from '../errors';
import type { JobQueue } from '../queue/job-queue';
import type { DataDir } from '../storage/data-dir';
import { BackupRun, type BackupRunKind } from './backup-run.entity';
import { BackupSchedule, defaultInclude, type BackupInclude } from './backup-schedule.entity';
import { longestIntervalMs, nextRuns, validateCron } from './cron';
import { checkTarget } from './target';

export interface BackupSettings {
  name: string;
  cron: string;
  timeZone: string;
  targetDir: string;
  /** Parts left out keep their current (or default) setting. */
  include: Partial<BackupInclude>;
  keepSnapshots: number;
  propagateDeletions: boolean;
  deletionGraceDays: number;
  verifyCron: string | null;
  verifySamplePercent: number;
  enabled: boolean;
}

export type NewBackupSchedule = Pick<BackupSettings, 'name' | 'cron' | 'targetDir'> & Partial<BackupSettings>;

/** A schedule as saved, with what the checks of its target found worth telling. */
export interface SavedSchedule {
  schedule: BackupSchedule;
  warnings: string[];
}

/** The newest successful backup over every schedule, and whether it is overdue. */
export interface BackupFreshness {
  scheduleId: string;
  scheduleName: string;
  finishedAt: Date;
  ageSeconds: number;
  /** Older than twice the schedule's interval. */
  stale: boolean;
  warning: string | null;
}

export class BackupService {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly queue: Pick<JobQueue, 'enqueue'>,
  ) {}

  async list(): Promise<BackupSchedule[]> {
    return this.em.find(BackupSchedule, {}, { orderBy: { createdAt: 'asc' } });
  }

  async get(id: string): Promise<BackupSchedule> {
    const schedule = await this.em.findOne(BackupSchedule, { id });
    if (!schedule) throw new NookError('NOT_FOUND', 'no such backup schedule');
    return schedule;
  }

  async create(input: NewBackupSchedule): Promise<SavedSchedule> {
    const timeZone = input.timeZone ?? 'UTC';
    validateCron(input.cron, timeZone);
    if (input.verifyCron) validateCron(input.verifyCron, timeZone);
    const target = await checkTarget(input.targetDir, this.dataDir.root);
    await this.refuseSharedTarget(target.targetDir, null);
    const schedule = this.em.create(BackupSchedule, {
      name: cleanName(input.name),
      cron: input.cron.trim(),
      timeZone,
      targetDir: target.targetDir,
      include: mergeInclude(defaultInclude, input.include),
      keepSnapshots: input.keepSnapshots ?? 14,
      propagateDeletions: input.propagateDeletions ?? false,
      deletionGraceDays: input.deletionGraceDays ?? 30,
      verifyCron: input.verifyCron?.trim() || null,
      verifySamplePercent: input.verifySamplePercent ?? 10,
      enabled: input.enabled ?? true,
    });
    this.plan(schedule);
    await this.em.flush();
    return { schedule, warnings: target.warnings };
  }

  async update(id: string, changes: Partial<BackupSettings>): Promise<SavedSchedule> {
    const schedule = await this.get(id);
    const timeZone = changes.timeZone ?? schedule.timeZone;
    const cron = changes.cron ?? schedule.cron;
    validateCron(cron, timeZone);
    const verifyCron =
      changes.verifyCron !== undefined ? changes.verifyCron?.trim() || null : schedule.verifyCron;
    if (verifyCron) validateCron(verifyCron, timeZone);
    let warnings: string[] = [];
    if (changes.targetDir !== undefined) {
      const target = await checkTarget(changes.targetDir, this.dataDir.root);
      await this.refuseSharedTarget(target.targetDir, schedule.id);
      schedule.targetDir = target.targetDir;
      warnings = target.warnings;
    }
    if (changes.name !== undefined) schedule.name = cleanName(changes.name);
    schedule.cron = cron.trim();
    schedule.timeZone = timeZone;
    schedule.verifyCron = verifyCron;
    if (changes.include !== undefined) schedule.include = mergeInclude(schedule.include, changes.include);
    if (changes.keepSnapshots !== undefined) schedule.keepSnapshots = changes.keepSnapshots;
    if (changes.propagateDeletions !== undefined) schedule.propagateDeletions = changes.propagateDeletions;
    if (changes.deletionGraceDays !== undefined) schedule.deletionGraceDays = changes.deletionGraceDays;
    if (changes.verifySamplePercent !== undefined) schedule.verifySamplePercent = changes.verifySamplePercent;
    if (changes.enabled !== undefined) schedule.enabled = changes.enabled;
    schedule.updatedAt = new Date();
    this.plan(schedule);
    await this.em.flush();
    return { schedule, warnings };
  }

  /** Forgets the schedule and its history; the files in its target stay where they are. */
  async delete(id: string): Promise<void> {
    const schedule = await this.get(id);
    await this.em.nativeDelete(BackupRun, { schedule: schedule.id });
    await this.em.removeAndFlush(schedule);
  }

  /** Checks a target without saving anything, for the form's feedback. */
  async checkTarget(targetDir: string): Promise<string[]> {
    return (await checkTarget(targetDir, this.dataDir.root)).warnings;
  }

  /** Sends a run now; false when one is already waiting (a run in progress still lets one wait). */
  async runNow(id: string): Promise<boolean> {
    const schedule = await this.get(id);
    return (
      (await this.queue.enqueue('backup', { scheduleId: schedule.id, trigger: 'manual' }, schedule.id)) !==
      null
    );
  }

  async verifyNow(id: string, samplePercent?: number): Promise<boolean> {
    const schedule = await this.get(id);
    const payload = {
      scheduleId: schedule.id,
      trigger: 'manual' as const,
      samplePercent: samplePercent ?? schedule.verifySamplePercent,
    };
    return (await this.queue.enqueue('backup-verify', payload, schedule.id)) !== null;
  }

  /** Newest first; one schedule's or everyone's. */
  async runs(
    options: { scheduleId?: string; kind?: BackupRunKind; limit?: number } = {},
  ): Promise<BackupRun[]> {
    return this.em.find(
      BackupRun,
      {
        ...(options.scheduleId && { schedule: options.scheduleId }),
        ...(options.kind && { kind: options.kind }),
      },
      { orderBy: { startedAt: 'desc', id: 'desc' }, limit: options.limit ?? 50 },
    );
  }

  async getRun(id: string): Promise<BackupRun> {
    const run = await this.em.findOne(BackupRun, { id });
    if (!run) throw new NookError('NOT_FOUND', 'no such backup run');
    return run;
  }

  async lastRun(scheduleId: string, kind: BackupRunKind = 'backup'): Promise<BackupRun | null> {
    return this.em.findOne(BackupRun, { schedule: scheduleId, kind }, { orderBy: { startedAt: 'desc' } });
  }

  async lastSuccess(scheduleId: string): Promise<BackupRun | null> {
    return this.em.findOne(
      BackupRun,
      { schedule: scheduleId, kind: 'backup', status: 'succeeded' },
      { orderBy: { finishedAt: 'desc' } },
    );
  }

  /**
   * The newest successful backup of any enabled schedule, and a warning for each enabled schedule
   * whose last success is older than twice its own interval (or that never completed in that time).
   */
  async freshness(now = new Date()): Promise<{ last: BackupFreshness | null; warnings: string[] }> {
    const schedules = (await this.list()).filter((schedule) => schedule.enabled);
    const warnings: string[] = [];
    let last: BackupFreshness | null = null;
    for (const schedule of schedules) {
      const success = await this.lastSuccess(schedule.id);
      if (!success?.finishedAt) {
        if (
          schedule.createdAt.getTime() +
            2 * longestIntervalMs(schedule.cron, schedule.timeZone, schedule.createdAt) <
          now.getTime()
        )
          warnings.push(`backup “${schedule.name}” has never completed`);
        continue;
      }
      const ageMs = now.getTime() - success.finishedAt.getTime();
      const stale = ageMs > 2 * longestIntervalMs(schedule.cron, schedule.timeZone, success.finishedAt);
      const warning = stale
        ? `the last successful backup “${schedule.name}” is ${describeAge(ageMs)} old, more than twice its interval`
        : null;
      if (warning) warnings.push(warning);
      const entry: BackupFreshness = {
        scheduleId: schedule.id,
        scheduleName: schedule.name,
        finishedAt: success.finishedAt,
        ageSeconds: Math.round(ageMs / 1000),
        stale,
        warning,
      };
      if (!last || entry.finishedAt > last.finishedAt) last = entry;
    }
    return { last, warnings };
  }

  /** Sends every run whose time has come and plans the next; called each minute by `backup-tick`. */
  async sendDue(now = new Date()): Promise<number> {
    let sent = 0;
    for (const schedule of await this.em.find(BackupSchedule, { enabled: true })) {
      if (schedule.nextRunAt && schedule.nextRunAt <= now) {
        await this.queue.enqueue('backup', { scheduleId: schedule.id, trigger: 'scheduled' }, schedule.id);
        sent++;
      }
      if (schedule.verifyCron && schedule.nextVerifyAt && schedule.nextVerifyAt <= now) {
        await this.queue.enqueue(
          'backup-verify',
          { scheduleId: schedule.id, trigger: 'scheduled', samplePercent: schedule.verifySamplePercent },
          schedule.id,
        );
        sent++;
      }
      this.plan(schedule, now);
    }
    await this.em.flush();
    return sent;
  }

  private plan(schedule: BackupSchedule, from = new Date()): void {
    schedule.nextRunAt = nextRuns(schedule.cron, schedule.timeZone, 1, from)[0]!;
    schedule.nextVerifyAt = schedule.verifyCron
      ? nextRuns(schedule.verifyCron, schedule.timeZone, 1, from)[0]!
      : null;
  }

  /** Two schedules mirroring into one folder would delete or overwrite each other's index. */
  private async refuseSharedTarget(targetDir: string, exceptId: string | null): Promise<void> {
    const other = await this.em.findOne(BackupSchedule, {
      targetDir,
      ...(exceptId && { id: { $ne: exceptId } }),
    });
    if (other)
      throw new NookError('CONFLICT', `the schedule “${other.name}” already backs up to ${targetDir}`);
  }
}

function mergeInclude(base: BackupInclude, changes: Partial<BackupInclude> = {}): BackupInclude {
  return {
    uploads: changes.uploads ?? base.uploads,
    watchedLibraries: changes.watchedLibraries ?? base.watchedLibraries,
    metadata: changes.metadata ?? base.metadata,
    derived: changes.derived ?? base.derived,
  };
}

function describeAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours < 48 ? `${Math.round(hours)} hours` : `${Math.round(hours / 24)} days`;
}
