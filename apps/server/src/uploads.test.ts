// Resumable uploads over real HTTP: the real tus-js-client, a connection cut midway, checksums, limits.
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';

interface Finished {
  assetId: string;
  sha256: string;
  duplicate: boolean;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Starts one tus-js-client upload (no retries here); `done` settles with its end or its error. */
function startTus(
  endpoint: string,
  token: string,
  data: Buffer,
  options: Partial<tus.UploadOptions> = {},
): { upload: tus.Upload; done: Promise<Finished> } {
  let upload!: tus.Upload;
  const done = new Promise<Finished>((resolve, reject) => {
    upload = new tus.Upload(data, {
      endpoint,
      headers: { authorization: `Bearer ${token}` },
      metadata: { filename: 'clip.bin' },
      retryDelays: null,
      ...options,
      onError: reject,
      onSuccess: ({ lastResponse }) =>
        resolve({
          assetId: lastResponse.getHeader('nook-asset-id') ?? '',
          sha256: lastResponse.getHeader('nook-asset-sha256') ?? '',
          duplicate: lastResponse.getHeader('nook-duplicate') === 'true',
        }),
    });
  });
  upload.start();
  return { upload, done };
}

const tusUpload = (...args: Parameters<typeof startTus>) => startTus(...args).done;

/** A TCP relay to the server that drops both sides once `cutAfter` request bytes went through. */
async function cuttingProxy(
  target: string,
  cutAfter: number,
): Promise<{ url: string; forwarded(): number; close(): void }> {
  const { hostname, port } = new URL(target);
  let total = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    let forwarded = 0;
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      total += chunk.length;
      if (forwarded > cutAfter) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded: () => total,
    close: () => server.close(),
  };
}

describe('resumable uploads (tus)', () => {
  let nook: TestNook;
  let admin: TestClient;
  let token: string;

  const tusFetch = (pathname: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${nook.url}${pathname}`, {
      ...init,
      headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, ...init.headers },
    });

  const create = async (length: number, extra: Record<string, string> = {}) => {
    const response = await tusFetch('/api/uploads', {
      method: 'POST',
      headers: { 'upload-length': String(length), ...extra },
    });
    return { response, location: response.headers.get('location') ?? '' };
  };

  const tusFiles = async () => (await readdir(path.join(nook.dataDir.tmp, 'tus')).catch(() => [])).sort();

  beforeAll(async () => {
    nook = await startTestNook({ workers: false, maxUploadBytes: 64 * 1024 * 1024 });
    admin = await setUpAdmin(nook.url);
    ({ token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'tus',
      scopes: ['read', 'upload'],
    }));
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('takes a whole file from tus-js-client into the library, then answers a second copy as a duplicate', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 17);
    const first = await tusUpload(`${nook.url}/api/uploads`, token, data, { chunkSize: 2 * 1024 * 1024 });
    expect(first).toMatchObject({ sha256: sha256(data), duplicate: false });
    const original = await admin.fetch(`/api/assets/${first.assetId}/original`);
    expect(Buffer.from(await original.arrayBuffer()).equals(data)).toBe(true);
    expect(await admin.query('assets.get', { id: first.assetId })).toMatchObject({ name: 'clip.bin' });

    const again = await tusUpload(`${nook.url}/api/uploads`, token, data);
    expect(again).toMatchObject({ assetId: first.assetId, duplicate: true });
    // The finished upload is removed from tus's store right after the response is out.
    await eventually(async () => (await tusFiles()).length === 0);
    expect((await readdir(nook.dataDir.tmp)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('resumes after the connection is cut midway, and the file arrives byte-identical', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    const proxy = await cuttingProxy(nook.url, 5 * 1024 * 1024);
    let url = '';
    try {
      const { upload, done } = startTus(`${proxy.url}/api/uploads`, token, data);
      await expect(done).rejects.toThrow();
      url = new URL(upload.url!).pathname;
    } finally {
      proxy.close();
    }
    expect(url).toMatch(/^\/api\/uploads\/.+/);
    // The server kept what arrived before the cut; the resume sends only the rest.
    const head = await tusFetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(1024 * 1024);
    expect(offset).toBeLessThan(data.length);

    const counter = await cuttingProxy(nook.url, Infinity);
    const resumed = await tusUpload(`${counter.url}/api/uploads`, token, data, {
      uploadUrl: `${counter.url}${url}`,
    }).finally(() => counter.close());
    expect(counter.forwarded()).toBeLessThan(data.length - offset + 64 * 1024);
    expect(resumed).toMatchObject({ sha256: sha256(data), duplicate: false });
    const original = await admin.fetch(`/api/assets/${resumed.assetId}/original`);
    expect(Buffer.from(await original.arrayBuffer()).equals(data)).toBe(true);
    await eventually(async () => (await tusFiles()).length === 0);
  });

  it('checks a chunk against its Upload-Checksum and keeps the offset when it does not match (460)', async () => {
    const options = await tusFetch('/api/uploads', { method: 'OPTIONS' });
    expect(options.headers.get('tus-extension')).toContain('checksum');
    expect(options.headers.get('tus-checksum-algorithm')).toContain('sha256');

    const data = randomBytes(300_000);
    const { location } = await create(data.length, {
      'upload-metadata': `filename ${Buffer.from('checked.bin').toString('base64')}`,
    });
    const patch = (start: number, end: number, checksum: string) =>
      tusFetch(location, {
        method: 'PATCH',
        body: data.subarray(start, end),
        headers: {
          'content-type': 'application/offset+octet-stream',
          'upload-offset': String(start),
          'upload-checksum': checksum,
        },
      });
    const digest = (buffer: Buffer) => createHash('sha256').update(buffer).digest('base64');

    const good = await patch(0, 100_000, `sha256 ${digest(data.subarray(0, 100_000))}`);
    expect(good.status).toBe(204);
    const bad = await patch(100_000, 200_000, `sha256 ${digest(Buffer.from('something else'))}`);
    expect(bad.status).toBe(460);
    expect(Number((await tusFetch(location, { method: 'HEAD' })).headers.get('upload-offset'))).toBe(100_000);
    const unknown = await patch(100_000, 200_000, 'crc32 AAAA');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toContain('unsupported algorithm');

    const sha1 = createHash('sha1').update(data.subarray(100_000)).digest('base64');
    const last = await patch(100_000, data.length, `sha1 ${sha1}`);
    expect(last.status).toBe(204);
    // The whole file's hash survived the refused chunk: the asset has the right SHA-256.
    expect(last.headers.get('nook-asset-sha256')).toBe(sha256(data));
  });

  it('finishes an empty file at creation, and a whole file sent with its creation request', async () => {
    const empty = await tusFetch('/api/uploads', {
      method: 'POST',
      headers: {
        'upload-length': '0',
        'upload-metadata': `filename ${Buffer.from('empty.txt').toString('base64')}`,
      },
    });
    expect(empty.status).toBe(201);
    expect(empty.headers.get('nook-asset-sha256')).toBe(sha256(Buffer.alloc(0)));

    const data = randomBytes(70_000);
    const whole = await tusFetch('/api/uploads', {
      method: 'POST',
      body: data,
      headers: {
        'upload-length': String(data.length),
        'content-type': 'application/offset+octet-stream',
        'upload-metadata': `filename ${Buffer.from('at-once.bin').toString('base64')}`,
      },
    });
    expect(whole.status).toBe(201);
    expect(whole.headers.get('upload-offset')).toBe(String(data.length));
    expect(whole.headers.get('nook-duplicate')).toBe('false');
    const id = whole.headers.get('nook-asset-id')!;
    expect(await admin.query('assets.get', { id })).toMatchObject({
      name: 'at-once.bin',
      sha256: sha256(data),
    });
    await eventually(async () => (await tusFiles()).length === 0);
  });

  it('terminates an upload on DELETE and leaves nothing in tmp', async () => {
    const { location } = await create(1000);
    expect((await tusFiles()).length).toBeGreaterThan(0);
    expect((await tusFetch(location, { method: 'DELETE' })).status).toBe(204);
    expect([404, 410]).toContain((await tusFetch(location, { method: 'HEAD' })).status);
    expect(await tusFiles()).toEqual([]);
  });

  it('refuses an Upload-Length over the limit, an unauthenticated caller and another user’s upload', async () => {
    const { response } = await create(64 * 1024 * 1024 + 1);
    expect(response.status).toBe(413);

    const anonymous = await fetch(`${nook.url}/api/uploads`, {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' },
    });
    expect(anonymous.status).toBe(401);

    const { location } = await create(10);
    await admin.mutate('users.create', { username: 'kid', password: 'kid password 1', quotaBytes: 1000 });
    const kid = new TestClient(nook.url);
    await kid.mutate('auth.login', { username: 'kid', password: 'kid password 1' });
    const kidHead = await kid.fetch(location, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    expect(kidHead.status).toBe(404);
    const kidPatch = await kid.fetch(location, {
      method: 'PATCH',
      body: 'x'.repeat(10),
      headers: {
        'tus-resumable': '1.0.0',
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
      },
    });
    expect(kidPatch.status).toBe(404);
    // Nor by way of an upload of the kid's own, with the other id behind a query or an escaped path.
    const own = await kid.fetch('/api/uploads', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' },
    });
    expect(own.status).toBe(201);
    const ownPath = new URL(own.headers.get('location')!, nook.url).pathname;
    const victimId = location.split('/').pop()!;
    for (const sneaky of [`${ownPath}%2F..%2F${victimId}`, `${ownPath}?/${victimId}`]) {
      await kid.fetch(sneaky, {
        method: 'PATCH',
        body: 'y'.repeat(10),
        headers: {
          'tus-resumable': '1.0.0',
          'content-type': 'application/offset+octet-stream',
          'upload-offset': '0',
        },
      });
      const victimHead = await admin.fetch(location, {
        method: 'HEAD',
        headers: { 'tus-resumable': '1.0.0' },
      });
      expect(victimHead.headers.get('upload-offset'), sneaky).toBe('0');
    }

    // The quota counts at creation: 2000 bytes do not fit in 1000.
    const overQuota = await kid.fetch('/api/uploads', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '2000' },
    });
    expect(overQuota.status).toBe(413);
    expect(await overQuota.text()).toContain('quota');
    // Unfinished uploads count: two of 600 bytes do not fit either, though each would alone.
    const open = (length: number) =>
      kid.fetch('/api/uploads', {
        method: 'POST',
        headers: { 'tus-resumable': '1.0.0', 'upload-length': String(length) },
      });
    expect((await open(600)).status).toBe(201);
    const second = await open(600);
    expect(second.status).toBe(413);
    expect(await second.text()).toMatch(/600 in unfinished uploads/);
    // A cookie-signed request from another site is refused like every other change.
    const crossSite = await kid.fetch('/api/uploads', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
  });

  it('answers checkExisting with exactly the hashes the caller already has', async () => {
    const data = randomBytes(2048);
    const { sha256: uploaded } = await tusUpload(`${nook.url}/api/uploads`, token, data);
    const unknown = sha256(Buffer.from('never uploaded'));
    const cli = new TestClient(nook.url, token);
    expect(await cli.mutate('assets.checkExisting', { sha256: [uploaded, unknown, uploaded] })).toEqual({
      existing: [uploaded],
      lost: [],
    });
    const kid = new TestClient(nook.url);
    await kid.mutate('auth.login', { username: 'kid', password: 'kid password 1' });
    expect(await kid.mutate('assets.checkExisting', { sha256: [uploaded] })).toEqual({
      existing: [],
      lost: [],
    });
    await expect(cli.mutate('assets.checkExisting', { sha256: ['not-a-hash'] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('abandoned resumable uploads', () => {
  it('expire: the parts are deleted from tmp and the upload answers 404/410', async () => {
    const nook = await startTestNook({ workers: false, uploadExpiryMs: 1500 });
    try {
      const admin = await setUpAdmin(nook.url);
      const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
        name: 'tus',
        scopes: ['upload'],
      });
      const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
      const created = await fetch(`${nook.url}/api/uploads`, {
        method: 'POST',
        headers: { ...headers, 'upload-length': '100000' },
      });
      expect(created.headers.get('upload-expires')).toBeTruthy();
      const location = created.headers.get('location')!;
      await fetch(`${nook.url}${location}`, {
        method: 'PATCH',
        body: randomBytes(1000),
        headers: { ...headers, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      });
      const dir = path.join(nook.dataDir.tmp, 'tus');
      expect((await readdir(dir)).length).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(await readdir(dir)).toEqual([]);
      expect([404, 410]).toContain(
        (await fetch(`${nook.url}${location}`, { method: 'HEAD', headers })).status,
      );
    } finally {
      await nook.close();
    }
  });
});
