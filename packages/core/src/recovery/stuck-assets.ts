// Assets left "processing" for ever: their row was written but their first job never was (a crash
// between the two), or their job was lost with the queue's database.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import type { JobQueue } from '../queue/job-queue';

/**
 * Sends `metadata` again for every live pending asset that no media job is waiting for or running;
 * the pipeline runs from there as for a new file. Returns how many were sent. The jobs in flight are
 * read before the assets, so an asset whose pipeline finishes meanwhile is not sent again; one written
 * meanwhile may be, which its queue's singleton key makes harmless.
 */
export async function requeueStuckAssets(
  em: EntityManager,
  queue: Pick<JobQueue, 'keysInFlight' | 'enqueue'>,
): Promise<number> {
  const inFlight = await queue.keysInFlight(['metadata', 'thumbnail', 'video-poster']);
  const pending = await em.find(
    Asset,
    { status: 'pending', deletedAt: null, offlineAt: null },
    { fields: ['id'], orderBy: { id: 'asc' } },
  );
  let sent = 0;
  for (const { id } of pending) {
    if (inFlight.has(id)) continue;
    await queue.enqueue('metadata', { assetId: id }, id);
    sent++;
  }
  return sent;
}
