// What can be done to a set of assets from the grid or the viewer, over the typed client; each returns what changed.
import type { AssetSummary } from '@nook/api';
import { UNREACHABLE, describeError } from '../errors';
import { toasts } from '../toasts.svelte';
import type { TrpcClient } from '../trpc';

/** Favorites (or not) in batches the API accepts; returns the assets as they now are. */
export async function setFavorite(
  client: TrpcClient,
  assets: readonly AssetSummary[],
  favorite: boolean,
): Promise<AssetSummary[]> {
  for (let start = 0; start < assets.length; start += 1000) {
    const ids = assets.slice(start, start + 1000).map((asset) => asset.id);
    await client.assets.favorite.mutate({ ids, favorite });
  }
  return assets.map((asset) => ({ ...asset, favorite }));
}

/** Moves to the trash, in batches the API accepts. */
export async function trash(client: TrpcClient, ids: readonly string[]): Promise<number> {
  let trashed = 0;
  for (let start = 0; start < ids.length; start += 1000) {
    trashed += (await client.assets.delete.mutate({ ids: ids.slice(start, start + 1000) })).trashed;
  }
  return trashed;
}

/** Moves to the trash from a page without undo (the viewer over a folder or album); says how it went. */
export async function trashAndTell(client: TrpcClient, assets: readonly AssetSummary[]): Promise<boolean> {
  try {
    const count = await trash(
      client,
      assets.map((asset) => asset.id),
    );
    toasts.success(`Moved ${count === 1 ? '1 item' : `${count} items`} to the trash.`);
    return true;
  } catch (error) {
    toasts.error(describeError(error));
    return false;
  }
}

export async function restore(client: TrpcClient, ids: readonly string[]): Promise<number> {
  let restored = 0;
  for (let start = 0; start < ids.length; start += 1000) {
    restored += (await client.assets.restore.mutate({ ids: ids.slice(start, start + 1000) })).restored;
  }
  return restored;
}

/** As many originals as one zip may hold (the API's limit for a selection). */
export const ARCHIVE_LIMIT = 1000;

function follow(url: string, name?: string): void {
  const link = document.createElement('a');
  link.href = url;
  if (name) link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

/**
 * Saves originals through the browser's downloads: one as itself, several as one zip. For a zip the
 * server first issues a ticket (so a refusal comes back here as an error to show), then the browser
 * follows a plain link and streams the zip to disk with its own progress, however large.
 */
export async function download(
  assets: readonly Pick<AssetSummary, 'id' | 'originalUrl' | 'name'>[],
): Promise<void> {
  if (assets.length > ARCHIVE_LIMIT)
    throw new Error(`Download at most ${ARCHIVE_LIMIT} items at a time; ${assets.length} are selected.`);
  if (assets.length === 1) return follow(assets[0]!.originalUrl, assets[0]!.name);
  const response = await fetch('/api/assets/archive/tickets', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: assets.map((asset) => asset.id) }),
  }).catch(() => {
    throw new Error(UNREACHABLE);
  });
  const body = (await response.json().catch(() => null)) as { url?: string; message?: string } | null;
  if (!response.ok || !body?.url)
    throw new Error(body?.message ?? `The server answered ${response.status} ${response.statusText}.`);
  follow(body.url);
}
