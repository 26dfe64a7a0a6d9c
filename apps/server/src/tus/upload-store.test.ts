// The tus store on a real folder: expiry takes unfinished uploads only; what a crash left half made
// or half removed is tidied, and never counts against the quota; a finished upload is on disk before
// it is answered.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Upload } from '@tus/server';
import { afterAll, describe, expect, it } from 'vitest';
import { NookUploadStore, pendingUploadBytes } from './upload-store';

describe('NookUploadStore.deleteExpired', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('keeps an expired upload whose bytes all arrived (its completion is still owed), removes unfinished ones', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'nook-tus-'));
    dirs.push(directory);
    const store = new NookUploadStore(
      { directory, expirationPeriodInMilliseconds: 1000 },
      () => undefined,
      () => undefined,
    );
    const yesterday = new Date(Date.now() - 24 * 3600_000).toISOString();
    for (const id of ['done', 'unfinished', 'fresh'])
      await store.create(
        new Upload({
          id,
          size: 4,
          offset: 0,
          creation_date: id === 'fresh' ? new Date().toISOString() : yesterday,
        }),
      );
    await writeFile(path.join(directory, 'done'), 'abcd');
    await writeFile(path.join(directory, 'unfinished'), 'ab');

    expect(await store.deleteExpired()).toBe(1);
    expect((await readdir(directory)).sort()).toEqual(['done', 'done.json', 'fresh', 'fresh.json']);
  });
});

describe('NookUploadStore.tidy', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('removes a record whose bytes are gone at once, bytes without a record and broken records once old', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'nook-tus-'));
    dirs.push(directory);
    const store = new NookUploadStore(
      { directory, expirationPeriodInMilliseconds: 1000 },
      () => undefined,
      () => undefined,
    );
    for (const id of ['u.whole', 'u.removed', 'u.broken', 'u.broken-new'])
      await store.create(new Upload({ id, size: 1000, offset: 0, creation_date: new Date().toISOString() }));
    // A removal cut after the bytes went; a creation cut before its record; records cut while written.
    await rm(path.join(directory, 'u.removed'));
    await writeFile(path.join(directory, 'u.created'), '');
    await writeFile(path.join(directory, 'u.created-new'), '');
    await writeFile(path.join(directory, 'u.broken.json'), '{"id":"u.bro');
    await writeFile(path.join(directory, 'u.broken-new.json'), '');
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const file of ['u.created', 'u.broken.json'])
      await utimes(path.join(directory, file), hourAgo, hourAgo);
    expect(await pendingUploadBytes(directory, 'u')).toBe(1000);

    expect(await store.tidy(60_000)).toBe(3);
    expect((await readdir(directory)).sort()).toEqual([
      'u.broken-new',
      'u.broken-new.json',
      'u.created-new',
      'u.whole',
      'u.whole.json',
    ]);
    // At start nothing is under way: whatever is half there goes.
    expect(await store.tidy(0)).toBe(2);
    expect((await readdir(directory)).sort()).toEqual(['u.whole', 'u.whole.json']);
  });
});

describe('NookUploadStore.write', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** The store as Nook runs it, noting which writes flushed the upload's bytes to disk. */
  class Watched extends NookUploadStore {
    readonly flushed: string[] = [];
    protected override async flush(id: string): Promise<void> {
      await super.flush(id);
      this.flushed.push(id);
    }
  }

  it('flushes the bytes to disk before the last chunk is answered, and only then', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'nook-tus-'));
    dirs.push(directory);
    const store = new Watched(
      { directory, expirationPeriodInMilliseconds: 0 },
      () => undefined,
      () => undefined,
    );
    await store.create(
      new Upload({ id: 'u.sized', size: 6, offset: 0, creation_date: new Date().toISOString() }),
    );
    expect(await store.write(Readable.from([Buffer.from('abc')]), 'u.sized', 0)).toBe(3);
    expect(store.flushed).toEqual([]);
    expect(await store.write(Readable.from([Buffer.from('def')]), 'u.sized', 3)).toBe(6);
    expect(store.flushed).toEqual(['u.sized']);
    expect(store.takeSha256('u.sized', 6)).toBe(createHash('sha256').update('abcdef').digest('hex'));

    // A deferred length flushes once the declared length is reached.
    await store.create(new Upload({ id: 'u.deferred', offset: 0, creation_date: new Date().toISOString() }));
    await store.write(Readable.from([Buffer.from('ab')]), 'u.deferred', 0);
    await store.declareUploadLength('u.deferred', 4);
    await store.write(Readable.from([Buffer.from('cd')]), 'u.deferred', 2);
    expect(store.flushed).toEqual(['u.sized', 'u.deferred']);
  });
});
