// What can be done to a set of assets from the grid or the viewer, over the typed client; each returns what changed.
import type { AssetDto } from '@nook/api';
import { describeError } from '../errors';
import { toasts } from '../toasts.svelte';
import type { TrpcClient } from '../trpc';

/** Runs `task` over `items`, a few at a time, keeping the order of the results. */
async function limited<T, R>(items: readonly T[], task: (item: T) => Promise<R>, width = 6): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

export function setFavorite(
  client: TrpcClient,
  ids: readonly string[],
  favorite: boolean,
): Promise<AssetDto[]> {
  return limited(ids, (id) => client.assets.update.mutate({ id, favorite }));
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
export async function trashAndTell(client: TrpcClient, assets: readonly AssetDto[]): Promise<boolean> {
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

/** Saves originals through the browser's downloads, one after another so none is dropped. */
export async function download(assets: readonly Pick<AssetDto, 'originalUrl' | 'name'>[]): Promise<void> {
  for (const asset of assets) {
    const link = document.createElement('a');
    link.href = asset.originalUrl;
    link.download = asset.name;
    document.body.append(link);
    link.click();
    link.remove();
    // Browsers ignore a burst of downloads started in the same instant.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
