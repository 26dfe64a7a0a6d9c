// The read side over real HTTP: timeline filters and directions, buckets, edits, trash, folders,
// albums, search, duplicates and stats — each only ever showing the caller's own assets.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { Asset, Library, User } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, setUpAdmin, startTestNook, eventually, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';
import { unzip } from '../../../test/zip';

interface Item {
  id: string;
  name: string;
  takenAt: string;
  status: string;
  camera: { make: string | null; model: string | null };
  thumbnailUrl: string | null;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

describe('library API', () => {
  let nook: TestNook;
  let admin: TestClient;
  let member: TestClient;
  const ids: Record<string, string> = {};

  /** Sets what the metadata job would have found, so the test controls dates and cameras. */
  const describeAsset = async (id: string, changes: Partial<Asset>) => {
    await nook.orm.em.fork().nativeUpdate(Asset, { id }, changes);
  };

  beforeAll(async () => {
    nook = await startTestNook();
    admin = await setUpAdmin(nook.url);
    await admin.mutate('users.create', { username: 'member', password: 'member password' });
    member = new TestClient(nook.url);
    await member.mutate('auth.login', { username: 'member', password: 'member password' });

    const files = [
      ['Beach Sunset.jpg', '2019-07-01T18:00:00Z', 'Canon', 'EOS R5'],
      ['café-paris.jpg', '2019-07-15T09:00:00Z', 'Fujifilm', 'X-T4'],
      ['birthday.jpg', '2020-03-02T12:00:00Z', 'Canon', 'EOS R5'],
      ['mountain.jpg', '2021-12-24T08:00:00Z', 'Apple', 'iPhone 13'],
      ['notes.txt', '2021-12-25T08:00:00Z', null, null],
    ] as const;
    for (const [name, takenAt, make, model] of files) {
      const data = name.endsWith('.txt')
        ? Buffer.from(`notes ${name}`)
        : await makeJpeg({ width: 320, height: 200 });
      const response = await admin.upload([{ name, data }]);
      const [item] = (await response.json()) as { id: string }[];
      ids[name] = item!.id;
      await eventually(
        async () => (await admin.query<Item>('assets.get', { id: item!.id })).status !== 'pending',
      );
      await describeAsset(item!.id, { takenAt: new Date(takenAt), make, model });
    }
    const own = await member.upload([{ name: 'member-only.jpg', data: await makeJpeg() }]);
    ids['member-only.jpg'] = ((await own.json()) as { id: string }[])[0]!.id;
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('pages the timeline both ways and filters it by kind, date, camera and favorite', async () => {
    const newest = await admin.query<Page>('assets.list', { limit: 2 });
    expect(newest.items.map((item) => item.name)).toEqual(['notes.txt', 'mountain.jpg']);
    const older = await admin.query<Page>('assets.list', { limit: 2, cursor: newest.nextCursor });
    expect(older.items.map((item) => item.name)).toEqual(['birthday.jpg', 'café-paris.jpg']);
    const back = await admin.query<Page>('assets.list', {
      limit: 2,
      cursor: older.nextCursor,
      direction: 'newer',
    });
    expect(back.items.map((item) => item.name)).toEqual(['mountain.jpg', 'birthday.jpg']);
    const fromOlder = await admin.query<Page>('assets.list', {
      limit: 10,
      cursor: older.nextCursor,
      direction: 'newer',
    });
    expect(fromOlder.items.map((item) => item.name)).toEqual(['notes.txt', 'mountain.jpg', 'birthday.jpg']);

    const names = async (filters: object) =>
      (await admin.query<Page>('assets.list', { filters })).items.map((item) => item.name);
    expect(await names({ kinds: ['other'] })).toEqual(['notes.txt']);
    expect(await names({ from: '2019-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' })).toEqual([
      'café-paris.jpg',
      'Beach Sunset.jpg',
    ]);
    expect(await names({ make: 'Canon', model: 'EOS R5' })).toEqual(['birthday.jpg', 'Beach Sunset.jpg']);
    await admin.mutate('assets.update', {
      id: ids['mountain.jpg'],
      favorite: true,
      description: 'Snow on the ridge',
    });
    expect(await names({ favorite: true })).toEqual(['mountain.jpg']);
    expect(await names({})).not.toContain('member-only.jpg');
  });

  it('favorites a selection in one request, only among one’s own assets', async () => {
    const chosen = ['Beach Sunset.jpg', 'café-paris.jpg', 'mountain.jpg', 'member-only.jpg'].map(
      (name) => ids[name]!,
    );
    expect(await admin.mutate('assets.favorite', { ids: chosen, favorite: true })).toEqual({ changed: 2 });
    expect(await admin.mutate('assets.favorite', { ids: chosen, favorite: true })).toEqual({ changed: 0 });
    const favorites = await admin.query<Page>('assets.list', { filters: { favorite: true } });
    expect(favorites.items.map((item) => item.name)).toEqual([
      'mountain.jpg',
      'café-paris.jpg',
      'Beach Sunset.jpg',
    ]);
    const buckets = await admin.query<{ month: string; count: number }[]>('assets.buckets', {
      filters: { favorite: true },
    });
    expect(buckets).toEqual([
      { month: '2021-12', count: 1 },
      { month: '2019-07', count: 2 },
    ]);
    await expect(member.query('assets.get', { id: ids['Beach Sunset.jpg'] })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await admin.mutate('assets.favorite', { ids: chosen.slice(0, 2), favorite: false })).toEqual({
      changed: 2,
    });
    await expect(admin.mutate('assets.favorite', { ids: [], favorite: true })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('lists the cameras of one’s own photos, most used first, for the search filter', async () => {
    expect(await admin.query('assets.cameras')).toEqual([
      { make: 'Canon', model: 'EOS R5', count: 2 },
      { make: 'Apple', model: 'iPhone 13', count: 1 },
      { make: 'Fujifilm', model: 'X-T4', count: 1 },
    ]);
    expect(await member.query('assets.cameras')).toEqual([]);
  });

  it('counts assets per month for the scrubber', async () => {
    const buckets = await admin.query<{ month: string; count: number }[]>('assets.buckets', {});
    expect(buckets).toEqual([
      { month: '2021-12', count: 2 },
      { month: '2020-03', count: 1 },
      { month: '2019-07', count: 2 },
    ]);
  });

  it('fixes a taken-at by hand', async () => {
    const fixed = await admin.mutate<{ takenAt: string; takenAtSource: string }>('assets.update', {
      id: ids['birthday.jpg'],
      takenAt: '2020-03-01T12:00:00+01:00',
    });
    expect(fixed).toMatchObject({ takenAt: '2020-03-01T11:00:00.000Z', takenAtSource: 'manual' });
  });

  it('searches by name prefix, path, description and camera, ignoring case and accents', async () => {
    const search = async (text: string, filters: object = {}) =>
      (await admin.query<Page>('search.query', { text, filters })).items.map((item) => item.name);
    expect(await search('beach')).toEqual(['Beach Sunset.jpg']);
    expect(await search('SUNS')).toEqual(['Beach Sunset.jpg']);
    expect(await search('cafe')).toEqual(['café-paris.jpg']);
    expect(await search('ridge')).toEqual(['mountain.jpg']);
    expect((await search('canon')).sort()).toEqual(['Beach Sunset.jpg', 'birthday.jpg']);
    expect(await search('canon', { from: '2020-01-01T00:00:00Z' })).toEqual(['birthday.jpg']);
    expect(await search('"); DROP TABLE assets; --')).toEqual([]);
    expect(await search('member')).toEqual([]);
    const paged = await admin.query<Page>('search.query', { text: 'jpg', limit: 2 });
    const rest = await admin.query<Page>('search.query', {
      text: 'jpg',
      limit: 10,
      cursor: paged.nextCursor,
    });
    expect(new Set([...paged.items, ...rest.items].map((item) => item.id)).size).toBe(4);
  });

  it('browses the upload library as folders with counts and covers', async () => {
    const library = await nook.orm.em
      .fork()
      .findOneOrFail(Library, { type: 'upload', owner: { username: 'admin' } });
    const root = await admin.query<{
      folders: { name: string; path: string; count: number; cover: Item | null }[];
    }>('folders.list', {
      libraryId: library.id,
    });
    const year = String(new Date().getFullYear());
    expect(root.folders).toEqual([expect.objectContaining({ name: year, path: year, count: 5 })]);
    expect(root.folders[0]!.cover).not.toBeNull();
    const month = await admin.query<{ folders: unknown[]; files: Item[] }>('folders.list', {
      libraryId: library.id,
      path: `${year}/${String(new Date().getMonth() + 1).padStart(2, '0')}`,
    });
    expect(month.folders).toEqual([]);
    expect(month.files).toHaveLength(5);
    // Pages of files by name, however many there are; the count says how many in all.
    type FolderPage = { files: Item[]; fileCount: number; nextCursor: string | null };
    const monthPath = `${year}/${String(new Date().getMonth() + 1).padStart(2, '0')}`;
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const filePage: FolderPage = await admin.query<FolderPage>('folders.list', {
        libraryId: library.id,
        path: monthPath,
        limit: 2,
        cursor,
      });
      expect(filePage.fileCount).toBe(5);
      names.push(...filePage.files.map((file) => file.name));
      cursor = filePage.nextCursor;
    } while (cursor);
    expect(names).toEqual(month.files.map((file) => file.name));
    expect(names).toEqual([...names].sort());
    await expect(
      admin.query('folders.list', { libraryId: library.id, path: monthPath, cursor: 'nonsense' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(member.query('folders.list', { libraryId: library.id })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(admin.query('folders.list', { libraryId: library.id, path: '../..' })).rejects.toMatchObject(
      { code: 'BAD_REQUEST' },
    );
  });

  it('keeps albums of one’s own assets, with a cover, and deleting one keeps its assets', async () => {
    const album = await admin.mutate<{ id: string; count: number }>('albums.create', {
      name: 'Summer 2019',
      assetIds: [ids['Beach Sunset.jpg'], ids['café-paris.jpg']],
    });
    expect(album.count).toBe(2);
    await expect(
      admin.mutate('albums.addAssets', { id: album.id, assetIds: [ids['member-only.jpg']] }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(
      await admin.mutate('albums.addAssets', {
        id: album.id,
        assetIds: [ids['birthday.jpg'], ids['Beach Sunset.jpg']],
      }),
    ).toEqual({ added: 1 });
    expect(
      await admin.mutate('albums.removeAssets', { id: album.id, assetIds: [ids['birthday.jpg']] }),
    ).toEqual({ removed: 1 });
    const covered = await admin.mutate<{ cover: Item }>('albums.setCover', {
      id: album.id,
      assetId: ids['café-paris.jpg'],
    });
    expect(covered.cover.name).toBe('café-paris.jpg');
    await admin.mutate('albums.rename', { id: album.id, name: 'Summer in France' });
    const contents = await admin.query<Page>('assets.list', { filters: { albumId: album.id } });
    expect(contents.items.map((item) => item.name)).toEqual(['café-paris.jpg', 'Beach Sunset.jpg']);
    expect(await member.query('albums.list')).toEqual([]);
    await expect(member.query('albums.get', { id: album.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await admin.mutate('albums.delete', { id: album.id });
    expect(await admin.query('albums.list')).toEqual([]);
    expect((await admin.query<Page>('assets.list', {})).items).toHaveLength(5);
  });

  it('lists identical content held twice as a duplicate group', async () => {
    const em = nook.orm.em.fork();
    const original = await em.findOneOrFail(Asset, { id: ids['mountain.jpg'] });
    const owner = await em.findOneOrFail(User, { username: 'admin' });
    const folder = em.create(Library, { name: 'NAS', type: 'folder', rootPath: nook.dataDir.root, owner });
    em.create(Asset, {
      library: folder,
      owner,
      path: 'Photos/mountain copy.jpg',
      name: 'mountain copy.jpg',
      size: original.size,
      mtime: new Date(),
      sha256: original.sha256,
      mime: original.mime,
      kind: 'image',
      takenAt: original.takenAt,
      status: 'ready',
    });
    await em.flush();
    const result = await admin.query<{
      groups: { sha256: string; assets: { name: string; libraryName: string }[] }[];
    }>('assets.duplicates', {});
    expect(result.groups).toHaveLength(1);
    expect(result.groups[0]!.assets.map((asset) => asset.libraryName).sort()).toEqual(['NAS', 'Uploads']);
    expect((await member.query<{ groups: unknown[] }>('assets.duplicates', {})).groups).toEqual([]);
  });

  it('summarises storage by kind, library, user and month, with disks and queues', async () => {
    // Sent again: answered with the stored copy, and counted as saved.
    const again = randomBytes(3000);
    expect((await admin.upload([{ name: 'again.bin', data: again }])).status).toBe(201);
    const [second] = (await (await admin.upload([{ name: 'again-2.bin', data: again }])).json()) as {
      duplicate: boolean;
    }[];
    expect(second!.duplicate).toBe(true);
    const stats = await admin.query<{
      count: number;
      byKind: { kind: string; count: number }[];
      byUser: { username: string; count: number }[] | null;
      deduplicated: { count: number; bytes: number };
      duplicateCopyBytes: number;
      growth: { month: string; count: number }[];
      disks: { label: string; totalBytes: number | null }[];
      queues: Record<string, unknown>;
    }>('stats.summary');
    expect(stats.count).toBe(7);
    expect(stats.byKind.find((row) => row.kind === 'other')?.count).toBe(2);
    expect(stats.byUser?.map((row) => row.username)).toEqual(['admin', 'member']);
    expect(stats.deduplicated).toEqual({ count: 1, bytes: 3000 });
    // The photo that is both uploaded and in the NAS folder takes its bytes twice.
    expect(stats.duplicateCopyBytes).toBeGreaterThan(0);
    expect(stats.growth.at(-1)?.count).toBe(7);
    expect(stats.disks[0]).toMatchObject({ label: 'Data', totalBytes: expect.any(Number) });
    expect(Object.keys(stats.queues)).toEqual(expect.arrayContaining(['metadata', 'thumbnail']));
    const memberStats = await member.query<{ count: number; byUser: unknown }>('stats.summary');
    expect(memberStats).toMatchObject({ count: 1, byUser: null, deduplicated: { count: 0, bytes: 0 } });
  });

  it('moves deleted assets to the trash, restores them, and empties it (uploaded originals leave the disk)', async () => {
    const month = `${new Date().getFullYear()}/${String(new Date().getMonth() + 1).padStart(2, '0')}`;
    const original = path.join(nook.dataDir.library, 'admin', month, 'notes.txt');
    expect(existsSync(original)).toBe(true);
    expect(await admin.mutate('assets.delete', { ids: [ids['notes.txt'], ids['birthday.jpg']] })).toEqual({
      trashed: 2,
    });
    expect(await member.mutate('assets.restore', { ids: [ids['notes.txt']] })).toEqual({ restored: 0 });
    const trash = await admin.query<{
      retentionDays: number;
      items: (Item & { deletedAt: string; purgeAfter: string })[];
    }>('trash.list', {});
    expect(trash.items.map((item) => item.name).sort()).toEqual(['birthday.jpg', 'notes.txt']);
    expect(trash.retentionDays).toBe(30);
    for (const item of trash.items)
      expect(Date.parse(item.purgeAfter) - Date.parse(item.deletedAt)).toBe(30 * 24 * 60 * 60 * 1000);
    expect((await admin.query<Page>('assets.list', {})).items.map((item) => item.name)).not.toContain(
      'notes.txt',
    );
    expect((await admin.fetch(`/api/assets/${ids['notes.txt']}/original`)).status).toBe(404);
    // The trash page shows what it holds: the owner still gets its thumbnails, nobody else does,
    // and the original stays out of reach until it is restored.
    const trashedPhoto = trash.items.find((item) => item.name === 'birthday.jpg')!;
    const trashedThumb = await admin.fetch(trashedPhoto.thumbnailUrl!);
    expect(trashedThumb.status).toBe(200);
    expect(trashedThumb.headers.get('content-type')).toBe('image/webp');
    expect((await admin.fetch(`/api/assets/${trashedPhoto.id}/thumbnail?size=preview`)).status).toBe(200);
    expect((await member.fetch(trashedPhoto.thumbnailUrl!)).status).toBe(404);
    expect((await admin.fetch(`/api/assets/${trashedPhoto.id}/original`)).status).toBe(404);

    expect(await admin.mutate('assets.restore', { ids: [ids['birthday.jpg']] })).toEqual({ restored: 1 });
    expect(await admin.mutate('trash.empty')).toEqual({ purged: 1 });
    expect(existsSync(original)).toBe(false);
    expect((await admin.query<Page>('trash.list', {})).items).toEqual([]);
    expect((await admin.query<Page>('assets.list', {})).items.map((item) => item.name)).toContain(
      'birthday.jpg',
    );
  });

  it('zips a selection of originals, listing those not on disk, and only the caller’s own', async () => {
    const month = `${new Date().getFullYear()}/${String(new Date().getMonth() + 1).padStart(2, '0')}`;
    const folder = path.join(nook.dataDir.library, 'admin', month);
    const chosen = ['Beach Sunset.jpg', 'café-paris.jpg', 'mountain.jpg', 'member-only.jpg'].map(
      (name) => ids[name]!,
    );
    const post = (pathname: string, body: unknown, client = admin) =>
      client.fetch(pathname, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    await rename(path.join(folder, 'café-paris.jpg'), path.join(folder, 'away.jpg'));
    try {
      const response = await post('/api/assets/archive', { ids: chosen });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/zip');
      expect(response.headers.get('content-disposition')).toMatch(
        /^attachment; filename="Nook .* \(3 items\)\.zip"$/,
      );
      const zip = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length'))).toBe(zip.length);
      const entries = await unzip(zip);
      expect([...entries.keys()]).toEqual(['mountain.jpg', 'Beach Sunset.jpg', 'NOT INCLUDED.txt']);
      expect(entries.get('mountain.jpg')).toEqual(await readFile(path.join(folder, 'mountain.jpg')));
      expect(entries.get('NOT INCLUDED.txt')!.toString()).toContain('café-paris.jpg');
    } finally {
      await rename(path.join(folder, 'away.jpg'), path.join(folder, 'café-paris.jpg'));
    }

    // The browser's way: a ticket, then a plain link to follow, good once and only for its owner.
    const ticketResponse = await post('/api/assets/archive/tickets', { ids: chosen });
    expect(ticketResponse.status).toBe(201);
    const ticket = (await ticketResponse.json()) as { url: string; count: number };
    expect(ticket.count).toBe(3);
    expect((await member.fetch(ticket.url)).status).toBe(404);
    const followed = await admin.fetch(ticket.url);
    expect([...(await unzip(Buffer.from(await followed.arrayBuffer()))).keys()]).toEqual([
      'mountain.jpg',
      'café-paris.jpg',
      'Beach Sunset.jpg',
    ]);
    const again = await admin.fetch(ticket.url);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ message: expect.stringContaining('expired') });

    const refused = await post('/api/assets/archive/tickets', { ids: chosen.slice(0, 3) }, member);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ message: 'none of these assets exists' });
    expect((await post('/api/assets/archive', { ids: [] })).status).toBe(400);
    expect((await post('/api/assets/archive/tickets', { ids: ['not-an-id'] })).status).toBe(400);
    const crossSite = await admin.fetch('/api/assets/archive/tickets', {
      method: 'POST',
      body: JSON.stringify({ ids: chosen }),
      headers: { 'content-type': 'application/json', origin: 'https://elsewhere.example' },
    });
    expect(crossSite.status).toBe(403);
  });
});
