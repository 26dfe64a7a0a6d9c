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
  /** The query on its way; the shown one when none is. */
  #pending = $state.raw<AssetFeed | null>(null);
  #waiting = $state(false);
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Keys (see `#key`) of the query last asked for, scheduled or run, and of the one whose results are shown. */
  #asked: string | null = null;
  #shown: string | null = null;

  constructor(client: TrpcClient) {
    this.#client = client;
  }

  get feed(): AssetFeed | null {
    return this.#feed;
  }
  /** Whether anything narrows the search; with nothing, the page shows a prompt instead of everything. */
  get active(): boolean {
    const f = this.filters;
    return this.text.trim() !== '' || !!(f.kind || f.from || f.to || f.camera || f.libraryId || f.favorite);
  }

  /** Typing has paused or a filter changed, or the latest query's answer is still on its way. */
  get busy(): boolean {
    return this.#waiting || this.#pending !== this.#feed;
  }

  /**
   * Call after every change of text or filters: runs the query once typing pauses. Nothing happens when
   * the query is the one already shown or on its way — as when the box loses focus and the form's change
   * event follows the input events that already asked for it: searching again would replace the results
   * under a click on one of them.
   */
  changed(): void {
    const key = this.#key();
    if (key === this.#asked) return;
    clearTimeout(this.#timer);
    this.#asked = key;
    if (!this.active) {
      this.#replace(null);
      this.#waiting = false;
      return;
    }
    if (key === this.#shown) {
      // Edited back to what is on screen: an answer still on its way for the words in between is dropped.
      this.#dropPending();
      this.#waiting = false;
      return;
    }
    this.#waiting = true;
    this.#timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  /** Runs the query now (Enter, or trying again after an error). */
  run(): void {
    clearTimeout(this.#timer);
    this.#waiting = false;
    const key = this.#key();
    this.#asked = key;
    const text = this.text.trim();
    const filters = toApiFilters(this.filters);
    // Words go to full-text search (ranked, one list); filters alone are the timeline's, by month.
    const feed: AssetFeed = text
      ? new ListFeed((cursor) => this.#client.search.query.query({ text, filters, limit: PAGE_SIZE, cursor }))
      : new MonthFeed(this.#client, filters);
    this.#dropPending();
    // The previous results stay on screen until the new ones arrive, so typing does not flicker.
    this.#pending = feed;
    void feed.load().then(() => {
      if (this.#pending !== feed) return;
      this.#replace(feed);
      this.#shown = key;
    });
  }

  /** What the results depend on: the words as searched and the filters as sent. */
  #key(): string {
    return JSON.stringify([this.text.trim(), toApiFilters(this.filters)]);
  }

  #dropPending(): void {
    if (this.#pending !== this.#feed) this.#pending?.destroy();
    this.#pending = this.#feed;
  }

  #replace(feed: AssetFeed | null): void {
    if (this.#pending !== feed && this.#pending !== this.#feed) this.#pending?.destroy();
    if (this.#feed !== feed) this.#feed?.destroy();
    this.#pending = feed;
    this.#feed = feed;
    this.#shown = null;
  }

  destroy(): void {
    clearTimeout(this.#timer);
    this.#pending?.destroy();
    this.#feed?.destroy();
  }
}
