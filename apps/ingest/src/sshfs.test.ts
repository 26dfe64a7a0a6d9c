// A real network filesystem: a folder served by openssh-server on loopback, mounted with sshfs, polled.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Asset, createLogger, detectFilesystem } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, setUpAdmin, startTestNook, type TestClient, type TestNook } from '../../../test/harness';
import { mountSshfs, unmountSshfs } from '../../../test/sshfs';
import { Ingest } from './ingest';

const POLL_SECONDS = 2;
const STABILITY_MS = 300;

const mount = await mountSshfs();
const skipReason = typeof mount === 'string' ? mount : null;

describe('a folder library on an sshfs mount', () => {
  let nook: TestNook;
  let ingest: Ingest;
  let admin: TestClient;

  beforeAll(async () => {
    if (skipReason) return;
    nook = await startTestNook({ workers: false });
    ingest = await Ingest.start(
      {
        orm: nook.orm,
        queue: nook.queue,
        dataDir: nook.dataDir,
        logger: createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false),
      },
      { rootCheckMs: 500, stabilityMs: STABILITY_MS },
    );
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await ingest?.stop();
    await nook?.close();
    if (typeof mount === 'string') return;
    await unmountSshfs(mount);
  });

  it.skipIf(skipReason !== null)(
    `is polled, and picks up changes made on the server within the poll interval${skipReason ? ` — skipped: ${skipReason}` : ''}`,
    async () => {
      if (typeof mount === 'string') return;
      expect(await detectFilesystem(mount.mountPoint)).toBe('fuse.sshfs');
      await writeFile(path.join(mount.served, 'before.txt'), 'already there');
      const library = await admin.mutate<{ id: string }>('libraries.create', {
        name: 'nas',
        rootPath: mount.mountPoint,
        pollIntervalSeconds: POLL_SECONDS,
      });
      const rows = async () => {
        const assets = await nook.orm.em.fork().find(Asset, { library: library.id });
        return new Map(assets.map((asset) => [asset.path, asset]));
      };
      await eventually(async () => (await rows()).has('before.txt'));
      expect(await admin.query('libraries.status', { id: library.id })).toMatchObject({
        filesystem: 'fuse.sshfs',
        watchingWith: 'poll',
      });

      // Written straight into the served folder: the mount sees no inotify event for it.
      const budget = POLL_SECONDS * 1000 + STABILITY_MS + 2000;
      await mkdir(path.join(mount.served, 'new'));
      const started = Date.now();
      await writeFile(path.join(mount.served, 'new', 'arrived.txt'), 'from the NAS');
      await eventually(async () => (await rows()).has('new/arrived.txt'), budget + 5000);
      expect(Date.now() - started).toBeLessThan(budget);

      await rm(path.join(mount.served, 'before.txt'));
      await eventually(async () => (await rows()).get('before.txt')?.offlineAt, budget + 5000);
    },
  );
});
