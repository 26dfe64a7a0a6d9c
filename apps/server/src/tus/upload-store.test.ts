// The tus store on a real folder: expiry takes unfinished uploads only.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Upload } from '@tus/server';
import { afterAll, describe, expect, it } from 'vitest';
import { NookUploadStore } from './upload-store';

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
