// The security audit log as the administrator pages through it: newest first, older pages on request.
import type { AuditEventDto } from '$lib/api-types';
import { describeError } from '$lib/errors';
import type { LoadStatus } from '$lib/loadable.svelte';
import type { TrpcClient } from '$lib/trpc';

const PAGE_SIZE = 50;

export class AuditLog {
  readonly #client: TrpcClient;
  #events = $state.raw<AuditEventDto[]>([]);
  #status = $state<LoadStatus>('loading');
  #error = $state<string | null>(null);
  #hasMore = $state(false);
  #loadingMore = $state(false);
  #moreError = $state<string | null>(null);

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get events(): readonly AuditEventDto[] {
    return this.#events;
  }
  get status(): LoadStatus {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  get hasMore(): boolean {
    return this.#hasMore;
  }
  get loadingMore(): boolean {
    return this.#loadingMore;
  }
  get moreError(): string | null {
    return this.#moreError;
  }

  async load(): Promise<void> {
    this.#status = 'loading';
    this.#error = null;
    try {
      const events = await this.#client.users.auditLog.query({ limit: PAGE_SIZE });
      this.#events = events;
      this.#hasMore = events.length === PAGE_SIZE;
      this.#status = 'ready';
    } catch (error) {
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  async loadMore(): Promise<void> {
    const oldest = this.#events.at(-1);
    if (!oldest || this.#loadingMore) return;
    this.#loadingMore = true;
    this.#moreError = null;
    try {
      const events = await this.#client.users.auditLog.query({ limit: PAGE_SIZE, before: oldest.at });
      this.#events = [...this.#events, ...events];
      this.#hasMore = events.length === PAGE_SIZE;
    } catch (error) {
      this.#moreError = describeError(error);
    } finally {
      this.#loadingMore = false;
    }
  }
}
