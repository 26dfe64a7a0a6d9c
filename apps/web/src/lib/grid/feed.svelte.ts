// Where the grid's assets come from. `MonthFeed` (timeline, albums, libraries: anything `assets.list` filters) knows every month's count
// from `assets.buckets` up front and loads only the months in view; `ListFeed` pages through any keyset-paged list (search, trash).
import type { AssetSummary } from '@nook/api';
import { describeError, isNotFound } from '../errors';
import type { TrpcClient } from '../trpc';
import { emptySet, withAll } from './sets';
import { appendUnique, monthKey, monthLabel, monthRange, type GridSection } from './sections';

export type { GridSection } from './sections';

/** What the grid component reads and calls; implement it to feed the grid from anything else. */
export interface AssetFeed {
  readonly sections: readonly GridSection[];
  readonly status: 'loading' | 'ready' | 'error';
  readonly error: string | null;
  /** Total assets, loaded or not. */
  readonly total: number;
  /** The grid calls this with the sections on (or near) the screen; the feed loads what they miss. */
  want(sectionIndexes: readonly number[]): void;
  /** Loads everything again from the start. */
  load(): Promise<void>;
  /** Swaps in a changed asset (after favorite, an edit). */
  update(asset: AssetSummary): void;
  /** Drops assets (trashed, removed from an album). */
  remove(ids: readonly string[]): void;
  destroy(): void;
}

export type TimelineFilterInput = NonNullable<
  Parameters<TrpcClient['assets']['list']['query']>[0]['filters']
>;

const FIRST_PAGE = 200;
const PAGE = 400;
const CONCURRENT = 2;
const POLL_MS = 1500;
const POLL_BATCH = 60;

interface MonthState {
  cursor: string | null;
  loading: boolean;
  error: boolean;
}

export class MonthFeed implements AssetFeed {
  readonly #client: TrpcClient;
  readonly #filters: TimelineFilterInput;
  #sections = $state.raw<GridSection[]>([]);
  #status = $state<'loading' | 'ready' | 'error'>('loading');
  #error = $state<string | null>(null);
  // Bookkeeping of requests, never shown: a plain Map on purpose.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  #months = new Map<string, MonthState>();
  #wanted: readonly number[] = [];
  #active = 0;
  #generation = 0;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #destroyed = false;

  /** `filters` narrow every page and the buckets alike (an album: `{ albumId }`). */
  constructor(client: TrpcClient, filters: TimelineFilterInput = {}) {
    this.#client = client;
    this.#filters = filters;
  }

  get sections(): readonly GridSection[] {
    return this.#sections;
  }
  get status() {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  get total(): number {
    return this.#sections.reduce((sum, section) => sum + section.count, 0);
  }

  async load(): Promise<void> {
    const generation = ++this.#generation;
    if (this.#sections.length === 0) this.#status = 'loading';
    try {
      // Both in one batched request: the newest page paints the top while the buckets shape the rest.
      const [buckets, first] = await Promise.all([
        this.#client.assets.buckets.query({ filters: this.#filters }),
        this.#client.assets.list.query({ limit: FIRST_PAGE, filters: this.#filters }),
      ]);
      if (generation !== this.#generation) return;
      this.#months.clear();
      const byMonth = Object.groupBy(first.items, (asset) => monthKey(asset.takenAt));
      const lastMonth =
        first.items.length > 0 ? monthKey(first.items[first.items.length - 1]!.takenAt) : null;
      this.#sections = buckets.map(({ month, count }) => {
        const items = byMonth[month] ?? [];
        // Only the page's last month can be cut short; its cursor carries on inside the month.
        this.#months.set(month, {
          cursor: month === lastMonth ? first.nextCursor : null,
          loading: false,
          error: false,
        });
        return { key: month, label: monthLabel(month), count, items };
      });
      this.#error = null;
      this.#status = 'ready';
      this.#pump();
      this.#schedulePoll();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  want(sectionIndexes: readonly number[]): void {
    this.#wanted = sectionIndexes;
    this.#pump();
  }

  update(asset: AssetSummary): void {
    this.#sections = this.#sections.map((section) =>
      section.items.some((item) => item.id === asset.id)
        ? { ...section, items: section.items.map((item) => (item.id === asset.id ? asset : item)) }
        : section,
    );
  }

  remove(ids: readonly string[]): void {
    const gone = withAll(emptySet(), ids);
    this.#sections = this.#sections
      .map((section) => {
        const items = section.items.filter((item) => !gone.has(item.id));
        const removed = section.items.length - items.length;
        return removed === 0 ? section : { ...section, items, count: section.count - removed };
      })
      .filter((section) => section.count > 0);
  }

  /** Counts changed (uploads, processing moved an asset to its real month): months that differ load again. */
  async refresh(): Promise<void> {
    if (this.#status !== 'ready') return this.load();
    const generation = this.#generation;
    let buckets;
    try {
      buckets = await this.#client.assets.buckets.query({ filters: this.#filters });
    } catch {
      return; // the next poll or action tries again; what is shown stays right enough
    }
    if (generation !== this.#generation) return;
    const old = Object.fromEntries(this.#sections.map((section) => [section.key, section]));
    this.#sections = buckets.map(({ month, count }) => {
      const known = old[month];
      if (known && known.count === count) return known;
      this.#months.set(month, { cursor: null, loading: false, error: false });
      return { key: month, label: monthLabel(month), count, items: [] };
    });
    this.#pump();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#generation++;
    clearTimeout(this.#pollTimer);
  }

  #pump(): void {
    while (this.#active < CONCURRENT) {
      const index = this.#wanted.find((candidate) => {
        const section = this.#sections[candidate];
        const state = section && this.#months.get(section.key);
        return state && !state.loading && !state.error && section.items.length < section.count;
      });
      if (index === undefined) return;
      void this.#loadPage(this.#sections[index]!.key);
    }
  }

  async #loadPage(key: string): Promise<void> {
    const state = this.#months.get(key)!;
    const generation = this.#generation;
    state.loading = true;
    this.#active++;
    try {
      const page = await this.#client.assets.list.query({
        limit: PAGE,
        cursor: state.cursor,
        filters: { ...this.#filters, ...monthRange(key) },
      });
      if (generation !== this.#generation) return;
      state.cursor = page.nextCursor;
      let disagreed = false;
      this.#sections = this.#sections
        .map((section) => {
          if (section.key !== key) return section;
          const items = appendUnique(section.items, page.items);
          // The server's answer beats the bucket count when they disagree (an asset moved or trashed meanwhile).
          const count = page.nextCursor === null ? items.length : Math.max(section.count, items.length);
          disagreed = count !== section.count;
          return { ...section, items, count };
        })
        .filter((section) => section.count > 0);
      // Assets that left this month went to another one: the counts are asked again.
      if (disagreed) void this.refresh();
      this.#schedulePoll();
    } catch {
      // Retried when the section is wanted again after a pause, not in a tight loop.
      state.error = true;
      setTimeout(() => {
        state.error = false;
        this.#pump();
      }, 3000);
    } finally {
      state.loading = false;
      this.#active--;
      if (generation === this.#generation) this.#pump();
    }
  }

  #schedulePoll(): void {
    if (this.#destroyed || this.#pollTimer !== undefined) return;
    if (!this.#sections.some((section) => section.items.some((asset) => asset.status === 'pending'))) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll();
    }, POLL_MS);
  }

  /** Assets still being processed are asked for again until they are ready or failed. */
  async #poll(): Promise<void> {
    const generation = this.#generation;
    const pending = this.#sections
      .flatMap((section) => section.items.filter((asset) => asset.status === 'pending'))
      .slice(0, POLL_BATCH);
    const results = await Promise.allSettled(
      pending.map((asset) => this.#client.assets.get.query({ id: asset.id })),
    );
    if (this.#destroyed || generation !== this.#generation) return;
    let moved = false;
    results.forEach((result, index) => {
      const before = pending[index]!;
      if (result.status === 'rejected') {
        if (isNotFound(result.reason)) this.remove([before.id]);
        return;
      }
      if (result.value.status === 'pending') return;
      if (monthKey(result.value.takenAt) !== monthKey(before.takenAt)) moved = true;
      this.update(result.value);
    });
    // Metadata found the real date: the asset belongs to another month now.
    if (moved) await this.refresh();
    this.#schedulePoll();
  }
}

/** A keyset-paged list in the order the server gives it, as one section without a heading. */
export class ListFeed implements AssetFeed {
  readonly #fetch: (cursor: string | null) => Promise<{ items: AssetSummary[]; nextCursor: string | null }>;
  #items = $state.raw<AssetSummary[]>([]);
  #cursor: string | null = null;
  #more = $state(false);
  #status = $state<'loading' | 'ready' | 'error'>('loading');
  #error = $state<string | null>(null);
  #loading = false;
  #generation = 0;

  constructor(
    fetch: (cursor: string | null) => Promise<{ items: AssetSummary[]; nextCursor: string | null }>,
  ) {
    this.#fetch = fetch;
  }

  get sections(): readonly GridSection[] {
    if (this.#items.length === 0) return [];
    // Unknown beyond the loaded pages: one page more stands in, so its placeholder row asks for it.
    return [
      { key: 'list', label: '', count: this.#items.length + (this.#more ? PAGE / 4 : 0), items: this.#items },
    ];
  }
  get status() {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  get total(): number {
    return this.#items.length;
  }
  /** Whether more pages exist on the server. */
  get hasMore(): boolean {
    return this.#more;
  }

  async load(): Promise<void> {
    const generation = ++this.#generation;
    this.#status = 'loading';
    this.#loading = false;
    try {
      const page = await this.#fetch(null);
      if (generation !== this.#generation) return;
      this.#items = page.items;
      this.#cursor = page.nextCursor;
      this.#more = page.nextCursor !== null;
      this.#error = null;
      this.#status = 'ready';
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }

  want(sectionIndexes: readonly number[]): void {
    if (sectionIndexes.length > 0 && this.#more && !this.#loading) void this.#next();
  }

  async #next(): Promise<void> {
    const generation = this.#generation;
    this.#loading = true;
    try {
      const page = await this.#fetch(this.#cursor);
      if (generation !== this.#generation) return;
      this.#items = appendUnique(this.#items, page.items);
      this.#cursor = page.nextCursor;
      this.#more = page.nextCursor !== null;
    } catch {
      // The placeholder row stays; the next scroll asks again.
    } finally {
      if (generation === this.#generation) this.#loading = false;
    }
  }

  update(asset: AssetSummary): void {
    this.#items = this.#items.map((item) => (item.id === asset.id ? asset : item));
  }

  remove(ids: readonly string[]): void {
    const gone = withAll(emptySet(), ids);
    this.#items = this.#items.filter((item) => !gone.has(item.id));
  }

  destroy(): void {
    this.#generation++;
  }
}
