// What job handlers are built from.
import type { DataDir, JobQueue, Logger, MikroORM } from '@nook/core';

export interface WorkerDeps {
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  logger: Logger;
}
