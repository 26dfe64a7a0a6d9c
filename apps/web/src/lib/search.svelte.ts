// The search page's state: text and filters in, pages of results out; typing is debounced and stale answers dropped.
import type { AssetDto } from '@nook/api';
import { describeError } from './errors';
import { emptyFilters, toApiFilters, type SearchFilters } from './search-filters';
import type { TrpcClient } from './trpc';

const DEBOUNCE_MS = 200;
const PAGE_SIZE = 120;

export class Search {
  readonly #client: TrpcClient;
  text = $state('');
  filters = $state<SearchFilters>(emptyFilters());
  #items = $state.raw<AssetDto[]>([]);
  #status = $state<'idle' | 'loading' | 'ready' | 'error'>('idle');
  #error = $state<string | null>(null);
  #cursor = $state<string | null>(null);
  #loadingMore = $state(false);
  #moreError = $state<string | null>(null);
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Every new query bumps it; an answer for an older one is thrown away. */
  #generation = 0;

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get items(): readonly AssetDto[] {
    return this.#items;
  }
  get status() {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  get hasMore(): boolean {
    return this.#cursor !== null;
  }
  get loadingMore(): boolean {
    return this.#loadingMore;
  }
  get moreError(): string | null {
    return this.#moreError;
  }
  /** Whether anything narrows the search; with nothing, the page shows a prompt instead of everything. */
  get active(): boolean {
    const f = this.filters;
    return this.text.trim() !== '' || !!(f.kind || f.from || f.to || f.camera || f.libraryId || f.favorite);
  }

  /** Call after every change of text or filters: runs the query once typing pauses. */
  changed(): void {
    clearTimeout(this.#timer);
    if (!this.active) {
      this.#generation++;
      this.#items = [];
      this.#status = 'idle';
      return;
    }
    this.#status = 'loading';
    this.#timer = setTimeout(() => void this.run(), DEBOUNCE_MS);
  }

  async run(): Promise<void> {
    const generation = ++this.#generation;
    this.#status = 'loading';
    this.#moreError = null;
    try {
      const page = await this.#client.search.query.query({
        text: this.text.trim(),
        filters: toApiFilters(this.filters),
        limit: PAGE_SIZE,
      });
      if (generation !== this.#generation) return;
      this.#items = page.items;
      this.#cursor = page.nextCursor;
      this.#error = null;
      this.#status = 'ready';
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.#cursor;
    if (this.#status !== 'ready' || this.#loadingMore || cursor === null) return;
    const generation = this.#generation;
    this.#loadingMore = true;
    this.#moreError = null;
    try {
      const page = await this.#client.search.query.query({
        text: this.text.trim(),
        filters: toApiFilters(this.filters),
        limit: PAGE_SIZE,
        cursor,
      });
      if (generation !== this.#generation) return;
      this.#items = [...this.#items, ...page.items];
      this.#cursor = page.nextCursor;
    } catch (error) {
      if (generation === this.#generation) this.#moreError = describeError(error);
    } finally {
      this.#loadingMore = false;
    }
  }

  destroy(): void {
    clearTimeout(this.#timer);
    this.#generation++;
  }
}
