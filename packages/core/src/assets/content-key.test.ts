// The content-key migration on a database that already holds the same upload twice: it upgrades,
// keeps every row, keys one live copy per owner and content, and from then on the index holds.
import { rm } from 'node:fs/promises';
import { UniqueConstraintViolationException } from '@mikro-orm/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../../test/harness';
import { openDatabase, type MikroORM } from '../db/orm';

const ALICE = '00000000-0000-4000-8000-00000000000a';
const BOB = '00000000-0000-4000-8000-00000000000b';
const ALICE_UPLOADS = '00000000-0000-4000-8000-0000000000a1';
const ALICE_NAS = '00000000-0000-4000-8000-0000000000a2';
const BOB_UPLOADS = '00000000-0000-4000-8000-0000000000b1';
const SAME = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('content key migration', () => {
  let orm: MikroORM | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await orm?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps content stored twice before it, keys the oldest live upload, and holds from then on', async () => {
    dir = await makeTempDir();
    orm = await openDatabase(dir, { migrate: false });
    await orm.getMigrator().up({ to: 'Migration20261205191000' });
    const em = orm.em.fork();
    for (const [id, name] of [
      [ALICE, 'alice'],
      [BOB, 'bob'],
    ])
      await em.execute(
        `insert into users (id, username, display_name, role, created_at) values (?, ?, ?, 'member', ?)`,
        [id, name, name, Date.now()],
      );
    for (const [id, type, owner] of [
      [ALICE_UPLOADS, 'upload', ALICE],
      [ALICE_NAS, 'folder', ALICE],
      [BOB_UPLOADS, 'upload', BOB],
    ])
      await em.execute(
        `insert into libraries (id, name, type, root_path, owner_id, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?)`,
        [id, id, type, type === 'upload' ? `library/${id}` : `/srv/${id}`, owner, Date.now(), Date.now()],
      );
    const asset = async (
      id: string,
      library: string,
      owner: string,
      sha256: string,
      createdAt: number,
      deletedAt: number | null = null,
    ) =>
      em.execute(
        `insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, mime, kind,
           taken_at, status, deleted_at, created_at, updated_at)
         values (?, ?, ?, ?, ?, 1, ?, ?, 'image/jpeg', 'image', ?, 'ready', ?, ?, ?)`,
        [id, library, owner, `2026/01/${id}.jpg`, `${id}.jpg`, 0, sha256, 0, deletedAt, createdAt, createdAt],
      );
    // Alice uploaded one photo three times (two copies live, one trashed), holds it twice in her NAS
    // folder, and Bob has it too.
    await asset('upload-2', ALICE_UPLOADS, ALICE, SAME, 2000);
    await asset('upload-1', ALICE_UPLOADS, ALICE, SAME, 1000);
    await asset('upload-trashed', ALICE_UPLOADS, ALICE, SAME, 500, 3000);
    await asset('nas-1', ALICE_NAS, ALICE, SAME, 1000);
    await asset('nas-2', ALICE_NAS, ALICE, SAME, 1000);
    await asset('bob', BOB_UPLOADS, BOB, SAME, 1000);
    await asset('other', ALICE_UPLOADS, ALICE, OTHER, 1000);

    await orm.getMigrator().up();

    const rows = await em.execute<{ id: string; content_key: string | null }[]>(
      'select id, content_key from assets order by id',
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, row.content_key]))).toEqual({
      bob: SAME,
      'nas-1': null,
      'nas-2': null,
      other: OTHER,
      'upload-1': SAME,
      'upload-2': null,
      'upload-trashed': SAME,
    });
    // Another live copy under Alice's key is refused; trashed, or in a folder, it is not.
    const insertKeyed = (id: string, deletedAt: number | null) =>
      em.execute(
        `insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, content_key, mime,
           kind, taken_at, status, deleted_at, created_at, updated_at)
         values (?, ?, ?, ?, ?, 1, 0, ?, ?, 'image/jpeg', 'image', 0, 'ready', ?, 0, 0)`,
        [id, ALICE_UPLOADS, ALICE, `2026/02/${id}.jpg`, `${id}.jpg`, SAME, SAME, deletedAt],
      );
    await expect(insertKeyed('late', null)).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    await insertKeyed('late-trashed', 4000);
    await asset('nas-3', ALICE_NAS, ALICE, SAME, 5000);
  });
});
