// Pure list operations of the timeline, kept apart from its reactive state.
import type { AssetDto } from '@nook/api';

/** `head` then `tail`, each asset once: the first occurrence wins. */
export function mergeUnique(head: readonly AssetDto[], tail: readonly AssetDto[]): AssetDto[] {
  const seen = new Set<string>();
  return [...head, ...tail].filter((asset) => !seen.has(asset.id) && seen.add(asset.id));
}

/** `items` with updated assets swapped in and removed ones left out. */
export function applyChanges(
  items: readonly AssetDto[],
  updated: readonly AssetDto[],
  removedIds: readonly string[],
): AssetDto[] {
  const byId = new Map(updated.map((asset) => [asset.id, asset]));
  const removed = new Set(removedIds);
  return items.filter((asset) => !removed.has(asset.id)).map((asset) => byId.get(asset.id) ?? asset);
}
