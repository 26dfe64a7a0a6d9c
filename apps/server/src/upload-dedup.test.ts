// One asset per content and owner, whatever the timing: identical uploads at once (multipart and tus,
// over real HTTP) store one file and answer the rest as duplicates; two processes racing are settled
// by the unique index; a restore from the trash never trips it; a file a crash left in library/
// without its row is undone at start, so the retry keeps the file's name.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { link, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Asset, AssetService, DataDir, User, UserService, openDatabase, type MikroORM } from '@nook/core';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  TestClient,
  makeTempDir,
  setUpAdmin,
  startTestNook,
  type TestNook,
} from '../../../test/harness';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Answer {
  id: string;
  sha256: string;
  duplicate: boolean;
}

/** Every file under `dir`, relative, with forward slashes. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

describe('one asset per content and owner', () => {
  let nook: TestNook;
  let admin: TestClient;
  let token: string;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
    ({ token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'dedup',
      scopes: ['read', 'upload'],
    }));
  });

  afterAll(async () => {
    await nook?.close();
  });

  const multipart = async (name: string, data: Buffer): Promise<Answer> => {
    const response = await admin.upload([{ name, data }]);
    expect(response.status, await response.clone().text()).toBe(201);
    return ((await response.json()) as Answer[])[0]!;
  };

  const resumable = (name: string, data: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      new tus.Upload(data, {
        endpoint: `${nook.url}/api/uploads`,
        headers: { authorization: `Bearer ${token}` },
        metadata: { filename: name },
        retryDelays: null,
        onError: reject,
        onSuccess: ({ lastResponse }) =>
          resolve({
            id: lastResponse.getHeader('nook-asset-id') ?? '',
            sha256: lastResponse.getHeader('nook-asset-sha256') ?? '',
            duplicate: lastResponse.getHeader('nook-duplicate') === 'true',
          }),
      }).start();
    });

  const rowsOf = (data: Buffer) => nook.orm.em.fork().find(Asset, { sha256: sha256(data) });
  const uploadsDir = () => path.join(nook.dataDir.library, 'admin');

  it('stores twelve identical uploads sent at once (multipart and tus) once; the other eleven are told duplicate', async () => {
    const data = randomBytes(300_000);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        index % 2 ? resumable(`same-${index}.bin`, data) : multipart(`same-${index}.bin`, data),
      ),
    );
    const rows = await rowsOf(data);
    expect(rows).toHaveLength(1);
    expect(answers.filter((answer) => !answer.duplicate)).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.id))).toEqual(new Set([rows[0]!.id]));
    expect(answers.every((answer) => answer.sha256 === sha256(data))).toBe(true);
    // Only the winner's file is in the library; the losers' links and temp files are gone.
    const files = await filesUnder(uploadsDir());
    expect(files.filter((file) => file.includes('same-'))).toEqual([rows[0]!.path]);
    expect((await readdir(nook.dataDir.tmp)).filter((name) => /\.(part|placing)$/.test(name))).toEqual([]);
    // And the next one, sequential, gets the same answer.
    expect(await multipart('again.bin', data)).toMatchObject({ id: rows[0]!.id, duplicate: true });
  });

  it('settles a race between two processes with the unique index: one row, the loser answered duplicate', async () => {
    // A second metadata connection on the same nook.db, as a second process would have.
    const other: MikroORM = await openDatabase(nook.dataDir.root);
    try {
      const data = randomBytes(50_000);
      const sides = [nook.orm, other].map((orm) => {
        const em = orm.em.fork();
        return { em, service: new AssetService(em, nook.dataDir, nook.queue) };
      });
      const results = await Promise.all(
        sides.map(async ({ em, service }, index) => {
          const user = await em.findOneOrFail(User, { username: 'admin' });
          const library = await new UserService(em).uploadLibraryOf(user);
          const tempPath = path.join(nook.dataDir.tmp, `${randomUUID()}.part`);
          await writeFile(tempPath, data);
          return service.ingestUpload(
            user,
            library,
            { tempPath, sha256: sha256(data), size: data.length },
            `raced-${index}.bin`,
          );
        }),
      );
      const rows = await rowsOf(data);
      expect(rows).toHaveLength(1);
      expect(results.map((result) => result.duplicate).sort()).toEqual([false, true]);
      expect(results.map((result) => result.asset.id)).toEqual([rows[0]!.id, rows[0]!.id]);
      expect((await filesUnder(uploadsDir())).filter((file) => file.includes('raced-'))).toEqual([
        rows[0]!.path,
      ]);
    } finally {
      await other.close();
    }
  });

  it('restores from the trash content that was uploaded again meanwhile, as a second copy', async () => {
    const data = randomBytes(20_000);
    const first = await multipart('kept.bin', data);
    await admin.mutate('assets.delete', { ids: [first.id] });
    const second = await multipart('kept.bin', data);
    expect(second).toMatchObject({ duplicate: false });
    expect(second.id).not.toBe(first.id);
    expect(await admin.mutate('assets.restore', { ids: [first.id] })).toEqual({ restored: 1 });
    const rows = await rowsOf(data);
    expect(rows.map((row) => row.id).sort()).toEqual([first.id, second.id].sort());
    expect(rows.every((row) => row.deletedAt === null)).toBe(true);
    expect(rows.filter((row) => row.contentKey !== null).map((row) => row.id)).toEqual([second.id]);
    // Trashing and restoring both at once, too.
    await admin.mutate('assets.delete', { ids: [first.id, second.id] });
    expect(await admin.mutate('assets.restore', { ids: [first.id, second.id] })).toEqual({ restored: 2 });
    expect(await multipart('kept.bin', data)).toMatchObject({ duplicate: true });
  });

  it('passes over a name that a row still holds though its file is gone', async () => {
    const first = await multipart('taken.bin', randomBytes(1000));
    const row = (await nook.orm.em.fork().findOneOrFail(Asset, { id: first.id }))!;
    await rm(path.join(uploadsDir(), ...row.path.split('/')));
    const other = await multipart('taken.bin', randomBytes(1000));
    const stored = await nook.orm.em.fork().findOneOrFail(Asset, { id: other.id });
    expect(stored.name).toBe('taken (1).bin');
  });
});

describe('a file placed in library/ by a process that died before its row', () => {
  it('is removed at start with its note and temp file; the retry keeps the name; other files stay', async () => {
    const root = await makeTempDir();
    const before = await startTestNook({ dataDir: root, workers: false });
    const admin = await setUpAdmin(before.url);
    const kept = randomBytes(5000);
    const [recorded] = (await (
      await admin.upload([{ name: 'recorded.bin', data: kept }])
    ).json()) as Answer[];
    await before.close();

    const dataDir = new DataDir(root);
    const month = (await readdir(path.join(dataDir.library, 'admin')))[0]!;
    const folder = path.join(
      dataDir.library,
      'admin',
      month,
      (await readdir(path.join(dataDir.library, 'admin', month)))[0]!,
    );
    const relativeFolder = path
      .relative(path.join(dataDir.library, 'admin'), folder)
      .split(path.sep)
      .join('/');
    // What the killed upload left: its temp file, the note, and the link in the library.
    const cut = randomBytes(7000);
    const temp = path.join(dataDir.tmp, `${randomUUID()}.part`);
    await writeFile(temp, cut);
    const libraryId = (await listUploadLibrary(root))!;
    await writeFile(`${temp}.placing`, JSON.stringify({ libraryId, path: `${relativeFolder}/cut.bin` }));
    await link(temp, path.join(folder, 'cut.bin'));
    // Not Nook's doing: a file someone put there by hand, and a note naming a recorded file.
    await writeFile(path.join(folder, 'by-hand.bin'), 'mine');
    const recordedRow = await listAsset(root, recorded!.id);
    const otherTemp = path.join(dataDir.tmp, `${randomUUID()}.part`);
    await link(path.join(dataDir.library, 'admin', ...recordedRow.split('/')), otherTemp);
    await writeFile(`${otherTemp}.placing`, JSON.stringify({ libraryId, path: recordedRow }));

    const after = await startTestNook({ dataDir: root, workers: false });
    try {
      const files = await filesUnder(path.join(dataDir.library, 'admin'));
      expect(files).not.toContain(`${relativeFolder}/cut.bin`);
      expect(files).toEqual(expect.arrayContaining([`${relativeFolder}/by-hand.bin`, recordedRow]));
      expect((await readdir(dataDir.tmp)).filter((name) => /\.(part|placing)$/.test(name))).toEqual([]);
      expect((await stat(path.join(dataDir.library, 'admin', ...recordedRow.split('/')))).size).toBe(
        kept.length,
      );

      const client = new TestClient(after.url);
      await client.mutate('auth.login', ADMIN);
      const retried = await client.upload([{ name: 'cut.bin', data: cut }]);
      const [answer] = (await retried.json()) as Answer[];
      const row = await after.orm.em.fork().findOneOrFail(Asset, { id: answer!.id });
      expect(row.name).toBe('cut.bin');
    } finally {
      await after.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

async function withOrm<T>(root: string, work: (orm: MikroORM) => Promise<T>): Promise<T> {
  const orm = await openDatabase(root);
  try {
    return await work(orm);
  } finally {
    await orm.close();
  }
}

const listUploadLibrary = (root: string) =>
  withOrm(root, async (orm) => {
    const user = await orm.em.fork().findOneOrFail(User, { username: 'admin' });
    return (await new UserService(orm.em.fork()).uploadLibraryOf(user)).id;
  });

const listAsset = (root: string, id: string) =>
  withOrm(root, async (orm) => (await orm.em.fork().findOneOrFail(Asset, { id })).path);
