// Folders Nook may read are the administrator's decision: who may add them, where they may lie, what
// members see of them, and that a library made before these checks stops serving its files.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Asset, Library, User } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, makeTempDir, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';

interface LibraryDto {
  id: string;
  ownerId: string;
  rootPath: string | null;
}

describe('folders Nook may read', () => {
  let nook: TestNook;
  let admin: TestClient;
  let member: TestClient;
  let memberId: string;
  let allowed: string;

  beforeAll(async () => {
    // NOOK_LIBRARY_ROOTS is the system's temp dir (the harness' default); its own folders live there.
    nook = await startTestNook({ workers: false });
    allowed = await makeTempDir('nook-roots-');
    admin = await setUpAdmin(nook.url);
    memberId = (
      await admin.mutate<{ id: string }>('users.create', { username: 'member', password: 'member password' })
    ).id;
    member = new TestClient(nook.url);
    await member.mutate('auth.login', { username: 'member', password: 'member password' });
  });

  afterAll(async () => {
    await nook?.close();
    await rm(allowed, { recursive: true, force: true });
  });

  /** A folder library as an older Nook (or a member, before this check) could have stored it, with one file. */
  async function plantLibrary(rootPath: string, file: string): Promise<string> {
    const em = nook.orm.em.fork();
    const owner = await em.findOneOrFail(User, { id: memberId });
    const library = em.create(Library, { name: 'planted', type: 'folder', rootPath, owner });
    const asset = em.create(Asset, {
      library,
      owner,
      path: file,
      name: file,
      size: 1,
      mtime: new Date(),
      sha256: '0'.repeat(64),
      mime: 'text/plain',
      kind: 'other',
      takenAt: new Date(),
      status: 'ready',
    });
    await em.flush();
    return asset.id;
  }

  it('lets only administrators add, change, rescan, remove and check folders', async () => {
    const library = await admin.mutate<LibraryDto>('libraries.create', { name: 'NAS', rootPath: allowed });
    for (const call of [
      () => member.mutate('libraries.create', { name: 'etc', rootPath: '/etc' }),
      () => member.mutate('libraries.create', { name: 'mine', rootPath: allowed }),
      () => member.mutate('libraries.update', { id: library.id, rootPath: '/etc' }),
      () => member.mutate('libraries.rescan', { id: library.id }),
      () => member.mutate('libraries.delete', { id: library.id }),
      () => member.query('libraries.checkPath', { rootPath: '/etc' }),
      () => member.query('libraries.roots'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    // Whether a path exists is not for a read-only token to ask, not even an administrator's.
    for (const client of [admin, member]) {
      const { token } = await client.mutate<{ token: string }>('auth.createToken', {
        name: 'reader',
        scopes: ['read'],
      });
      await expect(
        client.withToken(token).query('libraries.checkPath', { rootPath: '/etc' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    expect(await admin.query('libraries.checkPath', { rootPath: allowed })).toMatchObject({ path: allowed });
    await admin.mutate('libraries.delete', { id: library.id });
  });

  it("refuses folders outside NOOK_LIBRARY_ROOTS, the data dir by any path to it, the kernel's, and /", async () => {
    const link = path.join(allowed, 'innocent');
    await symlink(nook.dataDir.root, link);
    const refused: [string, RegExp][] = [
      ['/etc', /not inside the folders the administrator allows/],
      [`/proc/self/root${nook.dataDir.root}`, /inside Nook's data directory/],
      [`/proc/self/root${nook.dataDir.library}`, /inside Nook's data directory/],
      [link, /inside Nook's data directory/],
      ['/proc/self', /system folder/],
      ['/', /contains Nook's data directory/],
      [tmpdir(), /contains Nook's data directory/],
    ];
    for (const [rootPath, reason] of refused) {
      await expect(admin.mutate('libraries.create', { name: 'x', rootPath }), rootPath).rejects.toMatchObject(
        {
          code: 'BAD_REQUEST',
          message: reason,
        },
      );
      await expect(admin.query('libraries.checkPath', { rootPath }), rootPath).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: reason,
      });
    }
    const libraries = await admin.query<{ name: string }[]>('libraries.list', { everyone: true });
    expect(libraries.filter((library) => library.name === 'x')).toEqual([]);
  });

  it('refuses every folder while NOOK_LIBRARY_ROOTS is empty, and says where to set it', async () => {
    const closed = await startTestNook({ workers: false, libraryRoots: [] });
    try {
      const owner = await setUpAdmin(closed.url);
      expect(await owner.query('libraries.roots')).toMatchObject({
        roots: [],
        hint: expect.stringMatching(/NOOK_LIBRARY_ROOTS.*config\.json.*install\.sh --library/),
      });
      await expect(owner.mutate('libraries.create', { name: 'x', rootPath: allowed })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/NOOK_LIBRARY_ROOTS is empty/),
      });
    } finally {
      await closed.close();
    }
  });

  it("gives a library in an allowed root to a member, who sees it without the server's path", async () => {
    const photos = path.join(allowed, 'photos');
    await mkdir(photos);
    await expect(
      admin.mutate('libraries.create', {
        name: 'x',
        rootPath: photos,
        ownerId: '00000000-0000-4000-8000-000000000000',
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const library = await admin.mutate<LibraryDto>('libraries.create', {
      name: 'Photos',
      rootPath: photos,
      ownerId: memberId,
    });
    expect(library).toMatchObject({ ownerId: memberId, rootPath: photos });
    const listed = await member.query<LibraryDto[]>('libraries.list');
    expect(listed.find((entry) => entry.id === library.id)).toMatchObject({ rootPath: null });
    expect(await member.query('libraries.get', { id: library.id })).toMatchObject({ rootPath: null });
    const status = await member.query('libraries.status', { id: library.id });
    expect(JSON.stringify([listed, status])).not.toContain(allowed);
    expect(await admin.query('libraries.get', { id: library.id })).toMatchObject({ rootPath: photos });
  });

  it('stops serving the files of a library outside the allowed roots, such as one a member made at /etc', async () => {
    const shadow = await plantLibrary('/etc', 'passwd');
    const response = await member.fetch(`/api/assets/${shadow}/original`);
    expect(response.status).toBe(403);
    const body = await response.text();
    expect(body).not.toContain('root:');
    expect(body).not.toContain('/etc');
    // The data dir reached through /proc is refused too, though the file is there.
    const secret = await plantLibrary(`/proc/self/root${nook.dataDir.root}`, 'secret.key');
    expect((await member.fetch(`/api/assets/${secret}/original`)).status).toBe(403);
    // The same kind of row inside an allowed root is served: the refusal is the root's.
    const fine = path.join(allowed, 'fine');
    await mkdir(fine);
    await writeFile(path.join(fine, 'hello.txt'), 'hello');
    const served = await plantLibrary(fine, 'hello.txt');
    const ok = await member.fetch(`/api/assets/${served}/original`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hello');
  });

  it('shows members no server path nor the queues on the stats page; administrators see both', async () => {
    const memberStats = await member.query<{
      disks: { label: string; path: string | null }[];
      queues: unknown;
    }>('stats.summary');
    expect(memberStats.queues).toBeNull();
    expect(memberStats.disks.length).toBeGreaterThan(1);
    expect(memberStats.disks.every((disk) => disk.path === null)).toBe(true);
    expect(JSON.stringify(memberStats)).not.toContain(nook.dataDir.root);
    expect(JSON.stringify(memberStats)).not.toContain(allowed);
    const adminStats = await admin.query<{
      disks: { label: string; path: string | null }[];
      queues: unknown;
    }>('stats.summary');
    expect(adminStats.queues).toMatchObject({ metadata: expect.any(Object) });
    expect(adminStats.disks[0]).toMatchObject({ label: 'Data', path: nook.dataDir.root });
  });
});
