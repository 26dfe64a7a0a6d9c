// The timeline's hot path (SQLite writes the page's JSON, response-memo.ts) answers exactly what tRPC
// answers for the same page: every column, odd values included, in both directions, under filters.
import { Library, User } from '@nook/core';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpAdmin, startTestNook, type TestClient, type TestNook } from '../../../test/harness';

interface Page {
  items: { id: string; name: string; takenAt: string }[];
  nextCursor: string | null;
}

describe('timeline pages written by SQLite', () => {
  let nook: TestNook;
  let admin: TestClient;

  /** The answer of the hot path: a plain GET of assets.list alone. */
  const direct = (input: unknown) =>
    admin.fetch(`/trpc/assets.list?input=${encodeURIComponent(JSON.stringify(input))}`);
  /** tRPC's own answer to the same input: a batch of one never takes the hot path. */
  const viaTrpc = async (input: unknown) => {
    const response = await admin.fetch(
      `/trpc/assets.list?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: input }))}`,
    );
    const [answer] = (await response.json()) as [{ result: { data: Page } }];
    return { response, data: answer.result.data };
  };

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
    const em = nook.orm.em.fork();
    const owner = await em.findOneOrFail(User, { username: 'admin' });
    const library = em.create(Library, { name: 'Rows', type: 'folder', rootPath: nook.dataDir.root, owner });
    await em.flush();
    // Rows as ingest writes them, with every value a summary can hold, written straight to SQLite.
    const db = new Database(path.join(nook.dataDir.root, 'nook.db'));
    const insert = db.prepare(`insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256,
        mime, kind, width, height, duration, taken_at, taken_at_source, time_zone_offset, status, error,
        favorite, description, thumbhash, created_at, updated_at)
      values (?, ?, ?, ?, ?, 1000, 0, ?, ?, ?, ?, ?, ?, ?, 'exif', ?, ?, ?, ?, ?, ?, 0, 0)`);
    const rows: [string, string, string, number | null, number | null, number | null, number][] = [
      ['clip.mp4', 'video/mp4', 'video', 1920, 1080, 29.97002997002997, Date.UTC(2024, 4, 1, 10)],
      ['odd.mov', 'video/quicktime', 'video', 640, 480, 0.1 + 0.2, Date.UTC(2024, 4, 1, 9)],
      ['whole.mp4', 'video/mp4', 'video', 640, 480, 3, Date.UTC(2024, 4, 1, 8)],
      ['notes.pdf', 'application/pdf', 'other', null, null, null, Date.UTC(2023, 0, 1)],
      ['"Quote" \\ back\nline \u0001 ünï 東京.jpg', 'image/jpeg', 'image', 4032, 3024, null, 1],
      ['before-1970.jpg', 'image/jpeg', 'image', 10, 10, null, -1001],
      ['ms.jpg', 'image/jpeg', 'image', 10, 10, null, Date.UTC(2000, 1, 29, 0, 0, 0, 123)],
    ];
    for (let i = 0; i < 230; i++)
      rows.push([
        `bulk-${i}.jpg`,
        'image/jpeg',
        'image',
        800,
        600,
        null,
        Date.UTC(2022, 0, 1) - i * 3600_000,
      ]);
    rows.forEach(([name, mime, kind, width, height, duration, takenAt], i) => {
      insert.run(
        `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
        library.id,
        owner.id,
        `rows/${i}`,
        name,
        (i + 1).toString(16).padStart(64, 'a'),
        mime,
        kind,
        width,
        height,
        duration,
        takenAt,
        i % 3 === 0 ? '+02:00' : null,
        i % 5 === 4 ? 'failed' : i % 7 === 6 ? 'pending' : 'ready',
        i % 5 === 4 ? 'could not decode "this"' : null,
        i % 2,
        i % 4 === 1 ? 'a café, "quoted"\ttabbed' : null,
        i % 3 === 1 ? 'AAAADwgHeIeIiHiAh4iHiHeIiA==' : null,
      );
    });
    db.close();
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('answers every page as tRPC does, going older and newer, with and without filters', async () => {
    const inputs: Record<string, unknown>[] = [
      { limit: 100 },
      { limit: 7, filters: { kinds: ['video', 'other'] } },
      { limit: 50, filters: { favorite: true } },
      { limit: 100, filters: { to: '2030-01-01T00:00:00Z' } },
      { limit: 40, filters: { from: '2021-12-25T00:00:00Z', to: '2024-05-01T09:00:00Z' } },
    ];
    for (const first of inputs) {
      for (const direction of ['older', 'newer'] as const) {
        let input: Record<string, unknown> | null = { ...first, direction };
        let pages = 0;
        while (input) {
          const response = await direct(input);
          expect(response.status).toBe(200);
          const text = await response.text();
          const { response: reference, data } = await viaTrpc(input);
          const mine = (JSON.parse(text) as { result: { data: Page } }).result.data;
          expect(mine, JSON.stringify(input)).toEqual(data);
          for (const name of ['content-type', 'vary', 'cache-control', 'content-security-policy'])
            expect(response.headers.get(name), name).toBe(reference.headers.get(name));
          input = mine.nextCursor ? { ...input, cursor: mine.nextCursor } : null;
          pages++;
        }
        expect(pages).toBeGreaterThan(0);
      }
    }
    // The answer came from SQLite, which writes the REAL 3 as 3.0 where JSON.stringify writes 3.
    const text = await (await direct({ limit: 5 })).text();
    expect(text).toContain(
      '"name":"whole.mp4","kind":"video","mime":"video/mp4","width":640,"height":480,"duration":3.0,',
    );
  });

  it('keeps a date bound and a deep cursor on the same side to the same rows', async () => {
    const all: Page['items'] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await admin.query<Page>('assets.list', { limit: 50, cursor });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const ids = (items: Page['items']) => items.map((item) => item.id);
    const at = (item: Page['items'][number]) => Date.parse(item.takenAt);
    const from = (await admin.query<Page>('assets.list', { limit: 120 })).nextCursor!;
    const older = (to: string) =>
      admin.query<Page>('assets.list', { limit: 30, cursor: from, filters: { to } });
    // A `to` later than the cursor changes nothing; an earlier one starts the page there.
    expect(ids((await older('2030-01-01T00:00:00Z')).items)).toEqual(ids(all.slice(120, 150)));
    const before = Date.parse('2021-12-20T00:00:00Z');
    expect(ids((await older('2021-12-20T00:00:00Z')).items)).toEqual(
      ids(all.filter((item) => at(item) < before).slice(0, 30)),
    );
    // Going newer, likewise with `from`.
    const newer = (since: string) =>
      admin.query<Page>('assets.list', {
        limit: 30,
        cursor: from,
        direction: 'newer',
        filters: { from: since },
      });
    expect(ids((await newer('2000-01-01T00:00:00Z')).items)).toEqual(ids(all.slice(89, 119)));
    const since = Date.parse('2021-12-28T00:00:00Z');
    const fromThen = all.filter((item) => at(item) >= since);
    expect(ids((await newer('2021-12-28T00:00:00Z')).items)).toEqual(ids(fromThen.slice(-30)));
  });

  it('leaves what it cannot write to tRPC: a year before 0, a bad cursor, no input', async () => {
    const db = new Database(path.join(nook.dataDir.root, 'nook.db'));
    const [owner, library] = [
      db.prepare(`select id from users where username = 'admin'`).pluck().get(),
      db.prepare(`select id from libraries where name = 'Rows'`).pluck().get(),
    ];
    db.prepare(
      `insert into assets (id, library_id, owner_id, path, name, size, mtime, sha256, mime, kind, taken_at,
         taken_at_source, status, favorite, created_at, updated_at)
       values ('00000000-0000-4000-8000-999999999999', ?, ?, 'far', 'far.jpg', 1, 0, ?, 'image/jpeg', 'image',
         ?, 'exif', 'ready', 0, 0, 0)`,
    ).run(library, owner, 'f'.repeat(64), Date.UTC(-1, 0, 1));
    db.close();
    const oldest = { limit: 2, direction: 'newer' };
    const response = await direct(oldest);
    const { data } = await viaTrpc(oldest);
    expect(data.items.map((item) => item.takenAt)).toContain('-000001-01-01T00:00:00.000Z');
    expect(((await response.json()) as { result: { data: Page } }).result.data).toEqual(data);

    const badCursor = await direct({ cursor: 'garbage' });
    expect(badCursor.status).toBe(400);
    expect(await badCursor.json()).toMatchObject({ error: { data: { code: 'BAD_REQUEST' } } });
    const stranger = await fetch(`${nook.url}/trpc/assets.list?input=${encodeURIComponent('{}')}`);
    expect(stranger.status).toBe(401);
  });
});
