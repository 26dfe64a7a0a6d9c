// @nook/worker: the pg-boss handlers, one per queue, each a thin call into core and media.
import { thumbnailHandler, type WorkerDeps } from './thumbnail';

export type { WorkerDeps } from './thumbnail';

export async function startWorkers(deps: WorkerDeps, concurrency: number): Promise<void> {
  await deps.queue.work('thumbnail', concurrency, thumbnailHandler(deps));
}
