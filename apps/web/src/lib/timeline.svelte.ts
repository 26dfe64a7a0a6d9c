// The timeline's state: pages of assets newest first, fresh uploads on top, pending assets re-polled until done.
import type { AssetDto } from '@nook/api';
import { applyChanges, mergeUnique } from './asset-list';
import { describeError, isNotFound } from './errors';
import type { TrpcClient } from './trpc';

export type TimelineStatus = 'loading' | 'ready' | 'error';

const PAGE_SIZE = 100;
const POLL_INTERVAL_MS = 1000;
/** When rounds bring nothing new (worker stopped, server away), polling slows down to this. */
const POLL_INTERVAL_MAX_MS = 10_000;
/** A big upload leaves hundreds pending; asking for the newest few each round keeps every poll cheap. */
const POLL_BATCH = 60;

export class Timeline {
  readonly #client: TrpcClient;
  // Raw state: assets are replaced whole, never mutated, and a library can hold thousands of them.
  #items = $state.raw<AssetDto[]>([]);
  #status = $state<TimelineStatus>('loading');
  #error = $state<string | null>(null);
  #nextCursor = $state<string | null>(null);
  #loadingMore = $state(false);
  #moreError = $state<string | null>(null);
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pollDelay = POLL_INTERVAL_MS;
  #destroyed = false;
  /** Bumped by every full load, so answers meant for an older list are dropped. */
  #generation = 0;

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get items(): readonly AssetDto[] {
    return this.#items;
  }
  get status(): TimelineStatus {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  get hasMore(): boolean {
    return this.#nextCursor !== null;
  }
  get loadingMore(): boolean {
    return this.#loadingMore;
  }
  get moreError(): string | null {
    return this.#moreError;
  }

  async load(): Promise<void> {
    const generation = ++this.#generation;
    this.#status = 'loading';
    this.#error = null;
    this.#moreError = null;
    try {
      const page = await this.#client.assets.list.query({ limit: PAGE_SIZE });
      if (generation !== this.#generation) return;
      this.#items = page.items;
      this.#nextCursor = page.nextCursor;
      this.#status = 'ready';
      this.#pollSoon();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.#nextCursor;
    if (this.#status !== 'ready' || this.#loadingMore || cursor === null) return;
    const generation = this.#generation;
    this.#loadingMore = true;
    this.#moreError = null;
    try {
      const page = await this.#client.assets.list.query({ limit: PAGE_SIZE, cursor });
      if (generation !== this.#generation) return;
      // Uploads put on top meanwhile may show up again further down the timeline.
      this.#items = mergeUnique(this.#items, page.items);
      this.#nextCursor = page.nextCursor;
      this.#schedulePoll();
    } catch (error) {
      if (generation === this.#generation) this.#moreError = describeError(error);
    } finally {
      this.#loadingMore = false;
    }
  }

  /** Puts freshly uploaded assets at the top without reloading what is already shown. */
  async addUploaded(ids: readonly string[]): Promise<void> {
    if (this.#status !== 'ready') return this.load();
    const generation = this.#generation;
    const missing = ids.filter((id) => !this.#items.some((asset) => asset.id === id));
    const results = await Promise.allSettled(missing.map((id) => this.#client.assets.get.query({ id })));
    if (generation !== this.#generation) return;
    if (results.some((result) => result.status === 'rejected' && !isNotFound(result.reason))) {
      return this.load();
    }
    const fresh = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    this.#items = mergeUnique(fresh, this.#items);
    this.#pollSoon();
  }

  destroy(): void {
    this.#destroyed = true;
    clearTimeout(this.#pollTimer);
  }

  /** New pending assets are worth asking about at the normal pace again. */
  #pollSoon(): void {
    this.#pollDelay = POLL_INTERVAL_MS;
    if (this.#pollTimer !== undefined) {
      clearTimeout(this.#pollTimer);
      this.#pollTimer = undefined;
    }
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#destroyed || this.#pollTimer !== undefined) return;
    if (!this.#items.some((asset) => asset.status === 'pending')) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll();
    }, this.#pollDelay);
  }

  async #poll(): Promise<void> {
    const generation = this.#generation;
    const pending = this.#items
      .filter((asset) => asset.status === 'pending')
      .slice(0, POLL_BATCH)
      .map((asset) => asset.id);
    const results = await Promise.allSettled(pending.map((id) => this.#client.assets.get.query({ id })));
    if (this.#destroyed || generation !== this.#generation) return;

    const settled = results.flatMap((result) =>
      result.status === 'fulfilled' && result.value.status !== 'pending' ? [result.value] : [],
    );
    const gone = pending.filter((_, index) => {
      const result = results[index]!;
      return result.status === 'rejected' && isNotFound(result.reason);
    });
    const progressed = settled.length > 0 || gone.length > 0;
    if (progressed) this.#items = applyChanges(this.#items, settled, gone);
    // An unreachable server is not a reason to stop, only to ask less often.
    this.#pollDelay = progressed
      ? POLL_INTERVAL_MS
      : Math.min(Math.round(this.#pollDelay * 1.5), POLL_INTERVAL_MAX_MS);
    this.#schedulePoll();
  }
}
