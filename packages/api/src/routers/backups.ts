// backups.*: schedules (what, where, when), runs on demand, and the history of runs. Administrators only.
import { BackupService, nextRuns, type BackupRun, type BackupSchedule, nameInput } from '@nook/core';
import { z } from 'zod';
import type { Context } from '../context';
import { adminPathProcedure, adminProcedure, router } from '../trpc';

export function toBackupRunDto(run: BackupRun) {
  return {
    id: run.id,
    scheduleId: run.schedule.id,
    kind: run.kind,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    error: run.error,
    filesCopied: run.filesCopied,
    bytesCopied: run.bytesCopied,
    filesSkipped: run.filesSkipped,
    bytesSkipped: run.bytesSkipped,
    filesDeleted: run.filesDeleted,
    filesFailed: run.filesFailed,
    filesChecked: run.filesChecked,
    filesCorrupt: run.filesCorrupt,
    errors: run.errors,
    progress: run.progress,
    snapshot: run.snapshot,
  };
}

export type BackupRunDto = ReturnType<typeof toBackupRunDto>;

async function toScheduleDto(service: BackupService, schedule: BackupSchedule) {
  const [lastRun, lastSuccess, lastVerify] = await Promise.all([
    service.lastRun(schedule.id),
    service.lastSuccess(schedule.id),
    service.lastRun(schedule.id, 'verify'),
  ]);
  return {
    id: schedule.id,
    name: schedule.name,
    cron: schedule.cron,
    timeZone: schedule.timeZone,
    targetDir: schedule.targetDir,
    include: schedule.include,
    keepSnapshots: schedule.keepSnapshots,
    propagateDeletions: schedule.propagateDeletions,
    deletionGraceDays: schedule.deletionGraceDays,
    verifyCron: schedule.verifyCron,
    verifySamplePercent: schedule.verifySamplePercent,
    enabled: schedule.enabled,
    /** The next five times the cron fires (ISO, UTC), whether or not the schedule is enabled. */
    nextRuns: nextRuns(schedule.cron, schedule.timeZone, 5).map((date) => date.toISOString()),
    lastRun: lastRun ? toBackupRunDto(lastRun) : null,
    lastSuccessAt: lastSuccess?.finishedAt?.toISOString() ?? null,
    lastVerify: lastVerify ? toBackupRunDto(lastVerify) : null,
    createdAt: schedule.createdAt.toISOString(),
    updatedAt: schedule.updatedAt.toISOString(),
  };
}

export type BackupScheduleDto = Awaited<ReturnType<typeof toScheduleDto>>;

const cron = z.string().trim().min(9).max(128);
const timeZone = z.string().trim().min(1).max(64);

const settings = z.object({
  name: nameInput(128),
  cron,
  timeZone,
  targetDir: z.string().min(1).max(4096),
  include: z
    .object({
      uploads: z.boolean(),
      watchedLibraries: z.boolean(),
      metadata: z.boolean(),
      derived: z.boolean(),
    })
    .partial(),
  keepSnapshots: z.number().int().min(1).max(1000),
  propagateDeletions: z.boolean(),
  deletionGraceDays: z.number().int().min(0).max(3650),
  verifyCron: cron.nullable(),
  verifySamplePercent: z.number().int().min(1).max(100),
  enabled: z.boolean(),
});

const byId = z.object({ id: z.uuid() });
const service = (ctx: Context) => new BackupService(ctx.em, ctx.dataDir, ctx.queue);

export const backupsRouter = router({
  list: adminProcedure.query(async ({ ctx }) => {
    const backups = service(ctx);
    return Promise.all((await backups.list()).map((schedule) => toScheduleDto(backups, schedule)));
  }),

  get: adminProcedure.input(byId).query(async ({ ctx, input }) => {
    const backups = service(ctx);
    return toScheduleDto(backups, await backups.get(input.id));
  }),

  /** Answers `warnings` too, e.g. a target on the same disk as the data dir. */
  create: adminProcedure
    .input(settings.partial().required({ name: true, cron: true, targetDir: true }))
    .mutation(async ({ ctx, input }) => {
      const backups = service(ctx);
      const saved = await backups.create(input);
      return { schedule: await toScheduleDto(backups, saved.schedule), warnings: saved.warnings };
    }),

  update: adminProcedure
    .input(settings.partial().extend({ id: z.uuid() }))
    .mutation(async ({ ctx, input: { id, ...changes } }) => {
      const backups = service(ctx);
      const saved = await backups.update(id, changes);
      return { schedule: await toScheduleDto(backups, saved.schedule), warnings: saved.warnings };
    }),

  /** Forgets the schedule and its history; the backup's files stay in the target. */
  delete: adminProcedure.input(byId).mutation(async ({ ctx, input }) => {
    await service(ctx).delete(input.id);
    return { ok: true };
  }),

  /** Validates a cron expression in a zone and shows when it would fire, for the form. */
  previewCron: adminProcedure
    .input(z.object({ cron, timeZone: timeZone.default('UTC') }))
    .query(({ input }) => ({
      nextRuns: nextRuns(input.cron, input.timeZone, 5).map((date) => date.toISOString()),
    })),

  /** Checks a target folder (exists, writable, not inside the data dir) without saving anything. */
  checkTarget: adminPathProcedure
    .input(z.object({ targetDir: z.string().min(1).max(4096) }))
    .query(async ({ ctx, input }) => ({
      ok: true,
      warnings: await service(ctx).checkTarget(input.targetDir),
    })),

  /** `queued: false` when a run of this schedule is already waiting. */
  runNow: adminProcedure
    .input(byId)
    .mutation(async ({ ctx, input }) => ({ queued: await service(ctx).runNow(input.id) })),

  verifyNow: adminProcedure
    .input(byId.extend({ samplePercent: z.number().int().min(1).max(100).optional() }))
    .mutation(async ({ ctx, input }) => ({
      queued: await service(ctx).verifyNow(input.id, input.samplePercent),
    })),

  /** Newest first; `progress` is filled while a run is going. */
  runs: adminProcedure
    .input(
      z
        .object({
          scheduleId: z.uuid().optional(),
          kind: z.enum(['backup', 'verify']).optional(),
          limit: z.number().int().min(1).max(500).default(50),
        })
        .default({ limit: 50 }),
    )
    .query(async ({ ctx, input }) => (await service(ctx).runs(input)).map(toBackupRunDto)),

  run: adminProcedure
    .input(byId)
    .query(async ({ ctx, input }) => toBackupRunDto(await service(ctx).getRun(input.id))),
});
