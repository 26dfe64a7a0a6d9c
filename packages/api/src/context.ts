// What every procedure receives: a request-scoped EntityManager and the signed-in user.
import type { DataDir, EntityManager, JobQueue, User } from '@nook/core';

export interface Context {
  em: EntityManager;
  user: User;
  dataDir: DataDir;
  queue: Pick<JobQueue, 'enqueue'>;
}
