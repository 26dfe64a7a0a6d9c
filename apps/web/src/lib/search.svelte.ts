// The search page's state: text and filters in, a feed of results out; typing is debounced and answers to older queries dropped.
import { ListFeed, MonthFeed, type AssetFeed } from './grid/feed.svelte';
import { emptyFilters, toApiFilters, type SearchFilters } from './search-filters';
import type { TrpcClient } from './trpc';

const DEBOUNCE_MS = 200;
const PAGE_SIZE = 120;

export class Search {
  readonly #client: TrpcClient;
  text = $state('');
  filters = $state<SearchFilters>(emptyFilters());
  /** Results of the latest query; each query gets a new feed, so a late page of an old one has nowhere to land. */
  #feed = $state.raw<AssetFeed | null>(null);
  #waiting = $state(false);
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get feed(): AssetFeed | null {
    return this.#feed;
  }
  /** Typing has paused less than the debounce ago: a query is about to go out. */
  get waiting(): boolean {
    return this.#waiting;
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
      this.#replace(null);
      this.#waiting = false;
      return;
    }
    this.#waiting = true;
    this.#timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  run(): void {
    this.#waiting = false;
    const text = this.text.trim();
    const filters = toApiFilters(this.filters);
    // Words go to full-text search (ranked, one list); filters alone are the timeline's, by month.
    const feed: AssetFeed = text
      ? new ListFeed((cursor) => this.#client.search.query.query({ text, filters, limit: PAGE_SIZE, cursor }))
      : new MonthFeed(this.#client, filters);
    // The previous results stay on screen until the new ones arrive, so typing does not flicker.
    void feed.load().then(() => {
      if (this.#pending === feed) this.#replace(feed);
    });
    this.#pending = feed;
  }

  #pending: AssetFeed | null = null;

  #replace(feed: AssetFeed | null): void {
    if (this.#feed !== feed) this.#feed?.destroy();
    if (feed === null) this.#pending = null;
    this.#feed = feed;
  }

  destroy(): void {
    clearTimeout(this.#timer);
    this.#pending?.destroy();
    this.#feed?.destroy();
  }
}
