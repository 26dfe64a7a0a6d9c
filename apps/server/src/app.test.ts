// The HTTP surface over real HTTP: upload and dedup, cut-off uploads, Range, thumbnails through pg-boss.
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Asset } from '@nook/core';
import { eventually, setUpAdmin, startTestNook, type TestClient, type TestNook } from '../../../test/harness';
import { makeJpeg, makePng, multipart } from '../../../test/media';

interface Uploaded {
  id: string;
  sha256: string;
  duplicate: boolean;
  name: string;
  size: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('server', () => {
  let nook: TestNook;
  let admin: TestClient;

  interface ListedAsset {
    id: string;
    status: string;
    width: number;
    height: number;
    error: string | null;
    thumbnailUrl: string | null;
  }

  const upload = (files: { name: string; data: Buffer; type?: string }[]) => admin.upload(files);
  const get = (pathname: string, init?: RequestInit) => admin.fetch(pathname, init);
  const listAssets = async () =>
    (await admin.query<{ items: ListedAsset[] }>('assets.list', { limit: 500 })).items;

  beforeAll(async () => {
    nook = await startTestNook({ maxUploadBytes: 8 * 1024 * 1024 });
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('answers health with db and queue state', async () => {
    const response = await get(`/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', db: 'ok', queue: 'ok', version: 'test' });
  });

  it('stores an upload under library/<user>/<yyyy>/<mm>/, dedups the same content, and suffixes clashing names', async () => {
    const jpeg = await makeJpeg({ seed: '2266aa' });
    const first = await upload([{ name: 'beach.jpg', data: jpeg, type: 'image/jpeg' }]);
    expect(first.status).toBe(201);
    const [created] = (await first.json()) as Uploaded[];
    expect(created).toMatchObject({ duplicate: false, name: 'beach.jpg', size: jpeg.length });

    const now = new Date();
    const month = `${now.getFullYear()}/${String(now.getMonth() + 1).padStart(2, '0')}`;
    const libraryFiles = await listFiles(nook.dataDir.library);
    expect(libraryFiles).toContain(path.join(nook.dataDir.library, 'admin', month, 'beach.jpg'));

    const again = await upload([{ name: 'beach-copy.jpg', data: jpeg }]);
    expect(again.status).toBe(201);
    const [duplicate] = (await again.json()) as Uploaded[];
    expect(duplicate).toMatchObject({ id: created!.id, duplicate: true, sha256: created!.sha256 });
    expect(await listFiles(nook.dataDir.library)).toEqual(libraryFiles);
    expect(await listFiles(nook.dataDir.tmp)).toEqual([]);

    const other = await upload([{ name: 'beach.jpg', data: await makeJpeg({ seed: '993311' }) }]);
    const [renamed] = (await other.json()) as Uploaded[];
    expect(renamed).toMatchObject({ duplicate: false, name: 'beach (1).jpg' });
  });

  it('makes a thumbnail and a preview through the queue, honouring EXIF orientation', async () => {
    const rotated = await makeJpeg({ width: 1600, height: 1200, orientation: 6, seed: '4488cc' });
    const [item] = (await (await upload([{ name: 'portrait.jpg', data: rotated }])).json()) as Uploaded[];
    const ready = await eventually(async () =>
      (await listAssets()).find((a) => a.id === item!.id && a.status === 'ready'),
    );
    expect({ width: ready.width, height: ready.height }).toEqual({ width: 1200, height: 1600 });

    const thumb = await get(`${ready.thumbnailUrl}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(thumb.headers.get('cache-control')).toContain('immutable');
    const thumbMeta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(thumbMeta.format).toBe('webp');
    expect(thumbMeta.height).toBe(250);
    expect(thumbMeta.width).toBe(188);

    const preview = await get(`/api/assets/${item!.id}/thumbnail?size=preview`);
    const previewMeta = await sharp(Buffer.from(await preview.arrayBuffer())).metadata();
    expect(previewMeta).toMatchObject({ format: 'jpeg', width: 1080, height: 1440 });

    const etag = thumb.headers.get('etag')!;
    const revalidated = await get(`${ready.thumbnailUrl}`, {
      headers: { 'if-none-match': etag },
    });
    expect(revalidated.status).toBe(304);
  });

  it('keeps PNG transparency in the thumbnail', async () => {
    const [item] = (await (
      await upload([{ name: 'overlay.png', data: await makePng() }])
    ).json()) as Uploaded[];
    const ready = await eventually(async () =>
      (await listAssets()).find((a) => a.id === item!.id && a.status === 'ready'),
    );
    const thumb = Buffer.from(await (await get(`${ready.thumbnailUrl}`)).arrayBuffer());
    expect((await sharp(thumb).metadata()).hasAlpha).toBe(true);
  });

  it('marks a corrupt image failed with its reason after the retries, and keeps working', async () => {
    const corrupt = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 7)]);
    const [item] = (await (await upload([{ name: 'broken.jpg', data: corrupt }])).json()) as Uploaded[];
    const failed = await eventually(
      async () => (await listAssets()).find((a) => a.id === item!.id && a.status === 'failed'),
      45_000,
    );
    expect(failed.error).toBeTruthy();
    const thumb = await get(`/api/assets/${item!.id}/thumbnail`);
    expect(thumb.status).toBe(404);
    expect(((await thumb.json()) as { message: string }).message).toContain('no thumbnail');

    const [next] = (await (
      await upload([{ name: 'after.jpg', data: await makeJpeg() }])
    ).json()) as Uploaded[];
    await eventually(async () => (await listAssets()).find((a) => a.id === next!.id && a.status === 'ready'));
  });

  it('serves originals with Range, conditional requests and safe headers', async () => {
    const data = Buffer.concat([await makeJpeg({ seed: '123456' }), Buffer.alloc(1000, 1)]);
    const [item] = (await (await upload([{ name: 'range tést.jpg', data }])).json()) as Uploaded[];
    const url = `/api/assets/${item!.id}/original`;

    const full = await get(url);
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-type')).toBe('image/jpeg');
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(full.headers.get('content-disposition')).toBe(
      `inline; filename="range test.jpg"; filename*=UTF-8''range%20t%C3%A9st.jpg`,
    );
    expect(Buffer.from(await full.arrayBuffer()).equals(data)).toBe(true);

    const head = await get(url, { headers: { range: 'bytes=0-99' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-99/${data.length}`);
    expect(Buffer.from(await head.arrayBuffer()).equals(data.subarray(0, 100))).toBe(true);

    const tail = await get(url, { headers: { range: 'bytes=-500' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 500))).toBe(true);

    const open = await get(url, { headers: { range: `bytes=${data.length - 10}-` } });
    expect(Buffer.from(await open.arrayBuffer()).equals(data.subarray(data.length - 10))).toBe(true);

    const beyond = await get(url, { headers: { range: `bytes=${data.length + 5}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${data.length}`);

    const staleIfRange = await get(url, {
      headers: { range: 'bytes=0-9', 'if-range': '"something-else"' },
    });
    expect(staleIfRange.status).toBe(200);

    const notModified = await get(url, { headers: { 'if-none-match': full.headers.get('etag')! } });
    expect(notModified.status).toBe(304);
  });

  it('answers bad requests with a 4xx and a message, never a stack trace', async () => {
    const notMultipart = await get(`/api/assets`, {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notMultipart.status).toBe(400);
    expect(await notMultipart.json()).toMatchObject({ message: expect.stringContaining('multipart') });

    const badId = await get(`/api/assets/not-a-uuid/original`);
    expect(badId.status).toBe(400);

    const unknown = await get(`/api/assets/00000000-0000-4000-8000-000000000000/original`);
    expect(unknown.status).toBe(404);

    const badCursor = await get(
      `/trpc/assets.list?input=${encodeURIComponent(JSON.stringify({ cursor: 'garbage' }))}`,
    );
    expect(badCursor.status).toBe(400);
    const badLimit = await get(`/trpc/assets.list?input=${encodeURIComponent(JSON.stringify({ limit: 0 }))}`);
    expect(badLimit.status).toBe(400);
    expect(JSON.stringify(await badLimit.json())).not.toContain('at ');
  });

  it('refuses an upload over the size limit with 413 and keeps nothing of it', async () => {
    const before = await listFiles(nook.dataDir.library);
    const response = await upload([{ name: 'huge.bin', data: Buffer.alloc(9 * 1024 * 1024, 3) }]);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { message: string }).message).toContain('huge.bin');
    expect(await listFiles(nook.dataDir.library)).toEqual(before);
    await eventually(async () => (await listFiles(nook.dataDir.tmp)).length === 0);
  });

  it('leaves nothing behind when an upload is cut off midway', async () => {
    const libraryBefore = await listFiles(nook.dataDir.library);
    const countBefore = await nook.orm.em.fork().count(Asset);
    const { port } = new URL(nook.url);
    const { body, contentType } = multipart([{ name: 'cut.bin', data: Buffer.alloc(4 * 1024 * 1024, 9) }]);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /api/assets HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${nook.url}\r\nCookie: ${admin.cookieHeader()}\r\n` +
            `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        socket.write(body.subarray(0, body.length / 2), () => setTimeout(() => socket.destroy(), 200));
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await eventually(async () => (await listFiles(nook.dataDir.tmp)).length === 0);
    expect(await listFiles(nook.dataDir.library)).toEqual(libraryBefore);
    expect(await nook.orm.em.fork().count(Asset)).toBe(countBefore);
  });

  it('takes many uploads at once', async () => {
    const files = await Promise.all(
      Array.from({ length: 8 }, (_, i) => makeJpeg({ seed: `5${i}5${i}5${i}` })),
    );
    const responses = await Promise.all(files.map((data, i) => upload([{ name: `burst-${i}.jpg`, data }])));
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(201));
  });

  it('pages the timeline by keyset without gaps or repeats', async () => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await admin.query('assets.list', {
        limit: 2,
        cursor,
      });
      pages.push(page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor);
    const all = (await listAssets()).map((asset) => asset.id);
    expect(pages.flat()).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
  });
});
