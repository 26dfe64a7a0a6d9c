// What the viewer shows: an asset of the grid, completed by `assets.get` with where it lives.
import type { AssetDto } from '@nook/api';

export type AssetDetails = AssetDto & { path?: string; library?: { id: string; name: string } };
