// What the viewer shows: an asset of the grid and, once `assets.get` answers, all of its metadata.
import type { AssetDto } from '@nook/api';

export type AssetDetails = AssetDto & { path?: string; library?: { id: string; name: string } };
