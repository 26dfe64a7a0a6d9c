// Assets left "processing" for ever: their row was written but their first job never was (a crash
// between the two), or their job was lost with the queue's database.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import type { JobQueue } from '../queue/job-queue';
import { mediaQueueNames, type QueueName } from '../queue/jobs';

/** While any of these holds a waiting job, a pending asset may be one of them: the sweep waits. */
const gate: readonly QueueName[] = [...mediaQueueNames, 'media-failed'];

/**
 * Sends `metadata` again for every live pending asset that no media job is waiting for or running;
 * the pipeline runs from there as for a new file. Returns how many were sent, or null when media jobs
 * are still waiting, so that nothing can be said of which assets have none (pg-boss offers no lookup
 * by key): the caller tries again later. With nothing waiting, an asset whose job runs has a lease; any
 * other pending asset has no job. One sent meanwhile by someone else is dropped by its queue's
 * singleton key, or at worst runs twice, harmlessly.
 */
export async function requeueStuckAssets(
  em: EntityManager,
  queue: Pick<JobQueue, 'waiting' | 'runningKeys' | 'enqueue'>,
): Promise<number | null> {
  if ((await queue.waiting(gate)) > 0) return null;
  const running = await queue.runningKeys(mediaQueueNames);
  const pending = await em.find(
    Asset,
    { status: 'pending', deletedAt: null, offlineAt: null },
    { fields: ['id'], orderBy: { id: 'asc' } },
  );
  let sent = 0;
  for (const { id } of pending) {
    if (running.has(id)) continue;
    await queue.enqueue('metadata', { assetId: id }, id);
    sent++;
  }
  return sent;
}
