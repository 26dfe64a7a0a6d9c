// No upload may vanish, and quotas hold under parallel uploads: de-duplication only against intact
// originals in the user's own uploads library, lost originals restored by the next upload, quota
// reservations for multipart and tus (deferred length too), broken multipart refused with a 400,
// and `nook doctor` naming what was lost. All through real HTTP (raw sockets where fetch would
// build a valid request).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Asset, Library, User } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TestClient,
  eventually,
  makeTempDir,
  queueDatabaseUrl,
  setUpAdmin,
  startTestNook,
  type TestNook,
} from '../../../test/harness';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const nookBin = fileURLToPath(new URL('../../cli/bin/nook.js', import.meta.url));

interface Uploaded {
  id: string;
  sha256: string;
  duplicate: boolean;
}

interface RawResponse {
  status: number;
  body: string;
}

/**
 * One request over node:http, its body written in `pieces`; before each piece after the first it
 * awaits `between`, so several requests can be held open together. A server that answers before
 * the body is through may drop the connection: what counts is the answer.
 */
function rawRequest(
  url: string,
  options: { method?: string; path: string; headers: Record<string, string | number> },
  pieces: Buffer[],
  between: () => Promise<void> = async () => undefined,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const request = http.request(
      { hostname, port, method: options.method ?? 'POST', path: options.path, headers: options.headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    let answered = false;
    request.on('response', () => (answered = true));
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    void (async () => {
      for (const [index, piece] of pieces.entries()) {
        if (index > 0) await between();
        if (answered || request.destroyed) return;
        request.write(piece);
      }
      request.end();
    })();
  });
}

const BOUNDARY = 'nook-test-boundary';

function multipartBody(name: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** `nook doctor` as a process against the test server's data dir. */
function doctor(dataDir: string, ...args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [nookBin, 'doctor', ...args], {
      env: { PATH: process.env.PATH, NOOK_DATA_DIR: dataDir, NOOK_DATABASE_URL: queueDatabaseUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('uploads are never swallowed', () => {
  let nook: TestNook;
  let admin: TestClient;

  const upload = async (client: TestClient, name: string, data: Buffer): Promise<Uploaded> => {
    const response = await client.upload([{ name, data }]);
    expect(response.status, await response.clone().text()).toBe(201);
    return ((await response.json()) as Uploaded[])[0]!;
  };

  const original = async (id: string) => {
    const response = await admin.fetch(`/api/assets/${id}/original`);
    return { status: response.status, data: Buffer.from(await response.arrayBuffer()) };
  };

  const check = (hashes: string[]) =>
    admin.mutate<{ existing: string[]; lost: string[] }>('assets.checkExisting', { sha256: hashes });
  const existing = async (hashes: string[]) => (await check(hashes)).existing;

  /** Deletes an asset's original from disk, as a failed disk or a careless `rm` would. */
  const loseOriginal = async (id: string) => {
    const asset = await nook.orm.em.fork().findOneOrFail(Asset, { id }, { populate: ['library'] });
    const root = nook.dataDir.resolveLibraryRoot(asset.library.getEntity().rootPath);
    await rm(path.join(root, ...asset.path.split('/')));
  };

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('stores an upload whose content sits in a watched folder, and keeps it when the folder copy leaves', async () => {
    const folder = await makeTempDir('nook-watched-');
    try {
      const data = randomBytes(40_000);
      await writeFile(path.join(folder, 'holiday.bin'), data);
      // The folder library and its indexed file, planted as a scan would have left them.
      const em = nook.orm.em.fork();
      const owner = await em.findOneOrFail(User, { username: 'admin' });
      const library = em.create(Library, { name: 'Watched', type: 'folder', rootPath: folder, owner });
      const folderCopy = em.create(Asset, {
        library,
        owner,
        path: 'holiday.bin',
        name: 'holiday.bin',
        size: data.length,
        mtime: new Date(),
        sha256: sha256(data),
        mime: 'application/octet-stream',
        kind: 'other',
        takenAt: new Date(),
        status: 'ready',
      });
      await em.flush();
      // A copy in a folder is not an upload: checkExisting does not tell the CLI to skip it, and a
      // watcher that sent it (answered "duplicate" of that copy in the past) learns it is lost.
      expect(await check([sha256(data)])).toEqual({ existing: [], lost: [sha256(data)] });

      const first = await upload(admin, 'holiday.bin', data);
      expect(first).toMatchObject({ duplicate: false, sha256: sha256(data) });
      expect(first.id).not.toBe(folderCopy.id);

      // The file leaves the folder; the rescan marks its row offline.
      await rm(path.join(folder, 'holiday.bin'));
      await em.nativeUpdate(Asset, { id: folderCopy.id }, { offlineAt: new Date() });
      const kept = await original(first.id);
      expect(kept.status).toBe(200);
      expect(kept.data.equals(data)).toBe(true);

      const again = await upload(admin, 'holiday.bin', data);
      expect(again).toMatchObject({ id: first.id, duplicate: true });
      expect(await check([sha256(data)])).toEqual({ existing: [sha256(data)], lost: [] });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('restores an uploaded original deleted from disk when the file is sent again; checkExisting does not claim it meanwhile', async () => {
    const data = randomBytes(30_000);
    const first = await upload(admin, 'lost.bin', data);
    await admin.mutate('assets.update', { id: first.id, favorite: true });
    await loseOriginal(first.id);
    expect((await original(first.id)).status).toBe(404);
    expect(await check([sha256(data)])).toEqual({ existing: [], lost: [sha256(data)] });

    const again = await upload(admin, 'lost.bin', data);
    // The same row gets its bytes back: one asset per file, its favorite kept.
    expect(again).toMatchObject({ id: first.id, duplicate: false });
    const restored = await original(first.id);
    expect(restored.status).toBe(200);
    expect(restored.data.equals(data)).toBe(true);
    expect(await admin.query('assets.get', { id: first.id })).toMatchObject({ favorite: true });
    expect(await check([sha256(data)])).toEqual({ existing: [sha256(data)], lost: [] });

    // Deleted by its owner, it is neither had nor lost: an upload stores it anew, a watcher leaves it.
    await admin.mutate('assets.delete', { ids: [first.id] });
    expect(await check([sha256(data)])).toEqual({ existing: [], lost: [] });
  });

  it('nook doctor names a lost upload per user, --repair marks it failed, and sending it again repairs it', async () => {
    const data = randomBytes(20_000);
    const lost = await upload(admin, 'swallowed.bin', data);
    await loseOriginal(lost.id);

    const report = await doctor(nook.dataDir.root);
    expect(report.output).toMatch(/^FAIL {2}uploads: 1 uploaded file\(s\) have lost their original on disk/m);
    expect(report.output).toContain('admin: 1 file(s)');
    expect(report.output).toMatch(
      new RegExp(`^ {8}swallowed\\.bin {2}sha256 ${sha256(data)} {2}added \\d{4}-\\d{2}-\\d{2}$`, 'm'),
    );
    expect(report.code, report.output).toBe(1);
    // Without --repair nothing changed.
    expect(await admin.query('assets.get', { id: lost.id })).toMatchObject({ status: 'ready', error: null });

    const repaired = await doctor(nook.dataDir.root, '--repair');
    expect(repaired.output).toMatch(/^WARN {2}uploads: 1 uploaded file\(s\) .*marked failed/m);
    expect(await admin.query('assets.get', { id: lost.id })).toMatchObject({
      status: 'failed',
      error: 'original missing: re-upload it',
    });
    expect(await existing([sha256(data)])).toEqual([]);

    const again = await upload(admin, 'swallowed.bin', data);
    expect(again).toMatchObject({ id: lost.id, duplicate: false });
    expect(await admin.query('assets.get', { id: lost.id })).toMatchObject({ status: 'ready', error: null });
    expect((await doctor(nook.dataDir.root)).output).toMatch(
      /^ok {4}uploads: every uploaded original is on disk$/m,
    );
  });
});

describe('quotas hold for uploads under way', () => {
  let nook: TestNook;
  let admin: TestClient;

  /** A member with this quota, signed in through an API token. */
  const member = async (username: string, quotaBytes: number) => {
    await admin.mutate('users.create', { username, password: `${username} password 1`, quotaBytes });
    const client = new TestClient(nook.url);
    await client.mutate('auth.login', { username, password: `${username} password 1` });
    const { token } = await client.mutate<{ token: string }>('auth.createToken', {
      name: 'test',
      scopes: ['read', 'upload'],
    });
    return { client, token };
  };

  const usedBytes = async (username: string) =>
    (await admin.query<{ username: string; usedBytes: number }[]>('users.list')).find(
      (user) => user.username === username,
    )!.usedBytes;

  const partFiles = async () => (await readdir(nook.dataDir.tmp)).filter((name) => name.endsWith('.part'));

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('six parallel multipart uploads never store more than the quota; the excess get 413', async () => {
    const quota = 1_000_000;
    const size = 300_000;
    const { token } = await member('racer', quota);
    // Every request sends half its file, waits until all six have, then the rest: all are under way together.
    let halfway = 0;
    const allHalfway = () =>
      eventually(async () => halfway === 6, 10_000).then(
        () => new Promise((resolve) => setTimeout(resolve, 100)),
      );
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) => {
        const body = multipartBody(`race-${index}.bin`, randomBytes(size));
        const half = Math.floor(body.length / 2);
        return rawRequest(
          nook.url,
          {
            path: '/api/assets',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
              'content-length': body.length,
            },
          },
          [body.subarray(0, half), body.subarray(half)],
          async () => {
            halfway += 1;
            await allHalfway();
          },
        );
      }),
    );
    const stored = results.filter((result) => result.status === 201);
    const refused = results.filter((result) => result.status === 413);
    expect(stored.length + refused.length, JSON.stringify(results)).toBe(6);
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(stored.length * size).toBeLessThanOrEqual(quota);
    for (const result of refused) expect(JSON.parse(result.body).message).toMatch(/quota/);
    expect(await usedBytes('racer')).toBe(stored.length * size);
    expect(await usedBytes('racer')).toBeLessThanOrEqual(quota);
    // Refused uploads leave no partial file behind.
    await eventually(async () => (await partFiles()).length === 0);
  });

  it('counts a deferred-length tus upload by what it has written and refuses PATCHes past the quota', async () => {
    const { client, token } = await member('deferrer', 200_000);
    const tus = (pathname: string, method: string, headers: Record<string, string> = {}, body?: Buffer) =>
      fetch(`${nook.url}${pathname}`, {
        method,
        body,
        headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, ...headers },
      });
    const patch = (location: string, offset: number, data: Buffer, extra: Record<string, string> = {}) =>
      tus(
        location,
        'PATCH',
        { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...extra },
        data,
      );

    const created = await tus('/api/uploads', 'POST', { 'upload-defer-length': '1' });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get('location')!, nook.url).pathname;
    expect((await patch(location, 0, randomBytes(150_000))).status).toBe(204);

    const over = await patch(location, 150_000, randomBytes(150_000));
    expect(over.status).toBe(413);
    expect(await over.text()).toMatch(/quota/);
    // The refused request wrote nothing.
    const head = await tus(location, 'HEAD');
    expect(head.headers.get('upload-offset')).toBe('150000');

    // A second deferred upload finds the first one's written bytes counted.
    const second = await tus('/api/uploads', 'POST', { 'upload-defer-length': '1' });
    expect(second.status).toBe(201);
    const secondLocation = new URL(second.headers.get('location')!, nook.url).pathname;
    const crowded = await patch(secondLocation, 0, randomBytes(100_000));
    expect(crowded.status).toBe(413);
    expect(await crowded.text()).toMatch(/150000 in unfinished uploads/);

    // A multipart upload counts the unfinished tus uploads too.
    const multipart = await client.upload([{ name: 'beside.bin', data: randomBytes(60_000) }]);
    expect(multipart.status).toBe(413);
    expect(((await multipart.json()) as { message: string }).message).toMatch(/quota/);

    // Declaring a length that does not fit is refused too.
    const declared = await patch(location, 150_000, randomBytes(10), { 'upload-length': '500000' });
    expect(declared.status).toBe(413);

    // What fits still goes through, and the whole upload lands in the library.
    const last = await patch(location, 150_000, randomBytes(50_000), { 'upload-length': '200000' });
    expect(last.status).toBe(204);
    expect(last.headers.get('nook-duplicate')).toBe('false');
    expect(await usedBytes('deferrer')).toBe(200_000);
  });
});

describe('broken multipart', () => {
  let nook: TestNook;
  let token: string;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    const admin = await setUpAdmin(nook.url);
    ({ token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'raw',
      scopes: ['upload'],
    }));
  });

  afterAll(async () => {
    await nook?.close();
  });

  const post = (contentType: string, body: Buffer) =>
    rawRequest(
      nook.url,
      {
        path: '/api/assets',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': contentType,
          'content-length': body.length,
        },
      },
      [body],
    );

  it('answers 400 with a message, never 500', async () => {
    const whole = multipartBody('cut.bin', randomBytes(5000));
    const cases: [string, string, Buffer][] = [
      ['no boundary', 'multipart/form-data', whole],
      ['a boundary longer than 70 characters', `multipart/form-data; boundary=${'b'.repeat(300)}`, whole],
      ['truncated body', `multipart/form-data; boundary=${BOUNDARY}`, whole.subarray(0, 3000)],
      ['not multipart at all', `multipart/form-data; boundary=${BOUNDARY}`, Buffer.from('just some text')],
      ['wrong content type', 'application/octet-stream', randomBytes(100)],
      ['text instead of a form', 'text/plain', Buffer.from('hello')],
    ];
    for (const [label, contentType, body] of cases) {
      const response = await post(contentType, body);
      expect(response.status, `${label}: ${response.body}`).toBe(400);
      expect(JSON.parse(response.body).message, label).toMatch(/multipart/);
    }
    expect((await readdir(nook.dataDir.tmp)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });
});
