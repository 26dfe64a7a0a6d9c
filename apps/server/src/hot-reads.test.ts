// The hot reads (sessions, timeline, buckets, search, stats) come from a read-only connection and
// in-memory caches: these tests write from another OS process and check nothing stale is served.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Library, User } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TestClient, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';
import { memoAgeOf } from './response-memo';

interface Page {
  items: { id: string; name: string; takenAt: string }[];
  nextCursor: string | null;
}
type Buckets = { month: string; count: number }[];

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

/** Runs statements in one transaction from a separate Node process, as a worker or the CLI would. */
function writeElsewhere(dbFile: string, statements: [string, unknown[]][]): Promise<void> {
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)});
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 10000');
    const statements = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    db.transaction(() => { for (const [sql, params] of statements) db.prepare(sql).run(...params); })();
    db.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, dbFile], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.stdin.end(JSON.stringify(statements));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
  });
}

describe('hot reads under writes from another process', () => {
  let nook: TestNook;
  let admin: TestClient;
  let dbFile: string;
  let ownerId: string;
  let libraryId: string;
  let counter = 0;

  /** An asset row as ingest would write it; the triggers keep search and month counts in step. */
  const insert = (
    name: string,
    takenAt: string,
    extra: { description?: string } = {},
  ): [string, unknown[]] => {
    counter += 1;
    const id = `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`;
    return [
      `insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, mime, kind, taken_at,
                           taken_at_source, status, favorite, description, created_at, updated_at)
       values (?, ?, ?, ?, ?, 1000, 0, ?, 'image/jpeg', 'image', ?, 'manual', 'ready', 0, ?, 0, 0)`,
      [
        id,
        libraryId,
        ownerId,
        `bulk/${name}`,
        name,
        counter.toString(16).padStart(64, '0'),
        Date.parse(takenAt),
        extra.description ?? null,
      ],
    ];
  };

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
    dbFile = path.join(nook.dataDir.root, 'nook.db');
    const em = nook.orm.em.fork();
    const owner = await em.findOneOrFail(User, { username: 'admin' });
    const library = em.create(Library, {
      name: 'Elsewhere',
      type: 'folder',
      rootPath: nook.dataDir.root,
      owner,
    });
    await em.flush();
    ownerId = owner.id;
    libraryId = library.id;
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('shows another process’s inserts, edits and trashing at once in timeline, buckets and search', async () => {
    // Read first, so that anything cached would be stale after the writes below.
    expect((await admin.query<Page>('assets.list', {})).items).toEqual([]);
    expect(await admin.query<Buckets>('assets.buckets', {})).toEqual([]);
    expect((await admin.query<Page>('search.query', { text: 'harbour' })).items).toEqual([]);

    await writeElsewhere(dbFile, [
      insert('harbour-dawn.jpg', '2022-05-03T06:00:00Z'),
      insert('harbour-dusk.jpg', '2022-05-03T20:00:00Z'),
      insert('garden.jpg', '2023-01-10T12:00:00Z'),
    ]);
    expect((await admin.query<Page>('assets.list', {})).items.map((item) => item.name)).toEqual([
      'garden.jpg',
      'harbour-dusk.jpg',
      'harbour-dawn.jpg',
    ]);
    expect(await admin.query<Buckets>('assets.buckets', {})).toEqual([
      { month: '2023-01', count: 1 },
      { month: '2022-05', count: 2 },
    ]);
    expect((await admin.query<Page>('search.query', { text: 'harb' })).items).toHaveLength(2);

    await writeElsewhere(dbFile, [
      [`update assets set description = 'lighthouse at night' where name = 'garden.jpg'`, []],
      [`update assets set deleted_at = 1 where name = 'harbour-dawn.jpg'`, []],
      [
        `update assets set taken_at = ? where name = 'harbour-dusk.jpg'`,
        [Date.parse('2021-02-01T00:00:00Z')],
      ],
    ]);
    expect((await admin.query<Page>('search.query', { text: 'lightho' })).items.map((i) => i.name)).toEqual([
      'garden.jpg',
    ]);
    expect((await admin.query<Page>('search.query', { text: 'harbour' })).items.map((i) => i.name)).toEqual([
      'harbour-dusk.jpg',
    ]);
    const buckets = await admin.query<Buckets>('assets.buckets', {});
    expect(buckets).toEqual([
      { month: '2023-01', count: 1 },
      { month: '2021-02', count: 1 },
    ]);
    // The kept per-month table agrees with counting the rows (a date range takes that path).
    expect(
      await admin.query<Buckets>('assets.buckets', {
        filters: { from: '1970-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' },
      }),
    ).toEqual(buckets);
  });

  it('pages a common word through every match, newest first, and still ranks a rare one', async () => {
    const bulk = Array.from({ length: 650 }, (_, i) =>
      insert(`crowd-${String(i).padStart(4, '0')}.jpg`, '2020-06-01T00:00:00Z'),
    );
    await writeElsewhere(dbFile, bulk);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await admin.query<Page>('search.query', { text: 'crowd', limit: 200, cursor });
      seen.push(...page.items.map((item) => item.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(650);
    expect(new Set(seen).size).toBe(650);
    expect(seen[0]).toBe('crowd-0649.jpg');
    expect(seen.at(-1)).toBe('crowd-0000.jpg');

    const rare = await admin.query<Page>('search.query', { text: 'crowd 0123' });
    expect(rare.items.map((item) => item.name)).toEqual(['crowd-0123.jpg']);
    await expect(admin.query('search.query', { text: 'crowd', cursor: 'bm90IGpzb24' })).rejects.toMatchObject(
      {
        status: 400,
      },
    );
  });

  it('shows another process’s write in the storage stats at the next request', async () => {
    const before = await admin.query<{ count: number }>('stats.summary');
    await writeElsewhere(dbFile, [insert('late.jpg', '2024-03-03T00:00:00Z')]);
    expect((await admin.query<{ count: number }>('stats.summary')).count).toBe(before.count + 1);
  });

  it('keeps storage totals and duplicate bytes that agree with counting the rows', async () => {
    const copy = (name: string, sha: string, size: number): [string, unknown[]] => {
      const [sql, params] = insert(name, '2024-04-04T00:00:00Z');
      return [
        sql.replace('values (?, ?, ?, ?, ?, 1000,', 'values (?, ?, ?, ?, ?, ?,'),
        [...params.slice(0, 5), size, sha, ...params.slice(6)],
      ];
    };
    const sha = 'ab'.repeat(32);
    await writeElsewhere(dbFile, [
      copy('one.jpg', sha, 5000),
      copy('two.jpg', sha, 5000),
      copy('three.jpg', sha, 5000),
    ]);
    await writeElsewhere(dbFile, [
      [`update assets set deleted_at = 1 where name = 'two.jpg'`, []],
      [`update assets set deleted_at = 1, purged_at = 2 where name = 'crowd-0001.jpg'`, []],
      [`delete from assets where name = 'crowd-0002.jpg'`, []],
      [`update assets set kind = 'video', size = 7 where name = 'crowd-0003.jpg'`, []],
    ]);
    const counted = async <T>(sql: string) => nook.orm.em.getConnection().execute<T[]>(sql, [ownerId], 'all');
    const live = 'owner_id = ? and deleted_at is null and purged_at is null';
    const expectedKinds = await counted<{ kind: string; count: number; bytes: number }>(
      `select kind, count(*) as count, sum(size) as bytes from assets where ${live} group by kind order by kind`,
    );
    const [unique] = await counted<{ bytes: number }>(
      `select sum(size) as bytes from (select max(size) as size from assets where ${live} group by sha256)`,
    );
    const stats = await admin.query<{
      bytes: number;
      byKind: { kind: string; count: number; bytes: number }[];
      duplicateCopyBytes: number;
    }>('stats.summary');
    expect(stats.byKind).toEqual(expectedKinds);
    expect(stats.duplicateCopyBytes).toBe(stats.bytes - unique!.bytes);
    expect(stats.duplicateCopyBytes).toBe(5000);
  });

  it('answers a repeated read from memory until anything commits, and only ever to the same caller', async () => {
    const url = `/trpc/assets.buckets,assets.list?batch=1&input=${encodeURIComponent(
      JSON.stringify({ 0: {}, 1: { limit: 5 } }),
    )}`;
    const otherSession = new TestClient(nook.url);
    await otherSession.mutate('auth.login', ADMIN);
    const first = await admin.fetch(url);
    const again = await admin.fetch(url);
    expect(again.headers.get('x-nook-memo')).toBe('hit');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    const answer = await first.text();
    // fetch asks for gzip as browsers do, and unpacks it.
    expect(again.headers.get('content-encoding')).toBe('gzip');
    expect(await again.text()).toBe(answer);
    const plain = await admin.fetch(url, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('x-nook-memo')).toBe('hit');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(answer);
    // Kept per credential: the same user's other session computes its own answer.
    const sameUser = await otherSession.fetch(url);
    expect(sameUser.headers.get('x-nook-memo')).toBeNull();
    expect(await sameUser.text()).toBe(answer);

    await admin.mutate('users.create', { username: 'cousin', password: 'cousin password' });
    const cousin = new TestClient(nook.url);
    await cousin.mutate('auth.login', { username: 'cousin', password: 'cousin password' });
    const theirs = await cousin.fetch(url);
    expect(theirs.headers.get('x-nook-memo')).toBeNull();
    const [, page] = (await theirs.json()) as [unknown, { result: { data: Page } }];
    expect(page.result.data.items).toEqual([]);

    // A commit from another process: the next answer is computed afresh and shows it.
    await writeElsewhere(dbFile, [insert('memo-breaker.jpg', '2031-01-01T00:00:00Z')]);
    const fresh = await admin.fetch(url);
    expect(fresh.headers.get('x-nook-memo')).toBeNull();
    const [, newest] = (await fresh.json()) as [unknown, { result: { data: Page } }];
    expect(newest.result.data.items[0]!.name).toBe('memo-breaker.jpg');

    // Only reads of the metadata alone are kept; anything else in a batch runs every time.
    expect(memoAgeOf('/trpc/assets.list?input=%7B%7D')).toBe(Infinity);
    expect(memoAgeOf('/trpc/assets.list,stats.summary?batch=1')).toBe(2000);
    expect(memoAgeOf('/trpc/assets.list,auth.me?batch=1')).toBeNull();
    expect(memoAgeOf('/api/assets')).toBeNull();
  });

  it('refuses a session at the next request once another process revokes it', async () => {
    expect((await admin.query<Page>('assets.list', {})).items.length).toBeGreaterThan(0);
    await writeElsewhere(dbFile, [['update sessions set revoked_at = ?', [Date.now()]]]);
    await expect(admin.query('assets.list', {})).rejects.toMatchObject({ status: 401 });
  });
});
