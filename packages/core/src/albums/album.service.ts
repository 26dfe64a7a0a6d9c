// Albums: named sets of a user's own assets.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { visibleTo } from '../assets/timeline';
import { NookError } from '../errors';
import { cleanName } from '../names';
import type { User } from '../users/user.entity';
import { Album } from './album.entity';

export interface AlbumSummary {
  album: Album;
  count: number;
  cover: Asset | null;
}

function checkName(name: string): string {
  const cleaned = cleanName(name);
  if (!cleaned) throw new NookError('BAD_REQUEST', 'an album needs a name');
  return cleaned.slice(0, 200);
}

export class AlbumService {
  constructor(private readonly em: EntityManager) {}

  async get(ownerId: string, id: string): Promise<Album> {
    const album = await this.em.findOne(Album, { id, owner: ownerId });
    if (!album) throw new NookError('NOT_FOUND', 'album not found');
    return album;
  }

  /** One flush, after every asset is checked: a refused asset leaves no album behind. */
  async create(owner: User, name: string, assetIds: string[] = []): Promise<Album> {
    const albumName = checkName(name);
    const assets = await this.ownLiveAssets(owner.id, assetIds);
    const album = this.em.create(Album, { owner, name: albumName });
    album.assets.set(assets);
    await this.em.flush();
    return album;
  }

  async rename(ownerId: string, id: string, name: string): Promise<Album> {
    const album = await this.get(ownerId, id);
    album.name = checkName(name);
    await this.em.flush();
    return album;
  }

  /** The album goes; its assets stay. */
  async delete(ownerId: string, id: string): Promise<void> {
    await this.em.removeAndFlush(await this.get(ownerId, id));
  }

  /** Adds the caller's own live assets; returns how many were new to the album. */
  async addAssets(ownerId: string, id: string, assetIds: string[]): Promise<number> {
    const album = await this.get(ownerId, id);
    const assets = await this.ownLiveAssets(ownerId, assetIds);
    await album.assets.init();
    const fresh = assets.filter((asset) => !album.assets.contains(asset));
    album.assets.add(fresh);
    album.updatedAt = new Date();
    await this.em.flush();
    return fresh.length;
  }

  /** Every one of the ids, as the owner's live assets, or NOT_FOUND before anything changes. */
  private async ownLiveAssets(ownerId: string, assetIds: string[]): Promise<Asset[]> {
    if (!assetIds.length) return [];
    const assets = await this.em.find(Asset, { id: { $in: assetIds }, ...visibleTo(ownerId) });
    if (assets.length !== new Set(assetIds).size)
      throw new NookError('NOT_FOUND', 'some of these assets do not exist');
    return assets;
  }

  async removeAssets(ownerId: string, id: string, assetIds: string[]): Promise<number> {
    const album = await this.get(ownerId, id);
    await album.assets.init();
    const leaving = album.assets.getItems().filter((asset) => assetIds.includes(asset.id));
    album.assets.remove(leaving);
    if (album.cover && assetIds.includes(album.cover.id)) album.cover = null;
    await this.em.flush();
    return leaving.length;
  }

  async setCover(ownerId: string, id: string, assetId: string | null): Promise<Album> {
    const album = await this.get(ownerId, id);
    if (assetId) {
      await album.assets.init();
      const asset = album.assets.getItems().find((item) => item.id === assetId);
      if (!asset) throw new NookError('BAD_REQUEST', 'the cover must be in the album');
      album.cover = this.em.getReference(Asset, asset.id) as never;
    } else {
      album.cover = null;
    }
    await this.em.flush();
    return album;
  }

  async list(ownerId: string): Promise<AlbumSummary[]> {
    const albums = await this.em.find(Album, { owner: ownerId }, { orderBy: { updatedAt: 'desc' } });
    return Promise.all(albums.map((album) => this.summarise(ownerId, album)));
  }

  async summarise(ownerId: string, album: Album): Promise<AlbumSummary> {
    const live = { ...visibleTo(ownerId), albums: album.id };
    const count = await this.em.count(Asset, live);
    const chosen = album.cover ? await this.em.findOne(Asset, { ...live, id: album.cover.id }) : null;
    const cover =
      chosen ??
      (await this.em.findOne(
        Asset,
        { ...live, status: 'ready', kind: { $ne: 'other' } },
        { orderBy: { takenAt: 'desc' } },
      ));
    return { album, count, cover };
  }
}
