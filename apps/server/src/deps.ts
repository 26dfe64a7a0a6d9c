// What the HTTP server is built from; the process entry point owns each of these.
import type { DataDir, JobQueue, Logger, MikroORM } from '@nook/core';

export interface ServerDeps {
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  logger: Logger;
  maxUploadBytes: number;
  /** Directory of the built web app; the dashboard is not served when it is missing. */
  webRoot?: string;
  version: string;
}
