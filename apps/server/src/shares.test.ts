// Album share links over real HTTP: the album's live items only, download, password, revocation, deletion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, setUpAdmin, TestClient, startTestNook, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';

interface Uploaded {
  id: string;
}

interface AlbumShare {
  type: string;
  name: string;
  count: number;
  allowDownload: boolean;
  items: { id: string; name: string; thumbnailUrl: string | null; originalUrl: string | null }[];
}

describe('album share links', () => {
  let nook: TestNook;
  let admin: TestClient;
  let inside: Uploaded[];
  let outside: Uploaded;
  let albumId: string;

  beforeAll(async () => {
    nook = await startTestNook();
    admin = await setUpAdmin(nook.url);
    const response = await admin.upload([
      { name: 'one.jpg', data: await makeJpeg({ seed: '112233' }) },
      { name: 'two.jpg', data: await makeJpeg({ seed: '445566' }) },
      { name: 'private.jpg', data: await makeJpeg({ seed: '778899' }) },
    ]);
    const uploaded = (await response.json()) as Uploaded[];
    inside = uploaded.slice(0, 2);
    outside = uploaded[2]!;
    await eventually(async () => {
      const page = await admin.query<{ items: { status: string }[] }>('assets.list', {});
      return page.items.length === 3 && page.items.every((item) => item.status === 'ready');
    });
    albumId = (
      await admin.mutate<{ id: string }>('albums.create', {
        name: 'Holiday',
        assetIds: inside.map((asset) => asset.id),
      })
    ).id;
  });

  afterAll(async () => {
    await nook?.close();
  });

  const share = async (input: Record<string, unknown>) => {
    const created = await admin.mutate<{ id: string; url: string }>('shares.create', { albumId, ...input });
    return { id: created.id, token: created.url.split('/').pop()! };
  };

  it('lists the album items and serves their thumbnails, nothing outside the album', async () => {
    const { id, token } = await share({ allowDownload: false });
    const visitor = new TestClient(nook.url);
    const meta = await visitor.fetch(`/api/shares/${token}`);
    expect(meta.status).toBe(200);
    const body = (await meta.json()) as AlbumShare;
    expect(body).toMatchObject({ type: 'album', name: 'Holiday', count: 2, allowDownload: false });
    expect(body.items.map((item) => item.id).sort()).toEqual(inside.map((asset) => asset.id).sort());
    expect(body.items.every((item) => item.originalUrl === null)).toBe(true);
    expect(JSON.stringify(body)).not.toContain(outside.id);

    const thumb = await visitor.fetch(body.items[0]!.thumbnailUrl!);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect((await visitor.fetch(`/api/shares/${token}/items/${inside[0]!.id}/original`)).status).toBe(403);
    expect((await visitor.fetch(`/api/shares/${token}/items/${outside.id}/thumbnail`)).status).toBe(404);
    expect((await visitor.fetch(`/api/shares/${token}/thumbnail`)).status).toBe(404);
    expect((await visitor.fetch(`/api/shares/${token}/original`)).status).toBe(404);

    const listed =
      await admin.query<{ id: string; albumId: string; albumName: string; assetId: null }[]>('shares.list');
    expect(listed.find((entry) => entry.id === id)).toMatchObject({
      albumId,
      albumName: 'Holiday',
      assetId: null,
    });
  });

  it('serves originals when downloads are allowed, behind the password, until revoked', async () => {
    const { id, token } = await share({ allowDownload: true, password: 'open sesame' });
    const guest = new TestClient(nook.url);
    const locked = await guest.fetch(`/api/shares/${token}`);
    expect(locked.status).toBe(401);
    expect(await locked.json()).toMatchObject({ error: 'password_required' });
    expect((await guest.fetch(`/api/shares/${token}/items/${inside[0]!.id}/thumbnail`)).status).toBe(401);
    const unlock = await guest.fetch(`/api/shares/${token}/unlock`, {
      method: 'POST',
      body: JSON.stringify({ password: 'open sesame' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(unlock.status).toBe(204);
    const body = (await (await guest.fetch(`/api/shares/${token}`)).json()) as AlbumShare;
    const original = await guest.fetch(body.items[0]!.originalUrl!);
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect((await guest.fetch(`/api/shares/${token}/items/${outside.id}/original`)).status).toBe(404);

    const listed = await admin.query<{ id: string; viewCount: number }[]>('shares.list');
    expect(listed.find((entry) => entry.id === id)).toMatchObject({ viewCount: 1 });

    await admin.mutate('shares.revoke', { id });
    expect((await guest.fetch(`/api/shares/${token}`)).status).toBe(404);
    expect((await guest.fetch(`/api/shares/${token}/items/${inside[0]!.id}/thumbnail`)).status).toBe(404);
  });

  it('refuses to share another user’s album, or an asset and an album at once', async () => {
    await admin.mutate('users.create', { username: 'member', password: 'member password 1' });
    const member = new TestClient(nook.url);
    await member.mutate('auth.login', { username: 'member', password: 'member password 1' });
    await expect(member.mutate('shares.create', { albumId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(admin.mutate('shares.create', { albumId, assetId: inside[0]!.id })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(admin.mutate('shares.create', {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('drops trashed items from the link, and the link itself with the album', async () => {
    const { token } = await share({});
    await admin.mutate('assets.delete', { ids: [inside[1]!.id] });
    const body = (await (await new TestClient(nook.url).fetch(`/api/shares/${token}`)).json()) as AlbumShare;
    expect(body.items.map((item) => item.id)).toEqual([inside[0]!.id]);
    expect(body.count).toBe(1);

    await admin.mutate('albums.delete', { id: albumId });
    expect((await new TestClient(nook.url).fetch(`/api/shares/${token}`)).status).toBe(404);
  });
});
