// A list the server hands out page by page (keyset cursors): the first page with its states, then more on demand.
import { describeError } from '$lib/errors';
import type { LoadStatus } from '$lib/loadable.svelte';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class PagedList<T> {
  readonly #fetch: (cursor: string | null) => Promise<Page<T>>;
  #items = $state.raw<T[]>([]);
  #status = $state<LoadStatus>('loading');
  #error = $state<string | null>(null);
  #nextCursor = $state<string | null>(null);
  #loadingMore = $state(false);
  #moreError = $state<string | null>(null);
  /** Bumped by every reload, so a page from before it never lands after it. */
  #generation = 0;

  constructor(fetch: (cursor: string | null) => Promise<Page<T>>) {
    this.#fetch = fetch;
  }

  get items(): T[] {
    return this.#items;
  }
  get status(): LoadStatus {
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

  /** Swaps in a changed item (a favorite set in the viewer) where it is. */
  replace(matches: (item: T) => boolean, changed: T): void {
    this.#items = this.#items.map((item) => (matches(item) ? changed : item));
  }

  /** Starts from the first page again; what is shown stays until it arrives. */
  async reload(): Promise<void> {
    const generation = ++this.#generation;
    if (this.#status !== 'ready') this.#status = 'loading';
    try {
      const page = await this.#fetch(null);
      if (generation !== this.#generation) return;
      this.#items = page.items;
      this.#nextCursor = page.nextCursor;
      this.#error = null;
      this.#moreError = null;
      this.#status = 'ready';
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.#nextCursor;
    if (!cursor || this.#loadingMore) return;
    const generation = this.#generation;
    this.#loadingMore = true;
    this.#moreError = null;
    try {
      const page = await this.#fetch(cursor);
      if (generation !== this.#generation) return;
      this.#items = [...this.#items, ...page.items];
      this.#nextCursor = page.nextCursor;
    } catch (error) {
      if (generation === this.#generation) this.#moreError = describeError(error);
    } finally {
      this.#loadingMore = false;
    }
  }
}
