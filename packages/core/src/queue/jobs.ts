// The queues Nook runs, the payload each carries and the policy each is created with.
import type PgBoss from 'pg-boss';
import { z } from 'zod';

export const jobPayloads = {
  thumbnail: z.object({ assetId: z.uuid() }),
} as const;

export type QueueName = keyof typeof jobPayloads;
export type JobPayload<N extends QueueName> = z.infer<(typeof jobPayloads)[N]>;
export const queueNames = Object.keys(jobPayloads) as QueueName[];

type QueuePolicy = Omit<PgBoss.Queue, 'name'>;

/**
 * `stately` keeps at most one waiting and one running job per singleton key (the asset id), so a
 * file re-uploaded or touched twice is processed once. Retries back off; an expired job is failed
 * and retried like any other failure.
 */
export const queuePolicies: Record<QueueName, QueuePolicy> = {
  thumbnail: {
    policy: 'stately',
    retryLimit: 3,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: 5 * 60,
    retentionDays: 7,
  },
};
