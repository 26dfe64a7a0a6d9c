// Whether an asset's original is still what Nook stored: the one test for "the user has this file".
import { stat } from 'node:fs/promises';
import type { DataDir } from '../storage/data-dir';
import type { Asset } from './asset.entity';
import { resolveOriginalPath } from './original-path';

/** The error on an asset whose original `nook doctor --repair` found gone: only a new upload cures it. */
export const ORIGINAL_MISSING = 'original missing: re-upload it';

/**
 * The original is where the row says, inside its library, with the recorded size. Any failure to
 * tell counts as missing: the worst that follows is that the bytes are stored again. The asset's
 * library must be loaded.
 */
export async function originalIntact(dataDir: DataDir, asset: Asset): Promise<boolean> {
  try {
    const file = await resolveOriginalPath(dataDir, asset);
    return (await stat(file)).size === asset.size;
  } catch {
    return false;
  }
}
