// Folder libraries end to end on real files: scans, watcher events, moves, exclusions, roots going away.
import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Asset, Library, User, createLogger } from '@nook/core';
import PgBoss from 'pg-boss';
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
import { makeJpeg } from '../../../test/media';
import { Ingest } from './ingest';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;

interface LibraryDto {
  id: string;
  name: string;
  rootPath: string;
}

interface StatusDto {
  online: boolean;
  scanning: boolean;
  scanProgress: { phase: string; seen: number; toHash: number; hashed: number } | null;
  watchingWith: string | null;
  watchReason: string;
  filesystem: string | null;
  lastScanFinishedAt: string | null;
  lastScan: { added: number; seen: number; hashed: number; unreadable: number } | null;
  assets: { total: number; offline: number };
}

describe('folder libraries', () => {
  let nook: TestNook;
  let ingest: Ingest;
  let admin: TestClient;
  const roots: string[] = [];

  beforeAll(async () => {
    nook = await startTestNook();
    ingest = await Ingest.start(
      {
        orm: nook.orm,
        queue: nook.queue,
        dataDir: nook.dataDir,
        logger: createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false),
      },
      // A tree of more than 12 folders exceeds this budget, so the fallback to polling can be seen.
      { rootCheckMs: 300, stabilityMs: 300, inotifyWatchLimit: 24 },
    );
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await ingest?.stop();
    await nook?.close();
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  async function newRoot(): Promise<string> {
    const root = await makeTempDir('nook-library-');
    roots.push(root);
    return root;
  }

  async function addLibrary(root: string, settings: Record<string, unknown> = {}): Promise<LibraryDto> {
    return admin.mutate<LibraryDto>('libraries.create', {
      name: path.basename(root),
      rootPath: root,
      ...settings,
    });
  }

  /** The library's rows by path, offline ones included. */
  async function rows(libraryId: string): Promise<Map<string, Asset>> {
    const assets = await nook.orm.em.fork().find(Asset, { library: libraryId });
    return new Map(assets.map((asset) => [asset.path, asset]));
  }

  const status = (id: string) => admin.query<StatusDto>('libraries.status', { id });
  const scanned = (id: string) =>
    eventually(async () => (await status(id)).lastScanFinishedAt !== null && status(id));

  async function online(libraryId: string): Promise<string[]> {
    return [...(await rows(libraryId)).values()]
      .filter((asset) => !asset.offlineAt)
      .map((asset) => asset.path)
      .sort();
  }

  it('indexes a nested tree at once, then hashes nothing on a rescan', async () => {
    const root = await newRoot();
    for (const folder of ['2023/summer', '2023/winter/skiing', '2024']) {
      await mkdir(path.join(root, folder), { recursive: true });
    }
    const files = [
      'top.txt',
      '2023/summer/a.txt',
      '2023/winter/b.txt',
      '2023/winter/skiing/c.txt',
      '2024/d.txt',
    ];
    for (const file of files) await writeFile(path.join(root, file), `content of ${file}`);

    const library = await addLibrary(root);
    const first = await scanned(library.id);
    expect(first.lastScan).toMatchObject({ seen: 5, added: 5, hashed: 5 });
    expect(first.watchingWith).toBe('events');
    expect(first.scanning).toBe(false);
    expect(first.scanProgress).toBeNull();
    expect(first.watchReason).toMatch(/is a local disk, so changes arrive as filesystem events/);
    expect(await online(library.id)).toEqual([...files].sort());
    const asset = (await rows(library.id)).get('2023/summer/a.txt')!;
    expect(asset).toMatchObject({
      name: 'a.txt',
      size: 'content of 2023/summer/a.txt'.length,
      kind: 'other',
    });

    const before = first.lastScanFinishedAt;
    await admin.mutate('libraries.rescan', { id: library.id });
    const second = await eventually(async () => {
      const current = await status(library.id);
      return current.lastScanFinishedAt !== before && current;
    });
    expect(second.lastScan).toMatchObject({ seen: 5, added: 0, hashed: 0 });
  });

  it('follows adds, edits, renames, moves across folders, deletes and re-adds', async () => {
    const root = await newRoot();
    await mkdir(path.join(root, 'inbox'));
    await mkdir(path.join(root, 'archive'));
    const library = await addLibrary(root);
    await scanned(library.id);

    await writeFile(path.join(root, 'inbox/note.txt'), 'first version');
    const added = await eventually(async () => (await rows(library.id)).get('inbox/note.txt'));
    const id = added.id;

    await writeFile(path.join(root, 'inbox/note.txt'), 'second, longer version');
    await eventually(async () => (await rows(library.id)).get('inbox/note.txt')?.size === 22);

    await rename(path.join(root, 'inbox/note.txt'), path.join(root, 'inbox/renamed.txt'));
    const renamed = await eventually(async () => (await rows(library.id)).get('inbox/renamed.txt'));
    expect(renamed.id).toBe(id);

    await rename(path.join(root, 'inbox/renamed.txt'), path.join(root, 'archive/renamed.txt'));
    const moved = await eventually(async () => (await rows(library.id)).get('archive/renamed.txt'));
    expect(moved.id).toBe(id);
    expect(moved.offlineAt).toBeNull();

    await rm(path.join(root, 'archive/renamed.txt'));
    const gone = await eventually(async () => (await rows(library.id)).get('archive/renamed.txt')?.offlineAt);
    expect(gone).toBeInstanceOf(Date);
    expect((await status(library.id)).assets).toMatchObject({ total: 1, offline: 1 });

    await writeFile(path.join(root, 'archive/renamed.txt'), 'second, longer version');
    const back = await eventually(async () => {
      const row = (await rows(library.id)).get('archive/renamed.txt');
      return row && !row.offlineAt && row;
    });
    expect(back.id).toBe(id);
    expect((await rows(library.id)).size).toBe(1);
  });

  it('keeps metadata and thumbnails through a move, and shares derived files between copies', async () => {
    const root = await newRoot();
    await mkdir(path.join(root, 'a'));
    await mkdir(path.join(root, 'b'));
    const photo = await makeJpeg({ width: 320, height: 240 });
    await writeFile(path.join(root, 'a/photo.jpg'), photo);
    const library = await addLibrary(root);
    const ready = await eventually(async () => {
      const row = (await rows(library.id)).get('a/photo.jpg');
      return row?.status === 'ready' && row;
    }, 30_000);
    expect(ready).toMatchObject({ kind: 'image', width: 320, height: 240 });

    await rename(path.join(root, 'a/photo.jpg'), path.join(root, 'b/photo.jpg'));
    const moved = await eventually(async () => (await rows(library.id)).get('b/photo.jpg'));
    expect(moved).toMatchObject({ id: ready.id, status: 'ready', width: 320, thumbhash: ready.thumbhash });

    await writeFile(path.join(root, 'a/copy.jpg'), photo);
    const copy = await eventually(async () => (await rows(library.id)).get('a/copy.jpg'));
    // Same content: ready at once with the first copy's metadata, no second trip through the pipeline.
    expect(copy).toMatchObject({
      status: 'ready',
      sha256: ready.sha256,
      width: 320,
      thumbhash: ready.thumbhash,
    });
    expect(copy.id).not.toBe(ready.id);
  });

  it('indexes a file written slowly only once it is complete', async () => {
    const root = await newRoot();
    const library = await addLibrary(root);
    await scanned(library.id);
    const file = path.join(root, 'slow.bin');
    const chunk = Buffer.alloc(64 * 1024, 7);
    let partialSeen = false;
    await writeFile(file, chunk);
    for (let i = 1; i < 15; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await appendFile(file, chunk);
      if ((await rows(library.id)).has('slow.bin')) partialSeen = true;
    }
    const complete = await eventually(async () => (await rows(library.id)).get('slow.bin'));
    expect(partialSeen).toBe(false);
    expect(complete.size).toBe(15 * chunk.length);
    const { stdout } = await execFileAsync('sha256sum', [file]);
    expect(complete.sha256).toBe(stdout.split(' ')[0]);
  });

  it('leaves out excluded files, NAS clutter and other extensions; refuses roots in or around Nook’s data dir', async () => {
    const root = await newRoot();
    for (const folder of ['@eaDir/thumbs', '#recycle', 'photos', 'skip-me']) {
      await mkdir(path.join(root, folder), { recursive: true });
    }
    const write = (file: string) => writeFile(path.join(root, file), file);
    await Promise.all(
      ['@eaDir/thumbs/x.jpg', '#recycle/old.jpg', 'photos/.DS_Store', 'photos/._a.jpg', 'photos/Thumbs.db']
        .concat(['photos/a.jpg', 'photos/b.mp4', 'photos/c.txt', 'skip-me/d.jpg'])
        .map(write),
    );
    const library = await addLibrary(root, {
      exclude: ['@eaDir', '#recycle', '.DS_Store', '._*', 'Thumbs.db', 'skip-me/**'],
      includeExtensions: ['jpg', '.MP4'],
    });
    await scanned(library.id);
    expect(await online(library.id)).toEqual(['photos/a.jpg', 'photos/b.mp4']);
    await write('photos/e.txt');
    await write('photos/f.jpg');
    await write('@eaDir/thumbs/y.jpg');
    await eventually(async () => (await rows(library.id)).has('photos/f.jpg'));
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await online(library.id)).toEqual(['photos/a.jpg', 'photos/b.mp4', 'photos/f.jpg']);

    // A root inside the data dir is refused, and so is one that holds it (its files would be read).
    const dataRoot = await newRoot();
    const inside = await startTestNook({ dataDir: path.join(dataRoot, 'nook-data'), workers: false });
    try {
      const owner = await setUpAdmin(inside.url);
      await expect(
        owner.mutate('libraries.create', { name: 'inner', rootPath: inside.dataDir.library }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/inside Nook's data/) });
      await expect(
        owner.mutate('libraries.create', { name: 'all', rootPath: dataRoot }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/contains Nook's data directory/),
      });
    } finally {
      await inside.close();
    }
  });

  it('neither watches nor walks a library outside the allowed roots, and says why on its status', async () => {
    // As a member could make one before folders were the administrator's decision.
    const em = nook.orm.em.fork();
    const owner = await em.findOneOrFail(User, { username: 'admin' });
    const etc = em.create(Library, { name: 'etc', type: 'folder', rootPath: '/etc', owner });
    await em.flush();
    await nook.queue.enqueue('library-scan', { libraryId: etc.id }, etc.id);
    const refused = await scanned(etc.id);
    expect(refused).toMatchObject({
      lastScanError: expect.stringMatching(/^not scanned: .*not inside the folders the administrator allows/),
      assets: { total: 0 },
    });
    expect(refused.lastScan).toBeNull();
  });

  it('skips what it cannot read (a FIFO, symlinks) and goes on', async () => {
    const root = await newRoot();
    await writeFile(path.join(root, 'fine.txt'), 'fine');
    await execFileAsync('mkfifo', [path.join(root, 'pipe')]);
    await symlink('/etc/hostname', path.join(root, 'outside-link'));
    await symlink(path.join(root, 'missing'), path.join(root, 'dangling-link'));
    const library = await addLibrary(root);
    await scanned(library.id);
    expect(await online(library.id)).toEqual(['fine.txt']);
  });

  it.skipIf(isRoot)(
    'counts an unreadable file and indexes the rest (root reads every file, so not as root)',
    async () => {
      const root = await newRoot();
      await writeFile(path.join(root, 'fine.txt'), 'fine');
      await writeFile(path.join(root, 'secret.txt'), 'secret');
      await chmod(path.join(root, 'secret.txt'), 0o000);
      const library = await addLibrary(root);
      const done = await scanned(library.id);
      expect(await online(library.id)).toEqual(['fine.txt']);
      expect(done.lastScan?.unreadable).toBe(1);
    },
  );

  it('puts the library offline when its root goes away, without marking files missing, and reconciles on return', async () => {
    const root = await newRoot();
    await mkdir(path.join(root, 'share'));
    const share = path.join(root, 'share');
    await writeFile(path.join(share, 'one.txt'), 'one');
    await writeFile(path.join(share, 'two.txt'), 'two');
    const library = await addLibrary(share);
    await scanned(library.id);

    await rename(share, path.join(root, 'unplugged'));
    const away = await eventually(async () => {
      const current = await status(library.id);
      return !current.online && current;
    });
    expect(away.assets).toMatchObject({ total: 2, offline: 0 });

    // An empty mount point, as an unmounted share leaves, is not a mass deletion either.
    await mkdir(share);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await status(library.id)).toMatchObject({ online: false, assets: { total: 2, offline: 0 } });
    await rm(share, { recursive: true });

    await writeFile(path.join(root, 'unplugged', 'three.txt'), 'three');
    await rm(path.join(root, 'unplugged', 'one.txt'));
    await rename(path.join(root, 'unplugged'), share);
    await eventually(async () => (await status(library.id)).online);
    await eventually(async () => (await rows(library.id)).has('three.txt'));
    await eventually(async () => (await rows(library.id)).get('one.txt')?.offlineAt);
    expect(await online(library.id)).toEqual(['three.txt', 'two.txt']);

    // The watcher is a fresh one over the returned folder.
    await writeFile(path.join(share, 'four.txt'), 'four');
    await eventually(async () => (await rows(library.id)).has('four.txt'));
  });

  it('polls a tree too large for its share of inotify watches', async () => {
    const root = await newRoot();
    for (let i = 0; i < 14; i++) await mkdir(path.join(root, `folder-${i}`));
    await writeFile(path.join(root, 'folder-3/a.txt'), 'a');
    const library = await addLibrary(root, { pollIntervalSeconds: 1 });
    await eventually(async () => (await status(library.id)).watchingWith === 'poll');
    await writeFile(path.join(root, 'folder-9/b.txt'), 'b');
    await eventually(async () => (await rows(library.id)).has('folder-9/b.txt'));
  });

  it('lets members see only their own libraries, read-only, and refuses unusable roots', async () => {
    const { id: memberId } = await admin.mutate<{ id: string }>('users.create', {
      username: 'member',
      password: 'member password',
    });
    const member = new TestClient(nook.url);
    await member.mutate('auth.login', { username: 'member', password: 'member password' });
    const own = await addLibrary(await newRoot(), { name: 'mine', ownerId: memberId });
    const adminLibrary = await addLibrary(await newRoot(), { watchMode: 'off' });

    const memberLists = await member.query<LibraryDto[]>('libraries.list');
    expect(memberLists.map((library) => library.id)).toContain(own.id);
    expect(memberLists.map((library) => library.id)).not.toContain(adminLibrary.id);
    for (const call of [
      () => member.query('libraries.get', { id: adminLibrary.id }),
      () => member.query('libraries.status', { id: adminLibrary.id }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    // Their own library is theirs to look at; which folder it is and what it holds is the administrator's call.
    expect(await member.query('libraries.get', { id: own.id })).toMatchObject({
      name: 'mine',
      rootPath: null,
    });
    for (const call of [
      () => member.mutate('libraries.update', { id: own.id, name: 'renamed' }),
      () => member.mutate('libraries.rescan', { id: own.id }),
      () => member.mutate('libraries.delete', { id: own.id }),
      () => member.mutate('libraries.update', { id: adminLibrary.id, name: 'taken' }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    const everyone = await admin.query<LibraryDto[]>('libraries.list', { everyone: true });
    expect(everyone.map((library) => library.id)).toEqual(expect.arrayContaining([own.id, adminLibrary.id]));

    const candidate = await newRoot();
    expect(await admin.query('libraries.checkPath', { rootPath: `${candidate}/` })).toMatchObject({
      path: candidate,
      watchingWith: 'events',
      reason: expect.stringMatching(/local disk/),
    });
    await expect(admin.query('libraries.checkPath', { rootPath: '/no/such/folder' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: 'the folder /no/such/folder does not exist',
    });
    await expect(
      admin.mutate('libraries.create', { name: 'nowhere', rootPath: '/no/such/folder' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'the folder /no/such/folder does not exist' });
    await expect(
      admin.mutate('libraries.create', { name: 'relative', rootPath: 'photos' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const file = path.join(await newRoot(), 'file.txt');
    await writeFile(file, 'x');
    await expect(admin.mutate('libraries.create', { name: 'file', rootPath: file })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });

    await admin.mutate('libraries.update', { id: own.id, name: 'renamed', pollIntervalSeconds: 5 });
    expect(await member.query('libraries.get', { id: own.id })).toMatchObject({
      name: 'renamed',
      pollIntervalSeconds: 5,
    });
    await admin.mutate('libraries.delete', { id: own.id });
    await expect(member.query('libraries.get', { id: own.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await readFile(file, 'utf8')).toBe('x');
  });
});

describe('a library whose scan is held up', () => {
  let nook: TestNook | undefined;
  let ingest: Ingest | undefined;
  let root = '';

  afterAll(async () => {
    await ingest?.stop();
    await nook?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('is watched all the same: its watcher does not wait for the scan', async () => {
    nook = await startTestNook();
    const admin = await setUpAdmin(nook.url);
    root = await makeTempDir('nook-library-');
    const library = await admin.mutate<LibraryDto>('libraries.create', { name: 'held', rootPath: root });
    // A process took the library's scan and died with it: no lease names it, so it stays running in
    // the queue until its 6 h expiry, and no scan of this library can start meanwhile.
    const boss = new PgBoss({
      connectionString: queueDatabaseUrl(),
      schema: nook.schema,
      supervise: false,
      schedule: false,
    });
    await boss.start();
    const [held] = await boss.fetch<{ libraryId: string }>('library-scan');
    await boss.stop({ graceful: false, wait: true });
    expect(held?.data.libraryId).toBe(library.id);

    ingest = await Ingest.start(
      {
        orm: nook.orm,
        queue: nook.queue,
        dataDir: nook.dataDir,
        logger: createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false),
      },
      { rootCheckMs: 300, stabilityMs: 300 },
    );
    await writeFile(path.join(root, 'new.jpg'), await makeJpeg({ width: 64, height: 48, seed: 'a1b2c3' }));
    const found = await eventually(async () =>
      nook!.orm.em.fork().findOne(Asset, { library: library.id, path: 'new.jpg' }),
    );
    expect(found.size).toBeGreaterThan(0);
    // The scan itself has not run: the file came from the watcher.
    expect(
      (await admin.query<StatusDto>('libraries.status', { id: library.id })).lastScanFinishedAt,
    ).toBeNull();
  });
});
