// Recovery at start: a tus upload whose bytes all arrived becomes an asset after a restart, a job a
// dead process left active runs again at once, pending assets without a job are queued, old temp
// files are swept. The last test kills a real `nook start` (and so its PostgreSQL's owner) with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Asset, AssetService, findRunningEmbeddedPostgres } from '@nook/core';
import PgBoss from 'pg-boss';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, makeTempDir, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';
import { photo } from '../../../test/media-files';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const nookBin = fileURLToPath(new URL('../../cli/bin/nook.js', import.meta.url));

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** `nook start` on `dataDir` with its own embedded PostgreSQL, once it answers. */
async function nookStart(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: dataDir,
    NOOK_HOST: '127.0.0.1',
    NOOK_PORT: String(port),
  };
  delete env.NOOK_DATABASE_URL;
  delete env.NOOK_QUEUE_SCHEMA;
  const child = spawn(process.execPath, [nookBin, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`nook start exited with ${child.exitCode}: ${output}`);
    return (await fetch(`${url}/api/health`).catch(() => null))?.ok;
  }, 60_000);
  return { child, url };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

describe('recovery at start', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  async function nookOn(root: string, workers = false): Promise<TestNook> {
    const nook = await startTestNook({ dataDir: root, workers });
    cleanup.push(() => nook.close());
    return nook;
  }

  it('turns tus uploads whose bytes all arrived before the process died into assets, on HEAD and at start', async () => {
    const root = await makeTempDir();
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const before = await nookOn(root);
    const admin = await setUpAdmin(before.url);
    const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'tus',
      scopes: ['read', 'upload'],
    });
    const tusFetch = (
      nook: TestNook,
      pathname: string,
      init: RequestInit & { headers?: Record<string, string> },
    ) =>
      fetch(`${nook.url}${pathname}`, {
        ...init,
        headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}`, ...init.headers },
      });
    const tusDir = path.join(before.dataDir.tmp, 'tus');
    const tail = 1000;

    /** All but the last `tail` bytes over HTTP; the caller writes the rest as the killed PATCH did. */
    const startUpload = async (name: string) => {
      const data = randomBytes(200_000);
      const created = await tusFetch(before, '/api/uploads', {
        method: 'POST',
        headers: {
          'upload-length': String(data.length),
          'upload-metadata': `filename ${Buffer.from(name).toString('base64')}`,
        },
      });
      expect(created.status).toBe(201);
      const location = created.headers.get('location')!;
      const patched = await tusFetch(before, location, {
        method: 'PATCH',
        headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
        body: data.subarray(0, data.length - tail),
      });
      expect(patched.status).toBe(204);
      return { data, location, id: path.posix.basename(location) };
    };

    // Cut during the last PATCH: its bytes reached the disk, its completion never ran.
    const asked = await startUpload('asked.bin');
    const left = await startUpload('left.bin');
    // Cut after the completion wrote the row but before the upload was removed: a replay must find
    // that row, not file the bytes a second time (or call them a duplicate of themselves).
    const replayed = await startUpload('replayed.bin');
    const saved = path.join(root, 'saved');
    await mkdir(saved);
    for (const file of [replayed.id, `${replayed.id}.json`])
      await copyFile(path.join(tusDir, file), path.join(saved, file));
    const last = await tusFetch(before, replayed.location, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(replayed.data.length - tail),
      },
      body: replayed.data.subarray(replayed.data.length - tail),
    });
    expect(last.status).toBe(204);
    const replayedAssetId = last.headers.get('nook-asset-id')!;
    expect(replayedAssetId).toBeTruthy();
    await before.close();

    for (const { id, data } of [asked, left])
      await appendFile(path.join(tusDir, id), data.subarray(data.length - tail));
    for (const file of [replayed.id, `${replayed.id}.json`])
      await copyFile(path.join(saved, file), path.join(tusDir, file));
    await appendFile(path.join(tusDir, replayed.id), replayed.data.subarray(replayed.data.length - tail));
    await rm(path.join(before.dataDir.tmp, 'tus-done', `${replayed.id}.json`));

    const after = await nookOn(root);
    // Whether the start-up pass or this HEAD completes it, HEAD answers with the asset.
    const head = await tusFetch(after, asked.location, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(asked.data.length));
    expect(head.headers.get('upload-length')).toBe(String(asked.data.length));
    expect(head.headers.get('nook-asset-sha256')).toBe(sha256(asked.data));
    expect(head.headers.get('nook-duplicate')).toBe('false');

    // Nobody asks for the second one: the start-up pass completes it and removes its bytes.
    await eventually(async () => (await readdir(tusDir)).length === 0);
    const heads = await Promise.all(
      [asked, left, replayed].map((upload) => tusFetch(after, upload.location, { method: 'HEAD' })),
    );
    expect(heads.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(heads[0]!.headers.get('nook-asset-id')).toBe(head.headers.get('nook-asset-id'));
    expect(heads[2]!.headers.get('nook-asset-id')).toBe(replayedAssetId);
    expect(heads[2]!.headers.get('nook-duplicate')).toBe('false');

    const em = after.orm.em.fork();
    const assets = new AssetService(em, after.dataDir, after.queue);
    for (const [index, upload] of [asked, left, replayed].entries()) {
      const rows = await em.find(Asset, { sha256: sha256(upload.data) }, { populate: ['library'] });
      expect(rows.map((asset) => asset.id)).toEqual([heads[index]!.headers.get('nook-asset-id')]);
      expect(await readFile(await assets.resolveOriginal(rows[0]!))).toEqual(upload.data);
    }
    // A PATCH retried at the final offset is answered the same way.
    const retried = await tusFetch(after, left.location, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(left.data.length),
      },
      body: Buffer.alloc(0),
    });
    expect(retried.status).toBe(204);
    expect(retried.headers.get('nook-asset-id')).toBe(heads[1]!.headers.get('nook-asset-id'));
  });

  it('removes temp files older than the upload expiry at start, and leaves fresh ones', async () => {
    const root = await makeTempDir();
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const tmp = path.join(root, 'tmp');
    await mkdir(tmp, { recursive: true });
    const old = path.join(tmp, 'old.part');
    const fresh = path.join(tmp, 'fresh.part');
    const other = path.join(tmp, 'old.keep');
    for (const file of [old, fresh, other]) await writeFile(file, 'bytes');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    await utimes(other, twoDaysAgo, twoDaysAgo);
    await nookOn(root);
    await eventually(async () => !(await readdir(tmp)).includes('old.part'));
    expect((await readdir(tmp)).sort()).toEqual(expect.arrayContaining(['fresh.part', 'old.keep']));
  });

  it('queues again, when the workers start, an asset whose row was written but whose job never was', async () => {
    const root = await makeTempDir();
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const before = await nookOn(root);
    const admin = await setUpAdmin(before.url);
    const response = await admin.upload([{ name: 'stuck.jpg', data: await photo(320, 240) }]);
    expect(response.status).toBe(201);
    const [{ id }] = (await response.json()) as [{ id: string }];
    // Each test Nook has a queue schema of its own, dropped when it closes: the restarted Nook finds
    // the asset pending and no job for it, as after a crash between the row and its job.
    await before.close();

    const after = await nookOn(root, true);
    const row = async () => after.orm.em.fork().findOne(Asset, { id });
    expect((await row())?.status).toMatch(/pending|ready/);
    await eventually(async () => (await row())?.status === 'ready');
    expect((await row())?.width).toBe(320);
  });

  it(
    'after nook start is killed with SIGKILL: the cut tus upload becomes a ready asset, the orphaned scan runs at once',
    { timeout: 180_000 },
    async () => {
      const root = await makeTempDir();
      cleanup.push(() => rm(root, { recursive: true, force: true }));
      const victim = await nookStart(root);
      cleanup.push(async () => {
        victim.child.kill('SIGKILL');
        await exited(victim.child);
      });
      const admin = await setUpAdmin(victim.url);
      const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
        name: 'tus',
        scopes: ['read', 'upload'],
      });
      const auth = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
      const data = await photo(640, 480);
      const tail = 4096;
      const created = await fetch(`${victim.url}/api/uploads`, {
        method: 'POST',
        headers: {
          ...auth,
          'upload-length': String(data.length),
          'upload-metadata': `filename ${Buffer.from('cut.jpg').toString('base64')}`,
        },
      });
      const location = created.headers.get('location')!;
      const patched = await fetch(`${victim.url}${location}`, {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
        body: data.subarray(0, data.length - tail),
      });
      expect(patched.status).toBe(204);

      // A process that took a library scan and died with it: the scan stays active in the queue.
      const boss = new PgBoss({
        connectionString: (await findRunningEmbeddedPostgres(root))!,
        schema: 'pgboss',
        supervise: false,
        schedule: false,
      });
      await boss.start();
      const scanId = await boss.send('library-scan', {});
      const [taken] = await boss.fetch('library-scan');
      expect(taken?.id).toBe(scanId);
      // As a Nook process does before it runs a job: it leases the job in its own name.
      await boss
        .getDb()
        .executeSql(
          `INSERT INTO pgboss_nook.lease (queue, job_id, process_id) VALUES ('library-scan', $1, gen_random_uuid())`,
          [scanId],
        );
      await boss.stop({ graceful: false, wait: true });

      victim.child.kill('SIGKILL');
      await exited(victim.child);
      // The last PATCH's bytes reached the disk; its completion never ran.
      await appendFile(
        path.join(root, 'tmp', 'tus', path.posix.basename(location)),
        data.subarray(data.length - tail),
      );

      const revived = await nookStart(root);
      cleanup.push(async () => {
        revived.child.kill('SIGTERM');
        await exited(revived.child);
      });
      const head = await fetch(`${revived.url}${location}`, { method: 'HEAD', headers: auth });
      expect(head.status).toBe(200);
      expect(head.headers.get('nook-asset-sha256')).toBe(sha256(data));
      const assetId = head.headers.get('nook-asset-id')!;
      const ready = await eventually(async () => {
        const asset = await fetch(
          `${revived.url}/trpc/assets.get?input=${encodeURIComponent(JSON.stringify({ id: assetId }))}`,
          { headers: auth },
        );
        const body = (await asset.json()) as { result?: { data: { status: string; width: number } } };
        return body.result?.data.status === 'ready' ? body.result.data : undefined;
      });
      expect(ready.width).toBe(640);

      // Its policy would retry it after 60 s, its expiry after 6 h: recovery runs it within seconds.
      const observer = new PgBoss({
        connectionString: (await findRunningEmbeddedPostgres(root))!,
        schema: 'pgboss',
        supervise: false,
        schedule: false,
      });
      await observer.start();
      try {
        const scan = await eventually(async () => {
          const job = await observer.getJobById('library-scan', scanId!);
          return job?.state === 'completed' ? job : undefined;
        }, 15_000);
        expect(scan.retryCount).toBe(1);
      } finally {
        await observer.stop({ graceful: false, wait: true });
      }
    },
  );
});
