// What the HTTP server is built from; the process entry point owns each of these.
import type { DataDir, JobQueue, Logger, MikroORM, ServerSecret } from '@nook/core';

export interface ServerDeps {
  orm: MikroORM;
  queue: JobQueue;
  dataDir: DataDir;
  logger: Logger;
  secret: ServerSecret;
  maxUploadBytes: number;
  /** Days trashed assets are kept; the worker purges them, the API tells people when. */
  trashDays: number;
  /** An unfinished resumable upload is deleted this long after its creation. */
  uploadExpiryMs: number;
  /** Whether X-Forwarded-* from a reverse proxy are believed (client IP, HTTPS). */
  trustProxy: boolean;
  /** Host names besides the home network that first-run setup may come from (NOOK_PUBLIC_ORIGIN). */
  publicHosts?: string[];
  /**
   * NOOK_ACCEL_REDIRECT: originals are answered with `X-Accel-Redirect: <this><their path>` and nginx
   * sends the bytes itself (sendfile); unset, Nook streams them.
   */
  accelRedirect?: string;
  /** Directory of the built web app; the dashboard is not served when it is missing. */
  webRoot?: string;
  version: string;
}
