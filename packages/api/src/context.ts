// What every procedure receives: a request-scoped EntityManager, who is calling, and how to set cookies.
import type {
  Authenticated,
  ClientInfo,
  DataDir,
  EntityManager,
  JobQueue,
  LibraryReads,
  LoginThrottle,
  SetupRequest,
  StatsCache,
} from '@nook/core';

/** The session cookie, set and cleared by the HTTP layer, which knows about cookies. */
export interface SessionCookie {
  set(token: string): void;
  clear(): void;
}

export interface Context {
  em: EntityManager;
  /** The timeline, buckets and search over the read-only connection. */
  reads: LibraryReads;
  auth: Authenticated | null;
  client: ClientInfo;
  /** The Host and Origin the request came with: first-run setup checks them against DNS rebinding. */
  origin: SetupRequest;
  /** Host names from NOOK_PUBLIC_ORIGIN that first-run setup may also come from. */
  publicHosts: readonly string[];
  dataDir: DataDir;
  queue: Pick<JobQueue, 'enqueue' | 'stats' | 'recoveries'>;
  throttle: LoginThrottle;
  /** Days a trashed asset stays restorable before the daily purge removes it. */
  trashDays: number;
  sessionCookie: SessionCookie;
  /** Recently computed stats per user, owned by the server so they outlive a request. */
  statsCache: StatsCache;
}
