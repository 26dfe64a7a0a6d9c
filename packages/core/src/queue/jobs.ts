// The queues Nook runs, the payload each carries and the policy each is created with.
import type PgBoss from 'pg-boss';
import { z } from 'zod';

const assetJob = z.object({ assetId: z.uuid() });

/** New or changed asset → `metadata` → `thumbnail` (images) or `video-poster` (videos). */
export const jobPayloads = {
  /**
   * The media queues' dead letters: pg-boss sends a job here when it fails for good, also when no
   * handler saw its last try end (its process died, or it ran past its expiry), so the asset is marked
   * failed all the same. First, as the media queues name it when they are created.
   */
  'media-failed': assetJob,
  metadata: assetJob,
  thumbnail: assetJob,
  'video-poster': assetJob,
  /** Deletes what has been in the trash longer than the retention. */
  'trash-purge': z.object({}),
  /** Reconciles one folder library (and applies its settings to the watcher); without an id, every one due. */
  'library-scan': z.object({ libraryId: z.uuid().optional() }),
  /** One backup run of a schedule. */
  backup: z.object({ scheduleId: z.uuid(), trigger: z.enum(['manual', 'scheduled']) }),
  /** Re-hashes a sample (or all) of a schedule's target to find bit rot. */
  'backup-verify': z.object({
    scheduleId: z.uuid(),
    trigger: z.enum(['manual', 'scheduled']),
    samplePercent: z.number().int().min(1).max(100),
  }),
  /** Every minute: sends the backup and verify runs whose time has come. */
  'backup-tick': z.object({}),
} as const;

export type QueueName = keyof typeof jobPayloads;
export type JobPayload<N extends QueueName> = z.infer<(typeof jobPayloads)[N]>;
export const queueNames = Object.keys(jobPayloads) as QueueName[];
/** The queues that process files, each with its own concurrency setting. */
export type MediaQueueName = 'metadata' | 'thumbnail' | 'video-poster';
export const mediaQueueNames: readonly MediaQueueName[] = ['metadata', 'thumbnail', 'video-poster'];

/**
 * How often an idle queue asks PostgreSQL for work. A worker that finds work asks again as soon as a
 * slot is free and polls briefly while the queue stays busy, jobs sent from the same process wake
 * their workers at once, and a job failed in this process wakes its worker when its retry comes due,
 * so this pace only decides how soon work from elsewhere is noticed on an idle queue. In split mode
 * the server and ingest are other processes: files are picked up within a second, housekeeping within
 * five. In `nook start` they share the process, so idle polling only finds cron ticks (pg-boss sends
 * them) and the odd CLI command: once a minute keeps an idle appliance idle.
 */
export function pollingIntervalSeconds(name: QueueName, producersInProcess = false): number {
  const media = (mediaQueueNames as readonly string[]).includes(name);
  if (producersInProcess) return 60;
  return media ? 1 : 5;
}

type QueuePolicy = Omit<PgBoss.Queue, 'name'>;

/**
 * `stately` keeps at most one waiting and one running job per singleton key (the asset id), so a
 * file re-uploaded or touched twice is processed once. Retries back off; a job running past its
 * expiry is failed (its ffmpeg or sharp work aborted) and retried like any other failure. A job whose
 * process died is found by its lease (see queue-state.ts) within about a minute and retried at once, so
 * the expiries below are only the backstop for a job no lease recorded.
 */
export const queuePolicies: Record<QueueName, QueuePolicy> = {
  'media-failed': {
    policy: 'standard',
    retryLimit: 3,
    retryDelay: 30,
    expireInSeconds: 60,
    retentionDays: 7,
  },
  metadata: {
    policy: 'stately',
    deadLetter: 'media-failed',
    retryLimit: 3,
    retryDelay: 10,
    retryBackoff: true,
    expireInSeconds: 2 * 60,
    retentionDays: 7,
  },
  thumbnail: {
    policy: 'stately',
    deadLetter: 'media-failed',
    retryLimit: 3,
    retryDelay: 10,
    retryBackoff: true,
    expireInSeconds: 5 * 60,
    retentionDays: 7,
  },
  'video-poster': {
    policy: 'stately',
    deadLetter: 'media-failed',
    retryLimit: 2,
    retryDelay: 30,
    retryBackoff: true,
    expireInSeconds: 10 * 60,
    retentionDays: 7,
  },
  // One scan waiting and one running per library; a scan of a large NAS share may take hours.
  'library-scan': {
    policy: 'stately',
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInSeconds: 6 * 60 * 60,
    retentionDays: 7,
  },
  // One run waiting and one running per schedule (the singleton key); a first run may take hours.
  backup: {
    policy: 'stately',
    retryLimit: 1,
    retryDelay: 5 * 60,
    expireInSeconds: 12 * 60 * 60,
    retentionDays: 30,
  },
  'backup-verify': {
    policy: 'stately',
    retryLimit: 0,
    expireInSeconds: 12 * 60 * 60,
    retentionDays: 30,
  },
  'backup-tick': {
    policy: 'singleton',
    retryLimit: 0,
    expireInSeconds: 5 * 60,
    retentionDays: 1,
  },
  'trash-purge': {
    policy: 'singleton',
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInSeconds: 30 * 60,
    retentionDays: 7,
  },
};

/**
 * An error that retrying cannot fix (a corrupt or unsupported file). Anything with
 * `permanent: true` counts, so media errors qualify without core knowing their class.
 */
export function isPermanentError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true;
}
