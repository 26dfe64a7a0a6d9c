// Month sections of the grid as plain data: keys, labels and date ranges of `YYYY-MM` months (UTC, as `assets.buckets` counts them).
import type { AssetSummary } from '@nook/api';

export interface GridSection {
  /** `YYYY-MM` for a month; any unique string for an ungrouped list. */
  readonly key: string;
  /** The heading, or empty for a list without headings (search results ranked by relevance). */
  readonly label: string;
  /** How many assets the section holds, loaded or not (an estimate while not known). */
  readonly count: number;
  /** The loaded ones, in display order; always a prefix of the section. */
  readonly items: readonly AssetSummary[];
}

const monthFormat = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });

export function monthKey(iso: string): string {
  return iso.slice(0, 7);
}

export function monthLabel(key: string): string {
  const [year, month] = key.split('-').map(Number);
  return monthFormat.format(Date.UTC(year!, month! - 1, 1));
}

/** `from` inclusive, `to` exclusive, as ISO strings for the timeline filters. */
export function monthRange(key: string): { from: string; to: string } {
  const [year, month] = key.split('-').map(Number);
  return {
    from: new Date(Date.UTC(year!, month! - 1, 1)).toISOString(),
    to: new Date(Date.UTC(year!, month!, 1)).toISOString(),
  };
}

/** Appends `more` to `items`, each asset once. */
export function appendUnique(items: readonly AssetSummary[], more: readonly AssetSummary[]): AssetSummary[] {
  const seen = new Set(items.map((asset) => asset.id));
  return [...items, ...more.filter((asset) => !seen.has(asset.id))];
}
