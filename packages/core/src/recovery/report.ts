// What recovery did at a process's start, kept beside the queue so every process's findings reach the jobs page.
import type { Logger } from 'pino';
import type { JobQueue } from '../queue/job-queue';
import type { RecoveryCounts } from '../queue/queue-state';

/**
 * Adds `counts` to this process's "recovered at start" entry and logs them. Each recovery step
 * reports what it did (jobs retried or failed, files queued again, uploads completed, temp files
 * removed); a step that found nothing may report zeros, so the page can say nothing was needed. A
 * failure to record is logged, never thrown: recovery itself went through.
 */
export async function recordRecovery(
  queue: Pick<JobQueue, 'recordRecovery'>,
  counts: RecoveryCounts,
  logger?: Logger,
): Promise<void> {
  const found = Object.entries(counts).filter(([, count]) => (count ?? 0) > 0);
  if (found.length > 0) logger?.info(Object.fromEntries(found), 'recovered at start');
  try {
    await queue.recordRecovery(counts);
  } catch (error) {
    logger?.warn({ err: error }, 'recording what recovery did failed');
  }
}
